/* heap.c - glibc malloc settings for the servers' steady load.
 *
 * A validator batch or a gateway's reply read builds and frees buffers of
 * hundreds of KiB (hiredis's command and reply buffers for up to 256
 * orders) many times a second. With glibc's defaults each such free at the
 * top of the heap trims it (brk down, brk up on the next batch) or, past the
 * mmap threshold, unmaps it, and every trim costs page faults and TLB
 * flushes on both cores: about a sixth of the validator's CPU in a max run.
 * Keeping up to 64 MiB free in the heap, and serving blocks below 4 MiB from
 * it, costs that much memory at most and removes the churn.
 *
 * The release and debug builds link jemalloc (CMakeLists.txt), which keeps
 * freed pages for a while on its own, and these glibc settings then change
 * nothing; they still matter where glibc's malloc serves the program. */
#include <malloc.h>

#include "livegate/heap.h"

#define TRIM_THRESHOLD (64 << 20)
#define MMAP_THRESHOLD (4 << 20)

void lg_heap_tune(void)
{
    /* Either may fail (another allocator, e.g. under a sanitizer): then the
     * defaults stay, which is only slower. */
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
}
