/*
 * cache_memory.h
 *	  Memory for the big look-up structures of the backend caches (the model
 *	  cache's vector matrix and id hash, the category cache's id hash).
 */
#ifndef RERANK_CACHE_MEMORY_H
#define RERANK_CACHE_MEMORY_H

#include "postgres.h"

/*
 * size bytes in context, aligned to a cache line; a block of several
 * megabytes is placed on whole huge pages, which the kernel is asked to
 * back as such.  Freed with the context only (the address is not one
 * pfree accepts).  zero: zero-filled.
 */
extern void *CacheMemoryAlloc(MemoryContext context, Size size, bool zero);

#endif							/* RERANK_CACHE_MEMORY_H */
