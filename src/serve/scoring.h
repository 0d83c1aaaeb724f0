/*
 * scoring.h
 *	  The one scoring pipeline of rerank() and explain() (scoring.c).
 *
 * A call builds one ScoringContext in two steps, each done once:
 *	- ScoringGather reads everything the scores depend on: the model (from
 *	  the caller), the candidates' details from the model cache (vectors,
 *	  biases, norms, category numbers, in one pipelined pass), the user's
 *	  row and vector (model/user_features.h), the recent items' vectors,
 *	  the categories with the user's weights (categories.h) and, under an
 *	  item-kNN model, the history's neighbor lists (knn_terms.h), under a
 *	  user-kNN model, the user's neighbors (user_knn_terms.h).  Every
 *	  SPI query and cache look-up of a call happens here, in this order;
 *	  what the weights make useless is not read.
 *	- ScoringCompute computes, in the pure-C core (core/rank.h, core/knn.h),
 *	  the recency profile, each candidate's terms and its score.
 * explain() runs the same two steps over one candidate, with every term
 * asked for (ScoringRequest.explain), and reads the terms the scores were
 * computed from: its terms and score are rerank()'s by construction.
 * rerank() then orders the scored candidates (RankOrder).
 *
 * The scores are the hand-weighted blend of the candidate features
 * (core/features.h): ScoringGather fills the core's structs (FeatUser,
 * FeatItem, FeatCatalog) from the tables and caches, ScoringCompute has the
 * core compute each candidate's row of features (FeatRow) and blend them
 * (FeatBlend); explain() shows the rows and the weighted terms, which add
 * up to the score.  A learned ranker replaces FeatBlend in ScoringCompute
 * and reads the same rows (ScoringContext.features, n × FEATURE_COUNT).
 * Serving the model from shared memory changes where CachedModel's
 * pointers point, not this pipeline.
 */
#ifndef RERANK_SCORING_H
#define RERANK_SCORING_H

#include "postgres.h"

#include "cache/model_cache.h"
#include "core/features.h"
#include "core/item_signals.h"
#include "core/knn.h"
#include "core/rank.h"
#include "datatype/timestamp.h"
#include "model/user_features.h"
#include "serve/knn_terms.h"
#include "serve/settings.h"
#include "serve/user_knn_terms.h"

/* What a call asks to be scored, and how. */
typedef struct ScoringRequest
{
	const CachedModel *model;	/* NULL: no model (position and category
								 * terms only) */
	int64		user_id;
	TimestampTz as_of;			/* when the features are computed */
	BlendWeights weights;
	bool		explain;		/* every feature, whatever its weight, the
								 * weighted terms, and explain()'s shares
								 * under item-kNN */
	bool		exclude_purchased;	/* drop the user's purchased items */
	bool		want_categories;	/* the categories, even without affinity
									 * (category caps) */
	bool		want_pairs;		/* item-kNN: MMR's candidate pairs */
} ScoringRequest;

/* What one user is, for one call (copied out of the tables). */
typedef struct ServeUser
{
	float	   *vector;			/* x_u in the model, or NULL */
	UserFeatures features;		/* recent history, purchases, categories */
} ServeUser;

/* A call's scoring inputs, gathered once, and its scores. */
typedef struct ScoringContext
{
	ScoringRequest req;
	int			dims;			/* the model's, 0 without vectors */
	bool		knn;			/* an item-kNN model: terms from lists */
	bool		user_knn;		/* a user-kNN model: terms from neighbors */
	/* the user */
	ServeUser	user;
	const float **recent;		/* vectors of the recent items the recent
								 * term uses, or NULL */
	int			nrecent;
	/* the candidates, in upstream order (purchases dropped) */
	int			n;
	RankItem   *items;			/* id, vector, bias, norm, position,
								 * local category, score: what RankOrder
								 * orders */
	int			ncategories;	/* local categories (RankItem.category) */
	KnnTerms	knn_terms;		/* item-kNN: model and recent terms, pairs */
	KnnShares	knn_shares;		/* item-kNN explain(): their shares */
	UserKnnTerms user_knn_terms;	/* user-kNN: model term, rows, shares */
	/* the features' inputs (core/features.h) */
	FeatUser	feat_user;
	FeatHistoryItem *history;	/* the user's history, with categories and
								 * brands */
	FeatKeyWeight *category_weights;
	float	   *profile;		/* p_u, or NULL */
	FeatCatalog catalog;
	FeatItem   *feat_items;		/* n */
	/* computed */
	double	   *features;		/* n × FEATURE_COUNT; NaN for a feature
								 * without weight unless explain */
	double	   *terms;			/* n × FEATURE_COUNT weighted (explain),
								 * else NULL */
	int			bad;			/* first candidate whose score is not
								 * finite, or n */
} ScoringContext;

/* palloc for arrays that grow with the number of candidates. */
extern void *CandidateAlloc(Size count, Size size);

/*
 * Gathers the inputs of the scores of n candidates (distinct ids, in
 * upstream order; the array is kept and compacted when purchases are
 * dropped) at the given positions (NULL: 1, 2, …, n).  Everything is
 * allocated in the current memory context.
 */
extern void ScoringGather(ScoringContext *ctx, const ScoringRequest *req,
						  int64 *ids, int n, const int32 *positions);

/* Computes every candidate's features and score in the core. */
extern void ScoringCompute(ScoringContext *ctx);

#endif							/* RERANK_SCORING_H */
