/*
 * recent_history.h
 *	  A user's capped recent history: distinct item ids, most recently
 *	  touched first, each with its accumulated event weight (the r of the ALS
 *	  confidence c = 1 + α·r).  What the real-time triggers keep in
 *	  rerank.user_features and what the fold-in reads.  Pure C: no
 *	  PostgreSQL headers, no allocation (callers own the arrays).
 */
#ifndef RERANK_RECENT_HISTORY_H
#define RERANK_RECENT_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct RecentHistory
{
	int			n;				/* entries in use */
	int			capacity;		/* room in items (and weights) */
	int64_t    *items;			/* most recent first */
	float	   *weights;		/* accumulated weights, or NULL (ids only) */
} RecentHistory;

/* Drops the oldest entries beyond limit (a lowered cap applies at once). */
extern void HistoryTruncate(RecentHistory *history, int limit);

/*
 * Records an event on item: its accumulated weight grows by weight and it
 * moves to the front; a new item enters at the front and, when the history
 * already holds limit items, the oldest one falls off.  limit must not
 * exceed the capacity (it is clamped to it).
 */
extern void HistoryTouch(RecentHistory *history, int limit, int64_t item,
						 float weight);

/* An entry of HistoryMerge's workspace. */
typedef struct HistoryMergeEntry
{
	int64_t		item;
	int32_t		index;
	bool		repeat;			/* not the item's first position */
} HistoryMergeEntry;

/*
 * Merges the repeats of items in a history given as n ids and weights (what
 * rerank.fold_in_history() accepts): each item once, at its first position,
 * with the sum of its entries' weights (added in float, in history order);
 * the first positions keep their order, so a history without repeats is
 * left as it is.  Returns the new length, or -1, changing nothing, when a
 * sum is not finite.  work holds n entries.
 */
extern int	HistoryMerge(int64_t *items, float *weights, int n,
						 HistoryMergeEntry *work);

/*
 * Selects the fold-in input of a history: the entries whose item has a
 * vector (vectors[i] not NULL) and whose weight is positive and finite, with
 * confidence 1 + alpha·weight.  Writes kept vectors and confidences in
 * history order and returns how many were kept.
 */
extern int	HistoryFoldInInput(const float *weights, const float *const *vectors,
							   int n, double alpha, const float **kept_vectors,
							   double *confidence);

/* An (item, weight) pair: HistoryMergeMax's workspace. */
typedef struct HistoryPair
{
	int64_t		item;
	float		weight;
} HistoryPair;

/*
 * Sorts n (item, weight) pairs by item id in place and keeps each item
 * once, with its largest weight: a user's training interactions merged
 * with the recent history, which overlap.  work holds n pairs.  Returns the
 * new length.
 */
extern int	HistoryMergeMax(int64_t *items, float *weights, int n,
							HistoryPair *work);

#endif							/* RERANK_RECENT_HISTORY_H */
