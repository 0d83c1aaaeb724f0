/*
 * cache_memory.h
 *	  Memory for the big look-up structures of the backend caches (the model
 *	  cache's vector matrix and id hash, the category cache's id hash).
 */
#ifndef RERANK_CACHE_MEMORY_H
#define RERANK_CACHE_MEMORY_H

#include "postgres.h"

/*
 * size bytes in context, aligned to a cache line; a block of megabytes is
 * placed on whole huge pages, which the kernel is asked to back as such.
 * zero: zero-filled.  Freed by CacheMemoryFree (not pfree) or with the
 * context.
 */
extern void *CacheMemoryAlloc(MemoryContext context, Size size, bool zero);
extern void CacheMemoryFree(void *block);

/* Starts loading the cache line of an address a look-up will read soon. */
#if defined(__GNUC__)
#define CACHE_PREFETCH(address) __builtin_prefetch(address, 0, 3)
#else
#define CACHE_PREFETCH(address) ((void) 0)
#endif

#endif							/* RERANK_CACHE_MEMORY_H */
