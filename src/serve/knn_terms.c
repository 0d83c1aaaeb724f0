/*
 * knn_terms.c
 *	  rerank()'s and explain()'s terms under an item-kNN model: what they
 *	  read (the user's history, the neighbor lists of the history, the recent
 *	  items and, for MMR, the candidates), handed to the core, which computes
 *	  the terms (core/knn.h).
 *
 * The lists come from ForEachNeighborList: the model cache, or the table
 * for a model over rerank.model_cache_mb; without MMR, NeighborListsKnown
 * says which candidates have a list, without reading theirs.
 */
#include "postgres.h"

#include "core/id_index.h"
#include "core/knn.h"
#include "model/model_access.h"
#include "serve/knn_terms.h"
#include "serve/settings.h"
#include "utils/memutils.h"

/* An index of ids[0..n) to their positions, in the current context. */
static IdIndex *
IndexOfIds(const int64 *ids, int n)
{
	IdIndex    *index = palloc(sizeof(IdIndex));
	size_t		slots = IdIndexSlots((size_t) n);

	IdIndexInit(index, palloc_extended(mul_size(slots, sizeof(int64)), MCXT_ALLOC_HUGE),
				palloc_extended(mul_size(slots, sizeof(int32)), MCXT_ALLOC_HUGE),
				slots);
	for (int i = 0; i < n; i++)
		IdIndexAdd(index, ids[i], i);
	return index;
}

/* ForEachNeighborList's callback: the accumulation and its pair memory. */
typedef struct KnnVisit
{
	KnnAccum	acc;
	int64		pairs_capacity;
} KnnVisit;

/* NeighborListFn: makes room for the list's pairs, then hands it to the core. */
static void
VisitList(int64 item, const NeighborList *list, void *arg)
{
	KnnVisit   *visit = arg;
	int64		needed = visit->acc.npairs + KnnAccumPairBound(&visit->acc, item, list->n);

	if (needed > visit->pairs_capacity)
	{
		/* repalloc keeps the block in the caller's context, not SPI's */
		visit->pairs_capacity = Max(needed, visit->pairs_capacity * 2);
		visit->acc.pairs = repalloc_huge(visit->acc.pairs,
										 mul_size(sizeof(KnnPair), visit->pairs_capacity));
	}
	KnnAccumList(&visit->acc, item, list->ids, list->similarities, list->n);
}

/* Appends ids to a list of ids to look up. */
static int
AppendIds(int64 *to, int count, const int64 *ids, int n)
{
	memcpy(to + count, ids, sizeof(int64) * n);
	return count + n;
}

/* The terms of n candidates under an item-kNN model; see knn_terms.h. */
void
KnnTermsLoad(const CachedModel *model, int64 user_id,
			 const UserFeatures *features, const int64 *ids, int n,
			 bool want_model, bool want_recent, bool want_pairs,
			 KnnTerms *terms, KnnShares *shares)
{
	KnnVisit	visit;
	KnnAccum   *acc = &visit.acc;
	int64	   *history_ids = NULL;
	float	   *history_weights = NULL;
	int			nhistory = 0;
	int			nrecent = want_recent ? Min(features->nrecent, rerank_recent_items) : 0;
	int64	   *lookup;
	int			nlookup = 0;

	memset(&visit, 0, sizeof(visit));
	terms->model = palloc_extended(sizeof(double) * n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	terms->recent = palloc_extended(sizeof(double) * n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	terms->in_model = palloc_extended(sizeof(bool) * n, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	terms->pairs.start = NULL;

	if (want_model)
		nhistory = LoadUserHistory(model, user_id, features,
								   &history_ids, &history_weights);

	acc->candidates = IndexOfIds(ids, n);
	if (nhistory > 0)
		acc->history = IndexOfIds(history_ids, nhistory);
	acc->history_weights = history_weights;
	/* a repeated recent item keeps its most recent place (the first) */
	if (nrecent > 0)
		acc->recent = IndexOfIds(features->recent_items, nrecent);
	acc->decay = rerank_recent_decay;
	acc->history_order = rerank_recent_items;
	acc->want_pairs = want_pairs;
	acc->model = terms->model;
	acc->recent_terms = terms->recent;
	acc->in_model = terms->in_model;
	visit.pairs_capacity = 256;
	acc->pairs = palloc(sizeof(KnnPair) * visit.pairs_capacity);

	if (shares != NULL)
	{
		/* one share per history or recent item at most */
		memset(shares, 0, sizeof(KnnShares));
		shares->capacity = Max(nhistory + nrecent, 1);
		shares->model = palloc(sizeof(TermPart) * shares->capacity);
		shares->recent = palloc(sizeof(TermPart) * shares->capacity);
		acc->shares = shares;
	}

	/*
	 * The lists of the history and recent items make the terms; MMR needs
	 * the candidates' lists too, else their ids (an index-only scan) say
	 * which are in the model.
	 */
	lookup = palloc_extended(sizeof(int64) * ((Size) n + nhistory + nrecent),
							 MCXT_ALLOC_HUGE);
	nlookup = AppendIds(lookup, nlookup, history_ids, nhistory);
	nlookup = AppendIds(lookup, nlookup, features->recent_items, nrecent);
	if (want_pairs)
		nlookup = AppendIds(lookup, nlookup, ids, n);
	ForEachNeighborList(model, lookup, nlookup, VisitList, &visit);
	if (!want_pairs)
		NeighborListsKnown(model, ids, n, terms->in_model);
	KnnAccumFinish(acc, n);

	if (want_pairs)
	{
		int64		npairs = Max(acc->npairs, 1);

		terms->pairs.start = palloc_extended(mul_size(sizeof(int64), (Size) n + 1),
											 MCXT_ALLOC_HUGE);
		terms->pairs.other = palloc_extended(mul_size(sizeof(int32), npairs),
											 MCXT_ALLOC_HUGE);
		terms->pairs.similarity = palloc_extended(mul_size(sizeof(float), npairs),
												  MCXT_ALLOC_HUGE);
		KnnPairRowsBuild(acc->pairs, acc->npairs, n, &terms->pairs);
	}
}
