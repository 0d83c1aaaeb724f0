/*
 * ranker_cache.h
 *	  Learned rankers held in backend memory for serving (ranker_cache.c):
 *	  the forest of a ranker's booster (core/gbdt_forest.h), built once per
 *	  model version from the JSON stored in rerank.rankers.
 *
 * Which ranker serves is the setting rerank.ranker: '' (the default) the
 * active ranker, 'none' no ranker (the hand-weighted blend), or a ranker's
 * name (evaluation, A/B tests).  A ranker trained on another version of
 * the candidate features than this build computes is not served: the
 * blend serves instead, with a WARNING once per session.
 *
 * The forest is one flat, position-independent block (no pointer inside),
 * held as the block BLOCK_RANKER_FOREST of the SNAPSHOT_MODEL of the
 * ranker's model_id and factors_version (cache/snapshot.h: once per server
 * with the preload, else once per backend): RankerForestPlan gives its size
 * from the booster, RankerForestFill writes it into memory of that size.
 * When no snapshot can hold it (the model budget, or a booster the caller
 * wrote and has not committed), the backend builds its own.  An entry per
 * (model_id, factors_version), revalidated after a relcache invalidation
 * of rerank.models (every change of a ranker's booster bumps its
 * factors_version), like the model cache.  Forests are small (about 0.5 MB
 * for 300 trees of depth 6).
 *
 * Pointers stay valid until the end of the transaction that got them.
 */
#ifndef RERANK_RANKER_CACHE_H
#define RERANK_RANKER_CACHE_H

#include "postgres.h"

#include "core/gbdt_forest.h"

typedef struct CachedRanker
{
	int32		model_id;
	char		name[NAMEDATALEN];
	int64		version;		/* the model row's factors_version */
	int			features_version;
	const GbdtForest *forest;
	Size		bytes;			/* of the forest block */
} CachedRanker;

/* The setting rerank.ranker. */
extern char *rerank_ranker_setting;

/*
 * The ranker that serves rerank() and explain() (see above); NULL when the
 * blend serves.  An unknown name in the setting is an error (42704).
 */
extern const CachedRanker *ServingRanker(void);

/*
 * The forest block of a booster (JSON, len bytes, untrusted): its size and
 * shape (0 and an error message when it does not read), then the block
 * written into memory of that size (8-byte aligned; false and a message
 * when it does not build or check).  What a snapshot provider's plan and
 * fill call.
 */
extern Size RankerForestPlan(const char *json, size_t len, GbdtJsonShape *shape,
							 char *err, size_t errlen);
extern bool RankerForestFill(const char *json, size_t len, const GbdtJsonShape *shape,
							 void *block, Size size, char *err, size_t errlen);

/*
 * Builds (or maps) the forest of a ranker's committed version now, ahead of
 * its first use (activation, rollback, rerank.warm_model): the ranker named
 * name, else the one with model_id.  False when that model is not a ranker
 * (nothing done; the model cache's business).  *served: its forest is held
 * in a snapshot now (with the preload, once per server).  A ranker without
 * a booster or of another features version is left alone (activation
 * refuses it).  With must_build, a snapshot built without the forest (a
 * booster that does not build) is an error (XX001), so that activation
 * never makes active a ranker no call could serve.  Over the budget, or a
 * version this transaction wrote, is not an error: the calls then build
 * their own forest, as before.
 */
extern bool WarmRanker(const char *name, int32 model_id, bool must_build, bool *served);

/* Registers the setting and the invalidation callback; called by _PG_init. */
extern void RankerCacheInit(void);

#endif							/* RERANK_RANKER_CACHE_H */
