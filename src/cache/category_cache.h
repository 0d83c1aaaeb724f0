/*
 * category_cache.h
 *	  Item categories (rerank.items.category) served from memory for
 *	  rerank(): category caps and category affinity without a query per call.
 *
 * The item catalog is a served snapshot (snapshot.h): built on first use
 * with one scan of rerank.items, as a flat id table from item id to a
 * category number and the names; once per server with the preload (within
 * rerank.shared_cache_mb), else per backend (within rerank.category_cache_mb).
 * Any committed change of item ids or categories makes a new version (a
 * statement trigger on rerank.items); a transaction that changed them reads
 * them by query until it ends.  When the categories are not in memory,
 * callers look them up with a query instead (correct, slower).  Numbers
 * and names are valid until the end of the transaction.
 */
#ifndef RERANK_CATEGORY_CACHE_H
#define RERANK_CATEGORY_CACHE_H

#include "postgres.h"

#include "core/id_table.h"

/*
 * The category numbers of n items (-1: none), from 0 up.  False, leaving
 * categories untouched, when the categories do not fit in the budget.
 */
extern bool CategoryCacheLookup(const int64 *item_ids, int n, int32 *categories);

/*
 * Loads the categories if they are stale; false when they do not fit in
 * the budget (then only queries can give them).
 */
extern bool CategoryCacheEnsure(void);

/*
 * The flat id table (core/id_table.h) from item id to category number of
 * this transaction's categories, and its capacity; NULL when they are not
 * in memory.  Valid until the end of the transaction.
 */
extern const IdTableSlot *CategoryCacheTable(uint64 *capacity);

/* The category number of one item (-1: none); after CategoryCacheEnsure. */
extern int32 CategoryCacheLookupOne(int64 item_id);

/*
 * Asks the CPU to start fetching what CategoryCacheLookup will read for
 * these items (nothing when the cache is not loaded).
 */
extern void CategoryCachePrefetch(const int64 *item_ids, int n);

/* The name of a category number (not NUL-terminated; length in *length). */
extern const char *CategoryName(int32 category, int *length);

/*
 * Renumbers the categories of n items densely, in order of first
 * appearance, into local (-1 stays -1); CategoryLocalNumber maps a category
 * number to its local one afterwards.  Returns the number of local
 * categories.  Costs O(n), whatever the number of categories in the cache.
 */
extern int	CategoryRenumber(const int32 *categories, int n, int32 *local);

/*
 * The number of a category name (length bytes, not NUL-terminated), or -1
 * when no cached item has it.  O(log categories).
 */
extern int32 CategoryFind(const char *name, int length);

/*
 * The local number CategoryRenumber's last call gave a category number, or
 * -1 when none of its items had it.
 */
extern int32 CategoryLocalNumber(int32 category);

/* Registers the GUC and the invalidation callback; called by _PG_init. */
extern void CategoryCacheInit(void);

#endif							/* RERANK_CATEGORY_CACHE_H */
