/*
 * user_knn_terms.h
 *	  rerank()'s and explain()'s terms under a user-kNN model
 *	  (user_knn_terms.c): the model term of each candidate from the user's
 *	  neighbors (trained, or found from the current history), MMR's
 *	  similarity among the neighbors, and explain()'s share of each
 *	  neighbor.
 */
#ifndef RERANK_USER_KNN_TERMS_H
#define RERANK_USER_KNN_TERMS_H

#include "postgres.h"

#include "cache/model_cache.h"
#include "core/rank.h"
#include "core/user_knn.h"
#include "model/user_features.h"
#include "model/user_neighbors.h"

/*
 * The terms of n candidates under a user-kNN model: candidates.model (the
 * model term, 0 where missing) and candidates.in_model (in the model's
 * catalog: the others keep their upstream slot); with pairs, the
 * candidates' rows for MMR (UserKnnMmrSimilarity over candidates.rows).
 * There is no recent term: the recent history acts through the neighbors.
 */
typedef struct UserKnnTerms
{
	UserNeighbors neighbors;	/* the user's */
	UserKnnCandidates candidates;
	double	   *recent;			/* n zeros: RankScoreGiven's recent terms */
	/* explain(): each neighbor's share s_v r_vi / Σ s of candidate 0's term */
	int			nshares;
	TermPart   *shares;			/* item_id: the neighbor's user id; order:
								 * its place in the list */
} UserKnnTerms;

/*
 * Computes UserKnnTerms of n candidates (distinct ids) for the user whose
 * features were read: the neighbors only when want_model or want_pairs,
 * the rows when want_pairs, the shares of candidate 0 when want_shares.
 */
extern void UserKnnTermsLoad(const CachedModel *model, int64 user_id,
							 const UserFeatures *features, const int64 *ids,
							 int n, bool want_model, bool want_pairs,
							 bool want_shares, UserKnnTerms *terms);

#endif							/* RERANK_USER_KNN_TERMS_H */
