/*
 * ranker_examples.h
 *	  The pure calculations of the learned ranker's training examples
 *	  (ranker_examples.c): deterministic sampling (of users, of ranking
 *	  groups, of negatives by weight) and the ranking metrics of scored
 *	  groups.  No PostgreSQL headers, no allocation: callers pass arrays.
 *
 * The replay that builds the examples is in the glue (train/ranker_replay.c):
 * it calls the same state updates as the trigger (recent_history.h), the
 * same item statistics and co-visitation code as the scheduled refreshes
 * (item_signals.h) and the same feature functions as serving (features.h);
 * what is here decides which users, events and negatives it samples, and
 * how a ranking of a group is scored.
 */
#ifndef RERANK_RANKER_EXAMPLES_H
#define RERANK_RANKER_EXAMPLES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A well-mixed 64-bit hash of x under a seed (splitmix64's finalizer of
 * seed + x·φ): the same inputs give the same value on every platform, so
 * every sample below is deterministic for a seed.
 */
extern uint64_t RankerHash(uint64_t seed, uint64_t x);

/* A hash as a number in [0, 1) (its top 53 bits). */
extern double RankerUnit(uint64_t hash);

/*
 * Whether key is in a sample of the given fraction (≥ 1: always; ≤ 0 or
 * NaN: never) under seed: RankerUnit(RankerHash(seed, key)) < fraction,
 * so a smaller fraction keeps a subset of a larger one's keys.
 */
extern bool RankerSampled(uint64_t seed, uint64_t key, double fraction);

/*
 * Cumulative sums of n weights for RankerPick: cumulative[i] = Σ_{j ≤ i}
 * w_j, where negative, NaN or infinite weights count as 0.  Returns the
 * total.
 */
extern double RankerCumulate(const float *weights, size_t n, double *cumulative);

/*
 * The index i with cumulative[i − 1] ≤ u·total < cumulative[i] (u in
 * [0, 1), total = cumulative[n − 1]), i.e. an index drawn with probability
 * proportional to its weight, by binary search; n when the total is not
 * positive.
 */
extern size_t RankerPick(const double *cumulative, size_t n, double u);

/*
 * How the negatives of a ranking group without impressions are drawn
 * (docs/ranker.md): counts by source.
 */
typedef struct RankerNegativeMix
{
	int			popular;
	int			category;
	int			uniform;
} RankerNegativeMix;

/*
 * The shares of the sources (normalized by RankerMixShares): by popularity,
 * from the positive item's category, uniformly from the catalog.
 */
typedef struct RankerMixShares
{
	double		popular;
	double		category;
	double		uniform;
} RankerMixShares;

/*
 * The default shares: all uniform (chosen on the training histories of the
 * replay's data sets among four mixes; docs/ranker.md, "The negatives' mix").
 */
extern RankerMixShares RankerMixDefault(void);

/*
 * Normalizes shares to sum 1; false (shares untouched) when one is
 * negative, NaN or infinite, or when they sum to 0.
 */
extern bool RankerMixNormalize(RankerMixShares *shares);

/*
 * The counts of negatives drawn from each source for normalized shares:
 * popular = ⌈negatives·p⌉, category = ⌊negatives·c⌋ (each within a 1e-9
 * tolerance, so ¼ of 20 is 5, and capped by what is left), the rest
 * uniform.  negatives ≤ 0: all 0.
 */
extern RankerNegativeMix RankerNegativesMixed(int negatives, const RankerMixShares *shares);

/*
 * Sums of the ranking metrics at k over scored groups.  A group's items
 * are ranked by score, highest first, with ties broken against the
 * positives (among equal scores, lower labels first: a constant scorer
 * earns nothing) and NaN scores last; its NDCG@k uses the gain 2^label − 1
 * and the discount log2(1 + rank), hit_rate@k is 1 when a positive (label
 * > 0) is in the top k, mrr 1/rank of the first positive.  Groups without a
 * positive are not counted.
 */
typedef struct RankerMetrics
{
	int64_t		groups;
	double		ndcg;
	double		hit_rate;
	double		mrr;
} RankerMetrics;

/* Adds one group of n items (scores, labels); k < 1 counts as 1. */
extern void RankerMetricsAdd(RankerMetrics *m, const float *scores,
							 const float *labels, int n, int k);

#endif							/* RERANK_RANKER_EXAMPLES_H */
