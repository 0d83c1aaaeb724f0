/*
 * recent_history.c
 *	  The capped recent history of a user (see recent_history.h).
 *
 * Histories hold a few hundred items at most, so a linear search and a
 * memmove per event cost less than any index structure would.
 */
#include "core/recent_history.h"

#include <math.h>
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

/* Swaps pairs a and b of a history being sorted. */
static inline void
SwapPairs(int64_t *items, float *weights, int a, int b)
{
	int64_t		item = items[a];
	float		weight = weights[a];

	items[a] = items[b];
	weights[a] = weights[b];
	items[b] = item;
	weights[b] = weight;
}

/* Restores the max-heap (by item id) of pairs below position i. */
static void
SiftPairs(int64_t *items, float *weights, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1,
					r = l + 1,
					m = i;

		if (l < n && items[l] > items[m])
			m = l;
		if (r < n && items[r] > items[m])
			m = r;
		if (m == i)
			return;
		SwapPairs(items, weights, i, m);
		i = m;
	}
}

/* Heap sort by item id, then one pass keeping the largest weight. */
int
HistoryMergeMax(int64_t *items, float *weights, int n)
{
	int			out = 0;

	for (int i = n / 2 - 1; i >= 0; i--)
		SiftPairs(items, weights, n, i);
	for (int end = n - 1; end > 0; end--)
	{
		SwapPairs(items, weights, 0, end);
		SiftPairs(items, weights, end, 0);
	}
	for (int i = 0; i < n; i++)
	{
		if (out > 0 && items[out - 1] == items[i])
		{
			if (!(weights[out - 1] > weights[i]))
				weights[out - 1] = weights[i];
			continue;
		}
		items[out] = items[i];
		weights[out] = weights[i];
		out++;
	}
	return out;
}
