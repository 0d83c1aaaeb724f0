/*
 * signals_cache.h
 *	  The item signals of the catalog (popularity, first-seen times, brands,
 *	  co-visitation lists) in backend memory for rerank() and explain(), as
 *	  one flat block (core/item_signals.h) built from rerank.item_stats,
 *	  rerank.item_covisits and rerank.items.brand.
 *
 * Loaded on first use; invalidated through relcache invalidations of those
 * three tables, which statement triggers on them send at commit (a
 * refresh_item_stats() or build_covisitation() run, an edit of brands).
 * Bounded by rerank.signals_cache_mb per backend: a catalog whose signals do
 * not fit is served without them (the features that need them are missing)
 * and a WARNING says which setting to raise, once per load.
 *
 * Like the category cache, the block has no version of its own: it is
 * reloaded after every invalidation, which an aborted transaction cannot
 * leave valid (cache/cache_key.h); every call checks that the current user
 * may read the three tables (CheckCacheReadPrivilege).
 *
 * The block is position-independent, so it can move into shared memory
 * (one copy per server) without a change to its readers.
 */
#ifndef RERANK_SIGNALS_CACHE_H
#define RERANK_SIGNALS_CACHE_H

#include "postgres.h"

#include "core/item_signals.h"

/*
 * The current block, loaded or revalidated; NULL when there are no
 * signals at all or they do not fit.  Valid until the next call in a later
 * transaction (which may reload): do not keep it across transactions.
 */
extern const ItemSignals *SignalsCacheBlock(void);

/* Registers the GUC and the invalidation callback; called by _PG_init. */
extern void SignalsCacheInit(void);

#endif							/* RERANK_SIGNALS_CACHE_H */
