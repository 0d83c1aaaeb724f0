/*
 * recent_history.c
 *	  The capped recent history of a user (see recent_history.h).
 *
 * Histories hold a few hundred items at most, so a linear search and a
 * memmove per event cost less than any index structure would.
 */
#include "core/recent_history.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
HistoryTruncate(RecentHistory *history, int limit)
{
	if (limit < 0)
		limit = 0;
	if (history->n > limit)
		history->n = limit;
}

/* Moves entry position of an array of elements of size bytes to the front. */
static void
MoveToFront(void *array, size_t size, int position)
{
	char		saved[8];
	char	   *base = array;

	memcpy(saved, base + size * position, size);
	memmove(base + size, base, size * position);
	memcpy(base, saved, size);
}

/*
 * Finds item in the history (or makes room for it at the end, dropping
 * the oldest entry when full) and moves it to the front.  Returns false
 * (nothing changed) when limit is 0, else sets *is_new.
 */
static bool
HistoryFront(RecentHistory *history, int limit, int64_t item, bool *is_new)
{
	int			position = -1;

	if (limit > history->capacity)
		limit = history->capacity;
	if (limit <= 0)
		return false;
	HistoryTruncate(history, limit);

	for (int i = 0; i < history->n; i++)
	{
		if (history->items[i] == item)
		{
			position = i;
			break;
		}
	}
	*is_new = position < 0;
	if (position < 0)
	{
		/* a new item: the oldest falls off when full */
		if (history->n < limit)
			history->n++;
		position = history->n - 1;
	}

	/* shift the entries before position one place back, then set the front */
	history->items[position] = item;
	MoveToFront(history->items, sizeof(int64_t), position);
	if (history->weights)
		MoveToFront(history->weights, sizeof(float), position);
	if (history->counts)
		MoveToFront(history->counts, sizeof(int32_t), position);
	if (history->last_at)
		MoveToFront(history->last_at, sizeof(double), position);
	if (history->kinds)
		MoveToFront(history->kinds, sizeof(uint32_t), position);
	return true;
}

void
HistoryTouch(RecentHistory *history, int limit, int64_t item, float weight)
{
	HistoryRecord(history, limit, item, weight, NAN, 0);
}

void
HistoryRecord(RecentHistory *history, int limit, int64_t item, float weight,
			  double at, uint32_t kinds)
{
	bool		is_new;

	if (!HistoryFront(history, limit, item, &is_new))
		return;
	if (history->weights)
		history->weights[0] = is_new ? weight : history->weights[0] + weight;
	if (history->counts)
	{
		if (is_new)
			history->counts[0] = 1;
		else if (history->counts[0] < INT32_MAX)
			history->counts[0]++;
	}
	if (history->last_at)
	{
		if (is_new || isnan(history->last_at[0]) || at > history->last_at[0])
			history->last_at[0] = at;
	}
	if (history->kinds)
		history->kinds[0] = is_new ? kinds : (history->kinds[0] | kinds);
}

void
SessionTouch(double *session_start, double *last_event_at, double at, double gap)
{
	if (isnan(at))
		return;
	if (isnan(*last_event_at) || isnan(*session_start))
	{
		*session_start = at;
		*last_event_at = isnan(*last_event_at) ? at : fmax(*last_event_at, at);
		return;
	}
	if (at >= *last_event_at)
	{
		if (at - *last_event_at > gap)
			*session_start = at;
		*last_event_at = at;
	}
	else if (at < *session_start && *session_start - at <= gap)
		*session_start = at;
}

int
HistoryFoldInInput(const float *weights, const float *const *vectors, int n,
				   double alpha, const float **kept_vectors, double *confidence)
{
	int			kept = 0;

	for (int i = 0; i < n; i++)
	{
		double		r = weights[i];

		if (vectors[i] == NULL || !(r > 0.0) || !isfinite(r))
			continue;
		kept_vectors[kept] = vectors[i];
		confidence[kept] = 1.0 + alpha * r;
		kept++;
	}
	return kept;
}

/* Orders merge entries by item, then by position. */
static int
CompareMergeEntries(const void *a, const void *b)
{
	const HistoryMergeEntry *x = (const HistoryMergeEntry *) a;
	const HistoryMergeEntry *y = (const HistoryMergeEntry *) b;

	if (x->item != y->item)
		return x->item < y->item ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Orders merge entries by position. */
static int
CompareIndexes(const void *a, const void *b)
{
	int32_t		x = ((const HistoryMergeEntry *) a)->index;
	int32_t		y = ((const HistoryMergeEntry *) b)->index;

	return (x > y) - (x < y);
}

int
HistoryMerge(int64_t *items, float *weights, int n, HistoryMergeEntry *work)
{
	int			out = 0;

	if (n <= 1)
		return n < 0 ? 0 : n;
	for (int i = 0; i < n; i++)
	{
		work[i].item = items[i];
		work[i].index = i;
		work[i].repeat = false;
	}
	qsort(work, (size_t) n, sizeof(HistoryMergeEntry), CompareMergeEntries);

	/* every sum first: nothing changes when one is not finite */
	for (int g = 0; g < n;)
	{
		float		sum = weights[work[g].index];
		int			e = g + 1;

		for (; e < n && work[e].item == work[g].item; e++)
			sum += weights[work[e].index];
		if (e > g + 1 && !isfinite(sum))
			return -1;
		g = e;
	}
	/* the sums at the first positions, the repeats marked */
	for (int g = 0; g < n;)
	{
		int			first = work[g].index;
		int			e = g + 1;

		for (; e < n && work[e].item == work[g].item; e++)
		{
			weights[first] += weights[work[e].index];
			work[e].repeat = true;
		}
		g = e;
	}
	/* back in history order: keep the first positions */
	qsort(work, (size_t) n, sizeof(HistoryMergeEntry), CompareIndexes);
	for (int i = 0; i < n; i++)
	{
		if (work[i].repeat)
			continue;
		items[out] = items[i];
		weights[out] = weights[i];
		out++;
	}
	return out;
}

/* qsort comparator of history pairs, by item id. */
static int
ComparePairs(const void *a, const void *b)
{
	int64_t		x = ((const HistoryPair *) a)->item;
	int64_t		y = ((const HistoryPair *) b)->item;

	return (x > y) - (x < y);
}

/* Sorts by item id, then keeps each item once with its largest weight. */
int
HistoryMergeMax(int64_t *items, float *weights, int n, HistoryPair *work)
{
	int			out = 0;

	for (int i = 0; i < n; i++)
	{
		work[i].item = items[i];
		work[i].weight = weights[i];
	}
	if (n > 1)
		qsort(work, (size_t) n, sizeof(HistoryPair), ComparePairs);
	for (int i = 0; i < n; i++)
	{
		if (out > 0 && items[out - 1] == work[i].item)
		{
			if (!(weights[out - 1] > work[i].weight))
				weights[out - 1] = work[i].weight;
			continue;
		}
		items[out] = work[i].item;
		weights[out] = work[i].weight;
		out++;
	}
	return out;
}
