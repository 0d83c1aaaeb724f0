/*
 * knn_terms.h
 *	  rerank()'s and explain()'s model and recent terms under an item-kNN
 *	  model, from neighbor lists instead of vectors (knn_terms.c).
 */
#ifndef RERANK_KNN_TERMS_H
#define RERANK_KNN_TERMS_H

#include "postgres.h"

#include "cache/model_cache.h"
#include "serve/serve.h"

/*
 * rerank()'s terms of n candidates under an item-kNN model:
 * per candidate, the model and recent terms (0 where missing) and whether
 * it is in the model; with pairs, the candidates each one's MMR similarity
 * is non-zero with, as rows pair_start[c] .. pair_start[c + 1] - 1 of
 * pair_other and pair_similarity.
 */
typedef struct KnnTerms
{
	double	   *model;
	double	   *recent;
	bool	   *in_model;
	int64	   *pair_start;		/* NULL without pairs */
	int32	   *pair_other;
	float	   *pair_similarity;
} KnnTerms;

/*
 * Computes KnnTerms: the model term from the user's history (when
 * want_model), the recent term from the first rerank.recent_items of
 * user's recent items (when want_recent), the pairs when want_pairs.
 */
extern void KnnCandidateTerms(const CachedModel *model, int64 user_id,
							  const ServeUser *user, const int64 *ids, int n,
							  bool want_model, bool want_recent, bool want_pairs,
							  KnnTerms *terms);

/* One history item's share of a term (explain()). */
typedef struct TermPart
{
	int64		item_id;
	int			order;			/* index in the recent history, most recent
								 * first (older history after) */
	double		value;
} TermPart;

/* The shares of the history in one item's model and recent terms. */
typedef struct KnnShares
{
	int			nmodel;
	TermPart   *model;			/* r_j·sim(j, i) */
	int			nrecent;
	TermPart   *recent;			/* d^j sim(j, i) / Σ d^j */
} KnnShares;

/*
 * KnnCandidateTerms of one item (both terms), with each history item's
 * share of them: the parts add up to the terms.
 */
extern void KnnItemShares(const CachedModel *model, int64 user_id,
						  const ServeUser *user, int64 item_id,
						  KnnTerms *terms, KnnShares *shares);

/* RankSimilarityFn over a KnnTerms with pairs. */
extern double KnnPairSimilarity(int a, int b, void *arg);

#endif							/* RERANK_KNN_TERMS_H */
