/* blocks.h: 4 KiB buffers kept per thread for the gateway's per-request
 * buffers. A connection frees its head and output buffers whenever it is
 * idle (so 10,000 idle keep-alive connections hold none), which means they
 * come and go with every request; buffers above glibc's per-thread cache
 * size (1,032 bytes) then cost a trip through malloc's bins each time. A
 * thread keeps up to PAWL_GW_SPARE_BLOCKS spare blocks instead (512 KiB at
 * most: a request in flight holds several, its head copy, header arrays,
 * forwarded head and I/O buffers, and 32 were too few for 64 busy
 * connections: malloc and free took 1.9% of a worker's CPU in perf,
 * 1.5% with 128, 1.25% with 256). */
#ifndef PAWL_GW_BLOCKS_H
#define PAWL_GW_BLOCKS_H

#include <stddef.h>

#define PAWL_GW_BLOCK 4096
#define PAWL_GW_SPARE_BLOCKS 128

/* At least n bytes; *cap receives the usable size (PAWL_GW_BLOCK when n
 * fits one). NULL when out of memory. */
void *pawl_gw_block_alloc(size_t n, size_t *cap);
/* Gives back p (from pawl_gw_block_alloc, or any malloc'ed pointer; NULL
 * is fine) whose usable size is cap. */
void pawl_gw_block_free(void *p, size_t cap);
/* Frees the calling thread's spare blocks (before the thread ends). */
void pawl_gw_blocks_release(void);

#endif
