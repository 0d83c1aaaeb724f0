/*
 * model_cache.h
 *	  Models held in backend memory: the active model's item vectors, YᵀY and
 *	  fold-in parameters, for the hot paths (rerank(), the behavior trigger,
 *	  predict/recommend).
 *
 * A model is loaded once per backend per factors_version: one scan of its
 * item factors into a float matrix and an open-addressing hash from item id
 * to row.  It is revalidated only after a relcache invalidation of
 * rerank.models, which every change of a model row (activation, retraining,
 * a statement changing item factors, which bumps factors_version) sends at
 * commit; so a lookup costs no query at all while nothing changes.  Memory
 * is bounded by the GUC rerank.model_cache_mb per backend: a model whose
 * vectors do not fit is served by index look-ups instead (correct, slower).
 *
 * Pointers returned stay valid until the next call of ActiveModel() or
 * ModelByName() in a later transaction (which may reload); do not keep them
 * across transactions.
 */
#ifndef RERANK_MODEL_CACHE_H
#define RERANK_MODEL_CACHE_H

#include "postgres.h"

/* Fold-in defaults for models whose params do not say (imported models). */
#define RERANK_DEFAULT_REGULARIZATION 0.1
#define RERANK_DEFAULT_ALPHA 1.0

typedef struct CachedModel
{
	int32		model_id;
	char		name[NAMEDATALEN];
	char		algorithm[NAMEDATALEN];
	int			dimensions;
	int64		factors_version;
	double		regularization; /* params->>'regularization', or the default */
	double		alpha;			/* params->>'alpha': confidence c = 1 + alpha·r */
	const float *gram;			/* YᵀY, dimensions² row-major; NULL if the
								 * model has no item factors */
	int64		item_count;
	bool		vectors_cached; /* false: over budget, look-ups use the index */
	void	   *private_data;	/* model_cache.c's own state */
} CachedModel;

/* The active model, loaded or revalidated; NULL when none is active. */
extern const CachedModel *ActiveModel(void);

/*
 * A model by name (the model => argument of the SQL functions); NULL name
 * means the active model.  Unknown name: error, SQLSTATE 42704.
 */
extern const CachedModel *ModelByName(const char *name);

/*
 * The vector (dimensions floats) and bias of one item, or NULL when the
 * model has no vector for it.
 */
extern const float *ModelItemVector(const CachedModel *model, int64 item_id,
									float *bias);

/*
 * Batch form: for each of n ids, vectors[i] (NULL if unknown) and, when
 * biases is not NULL, biases[i].  One index scan for all misses when the
 * model is not cached, so callers with many ids should prefer it.  Cached
 * look-ups are pipelined and leave the vectors requested from memory, so a
 * caller that reads them next waits for them less.
 */
extern void ModelItemVectors(const CachedModel *model, const int64 *item_ids,
							 int n, const float **vectors, float *biases);

/*
 * ModelItemVectors with more of what serving needs, each when its array is
 * not NULL: the vectors' norms (norms[i] = VecNorm of the vector, 0 without
 * one; kept with the cached model) and each item's category number in the
 * category cache (categories[i], -1: none; see category_cache.h).  Both
 * come from the hash slot that gives the item's row, so they cost no
 * look-up of their own.  Returns whether the categories were filled: not
 * when they are not available this way (vectors not cached, categories
 * over their budget); the rest is filled all the same.
 */
extern bool ModelItemDetails(const CachedModel *model, const int64 *item_ids,
							 int n, const float **vectors, float *biases,
							 double *norms, int32 *categories);

/* Registers the GUC and the invalidation callback; called by _PG_init. */
extern void ModelCacheInit(void);

#endif							/* RERANK_MODEL_CACHE_H */
