/*
 * serve.h
 *	  Shared by the serving functions rerank(), rerank_ids() and explain():
 *	  the blend settings, the per-call look-ups of a user's vector, features
 *	  and recent items' vectors, and item categories (serve.c).
 */
#ifndef RERANK_SERVE_H
#define RERANK_SERVE_H

#include "postgres.h"

#include "cache/model_cache.h"
#include "core/rank.h"
#include "utils/jsonb.h"

/* Most candidates one call accepts (memory stays bounded). */
#define RERANK_MAX_CANDIDATES 1000000

/*
 * Settings (GUCs), registered by ServeInit(); the blend weights
 * (rerank.*_weight) are read through ServeWeights().
 */
extern double rerank_recent_decay;
extern int	rerank_recent_items;
extern int	rerank_diversity_depth;

extern void ServeInit(void);

/* What one call knows about the user (copied out of SPI). */
typedef struct ServeUser
{
	float	   *vector;			/* x_u in the model, or NULL */
	int			nrecent;		/* recent history, most recent first */
	int64	   *recent_items;
	float	   *recent_weights;
	int			npurchased;
	int64	   *purchased_items;
	Jsonb	   *category_weights;	/* NULL when empty or absent */
} ServeUser;

/*
 * Reads the user's vector in the model (when model is not NULL and has
 * dimensions) and features: two primary key look-ups without the executor,
 * or one query with a kept plan when the tables are under row-level
 * security or not readable as a whole.  A user without a row has no vector
 * and empty features.  Results are in the current memory context.
 */
extern void LoadUserState(const CachedModel *model, int64 user_id,
						  ServeUser *state);

/*
 * The vectors of the user's recent items that the recent term uses (the
 * first rerank.recent_items of them, *nrecent; NULL entries: no vector).
 * The look-up leaves them requested from memory, so a caller can do other
 * work before it reads them.
 */
extern const float **RecentVectors(const CachedModel *model,
								   const ServeUser *user, int *nrecent);

/*
 * The recency profile p_u of those vectors (core/rank.h), or NULL when
 * none of them is a non-zero vector.
 */
extern const float *RecentProfile(const CachedModel *model,
								  const float **recent, int nrecent);

/*
 * The categories of n items as dense numbers (categories[i], -1: unknown),
 * with the affinity of the user to each (NULL when the user has no
 * category weights).  Returns the number of distinct categories.
 */
extern int	LoadCategories(const int64 *item_ids, int n, const Jsonb *weights,
						   int32 *categories, double **affinity);

/*
 * LoadCategories for items whose category numbers in the category cache
 * are known (global[i], -1: none), as ModelItemDetails gives
 * them; the cache must not have been reloaded since.
 */
extern int	CategoriesFromNumbers(const int32 *global, int n, const Jsonb *weights,
								  int32 *categories, double **affinity);

/* The interrupt check handed to the ranking core. */
extern void ServeCheckInterrupts(void);

/* The blend weights of a call: arguments, or the settings where NULL. */
extern void ServeWeights(FunctionCallInfo fcinfo, int first_arg,
						 RankWeights *weights);

/* Raises an error when a weight or setting argument is unusable. */
extern void CheckFiniteArgument(double value, const char *name);

#endif							/* RERANK_SERVE_H */
