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
