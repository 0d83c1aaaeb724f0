/*
 * recent_history.c
 *	  The capped recent history of a user (see recent_history.h).
 *
 * Histories hold a few hundred items at most, so a linear search and a
 * memmove per event cost less than any index structure would.
 */
#include "core/recent_history.h"

#include <math.h>
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

void
HistoryTouch(RecentHistory *history, int limit, int64_t item, float weight)
{
	int			position = -1;
	float		accumulated = weight;

	if (limit > history->capacity)
		limit = history->capacity;
	if (limit <= 0)
		return;
	HistoryTruncate(history, limit);

	for (int i = 0; i < history->n; i++)
	{
		if (history->items[i] == item)
		{
			position = i;
			break;
		}
	}
	if (position >= 0)
	{
		if (history->weights)
			accumulated = history->weights[position] + weight;
	}
	else
	{
		/* a new item: the oldest falls off when full */
		if (history->n < limit)
			history->n++;
		position = history->n - 1;
	}

	/* shift the entries before position one place back, then set the front */
	memmove(history->items + 1, history->items, sizeof(int64_t) * position);
	history->items[0] = item;
	if (history->weights)
	{
		memmove(history->weights + 1, history->weights, sizeof(float) * position);
		history->weights[0] = accumulated;
	}
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
