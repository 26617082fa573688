/* heap.h - malloc settings for the long-running servers. */
#ifndef LG_LIVEGATE_HEAP_H
#define LG_LIVEGATE_HEAP_H

/* Keeps freed memory in the process instead of handing it back to the
 * kernel after every large free (see heap.c). Call once, before the loop. */
void lg_heap_tune(void);

#endif
