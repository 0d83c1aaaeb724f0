/*
 * recommend.c
 *	  rerank.predict(), rerank.recommend() and rerank.similar_items() over
 *	  trained or imported models.
 *
 * Factor models (als, imported) score x_uᵀy_i + bias with the user's stored
 * vector, or, for a user without one, the vector folded in from the user's
 * history (training interactions and rerank.user_features) with the model's
 * YᵀY, λ and α.  Item-kNN models score Σ_j r_j · sim(j, i) over the user's
 * history items j and their stored neighbors i.  User-kNN models score the
 * similarity-weighted mean Σ_v s_v·r_vi / Σ_v s_v over the user's
 * neighbors v (model/user_neighbors.h: trained, or found from the current
 * history), and similar_users() lists those neighbors.
 */
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "cache/model_cache.h"
#include "common/id_map.h"
#include "core/topk.h"
#include "core/vec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "model/fold_in.h"
#include "model/model_access.h"
#include "model/user_neighbors.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

/* Largest k accepted by recommend() and similar_items(). */
#define MAX_K 100000

/* The model argument: NULL means the active model, which must exist. */
static const CachedModel *
ModelArg(FunctionCallInfo fcinfo, int argno)
{
	return RequireModel(PG_ARGISNULL(argno) ? NULL :
						text_to_cstring(PG_GETARG_TEXT_PP(argno)));
}

/*
 * The user's vector in a factor model: stored, else folded in from the
 * stored history (FoldInStoredHistory).  False when the user has neither.
 */
static bool
UserVector(const CachedModel *model, int64 user_id, float *x)
{
	return LoadUserVector(model, user_id, x) ||
		FoldInStoredHistory(model, user_id, x);
}

/* Scores of an item-kNN user: a map item id → index into *scores. */
typedef struct KnnScores
{
	idmap_hash *index;
	int			n;
	int64	   *ids;
	float	   *scores;
} KnnScores;

/* KnnUserScores' accumulation: the scores and the history's weights. */
typedef struct KnnAccum
{
	KnnScores  *scores;
	int			capacity;
	idmap_hash *history;		/* history id → index into weights */
	const float *weights;
} KnnAccum;

/* Adds w_j · sim(j, i) for every item i in history item j's list. */
static void
AddListScores(int64 item_id, const NeighborList *list, void *arg)
{
	KnnAccum   *acc = arg;
	KnnScores  *s = acc->scores;
	int32		h = IdMapGet(acc->history, item_id);
	float		w = h >= 0 ? acc->weights[h] : 0;

	if (w <= 0)
		return;
	/* the map and repalloc keep to the caller's memory, not SPI's */
	for (int e = 0; e < list->n; e++)
	{
		int32		prev = s->n;
		int32		idx = IdMapAdd(s->index, list->ids[e], &s->n);

		if (s->n > prev)
		{
			if (s->n > acc->capacity)
			{
				acc->capacity *= 2;
				s->ids = repalloc(s->ids, sizeof(int64) * acc->capacity);
				s->scores = repalloc(s->scores, sizeof(float) * acc->capacity);
			}
			s->ids[idx] = list->ids[e];
			s->scores[idx] = 0;
		}
		s->scores[idx] += w * list->similarities[e];
	}
}

/* The item-kNN scores of the neighbors of a user's history items. */
static KnnScores
KnnUserScores(const CachedModel *model, const int64 *hist_ids, const float *hist_w,
			  int n)
{
	KnnScores	s;
	KnnAccum	acc;

	s.index = idmap_create(CurrentMemoryContext, 256, NULL);
	s.n = 0;
	acc.scores = &s;
	acc.capacity = 256;
	acc.history = IdMapFromArray(CurrentMemoryContext, hist_ids, n);
	acc.weights = hist_w;
	s.ids = palloc(sizeof(int64) * acc.capacity);
	s.scores = palloc(sizeof(float) * acc.capacity);
	ForEachNeighborList(model, hist_ids, n, AddListScores, &acc);
	return s;
}

/* Per-query state of predict(): the model and the last user. */
typedef struct PredictCache
{
	char		model_key[NAMEDATALEN + 1];	/* "" = active model */
	const CachedModel *model;
	bool		have_user;
	int64		user_id;
	bool		user_known;
	float	   *x;				/* factor models */
	KnnScores	knn;			/* item-kNN models */
	const UserKnnIndex *user_knn;	/* user-kNN models: the index */
	UserNeighbors neighbors;	/* and the user's neighbors */
	MemoryContext user_context; /* what is kept of the last user */
} PredictCache;

PG_FUNCTION_INFO_V1(predict);

/* predict(user_id, item_id, model): the score of one pair, or NULL. */
Datum
predict(PG_FUNCTION_ARGS)
{
	PredictCache *c = (PredictCache *) fcinfo->flinfo->fn_extra;
	char		key[NAMEDATALEN + 1] = "";
	int64		user_id,
				item_id;
	MemoryContext old;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	user_id = PG_GETARG_INT64(0);
	item_id = PG_GETARG_INT64(1);
	if (!PG_ARGISNULL(2))
		snprintf(key, sizeof(key), "=%s", text_to_cstring(PG_GETARG_TEXT_PP(2)));

	/* the model and user are looked up once per query, not per row */
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (c == NULL || strcmp(c->model_key, key) != 0)
	{
		if (c == NULL)
			c = palloc0(sizeof(PredictCache));
		strlcpy(c->model_key, key, sizeof(c->model_key));
		c->model = ModelArg(fcinfo, 2);
		c->x = palloc(sizeof(float) * Max(c->model->dimensions, 1));
		c->user_knn = ModelIsUserKnn(c->model) ? ModelUserKnnIndex(c->model) : NULL;
		if (c->user_context == NULL)
			c->user_context = AllocSetContextCreate(fcinfo->flinfo->fn_mcxt,
													"rerank predict user",
													ALLOCSET_SMALL_SIZES);
		c->have_user = false;
		fcinfo->flinfo->fn_extra = c;
	}
	if (!c->have_user || c->user_id != user_id)
	{
		c->have_user = true;
		c->user_id = user_id;
		MemoryContextReset(c->user_context);
		if (c->user_knn != NULL)
		{
			int64	   *ids;
			float	   *w;
			int			n;

			MemoryContextSwitchTo(c->user_context);
			UserKnnNeighborsOfUser(c->user_knn, user_id, NULL, &c->neighbors,
								   &ids, &w, &n);
			c->user_known = c->neighbors.n > 0;
		}
		else if (ModelHasNeighbors(c->model))
		{
			int64	   *ids;
			float	   *w;
			int			n = LoadUserHistory(c->model, user_id, NULL, &ids, &w);

			c->knn = KnnUserScores(c->model, ids, w, n);
			c->user_known = n > 0;
		}
		else
			c->user_known = c->model->dimensions > 0 &&
				UserVector(c->model, user_id, c->x);
	}
	MemoryContextSwitchTo(old);

	if (!c->user_known)
		PG_RETURN_NULL();
	if (c->user_knn != NULL)
	{
		int32		item = UserKnnFindItem(c->user_knn, item_id);
		AlsCsr		by_user = UserKnnByUser(c->user_knn);

		if (item < 0)
			PG_RETURN_NULL();
		PG_RETURN_FLOAT8(UserKnnScoreItem(&by_user, c->neighbors.users,
										  c->neighbors.similarities,
										  c->neighbors.n, c->neighbors.total,
										  item));
	}
	if (ModelHasNeighbors(c->model))
	{
		int32		idx = IdMapGet(c->knn.index, item_id);

		/* an item no history item is near scores 0 if the model knows it */
		if (idx >= 0)
			PG_RETURN_FLOAT8(c->knn.scores[idx]);
		if (LoadNeighbors(c->model, item_id).n > 0)
			PG_RETURN_FLOAT8(0.0);
		PG_RETURN_NULL();
	}
	else
	{
		float		bias;
		const float *y = ModelItemVector(c->model, item_id, &bias);

		if (y == NULL)
			PG_RETURN_NULL();
		PG_RETURN_FLOAT8(VecDot(c->x, y, c->model->dimensions) + bias);
	}
}

/* Emits (id, score) rows of a top-k list into the SRF's tuplestore. */
static void
EmitRows(FunctionCallInfo fcinfo, const int64 *ids, const float *scores, int n)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	for (int i = 0; i < n; i++)
	{
		Datum		values[2] = {Int64GetDatum(ids[i]), Float8GetDatum(scores[i])};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
}

/*
 * Emits the best k of n scores (NaN: excluded) as (id, score) rows, ids[i]
 * being the id of score i; ties go to the smaller i.
 */
static void
EmitTopK(FunctionCallInfo fcinfo, const float *scores, const int64 *ids, int n,
		 int k)
{
	int			m = Min(k, n);
	int32	   *top = palloc(sizeof(int32) * Max(m, 1));
	float	   *top_scores = palloc(sizeof(float) * Max(m, 1));
	int			found = TopKSelect(scores, NULL, n, m, top, top_scores);
	int64	   *top_ids = palloc(sizeof(int64) * Max(found, 1));

	for (int i = 0; i < found; i++)
		top_ids[i] = ids[top[i]];
	EmitRows(fcinfo, top_ids, top_scores, found);
}

/* An id argument (user_id, item_id) that must not be NULL. */
static int64
IdArg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", name)));
	return PG_GETARG_INT64(argno);
}

/* The k argument: not NULL, between 1 and MAX_K. */
static int
KArg(FunctionCallInfo fcinfo, int argno)
{
	int			k;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("k must not be NULL")));
	k = PG_GETARG_INT32(argno);
	if (k <= 0 || k > MAX_K)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and %d, not %d", MAX_K, k)));
	return k;
}

/* Marks a score as excluded (NaN); row -1 (an unknown item) is ignored. */
static inline void
Exclude(float *scores, int32 row)
{
	if (row >= 0)
		scores[row] = NAN;
}

/*
 * Emits the best k items of a user-kNN neighborhood (items no neighbor has
 * are not ranked), without the n seen items when seen is not NULL.
 */
static void
EmitUserKnnTopK(FunctionCallInfo fcinfo, const UserKnnIndex *index,
				const UserNeighbors *neighbors, const int64 *seen, int n, int k)
{
	int			items = UserKnnItems(index);
	AlsCsr		by_user = UserKnnByUser(index);
	float	   *scores = palloc_extended(sizeof(float) * Max(items, 1), MCXT_ALLOC_HUGE);
	double	   *acc = palloc_extended(sizeof(double) * Max(items, 1),
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);

	for (int i = 0; i < items; i++)
		scores[i] = NAN;
	UserKnnScoreAll(&by_user, neighbors->users, neighbors->similarities,
					neighbors->n, neighbors->total, acc, scores);
	for (int j = 0; seen != NULL && j < n; j++)
		Exclude(scores, UserKnnFindItem(index, seen[j]));
	EmitTopK(fcinfo, scores, UserKnnItemIds(index), items, k);
}

PG_FUNCTION_INFO_V1(recommend);

/* recommend(user_id, k, exclude_seen, model): the top-k catalog items. */
Datum
recommend(PG_FUNCTION_ARGS)
{
	int64		user_id;
	int			k;
	bool		exclude_seen;
	const CachedModel *model;
	int64	   *hist_ids = NULL;
	float	   *hist_w = NULL;
	int			nhist = 0;

	user_id = IdArg(fcinfo, 0, "user_id");
	k = KArg(fcinfo, 1);
	exclude_seen = PG_ARGISNULL(2) ? true : PG_GETARG_BOOL(2);
	model = ModelArg(fcinfo, 3);
	InitMaterializedSRF(fcinfo, 0);

	if (ModelIsUserKnn(model))
	{
		const UserKnnIndex *index = ModelUserKnnIndex(model);
		UserNeighbors neighbors;

		UserKnnNeighborsOfUser(index, user_id, NULL, &neighbors, &hist_ids,
							   &hist_w, &nhist);
		if (neighbors.n > 0)
			EmitUserKnnTopK(fcinfo, index, &neighbors, exclude_seen ? hist_ids : NULL,
							nhist, k);
		PG_RETURN_NULL();
	}
	if (exclude_seen || ModelHasNeighbors(model))
		nhist = LoadUserHistory(model, user_id, NULL, &hist_ids, &hist_w);

	if (ModelHasNeighbors(model))
	{
		KnnScores	s = KnnUserScores(model, hist_ids, hist_w, nhist);

		if (exclude_seen)
			for (int i = 0; i < nhist; i++)
				Exclude(s.scores, IdMapGet(s.index, hist_ids[i]));
		EmitTopK(fcinfo, s.scores, s.ids, s.n, k);
	}
	else
	{
		ItemMatrix	items;
		float	   *x;
		float	   *scores;

		if (model->dimensions == 0)
			PG_RETURN_NULL();
		ModelItemMatrix(model, &items);
		x = palloc(sizeof(float) * model->dimensions);
		if (items.n == 0 || !UserVector(model, user_id, x))
			PG_RETURN_NULL();
		scores = palloc_extended(sizeof(float) * items.n, MCXT_ALLOC_HUGE);
		memcpy(scores, items.biases, sizeof(float) * items.n);
		cblas_sgemv(CblasRowMajor, CblasNoTrans, items.n, items.k, 1.0f,
					items.vectors, items.k, x, 1, 1.0f, scores, 1);
		if (exclude_seen)
			for (int i = 0; i < nhist; i++)
				Exclude(scores, ItemMatrixRow(&items, hist_ids[i]));
		EmitTopK(fcinfo, scores, items.ids, items.n, k);
	}
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(similar_items);

/* similar_items(item_id, k, model): the k nearest other items. */
Datum
similar_items(PG_FUNCTION_ARGS)
{
	int64		item_id;
	int			k;
	const CachedModel *model;

	item_id = IdArg(fcinfo, 0, "item_id");
	k = KArg(fcinfo, 1);
	model = ModelArg(fcinfo, 2);
	InitMaterializedSRF(fcinfo, 0);

	if (ModelHasNeighbors(model))
	{
		NeighborList list = LoadNeighbors(model, item_id);
		int64	   *ids = palloc(sizeof(int64) * Max(list.n, 1));
		float	   *sims = palloc(sizeof(float) * Max(list.n, 1));
		int			n = 0;

		for (int i = 0; i < list.n && n < k; i++)
			if (list.ids[i] != item_id)
			{
				ids[n] = list.ids[i];
				sims[n] = list.similarities[i];
				n++;
			}
		EmitRows(fcinfo, ids, sims, n);
	}
	else if (model->dimensions > 0)
	{
		ItemMatrix	items;
		int32		row;
		float	   *sims;
		const float *q;

		ModelItemMatrix(model, &items);
		row = ItemMatrixRow(&items, item_id);
		if (row < 0)
			PG_RETURN_NULL();
		q = items.vectors + (size_t) row * items.k;
		sims = palloc_extended(sizeof(float) * items.n, MCXT_ALLOC_HUGE);
		for (int i = 0; i < items.n; i++)
		{
			if ((i & 0xffff) == 0)
				CHECK_FOR_INTERRUPTS();
			sims[i] = (float) VecCosine(q, items.vectors + (size_t) i * items.k, items.k);
		}
		sims[row] = NAN;
		EmitTopK(fcinfo, sims, items.ids, items.n, k);
	}
	PG_RETURN_NULL();
}

PG_FUNCTION_INFO_V1(similar_users);

/* similar_users(user_id, k, model): a user-kNN model's neighbors of a user. */
Datum
similar_users(PG_FUNCTION_ARGS)
{
	int64		user_id;
	int			k;
	const CachedModel *model;
	const UserKnnIndex *index;
	UserNeighbors neighbors;
	int64	   *ids;
	float	   *weights;
	int			nhist;
	int64	   *user_ids;
	int			n;

	user_id = IdArg(fcinfo, 0, "user_id");
	k = KArg(fcinfo, 1);
	model = ModelArg(fcinfo, 2);
	if (!ModelIsUserKnn(model))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("model \"%s\" is not a user-kNN model", model->name),
				 errhint("similar_users needs a model trained by rerank.train_user_knn.")));
	InitMaterializedSRF(fcinfo, 0);
	index = ModelUserKnnIndex(model);
	UserKnnNeighborsOfUser(index, user_id, NULL, &neighbors, &ids, &weights, &nhist);
	n = Min(k, neighbors.n);
	user_ids = palloc(sizeof(int64) * Max(n, 1));
	for (int j = 0; j < n; j++)
		user_ids[j] = UserKnnUserId(index, neighbors.users[j]);
	EmitRows(fcinfo, user_ids, neighbors.similarities, n);
	PG_RETURN_NULL();
}
