/* static_files.h - which file under the web root answers a page request:
 * GET / (the demo live room), GET /dashboard (the back office) and their
 * scripts and styles under /static/. A pure function, so the rules that keep
 * a request inside the web root are unit tested without a server. */
#ifndef LG_RULES_STATIC_FILES_H
#define LG_RULES_STATIC_FILES_H

#include <stddef.h>

/* Long enough for a web root of LG_STATIC_ROOT_MAX bytes plus any path the
 * mapping accepts. */
#define LG_STATIC_ROOT_MAX 512
#define LG_STATIC_PATH_MAX 1024

enum lg_static_result {
    LG_STATIC_NONE,      /* not a page path: the HTTP API routes it */
    LG_STATIC_FILE,      /* *out names the file and its content type */
    LG_STATIC_NOT_FOUND, /* under /static/ but no file may answer it: 404 */
};

struct lg_static_file {
    char path[LG_STATIC_PATH_MAX];
    const char *content_type; /* a static string */
};

/* Maps the request path url[0..len) (already percent-decoded by lws, no
 * query string) to a file under root. Anything but plain segments of
 * [A-Za-z0-9_.-] that do not start with a dot is NOT_FOUND: "..", hidden
 * files, '%' (double encoding), backslashes, NULs, empty segments. Only
 * known file types are served, with their Content-Type. */
enum lg_static_result lg_static_map(const char *root, const char *url, size_t len,
                                    struct lg_static_file *out);

/* The Content-Type for a file name by its extension, or NULL when it is not
 * a type the pages use. */
const char *lg_static_content_type(const char *name);

#endif
