/*
 * user_knn_terms.c
 *	  rerank()'s and explain()'s terms under a user-kNN model (see
 *	  user_knn_terms.h): the user's neighbors from the model's index and the
 *	  features the scoring pipeline read (no query when the model is
 *	  cached), then the core's candidate scores and rows.
 */
#include "postgres.h"

#include "cache/model_cache.h"
#include "core/user_knn.h"
#include "model/user_neighbors.h"
#include "serve/scoring.h"
#include "serve/user_knn_terms.h"

/* Each neighbor's share of the term of one item (explain()). */
static int
NeighborShares(const UserKnnIndex *index, const UserNeighbors *neighbors,
			   int64 item_id, TermPart *shares)
{
	AlsCsr		by_user = UserKnnByUser(index);
	int32		item = UserKnnFindItem(index, item_id);
	int			n = 0;

	if (item < 0 || neighbors->total <= 0)
		return 0;
	for (int v = 0; v < neighbors->n; v++)
	{
		float		r = UserKnnWeight(&by_user, neighbors->users[v], item);

		if (r == 0.0f)
			continue;
		shares[n].item_id = UserKnnUserId(index, neighbors->users[v]);
		shares[n].order = v;
		shares[n].value = neighbors->similarities[v] * (double) r / neighbors->total;
		n++;
	}
	return n;
}

/* The terms of n candidates under a user-kNN model; see user_knn_terms.h. */
void
UserKnnTermsLoad(const CachedModel *model, int64 user_id,
				 const UserFeatures *features, const int64 *ids, int n,
				 bool want_model, bool want_pairs, bool want_shares,
				 UserKnnTerms *terms)
{
	const UserKnnIndex *index = ModelUserKnnIndex(model);
	UserKnnCandidates *c = &terms->candidates;
	int			k;

	memset(terms, 0, sizeof(UserKnnTerms));
	if (want_model || want_pairs)
	{
		int64	   *history_ids;
		float	   *history_weights;
		int			nhistory;

		UserKnnNeighborsOfUser(index, user_id, features, &terms->neighbors,
							   &history_ids, &history_weights, &nhistory);
	}
	k = terms->neighbors.n;
	c->model = CandidateAlloc(n, sizeof(double));
	c->in_model = CandidateAlloc(n, sizeof(bool));
	c->found = CandidateAlloc(n, sizeof(int32));
	c->items = CandidateAlloc(n, sizeof(int32));
	c->candidate = CandidateAlloc(n, sizeof(int32));
	c->position_keys = CandidateAlloc(IdIndexSlots(n), sizeof(int64));
	c->position_values = CandidateAlloc(IdIndexSlots(n), sizeof(int32));
	c->scores = CandidateAlloc(n, sizeof(double));
	if (want_pairs)
	{
		/* bounded by the neighbors' histories, not candidates × neighbors */
		AlsCsr		by_user = UserKnnByUser(index);
		int64		bound = Max(UserKnnMatchBound(&by_user, terms->neighbors.users,
												  k, n), 1);

		c->rows.start = CandidateAlloc((Size) n + 1, sizeof(int64));
		c->rows.neighbor = CandidateAlloc(bound, sizeof(int32));
		c->rows.value = CandidateAlloc(bound, sizeof(float));
		c->rows.norm = CandidateAlloc(n, sizeof(double));
		c->matches.item = CandidateAlloc(bound, sizeof(int32));
		c->matches.neighbor = CandidateAlloc(bound, sizeof(int32));
		c->matches.weight = CandidateAlloc(bound, sizeof(float));
	}
	UserKnnCandidateScores(index, terms->neighbors.users,
						   terms->neighbors.similarities, k,
						   terms->neighbors.total, ids, n, c);
	if (!want_model)
		memset(c->model, 0, sizeof(double) * n);
	terms->recent = palloc_extended(mul_size(n, sizeof(double)),
									MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	if (want_shares && n > 0)
	{
		terms->shares = palloc(sizeof(TermPart) * Max(k, 1));
		terms->nshares = NeighborShares(index, &terms->neighbors, ids[0],
										terms->shares);
	}
}
