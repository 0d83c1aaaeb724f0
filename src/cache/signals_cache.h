/*
 * signals_cache.h
 *	  The item signals of the catalog (popularity, first-seen times, brands,
 *	  co-visitation lists) served from memory for rerank() and explain(), as
 *	  one flat block (core/item_signals.h) built from rerank.item_stats,
 *	  rerank.item_covisits and rerank.items.brand.
 *
 * The block is a served snapshot (snapshot.h, kind SNAPSHOT_SIGNALS, block
 * BLOCK_ITEM_SIGNALS): built on first use, once per server with the preload
 * (within rerank.shared_cache_mb, mapped read-only by every backend), else
 * per backend (within rerank.signals_cache_mb).  Its version is the signals
 * generation, replaced at the commit of any change of the three tables
 * (statement triggers on them: a refresh_item_stats() or
 * build_covisitation() run, an edit of items or brands), which an aborted
 * transaction never does: a backend sees a new version at its first call
 * of a transaction after the commit, waiting for its build if another
 * backend builds it.  The refresh procedures build that version before
 * they commit (SignalsCachePrepare), so after them nobody waits.  A transaction that changed the tables reads a block
 * of its own, built from what it sees and freed at its end.  Signals that
 * do not fit are not used (the features that need them are missing) and a
 * WARNING says which setting to raise, once per session and version.
 *
 * Every call checks that the current user may read the three tables
 * (CheckCacheReadPrivilege), whatever is in memory.
 */
#ifndef RERANK_SIGNALS_CACHE_H
#define RERANK_SIGNALS_CACHE_H

#include "postgres.h"

#include "core/item_signals.h"

/*
 * This transaction's block; NULL when there are no signals at all or they
 * do not fit.  Valid until the end of the transaction: do not keep it
 * across transactions.
 */
extern const ItemSignals *SignalsCacheBlock(void);

/*
 * For the procedures that replace the signals' tables (refresh_item_stats,
 * build_covisitation), after their last write: with the preload, builds
 * the version their commit makes current, so that no call waits for it
 * after the commit (the previous version serves until then; a rollback
 * leaves nothing).  Without the preload, or when the caller may not read
 * the three tables, nothing (each backend builds at its first use).
 */
extern void SignalsCachePrepare(void);

/* Registers the GUC, the snapshot kind and its provider; called by _PG_init. */
extern void SignalsCacheInit(void);

#endif							/* RERANK_SIGNALS_CACHE_H */
