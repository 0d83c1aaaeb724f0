/*
 * model_cache.h
 *	  Models held in backend memory: the registry row, item vectors, YᵀY and
 *	  fold-in parameters of the active and named models, for everything that
 *	  reads a model: the hot paths (rerank(), the behavior trigger) by item,
 *	  and predict, recommend, similar_items, evaluate and the fold-in
 *	  aggregate, also as one whole-catalog matrix.
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
 * Pointers returned stay valid until the next look-up (ActiveModel(),
 * ModelByName(), RequireModel(), ModelById()) in a later transaction (which
 * may reload); do not keep them across transactions.
 */
#ifndef RERANK_MODEL_CACHE_H
#define RERANK_MODEL_CACHE_H

#include "postgres.h"

#include "core/user_knn.h"

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
	bool		neighbors_cached;	/* item-kNN: its lists are in memory */
	void	   *private_data;	/* model_cache.c's own state */
} CachedModel;

/*
 * Whether the model serves from neighbor lists (an item-kNN model, which
 * has no dimensions) rather than vectors; false for NULL.
 */
extern bool ModelHasNeighbors(const CachedModel *model);

/* The active model, loaded or revalidated; NULL when none is active. */
extern const CachedModel *ActiveModel(void);

/*
 * A model by name (the model => argument of the SQL functions); NULL name
 * means the active model.  Unknown name: error, SQLSTATE 42704.
 */
extern const CachedModel *ModelByName(const char *name);

/*
 * ModelByName for the functions that cannot do without a model (predict,
 * recommend, similar_items): no active model is an error, SQLSTATE 55000.
 */
extern const CachedModel *RequireModel(const char *name);

/* A model by id; a model dropped meanwhile is an error, SQLSTATE 42704. */
extern const CachedModel *ModelById(int32 model_id);

/*
 * The id and dimensions of a named model, from a cached entry or one query
 * of the registry, without loading the model: for callers that bring their
 * own vectors (the state function of rerank.als_fold_in, which may run in
 * parallel workers).  Unknown name: error, SQLSTATE 42704.
 */
extern int32 ModelIdByName(const char *name, int *dimensions);

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

/* Every item vector of a model as one matrix. */
typedef struct ItemMatrix
{
	int			n;				/* items (rows) */
	int			k;				/* dimensions */
	const int64 *ids;			/* the item id of each row, ascending */
	const float *vectors;		/* n × k, row-major */
	const float *biases;		/* n */
	void	   *private_data;	/* model_cache.c's map from id to row */
} ItemMatrix;

/*
 * The whole catalog of a model, for rankings over every item: the cached
 * vectors, or for a model over the memory budget a temporary copy read into
 * the current memory context (correct, slower).  n = 0 for a model without
 * dimensions.  Valid as long as the model pointer.
 */
extern void ModelItemMatrix(const CachedModel *model, ItemMatrix *matrix);

/* The row of an item in the matrix, or -1. */
extern int32 ItemMatrixRow(const ItemMatrix *matrix, int64 item_id);

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

/* A neighbor list of an item-kNN model, most similar first. */
typedef struct NeighborList
{
	int			n;
	int64	   *ids;
	float	   *similarities;
} NeighborList;

/*
 * The cached neighbor list of an item of an item-kNN model (pointers into
 * the cache, valid as long as the model pointer); false when the item has
 * none.  Only for a model with neighbors_cached.
 */
extern bool ModelItemNeighbors(const CachedModel *model, int64 item_id,
							   NeighborList *list);

/*
 * Whether the model is a user-kNN model (neighbor lists of users, no
 * dimensions); false for NULL.
 */
extern bool ModelIsUserKnn(const CachedModel *model);

/*
 * The index of a user-kNN model (cache/user_knn_cache.h): the cached one,
 * or for a model over the memory budget a copy read into the current memory
 * context (correct, slower).  Valid as long as the model pointer.
 */
extern const UserKnnIndex *ModelUserKnnIndex(const CachedModel *model);

/* Registers the GUC and the invalidation callback; called by _PG_init. */
extern void ModelCacheInit(void);

#endif							/* RERANK_MODEL_CACHE_H */
