/*
 * cache_key.h
 *	  What a cached copy of a model's data (item vectors, YᵀY, neighbor
 *	  lists) is keyed by, and when a cache may trust what it checked.
 *
 * A backend can load a model while it sees data no other transaction will
 * ever see: its own uncommitted changes, or a savepoint's, later rolled
 * back.  So an entry must be keyed by something an aborted transaction can
 * never give back.  The key is the model id and its data version, the
 * registry's factors_version: every change of a model's item factors or
 * neighbor lists gives the model row a new version, and the trigger
 * models_guard takes every new version from the sequence
 * rerank.data_version_seq (above the model's old version, so a model's
 * versions only grow).  Sequences are not transactional: a number taken
 * by an aborted transaction is never taken again, so an entry loaded from
 * aborted data can never match a committed version (issue 10: a counter
 * incremented in the row was taken again by the next commit, and backends
 * kept serving the aborted vectors).  The row's xmin would be unique too,
 * but it changes with every update of the row (activation, metrics, YᵀY) and
 * would reload all the vectors each time.
 *
 * The key means the same in every backend, so it also serves a cache shared
 * between backends: data loaded under a key is that key's data, whichever
 * transaction loaded it.  Categories (category_cache.c) have no version of
 * their own: that cache is reloaded after every invalidation of
 * rerank.items, which an aborted transaction cannot leave valid either.
 */
#ifndef RERANK_CACHE_KEY_H
#define RERANK_CACHE_KEY_H

#include "postgres.h"

typedef struct ModelDataKey
{
	int32		model_id;
	int64		version;		/* rerank.models.factors_version */
} ModelDataKey;

/* Whether two keys name the same data. */
static inline bool
ModelDataKeyEquals(ModelDataKey a, ModelDataKey b)
{
	return a.model_id == b.model_id && a.version == b.version;
}

/*
 * A count of the invalidations a cache has received.  A cache that reads
 * the registry to validate itself takes the count before reading and
 * trusts the result only if the count has not moved meanwhile: an
 * invalidation processed while it read (at a lock it took) may announce a
 * commit its snapshot did not see, and marking the entry checked would then
 * keep the older data until the next invalidation.
 */
typedef uint64 CacheInvalCount;

#endif							/* RERANK_CACHE_KEY_H */
