/*
 * knn_terms.c
 *	  rerank()'s model and recent terms under an item-kNN model, which keeps
 *	  neighbor lists (rerank.item_neighbors) instead of vectors, and the
 *	  similarity of two candidates that its MMR uses.
 *
 * - The model term is predict()'s score: Σ_j r_j·sim(j, i) over the user's
 *	 history j (training interactions and recent items, the largest weight
 *	 of each) and the items i in j's list.
 * - The recent term is the recency-weighted mean similarity to the recent
 *	 items that have a list, Σ_j d^j sim(j, i) / Σ_j d^j (j = 0 the most
 *	 recent, sim(j, j) = 1 as the lists store it): the counterpart of the
 *	 mean cosine of vector models.
 * - Two candidates are as similar as either's list says (cosine and
 *	 Jaccard are symmetric), 0 when neither lists the other.
 * - A candidate is in the model when it has a list of its own; the others
 *	 keep their upstream slot, as items without a vector do.
 *
 * The lists of the history (and of the candidates, for MMR) come from
 * ForEachNeighborList: the model cache, or the table for a model over
 * rerank.model_cache_mb; without MMR, NeighborListsKnown says which
 * candidates have a list, without reading theirs.
 */
#include "postgres.h"

#include <math.h>

#include "cache/model_cache.h"
#include "common/id_map.h"
#include "model/model_access.h"
#include "serve/knn_terms.h"
#include "serve/serve.h"

/* A candidate pair with its similarity, for MMR. */
typedef struct KnnPair
{
	int32		a;
	int32		b;
	float		similarity;
} KnnPair;

/* What one scan of the neighbor lists accumulates. */
typedef struct KnnScan
{
	idmap_hash *candidates;		/* candidate id → index */
	idmap_hash *history;		/* history id → index into history_weights */
	const float *history_weights;
	idmap_hash *recent;			/* recent id → recency order */
	double		decay;
	bool		want_pairs;
	KnnTerms   *terms;
	double		recent_total;	/* Σ d^j over recent items with a list */
	KnnPair    *pairs;
	int64		npairs;
	int64		pairs_capacity;
	KnnShares  *shares;			/* explain(): the parts of candidate 0 */
	int			shares_capacity;	/* of each of its two arrays */
} KnnScan;

/* Remembers that candidates a and b are similar (both ways). */
static void
AddPair(KnnScan *scan, int32 a, int32 b, float similarity)
{
	if (scan->npairs + 2 > scan->pairs_capacity)
	{
		scan->pairs_capacity *= 2;
		scan->pairs = repalloc_huge(scan->pairs,
									mul_size(sizeof(KnnPair), scan->pairs_capacity));
	}
	scan->pairs[scan->npairs++] = (KnnPair) {a, b, similarity};
	scan->pairs[scan->npairs++] = (KnnPair) {b, a, similarity};
}

/* Records history item j's share of a term of candidate 0 (explain()). */
static void
AddShare(KnnScan *scan, TermPart *parts, int *n, int64 item, int order,
		 double value)
{
	Assert(*n < scan->shares_capacity);
	parts[*n].item_id = item;
	parts[*n].order = order;
	parts[*n].value = value;
	(*n)++;
}

/* NeighborListFn: takes item j's list into every term it adds to. */
static void
ScanList(int64 item, const NeighborList *list, void *arg)
{
	KnnScan    *scan = arg;
	const int64 *ids = list->ids;
	const float *sims = list->similarities;
	int			m = list->n;
	KnnTerms   *terms = scan->terms;
	int32		self = IdMapGet(scan->candidates, item);
	int32		h = scan->history ? IdMapGet(scan->history, item) : -1;
	int32		r = scan->recent ? IdMapGet(scan->recent, item) : -1;
	double		w = h >= 0 ? scan->history_weights[h] : 0.0;
	double		d = r >= 0 ? pow(scan->decay, r) : 0.0;

	if (self >= 0)
		terms->in_model[self] = true;
	if (r >= 0)
		scan->recent_total += d;
	for (int e = 0; e < m; e++)
	{
		int32		c = IdMapGet(scan->candidates, ids[e]);

		if (c < 0)
			continue;
		if (w > 0.0)
			terms->model[c] += w * sims[e];
		if (d > 0.0)
			terms->recent[c] += d * sims[e];
		if (scan->shares != NULL && c == 0 && w > 0.0)
			AddShare(scan, scan->shares->model, &scan->shares->nmodel, item,
					 r >= 0 ? r : rerank_recent_items + h, w * sims[e]);
		if (scan->shares != NULL && c == 0 && d > 0.0)
			AddShare(scan, scan->shares->recent, &scan->shares->nrecent, item,
					 r, d * sims[e]);
		if (scan->want_pairs && self >= 0 && c != self)
			AddPair(scan, self, c, sims[e]);
	}
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

/*
 * Turns the pairs into per-candidate rows (pair_start, pair_other,
 * pair_similarity), keeping the larger similarity of a pair listed twice.
 */
static void
BuildPairRows(KnnScan *scan, int n)
{
	KnnTerms   *terms = scan->terms;
	int64		out = 0;

	if (scan->npairs > 0)
		qsort(scan->pairs, scan->npairs, sizeof(KnnPair), ComparePairs);
	terms->pair_start = palloc_extended(mul_size(sizeof(int64), (Size) n + 1),
										MCXT_ALLOC_HUGE);
	terms->pair_other = palloc_extended(mul_size(sizeof(int32), Max(scan->npairs, 1)),
										MCXT_ALLOC_HUGE);
	terms->pair_similarity = palloc_extended(mul_size(sizeof(float), Max(scan->npairs, 1)),
											 MCXT_ALLOC_HUGE);
	for (int64 c = 0, p = 0; c < n; c++)
	{
		terms->pair_start[c] = out;
		for (; p < scan->npairs && scan->pairs[p].a == c; p++)
		{
			if (out > terms->pair_start[c] && terms->pair_other[out - 1] == scan->pairs[p].b)
			{
				terms->pair_similarity[out - 1] = Max(terms->pair_similarity[out - 1],
													  scan->pairs[p].similarity);
				continue;
			}
			terms->pair_other[out] = scan->pairs[p].b;
			terms->pair_similarity[out] = scan->pairs[p].similarity;
			out++;
		}
	}
	terms->pair_start[n] = out;
}

/* Appends ids to a list of ids to look up. */
static int
AppendIds(int64 *to, int count, const int64 *ids, int n)
{
	memcpy(to + count, ids, sizeof(int64) * n);
	return count + n;
}

/* KnnCandidateTerms, and with shares the parts of candidate 0's terms. */
static void
CandidateTerms(const CachedModel *model, int64 user_id, const ServeUser *user,
			   const int64 *ids, int n, bool want_model, bool want_recent,
			   bool want_pairs, KnnTerms *terms, KnnShares *shares)
{
	KnnScan		scan;
	int64	   *history_ids = NULL;
	float	   *history_weights = NULL;
	int			nhistory = 0;
	int			nrecent = want_recent ? Min(user->nrecent, rerank_recent_items) : 0;
	int64	   *lookup;
	int			nlookup = 0;

	memset(&scan, 0, sizeof(scan));
	terms->model = palloc_extended(sizeof(double) * n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	terms->recent = palloc_extended(sizeof(double) * n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	terms->in_model = palloc_extended(sizeof(bool) * n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	terms->pair_start = NULL;

	if (want_model)
		nhistory = LoadUserHistory(model, user_id, true, &history_ids,
								   &history_weights);

	scan.candidates = IdMapFromArray(CurrentMemoryContext, ids, n);
	if (nhistory > 0)
		scan.history = IdMapFromArray(CurrentMemoryContext, history_ids, nhistory);
	scan.history_weights = history_weights;
	if (nrecent > 0)
	{
		/* a repeated recent item keeps its most recent place */
		scan.recent = idmap_create(CurrentMemoryContext, Max(nrecent, 16), NULL);
		for (int j = 0; j < nrecent; j++)
		{
			bool		found;
			IdMapEntry *entry = idmap_insert(scan.recent, user->recent_items[j], &found);

			if (!found)
				entry->index = j;
		}
	}
	scan.decay = rerank_recent_decay;
	scan.want_pairs = want_pairs;
	scan.terms = terms;
	scan.pairs_capacity = 256;
	scan.pairs = palloc(sizeof(KnnPair) * scan.pairs_capacity);

	if (shares != NULL)
	{
		/* one share per history or recent item at most */
		scan.shares = shares;
		scan.shares_capacity = Max(nhistory + nrecent, 1);
		shares->model = palloc(sizeof(TermPart) * scan.shares_capacity);
		shares->recent = palloc(sizeof(TermPart) * scan.shares_capacity);
		shares->nmodel = 0;
		shares->nrecent = 0;
	}

	/*
	 * The lists of the history and recent items make the terms; MMR needs
	 * the candidates' lists too, else their ids (an index-only scan) say
	 * which are in the model.
	 */
	lookup = palloc_extended(sizeof(int64) * ((Size) n + nhistory + nrecent),
							 MCXT_ALLOC_HUGE);
	nlookup = AppendIds(lookup, nlookup, history_ids, nhistory);
	nlookup = AppendIds(lookup, nlookup, user->recent_items, nrecent);
	if (want_pairs)
		nlookup = AppendIds(lookup, nlookup, ids, n);
	ForEachNeighborList(model, lookup, nlookup, ScanList, &scan);
	if (!want_pairs)
		NeighborListsKnown(model, ids, n, terms->in_model);

	if (scan.recent_total > 0.0)
	{
		for (int c = 0; c < n; c++)
			terms->recent[c] /= scan.recent_total;
		for (int j = 0; shares != NULL && j < shares->nrecent; j++)
			shares->recent[j].value /= scan.recent_total;
	}
	if (want_pairs)
		BuildPairRows(&scan, n);
}

/* The terms of n candidates under an item-kNN model; see knn_terms.h. */
void
KnnCandidateTerms(const CachedModel *model, int64 user_id, const ServeUser *user,
				  const int64 *ids, int n, bool want_model, bool want_recent,
				  bool want_pairs, KnnTerms *terms)
{
	CandidateTerms(model, user_id, user, ids, n, want_model, want_recent,
				   want_pairs, terms, NULL);
}

/* The terms of one item and their parts, for explain(); see knn_terms.h. */
void
KnnItemShares(const CachedModel *model, int64 user_id, const ServeUser *user,
			  int64 item_id, KnnTerms *terms, KnnShares *shares)
{
	CandidateTerms(model, user_id, user, &item_id, 1, true, rerank_recent_items > 0,
				   false, terms, shares);
}

/* RankSimilarityFn over KnnTerms: the pair's similarity, or 0. */
double
KnnPairSimilarity(int a, int b, void *arg)
{
	const KnnTerms *terms = arg;

	for (int64 p = terms->pair_start[a]; p < terms->pair_start[a + 1]; p++)
	{
		if (terms->pair_other[p] == b)
			return terms->pair_similarity[p];
	}
	return 0.0;
}
