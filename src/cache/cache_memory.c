/*
 * cache_memory.c
 *	  Memory for the big look-up structures of the backend caches.
 *
 * Serving reads random rows of a matrix of tens of megabytes and random
 * slots of hashes of megabytes: with 4 kB pages nearly every such read also
 * misses the TLB, and in a virtual machine the page walk behind a TLB miss
 * is itself a chain of memory reads.  So these blocks are placed on whole
 * 2 MB pages and the kernel is advised to back them with transparent huge
 * pages (Linux, "madvise" mode, the default of most distributions).  The
 * advice is only advice: where the kernel ignores it or lacks it, the
 * memory works the same.
 */
#include "postgres.h"

#ifndef WIN32
#include <sys/mman.h>
#endif

#include "cache/cache_memory.h"

/*
 * A huge page, and the smallest block placed on them.  The alignment costs
 * up to one huge page of address space, never touched and so never
 * resident (memory context statistics count it, the resident set does
 * not); the last page is resident whole.  Even the 2 MB id hash of a
 * 100,000-item model is worth it: between calls, other queries evict its
 * 512 small pages from the TLB.
 */
#define HUGE_PAGE_SIZE ((Size) 2 * 1024 * 1024)
#define HUGE_PAGE_MIN_BLOCK HUGE_PAGE_SIZE

/*
 * The address pfree needs is kept in the word before the block: a block is
 * aligned past it, so the word is never part of the block.
 */
#define RAW_ADDRESS(block) (((void **) (block))[-1])

/* Allocates a cache block; see cache_memory.h. */
void *
CacheMemoryAlloc(MemoryContext context, Size size, bool zero)
{
	Size		alignment = PG_CACHE_LINE_SIZE;
	Size		advised = 0;
	char	   *raw;
	char	   *block;

#ifdef MADV_HUGEPAGE
	if (size >= HUGE_PAGE_MIN_BLOCK)
	{
		alignment = HUGE_PAGE_SIZE;
		advised = TYPEALIGN(HUGE_PAGE_SIZE, size);
	}
#endif
	/* untouched pages are never made resident: the padding costs none */
	raw = MemoryContextAllocExtended(context,
									 add_size(Max(size, advised),
											  alignment + sizeof(void *)),
									 MCXT_ALLOC_HUGE);
	block = (char *) TYPEALIGN(alignment, raw + sizeof(void *));
	RAW_ADDRESS(block) = raw;
#ifdef MADV_HUGEPAGE
	if (advised > 0)
		(void) madvise(block, advised, MADV_HUGEPAGE);
#endif
	if (zero)
		memset(block, 0, size);
	return block;
}

/* Frees a block of CacheMemoryAlloc. */
void
CacheMemoryFree(void *block)
{
	pfree(RAW_ADDRESS(block));
}
