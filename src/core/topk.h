/*
 * topk.h
 *	  Rankings over a whole catalog in the pure-C core: top-k selection, the
 *	  metrics of top-k lists, and the top-K neighbors of item-based
 *	  collaborative filtering.  No PostgreSQL headers, no allocation.
 */
#ifndef RERANK_TOPK_H
#define RERANK_TOPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/als_train.h"

/*
 * The k best of n candidates: highest score first, ties to the smaller id.
 * ids[i] is candidate i's id (NULL: its position); NaN scores are skipped
 * (callers mark excluded candidates with NaN).  Writes up to k ids and
 * scores, sorted, and returns how many.
 */
extern int	TopKSelect(const float *scores, const int32_t *ids, int n, int k,
					   int32_t *out_ids, float *out_scores);

/* The position of key in the ascending array sorted[0..n), or -1. */
extern int64_t SortedFind(const int32_t *sorted, int64_t n, int32_t key);

/* Sums of the per-user ranking metrics at k. */
typedef struct RankMetrics
{
	int64_t		users;
	double		precision;		/* Σ hits / k */
	double		recall;			/* Σ hits / |relevant| */
	double		ndcg;			/* Σ DCG / ideal DCG over min(|relevant|, k) */
	double		map;			/* Σ average precision / min(|relevant|, k) */
	int64_t		hit_users;		/* users with at least one hit */
} RankMetrics;

/*
 * Adds one user: ranked holds the n_ranked (≤ k) recommended ids in order,
 * relevant the ids of the user's test items that the model knows, sorted
 * ascending; n_relevant counts every test item (known or not).  Binary
 * gains, log2 discount.  Users without test items are not counted.
 */
extern void RankMetricsAdd(RankMetrics *m, int k, const int32_t *ranked,
						   int n_ranked, const int32_t *relevant,
						   int n_known_relevant, int n_relevant);

/* Item-item similarities of item-based collaborative filtering. */
typedef enum ItemSimilarity
{
	ITEM_SIMILARITY_COSINE,		/* Σ w_ui w_uj / (‖w_i‖ ‖w_j‖) */
	ITEM_SIMILARITY_JACCARD		/* |U_i ∩ U_j| / |U_i ∪ U_j| */
} ItemSimilarity;

/*
 * The K nearest neighbors of one item (the item itself included, as the
 * implicit library does) from both orientations of the interaction matrix.
 * norms: ‖w_i‖ per item (cosine); counts: users per item (jaccard) are the
 * row lengths of by_item.  acc (by_item->rows doubles) must be zero on entry
 * and is zero again on return; touched holds by_item->rows ints.  Returns
 * the number of neighbors written (≤ K), best first.
 */
extern int	ItemNeighbors(const AlsCsr *by_item, const AlsCsr *by_user,
						  const double *norms, ItemSimilarity similarity,
						  int item, int K, double *acc, int32_t *touched,
						  float *scratch, int32_t *out_ids, float *out_sims);

#endif							/* RERANK_TOPK_H */
