/*
 * knn.c
 *	  Item-kNN terms of rerank() from neighbor lists (see knn.h).
 */
#include "core/knn.h"

#include <math.h>
#include <stdlib.h>

/* Remembers that candidates a and b are similar (both ways). */
static void
AddPair(KnnAccum *acc, int32_t a, int32_t b, float similarity)
{
	acc->pairs[acc->npairs++] = (KnnPair) {a, b, similarity};
	acc->pairs[acc->npairs++] = (KnnPair) {b, a, similarity};
}

/* Records history item's share of a term of candidate 0. */
static void
AddShare(const KnnShares *shares, TermPart *parts, int *n, int64_t item,
		 int order, double value)
{
	if (*n >= shares->capacity)
		return;
	parts[*n].item_id = item;
	parts[*n].order = order;
	parts[*n].value = value;
	(*n)++;
}

/* The most pairs a list adds: two per neighbor of a candidate's list. */
int64_t
KnnAccumPairBound(const KnnAccum *acc, int64_t item, int n)
{
	if (!acc->want_pairs || IdIndexGet(acc->candidates, item) < 0)
		return 0;
	return 2 * (int64_t) n;
}

/* Takes item j's list into every term it adds to. */
void
KnnAccumList(KnnAccum *acc, int64_t item, const int64_t *ids,
			 const float *sims, int m)
{
	int32_t		self = IdIndexGet(acc->candidates, item);
	int32_t		h = acc->history ? IdIndexGet(acc->history, item) : -1;
	int32_t		r = acc->recent ? IdIndexGet(acc->recent, item) : -1;
	double		w = h >= 0 ? acc->history_weights[h] : 0.0;
	double		d = r >= 0 ? pow(acc->decay, r) : 0.0;
	KnnShares  *shares = acc->shares;

	if (self >= 0)
		acc->in_model[self] = true;
	if (r >= 0)
		acc->recent_total += d;
	for (int e = 0; e < m; e++)
	{
		int32_t		c = IdIndexGet(acc->candidates, ids[e]);

		if (c < 0)
			continue;
		if (w > 0.0)
			acc->model[c] += w * sims[e];
		if (d > 0.0)
			acc->recent_terms[c] += d * sims[e];
		if (shares != NULL && c == 0 && w > 0.0)
			AddShare(shares, shares->model, &shares->nmodel, item,
					 r >= 0 ? r : acc->history_order + h, w * sims[e]);
		if (shares != NULL && c == 0 && d > 0.0)
			AddShare(shares, shares->recent, &shares->nrecent, item, r,
					 d * sims[e]);
		if (acc->want_pairs && self >= 0 && c != self)
			AddPair(acc, self, c, sims[e]);
	}
}

/* Ends the recent terms: the weighted sums become weighted means. */
void
KnnAccumFinish(KnnAccum *acc, int n)
{
	if (acc->recent_total <= 0.0)
		return;
	for (int c = 0; c < n; c++)
		acc->recent_terms[c] /= acc->recent_total;
	for (int j = 0; acc->shares != NULL && j < acc->shares->nrecent; j++)
		acc->shares->recent[j].value /= acc->recent_total;
}

/* Orders pairs by first candidate, then second. */
static int
ComparePairs(const void *x, const void *y)
{
	const KnnPair *p = x;
	const KnnPair *q = y;

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return p->b < q->b ? -1 : p->b > q->b;
}

/* The pairs as per-candidate rows; see knn.h. */
void
KnnPairRowsBuild(KnnPair *pairs, int64_t npairs, int n, KnnPairRows *rows)
{
	int64_t		out = 0;

	if (npairs > 0)
		qsort(pairs, (size_t) npairs, sizeof(KnnPair), ComparePairs);
	for (int64_t c = 0, p = 0; c < n; c++)
	{
		rows->start[c] = out;
		for (; p < npairs && pairs[p].a == c; p++)
		{
			if (out > rows->start[c] && rows->other[out - 1] == pairs[p].b)
			{
				float		kept = rows->similarity[out - 1];

				/* the larger, as Max() would pick it (NaN included) */
				rows->similarity[out - 1] = kept > pairs[p].similarity ?
					kept : pairs[p].similarity;
				continue;
			}
			rows->other[out] = pairs[p].b;
			rows->similarity[out] = pairs[p].similarity;
			out++;
		}
	}
	rows->start[n] = out;
}

/* The similarity of candidates a and b from the rows, or 0. */
double
KnnPairSimilarity(int a, int b, void *arg)
{
	const KnnPairRows *rows = arg;

	for (int64_t p = rows->start[a]; p < rows->start[a + 1]; p++)
	{
		if (rows->other[p] == b)
			return rows->similarity[p];
	}
	return 0.0;
}
