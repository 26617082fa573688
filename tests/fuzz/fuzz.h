/* fuzz.h - what the libFuzzer targets in this folder share: the entry point
 * libFuzzer calls, and FUZZ_CHECK, which turns a broken property of the code
 * under test into a crash, so the fuzzer reports (and keeps) the input that
 * broke it just as it does for a memory error. */
#ifndef LG_TESTS_FUZZ_H
#define LG_TESTS_FUZZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz check failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A reply the gateway would send: it must exist and serialize, or the client
 * would never get an answer. Takes msg's reference. */
static inline void fuzz_check_reply(json_t *msg)
{
    FUZZ_CHECK(msg != NULL);
    char *text = json_dumps(msg, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    free(text);
    json_decref(msg);
}

/* The same for a reply written as text (the hot path's answers): there
 * must be some, and it must parse as one JSON object. */
static inline void fuzz_check_reply_text(const char *text, size_t len)
{
    FUZZ_CHECK(len > 0);
    json_t *msg = json_loadb(text, len, 0, NULL);
    FUZZ_CHECK(json_is_object(msg));
    json_decref(msg);
}

#endif
