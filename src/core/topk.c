/*
 * topk.c
 *	  Top-k selection, ranking metrics and item neighbors (see topk.h).
 */
#include "core/topk.h"

#include <math.h>

/* True when candidate a ranks below candidate b. */
static inline bool
Worse(float sa, int32_t ia, float sb, int32_t ib)
{
	return sa < sb || (sa == sb && ia > ib);
}

/* Swaps candidates a and b of the heap. */
static inline void
Swap(float *s, int32_t *id, int a, int b)
{
	float		ts = s[a];
	int32_t		ti = id[a];

	s[a] = s[b];
	id[a] = id[b];
	s[b] = ts;
	id[b] = ti;
}

/* Restores the min-heap (worst at the root) below position i. */
static void
SiftDown(float *s, int32_t *id, int n, int i)
{
	for (;;)
	{
		int			l = 2 * i + 1,
					r = l + 1,
					w = i;

		if (l < n && Worse(s[l], id[l], s[w], id[w]))
			w = l;
		if (r < n && Worse(s[r], id[r], s[w], id[w]))
			w = r;
		if (w == i)
			return;
		Swap(s, id, i, w);
		i = w;
	}
}

int
TopKSelect(const float *scores, const int32_t *ids, int n, int k,
		   int32_t *out_ids, float *out_scores)
{
	int			size = 0;

	if (k <= 0)
		return 0;
	/* a min-heap of the best k so far in out_*, worst at the root */
	for (int c = 0; c < n; c++)
	{
		float		s = scores[c];
		int32_t		id = ids ? ids[c] : c;

		if (isnan(s))
			continue;
		if (size < k)
		{
			int			i = size++;

			out_scores[i] = s;
			out_ids[i] = id;
			/* sift up */
			while (i > 0)
			{
				int			parent = (i - 1) / 2;

				if (!Worse(out_scores[i], out_ids[i], out_scores[parent], out_ids[parent]))
					break;
				Swap(out_scores, out_ids, i, parent);
				i = parent;
			}
		}
		else if (Worse(out_scores[0], out_ids[0], s, id))
		{
			out_scores[0] = s;
			out_ids[0] = id;
			SiftDown(out_scores, out_ids, size, 0);
		}
	}
	/* heap sort: repeatedly move the worst to the end */
	for (int end = size - 1; end > 0; end--)
	{
		Swap(out_scores, out_ids, 0, end);
		SiftDown(out_scores, out_ids, end, 0);
	}
	return size;
}

/* The position of key in sorted[0..n), or -1; see topk.h. */
int64_t
SortedFind(const int32_t *sorted, int64_t n, int32_t key)
{
	int64_t		lo = 0,
				hi = n;

	while (lo < hi)
	{
		int64_t		mid = lo + (hi - lo) / 2;

		if (sorted[mid] < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && sorted[lo] == key ? lo : -1;
}

void
RankMetricsAdd(RankMetrics *m, int k, const int32_t *ranked, int n_ranked,
			   const int32_t *relevant, int n_known_relevant, int n_relevant)
{
	int			hits = 0;
	double		dcg = 0.0,
				idcg = 0.0,
				ap = 0.0;
	int			ideal = n_relevant < k ? n_relevant : k;

	if (n_relevant <= 0 || k <= 0)
		return;
	for (int i = 0; i < n_ranked && i < k; i++)
	{
		if (SortedFind(relevant, n_known_relevant, ranked[i]) >= 0)
		{
			hits++;
			dcg += 1.0 / log2(i + 2.0);
			ap += (double) hits / (i + 1.0);
		}
	}
	for (int i = 0; i < ideal; i++)
		idcg += 1.0 / log2(i + 2.0);
	m->users++;
	m->precision += (double) hits / k;
	m->recall += (double) hits / n_relevant;
	m->ndcg += dcg / idcg;
	m->map += ap / ideal;
	if (hits > 0)
		m->hit_users++;
}

int
ItemNeighbors(const AlsCsr *by_item, const AlsCsr *by_user,
			  const double *norms, ItemSimilarity similarity, int item, int K,
			  double *acc, int32_t *touched, float *scratch,
			  int32_t *out_ids, float *out_sims)
{
	int			ntouched = 0;
	int			found;

	for (int64_t e = by_item->indptr[item]; e < by_item->indptr[item + 1]; e++)
	{
		int32_t		u = by_item->indices[e];
		double		wi = similarity == ITEM_SIMILARITY_JACCARD ? 1.0 : by_item->weights[e];

		for (int64_t f = by_user->indptr[u]; f < by_user->indptr[u + 1]; f++)
		{
			int32_t		j = by_user->indices[f];
			double		wj = similarity == ITEM_SIMILARITY_JACCARD ? 1.0 : by_user->weights[f];

			if (acc[j] == 0.0)
				touched[ntouched++] = j;
			acc[j] += wi * wj;
		}
	}
	for (int t = 0; t < ntouched; t++)
	{
		int32_t		j = touched[t];
		double		s;

		if (similarity == ITEM_SIMILARITY_JACCARD)
		{
			double		ni = (double) (by_item->indptr[item + 1] - by_item->indptr[item]);
			double		nj = (double) (by_item->indptr[j + 1] - by_item->indptr[j]);

			s = acc[j] / (ni + nj - acc[j]);
		}
		else
			s = norms[item] > 0 && norms[j] > 0 ? acc[j] / (norms[item] * norms[j]) : 0.0;
		scratch[t] = (float) s;
		acc[j] = 0.0;
	}
	found = TopKSelect(scratch, touched, ntouched, K, out_ids, out_sims);
	return found;
}
