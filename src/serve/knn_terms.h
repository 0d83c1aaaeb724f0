/*
 * knn_terms.h
 *	  rerank()'s and explain()'s model and recent terms under an item-kNN
 *	  model, from neighbor lists instead of vectors (knn_terms.c).
 */
#ifndef RERANK_KNN_TERMS_H
#define RERANK_KNN_TERMS_H

#include "postgres.h"

#include "cache/model_cache.h"
#include "core/knn.h"
#include "model/user_features.h"

/*
 * rerank()'s terms of n candidates under an item-kNN model: per candidate,
 * the model and recent terms (0 where missing) and whether it is in the
 * model; with pairs, the candidates each one's MMR similarity is non-zero
 * with (pairs.start NULL without).
 */
typedef struct KnnTerms
{
	double	   *model;
	double	   *recent;
	bool	   *in_model;
	KnnPairRows pairs;			/* RankSimilarityFn: KnnPairSimilarity */
} KnnTerms;

/*
 * Reads what the terms of n candidates under an item-kNN model depend on
 * and has the core compute them (core/knn.h): the model term from the
 * user's history (training interactions merged with features' history,
 * when want_model), the recent term from the first rerank.recent_items of
 * the recent items (when want_recent), the MMR pairs (when want_pairs), and
 * with shares (not NULL) each history item's share in candidate 0's terms
 * (explain()), which add up to them.
 */
extern void KnnTermsLoad(const CachedModel *model, int64 user_id,
						 const UserFeatures *features, const int64 *ids, int n,
						 bool want_model, bool want_recent, bool want_pairs,
						 KnnTerms *terms, KnnShares *shares);

#endif							/* RERANK_KNN_TERMS_H */
