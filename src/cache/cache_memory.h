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

/*
 * The allocator of a simplehash table whose slots live in cache memory
 * (SH_USE_NONDEFAULT_ALLOCATOR, after SH_DECLARE): big slot arrays land on
 * huge pages.
 */
#define CACHE_MEMORY_HASH_ALLOCATOR(prefix) \
static inline void * \
prefix##_allocate(prefix##_hash *type, Size size) \
{ \
	return CacheMemoryAlloc(type->ctx, size, true); \
} \
static inline void \
prefix##_free(prefix##_hash *type, void *pointer) \
{ \
	CacheMemoryFree(pointer); \
}

/* Starts loading the cache line of an address a look-up will read soon. */
#if defined(__GNUC__)
#define CACHE_PREFETCH(address) __builtin_prefetch(address, 0, 3)
#else
#define CACHE_PREFETCH(address) ((void) 0)
#endif

#endif							/* RERANK_CACHE_MEMORY_H */
