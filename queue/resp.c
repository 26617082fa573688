/* resp.c - RESP command formatting (see resp.h): "*<argc>\r\n", then for
 * each argument "$<len>\r\n<bytes>\r\n", the multi-bulk form Redis reads. */
#include <string.h>

#include "resp.h"

static size_t arg_len(const char **argv, const size_t *lens, int i)
{
    return lens ? lens[i] : strlen(argv[i]);
}

static size_t digits(size_t v)
{
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Writes v in decimal, then CR LF. */
static char *put_count(char *o, size_t v)
{
    size_t n = digits(v);
    for (size_t i = n; i > 0; i--) {
        o[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    o[n] = '\r';
    o[n + 1] = '\n';
    return o + n + 2;
}

size_t lg_resp_command_len(int argc, const char **argv, const size_t *lens)
{
    size_t total = 1 + digits((size_t)argc) + 2;
    for (int i = 0; i < argc; i++) {
        size_t n = arg_len(argv, lens, i);
        total += 1 + digits(n) + 2 + n + 2;
    }
    return total;
}

size_t lg_resp_command(char *out, int argc, const char **argv, const size_t *lens)
{
    char *o = out;
    *o++ = '*';
    o = put_count(o, (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t n = arg_len(argv, lens, i);
        *o++ = '$';
        o = put_count(o, n);
        memcpy(o, argv[i], n);
        o += n;
        *o++ = '\r';
        *o++ = '\n';
    }
    return (size_t)(o - out);
}
