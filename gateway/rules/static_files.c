/* static_files.c - maps page requests to files under the web root (see
 * static_files.h). The pages are plain files in web/; the charting library
 * and the client package (clients/js) come from web/node_modules, and only
 * the files the pages load are exposed from there, not the package trees. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "rules/static_files.h"

#define STATIC_PREFIX "/static/"
#define VENDOR_PREFIX "/static/vendor/"
#define MAX_SEGMENTS 8
#define MAX_SEGMENT_LEN 64

struct named_file {
    const char *url;
    const char *file; /* relative to the web root */
};

static const struct named_file pages[] = {
    {"/", "index.html"},
    {"/dashboard", "dashboard.html"},
};

static const struct named_file vendor_files[] = {
    {"uPlot.iife.min.js", "node_modules/uplot/dist/uPlot.iife.min.js"},
    {"uPlot.min.css", "node_modules/uplot/dist/uPlot.min.css"},
    /* clients/js, a file: dependency of web/package.json (npm links it) */
    {"livegate-client.js", "node_modules/@livegate/client/index.js"},
};

struct content_type {
    const char *ext;
    const char *type;
};

static const struct content_type content_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
    {".woff2", "font/woff2"},
};

const char *lg_static_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return NULL;
    for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
        if (strcmp(dot, content_types[i].ext) == 0)
            return content_types[i].type;
    return NULL;
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/* A path below /static/: segments of name characters, none empty, none
 * starting with a dot (so neither ".." nor hidden files). */
static bool is_safe_relative(const char *rel, size_t len)
{
    if (len == 0)
        return false;
    int segments = 0;
    size_t seg_len = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || rel[i] == '/') {
            if (seg_len == 0 || ++segments > MAX_SEGMENTS)
                return false;
            seg_len = 0;
            continue;
        }
        if (!is_name_char(rel[i]) || (seg_len == 0 && rel[i] == '.') || ++seg_len > MAX_SEGMENT_LEN)
            return false;
    }
    return true;
}

static bool url_is(const char *url, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(url, want, len) == 0;
}

static bool has_prefix(const char *url, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(url, prefix, n) == 0;
}

static enum lg_static_result found(const char *root, const char *rel, size_t rel_len,
                                   struct lg_static_file *out)
{
    char name[LG_STATIC_PATH_MAX];
    if (rel_len >= sizeof(name))
        return LG_STATIC_NOT_FOUND;
    memcpy(name, rel, rel_len);
    name[rel_len] = 0;
    const char *type = lg_static_content_type(name);
    size_t root_len = strlen(root);
    while (root_len > 1 && root[root_len - 1] == '/')
        root_len--;
    if (!type || root_len == 0 || root_len > LG_STATIC_ROOT_MAX)
        return LG_STATIC_NOT_FOUND;
    int n = snprintf(out->path, sizeof(out->path), "%.*s/%s", (int)root_len, root, name);
    if (n < 0 || (size_t)n >= sizeof(out->path)) {
        out->path[0] = 0;
        return LG_STATIC_NOT_FOUND;
    }
    out->content_type = type;
    return LG_STATIC_FILE;
}

enum lg_static_result lg_static_map(const char *root, const char *url, size_t len,
                                    struct lg_static_file *out)
{
    out->path[0] = 0;
    out->content_type = NULL;
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
        if (url_is(url, len, pages[i].url))
            return found(root, pages[i].file, strlen(pages[i].file), out);
    if (!has_prefix(url, len, STATIC_PREFIX))
        return LG_STATIC_NONE;
    if (has_prefix(url, len, VENDOR_PREFIX)) {
        const char *name = url + strlen(VENDOR_PREFIX);
        size_t name_len = len - strlen(VENDOR_PREFIX);
        for (size_t i = 0; i < sizeof(vendor_files) / sizeof(vendor_files[0]); i++)
            if (url_is(name, name_len, vendor_files[i].url))
                return found(root, vendor_files[i].file, strlen(vendor_files[i].file), out);
        return LG_STATIC_NOT_FOUND;
    }
    /* "/static/app.js" is web/static/app.js: the URL keeps its prefix. */
    size_t prefix_len = strlen(STATIC_PREFIX);
    if (!is_safe_relative(url + prefix_len, len - prefix_len))
        return LG_STATIC_NOT_FOUND;
    return found(root, url + 1, len - 1, out);
}
