/*
 * knn.h
 *	  rerank()'s model and recent terms under an item-kNN model, which keeps
 *	  neighbor lists instead of vectors, and the similarity of two candidates
 *	  that its MMR uses.  Pure C: no PostgreSQL headers, no allocation.
 *
 * - The model term of candidate i is predict()'s score: Σ_j r_j·sim(j, i)
 *	 over the user's history j (training interactions and recent items, the
 *	 largest weight of each) and the items i in j's list.
 * - The recent term is the recency-weighted mean similarity to the recent
 *	 items that have a list, Σ_j d^j sim(j, i) / Σ_j d^j (j = 0 the most
 *	 recent, sim(j, j) = 1 as the lists store it): the counterpart of the
 *	 mean cosine of vector models.
 * - Two candidates are as similar as either's list says (cosine and
 *	 Jaccard are symmetric), 0 when neither lists the other.
 * - A candidate is in the model when it has a list of its own; the others
 *	 keep their upstream slot, as items without a vector do.
 *
 * The terms accumulate list by list (KnnAccumList), in whatever order the
 * caller finds the lists of the history, the recent items and (for MMR
 * pairs) the candidates; KnnAccumFinish ends the recent term's mean.
 */
#ifndef RERANK_KNN_H
#define RERANK_KNN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/id_index.h"
#include "core/rank.h"

/* Two candidates whose MMR similarity is non-zero. */
typedef struct KnnPair
{
	int32_t		a;
	int32_t		b;
	float		similarity;
} KnnPair;

/* The history's shares in the terms of candidate 0 (explain()). */
typedef struct KnnShares
{
	int			capacity;		/* of each array: history + recent items */
	int			nmodel;
	TermPart   *model;			/* r_j·sim(j, i) */
	int			nrecent;
	TermPart   *recent;			/* d^j sim(j, i) / Σ d^j */
} KnnShares;

/* The accumulation of the terms of n candidates. */
typedef struct KnnAccum
{
	/* inputs */
	const IdIndex *candidates;	/* candidate id → index (distinct ids) */
	const IdIndex *history;		/* history id → index into history_weights;
								 * NULL: no model term */
	const float *history_weights;
	const IdIndex *recent;		/* recent id → recency order (0: most
								 * recent); NULL: no recent term */
	double		decay;			/* d */
	int			history_order;	/* order of a model share of history item h
								 * that is not recent: history_order + h */
	bool		want_pairs;
	/* outputs, n each, zeroed by the caller */
	double	   *model;
	double	   *recent_terms;
	bool	   *in_model;		/* set for candidates whose list was seen */
	KnnPair    *pairs;			/* room for KnnAccumPairBound more before
								 * each list */
	int64_t		npairs;
	KnnShares  *shares;			/* NULL: none; else zeroed counts */
	double		recent_total;	/* Σ d^j over recent items with a list */
} KnnAccum;

/* Pairs KnnAccumList may add for the list of item (n neighbors), at most. */
extern int64_t KnnAccumPairBound(const KnnAccum *acc, int64_t item, int n);

/* Takes item's list (n neighbor ids, similarities) into every term it adds to. */
extern void KnnAccumList(KnnAccum *acc, int64_t item, const int64_t *ids,
						 const float *similarities, int n);

/* Ends the recent terms (and shares) of ncandidates: divides by Σ d^j. */
extern void KnnAccumFinish(KnnAccum *acc, int ncandidates);

/*
 * The pairs of n candidates as rows: the candidates each one is similar to
 * are other[start[c] .. start[c + 1] - 1], with their similarities, the
 * larger of a pair listed twice.  Sorts pairs in place.  start holds n + 1,
 * other and similarity npairs entries.
 */
typedef struct KnnPairRows
{
	int64_t    *start;
	int32_t    *other;
	float	   *similarity;
} KnnPairRows;

extern void KnnPairRowsBuild(KnnPair *pairs, int64_t npairs, int n,
							 KnnPairRows *rows);

/* RankSimilarityFn over KnnPairRows: the pair's similarity, or 0. */
extern double KnnPairSimilarity(int a, int b, void *arg);

#endif							/* RERANK_KNN_H */
