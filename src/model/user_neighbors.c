/*
 * user_neighbors.c
 *	  A user's neighbors under a user-kNN model (see user_neighbors.h).
 *
 * The history decides the path: the training interactions the index holds
 * merged with the user's row of rerank.user_features (the one reader of
 * it, model/user_features.h).  Unchanged since training: the stored
 * list, no search at all.  Changed, or unknown to training: the core's
 * UserKnnNeighbors over the model's inverted index, the function training
 * stored the lists with, so an unchanged history searched again gives the
 * stored list exactly.  Its work is bounded by rerank.user_knn_max_postings
 * posting entries: the rarest history items are searched first.
 *
 * The search's workspace (a double and three ints per user of the model)
 * is kept per backend and reused, zero between searches; an error that
 * escapes a search leaves it marked, and the next search clears it.
 */
#include "postgres.h"

#include <math.h>

#include "cache/model_cache.h"
#include "model/model_access.h"
#include "model/user_neighbors.h"
#include "utils/guc.h"
#include "utils/memutils.h"

int			rerank_user_knn_max_postings = 50000;

/* The backend's search workspace. */
static UserKnnScratch scratch;
static int32 scratch_users = 0;
static int	scratch_keys = 0;
static bool scratch_dirty = false;
static MemoryContext scratch_context = NULL;

void
UserKnnInit(void)
{
	DefineCustomIntVariable("rerank.user_knn_max_postings",
							"Posting entries (item, user) one real-time user-kNN neighbor search may visit.",
							"A user whose history changed since training, or whom training did not see, "
							"gets neighbors searched through the model's inverted index; the rarest history "
							"items are searched first, and those whose lists no longer fit are left out.",
							&rerank_user_knn_max_postings, 50000, 0, PG_INT32_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/* The workspace for a search among users users of a history of n items. */
static UserKnnScratch *
AcquireScratch(int32 users, int n)
{
	if (scratch_context == NULL)
		scratch_context = AllocSetContextCreate(TopMemoryContext,
												"rerank user-kNN search",
												ALLOCSET_SMALL_SIZES);
	if (users > scratch_users)
	{
		MemoryContextReset(scratch_context);
		scratch_keys = 0;
		scratch.dot = MemoryContextAllocExtended(scratch_context, sizeof(double) * users,
												 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		scratch.overlap = MemoryContextAllocExtended(scratch_context, sizeof(int32) * users,
													 MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
		scratch.touched = MemoryContextAllocExtended(scratch_context, sizeof(int32) * users,
													 MCXT_ALLOC_HUGE);
		scratch.similarity = MemoryContextAllocExtended(scratch_context, sizeof(float) * users,
														MCXT_ALLOC_HUGE);
		scratch_users = users;
		scratch_dirty = false;
	}
	if (n > scratch_keys)
	{
		scratch_keys = Max(n, 256);
		scratch.keys = MemoryContextAllocExtended(scratch_context,
												  sizeof(uint64) * scratch_keys,
												  MCXT_ALLOC_HUGE);
	}
	if (scratch_dirty)
	{
		memset(scratch.dot, 0, sizeof(double) * scratch_users);
		memset(scratch.overlap, 0, sizeof(int32) * scratch_users);
	}
	scratch_dirty = true;
	return &scratch;
}

/*
 * The history as catalog indexes with positive weights (still ascending:
 * items are numbered in id order); returns how many.
 */
static int
CatalogHistory(const UserKnnIndex *index, const int64 *ids, const float *weights,
			   int n, int32 *items, float *kept)
{
	int			m = 0;

	for (int j = 0; j < n; j++)
	{
		int32		i;

		if (!(isfinite(weights[j]) && weights[j] > 0.0f))
			continue;
		i = UserKnnFindItem(index, ids[j]);
		if (i < 0)
			continue;
		items[m] = i;
		kept[m] = weights[j];
		m++;
	}
	return m;
}

/* Whether a history is the one user u was trained on. */
static bool
TrainedHistory(const UserKnnIndex *index, int32 u, const int32 *items,
			   const float *weights, int n)
{
	AlsCsr		by_user = UserKnnByUser(index);
	int64		start = by_user.indptr[u];

	return by_user.indptr[u + 1] - start == n &&
		memcmp(by_user.indices + start, items, sizeof(int32) * n) == 0 &&
		memcmp(by_user.weights + start, weights, sizeof(float) * n) == 0;
}

/* A user's neighbors from the current history; see user_neighbors.h. */
void
UserKnnNeighborsOf(const UserKnnIndex *index, int64 user_id, const int64 *ids,
				   const float *weights, int n, UserNeighbors *out)
{
	int32	   *items = palloc(sizeof(int32) * Max(n, 1));
	float	   *kept = palloc(sizeof(float) * Max(n, 1));
	const UserKnnParams *params = UserKnnIndexParams(index);

	memset(out, 0, sizeof(UserNeighbors));
	out->self = UserKnnFindUser(index, user_id);
	out->history = CatalogHistory(index, ids, weights, n, items, kept);
	if (out->self >= 0 && TrainedHistory(index, out->self, items, kept, out->history))
		out->n = UserKnnStoredNeighbors(index, out->self, &out->users,
										&out->similarities);
	else if (out->history > 0)
	{
		AlsCsr		by_item = UserKnnByItem(index);
		UserKnnScratch *s = AcquireScratch(UserKnnUsers(index), out->history);
		int32	   *users = palloc(sizeof(int32) * params->neighbors);
		float	   *sims = palloc(sizeof(float) * params->neighbors);
		UserKnnSearch search;

		out->n = UserKnnNeighbors(&by_item, UserKnnStats(index), params, items,
								  kept, out->history, out->self,
								  rerank_user_knn_max_postings, s, users, sims,
								  &search);
		scratch_dirty = false;
		out->users = users;
		out->similarities = sims;
		out->realtime = true;
		out->postings = search.postings;
		out->skipped = search.skipped;
	}
	out->total = UserKnnTotal(out->similarities, out->n);
}

/* A user's current history; see user_neighbors.h. */
int
UserKnnHistory(const UserKnnIndex *index, int64 user_id,
			   const UserFeatures *features, int64 **ids, float **weights)
{
	int32		u = UserKnnFindUser(index, user_id);
	AlsCsr		by_user = UserKnnByUser(index);
	const int64 *item_ids = UserKnnItemIds(index);
	int			n = 0;
	int64	   *train_ids;
	float	   *train_weights;

	if (u >= 0)
		n = (int) (by_user.indptr[u + 1] - by_user.indptr[u]);
	train_ids = palloc(sizeof(int64) * Max(n, 1));
	train_weights = palloc(sizeof(float) * Max(n, 1));
	for (int j = 0; j < n; j++)
	{
		train_ids[j] = item_ids[by_user.indices[by_user.indptr[u] + j]];
		train_weights[j] = by_user.weights[by_user.indptr[u] + j];
	}
	return MergeUserHistory(features, train_ids, train_weights, n, ids, weights);
}

/* A user's neighbors from the current history; see user_neighbors.h. */
void
UserKnnNeighborsOfUser(const UserKnnIndex *index, int64 user_id,
					   const UserFeatures *features, UserNeighbors *out,
					   int64 **ids, float **weights, int *n)
{
	UserFeatures read;

	if (features == NULL)
	{
		LoadUserFeatures(NULL, user_id, &read, NULL);
		features = &read;
	}
	*n = UserKnnHistory(index, user_id, features, ids, weights);
	UserKnnNeighborsOf(index, user_id, *ids, *weights, *n, out);
}
