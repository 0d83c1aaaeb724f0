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
	int			capacity;		/* room in items (and the other arrays) */
	int64_t    *items;			/* most recent first */
	float	   *weights;		/* accumulated weights, or NULL (ids only) */
	/* kept by HistoryRecord when not NULL (features.h, re-visits): */
	int32_t    *counts;			/* events on the item while in the history */
	double	   *last_at;		/* time of the item's last event (NaN: unknown) */
	uint32_t   *kinds;			/* FEAT_KIND_* bits of its events */
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
 * HistoryTouch for one event at time at of the kinds bits: also counts the
 * event, keeps the later of the item's last time and at (a NaN time stays
 * unknown until a known one arrives), and adds the kinds, in the arrays of
 * those that are not NULL.  A new item starts at count 1.  What the trigger
 * does for an event of positive weight, and what a replay must do.
 */
extern void HistoryRecord(RecentHistory *history, int limit, int64_t item,
						  float weight, double at, uint32_t kinds);

/*
 * The session of a user after an event at time at: a new session starts
 * (*session_start = at) when the user had no event yet (*last_event_at
 * NaN) or the event comes more than gap seconds after the last one; the
 * last event time becomes the later of the two.  An event earlier than the
 * last one changes nothing but may move the start back when it falls in
 * the current session's gap before its start.
 */
extern void SessionTouch(double *session_start, double *last_event_at,
						 double at, double gap);

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
