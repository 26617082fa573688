/* random.c - a block of CSPRNG output consumed a few bytes at a time (see
 * random.h). The block is refilled from RAND_bytes when used up, and thrown
 * away in a forked child, so that two processes never hand out the same
 * bytes. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "livegate/random.h"

#define BLOCK 4096

static unsigned char block[BLOCK];
static size_t used = BLOCK; /* nothing drawn yet */
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void forget_block(void)
{
    OPENSSL_cleanse(block, sizeof(block));
    used = BLOCK;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, forget_block);
}

static int refill(void)
{
    if (RAND_bytes(block, sizeof(block)) != 1) {
        forget_block();
        return -1;
    }
    used = 0;
    return 0;
}

int lg_random_fill(void *out, size_t n)
{
    pthread_once(&atfork_once, register_atfork);
    unsigned char *p = out;
    while (n > 0) {
        if (used == BLOCK && refill() < 0) {
            memset(out, 0, (size_t)(p - (unsigned char *)out) + n);
            return -1;
        }
        size_t take = BLOCK - used < n ? BLOCK - used : n;
        memcpy(p, block + used, take);
        /* Bytes handed out are not kept: a later memory disclosure cannot
         * reveal identifiers already issued. */
        OPENSSL_cleanse(block + used, take);
        used += take;
        p += take;
        n -= take;
    }
    return 0;
}
