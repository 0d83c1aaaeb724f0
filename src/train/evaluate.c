/*
 * evaluate.c
 *	  rerank.evaluate(model_name, test, k, train): offline ranking metrics of
 *	  a model, stored in its metrics.
 *
 * Every user with a test row is ranked against the whole catalog of the
 * model (items with a vector; for item-kNN, items with neighbors; for
 * user-kNN, the items of its training interactions), minus
 * the user's rows of the train source when one is given.  Test items the
 * model does not know count in the denominators (they can never be hit).
 * Users without a stored vector are folded in from the history rerank
 * keeps, as recommend() does, and a user-kNN model finds every user's
 * neighbors as recommend() does (trained, or from the current history);
 * users the model cannot score (no vector, no history) count with no hits.
 */
#include "postgres.h"

#include <cblas.h>
#include <math.h>

#include "access/htup_details.h"
#include "cache/model_cache.h"
#include "cache/neighbor_lists.h"
#include "catalog/pg_type.h"
#include "common/id_map.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "core/topk.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "model/fold_in.h"
#include "model/user_neighbors.h"
#include "train/train_common.h"
#include "train/train_source.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* Users scored together by one sgemm. */
#define EVAL_BLOCK 64

/*
 * The catalog users are ranked against: the item vectors of a factor model,
 * or the items with neighbors of an item-kNN model.
 */
typedef struct Catalog
{
	int			n;
	const ItemMatrix *matrix;	/* factor models */
	idmap_hash *knn_index;		/* item-kNN models: item id → index */
	const UserKnnIndex *user_knn;	/* user-kNN models */
} Catalog;

/* The catalog index of an item, or -1. */
static int32
CatalogIndex(const Catalog *catalog, int64 item_id)
{
	if (catalog->matrix != NULL)
		return ItemMatrixRow(catalog->matrix, item_id);
	if (catalog->user_knn != NULL)
		return UserKnnFindItem(catalog->user_knn, item_id);
	return IdMapGet(catalog->knn_index, item_id);
}

/* Pairs read from the test or train source: user index, item index. */
typedef struct PairReader
{
	idmap_hash *users;			/* test users (added by the test reader) */
	const Catalog *items;		/* the model's catalog */
	int32		nusers;
	bool		add_users;
	int64		n;
	int64		capacity;
	int32	   *u;
	int32	   *i;				/* -1: an item the model does not know */
} PairReader;

/* Source row callback: adds a pair with a positive weight. */
static void
PairAdd(void *arg, int64 user_id, int64 item_id, double weight)
{
	PairReader *r = (PairReader *) arg;
	int32		u;

	if (weight <= 0)
		return;
	if (r->add_users)
		u = IdMapAdd(r->users, user_id, &r->nusers);
	else if ((u = IdMapGet(r->users, user_id)) < 0)
		return;
	if (r->n == r->capacity)
	{
		r->capacity *= 2;
		r->u = repalloc_huge(r->u, sizeof(int32) * r->capacity);
		r->i = repalloc_huge(r->i, sizeof(int32) * r->capacity);
	}
	r->u[r->n] = u;
	r->i[r->n] = CatalogIndex(r->items, item_id);
	r->n++;
}

/* A reader of pairs; add_users: the test reader, which numbers the users. */
static void
PairReaderInit(PairReader *r, idmap_hash *users, const Catalog *items,
			   bool add_users)
{
	memset(r, 0, sizeof(*r));
	r->users = users;
	r->items = items;
	r->add_users = add_users;
	r->capacity = 65536;
	r->u = palloc_extended(sizeof(int32) * r->capacity, MCXT_ALLOC_HUGE);
	r->i = palloc_extended(sizeof(int32) * r->capacity, MCXT_ALLOC_HUGE);
}

/* Groups pairs by user: per user, sorted distinct known items, and counts. */
typedef struct UserLists
{
	int64	   *indptr;			/* users + 1 */
	int32	   *items;			/* known items, sorted, distinct */
	int32	   *total;			/* distinct items per user, known or not */
} UserLists;

/* qsort comparator of int32. */
static int
CompareInt32(const void *a, const void *b)
{
	int32		x = *(const int32 *) a,
				y = *(const int32 *) b;

	return x < y ? -1 : x > y;
}

/* The pairs of a reader as per-user lists (unknown items counted or not). */
static UserLists
GroupPairs(const PairReader *r, int users, bool count_unknown)
{
	UserLists	l;
	int64	   *pos;
	int64		out = 0;

	l.indptr = palloc0(sizeof(int64) * (users + 1));
	l.total = palloc0(sizeof(int32) * Max(users, 1));
	l.items = palloc_extended(sizeof(int32) * Max(r->n, 1), MCXT_ALLOC_HUGE);
	for (int64 e = 0; e < r->n; e++)
		l.indptr[r->u[e] + 1]++;
	for (int u = 0; u < users; u++)
		l.indptr[u + 1] += l.indptr[u];
	pos = palloc(sizeof(int64) * (users + 1));
	memcpy(pos, l.indptr, sizeof(int64) * (users + 1));
	for (int64 e = 0; e < r->n; e++)
		l.items[pos[r->u[e]]++] = r->i[e];
	/* sort each user's items, drop duplicates; unknown (-1) sort first */
	for (int u = 0; u < users; u++)
	{
		int64		b = l.indptr[u],
					e = l.indptr[u + 1];
		int64		start = out;
		int			unknown = 0;

		qsort(l.items + b, e - b, sizeof(int32), CompareInt32);
		for (int64 j = b; j < e; j++)
		{
			if (l.items[j] < 0)
			{
				unknown++;		/* unknown items: not distinguishable, count rows */
				continue;
			}
			if (out > start && l.items[out - 1] == l.items[j])
				continue;
			l.items[out++] = l.items[j];
		}
		l.indptr[u] = start;
		l.total[u] = (int32) (out - start) + (count_unknown ? unknown : 0);
	}
	l.indptr[users] = out;
	return l;
}

/* The test user of a row whose first column is a user id, or -1. */
static int32
RowTestUser(idmap_hash *users, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;

	return IdMapGet(users, DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull)));
}

/* The test users' vectors: rows of U, and whether each user has one. */
typedef struct UserVectors
{
	idmap_hash *users;
	int			k;
	float	   *U;
	bool	   *found;
} UserVectors;

/* Copies a test user's vector, when it has the model's dimensions. */
static void
UserVectorRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	UserVectors *v = (UserVectors *) arg;
	int32		user = RowTestUser(v->users, tuple, desc);
	bool		isnull;
	ArrayType  *f;

	if (user < 0)
		return;
	f = DatumGetArrayTypeP(SPI_getbinval(tuple, desc, 2, &isnull));
	if (VectorArgLength(f, "factors") != v->k)
		return;
	memcpy(v->U + (size_t) user * v->k, VECTOR_DATA(f), sizeof(float) * v->k);
	v->found[user] = true;
}

/* Reads every user vector of the model for the test users into U. */
static bool *
LoadTestUserVectors(const CachedModel *model, idmap_hash *users, int nusers, float *U)
{
	UserVectors v;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(model->model_id)};

	v.users = users;
	v.k = model->dimensions;
	v.U = U;
	v.found = palloc0(sizeof(bool) * Max(nusers, 1));
	SpiConnect();
	ScanQueryRows("SELECT user_id, factors FROM rerank.user_factors WHERE model_id OPERATOR(pg_catalog.=) $1",
				  1, types, values, UserVectorRow, &v);
	SPI_finish();
	return v.found;
}

/*
 * Folds in the test users without a stored vector from the history rerank
 * keeps, as recommend() does for them, so both rank such a user alike.
 */
static void
FoldInMissingUsers(const CachedModel *model, idmap_hash *users, float *U,
				   bool *has_vector)
{
	idmap_iterator it;
	IdMapEntry *entry;

	idmap_start_iterate(users, &it);
	while ((entry = idmap_iterate(users, &it)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		if (!has_vector[entry->index])
			has_vector[entry->index] =
				FoldInStoredHistory(model, entry->id,
									U + (size_t) entry->index * model->dimensions);
	}
}

/* An item-kNN model in memory: its catalog and neighbors by catalog index. */
typedef struct KnnModel
{
	int			n;
	int64	   *ids;
	idmap_hash *index;
	int64	   *nptr;
	int32	   *nidx;
	float	   *nsim;
} KnnModel;

/* Reads an item-kNN model's neighbor lists as catalog indexes (CSR). */
static KnnModel
LoadKnnModel(const CachedModel *model)
{
	KnnModel	m;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(model->model_id)};
	MemoryContext caller = CurrentMemoryContext;
	int64		total = 0;
	int64	  **lists_ids;
	float	  **lists_sims;
	int		   *lens;

	SpiConnect();
	if (SPI_execute_with_args("SELECT item_id, neighbor_ids, similarities FROM rerank.item_neighbors "
							  "WHERE model_id OPERATOR(pg_catalog.=) $1 ORDER BY item_id", 1, types, values, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading neighbors failed");
	m.n = (int) SPI_processed;
	m.ids = MemoryContextAlloc(caller, sizeof(int64) * Max(m.n, 1));
	lists_ids = palloc(sizeof(int64 *) * Max(m.n, 1));
	lists_sims = palloc(sizeof(float *) * Max(m.n, 1));
	lens = palloc(sizeof(int) * Max(m.n, 1));
	for (int r = 0; r < m.n; r++)
	{
		NeighborList list;

		/* a malformed list counts as empty; the item keeps its row */
		if (!NeighborRow(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, &m.ids[r], &list))
		{
			bool		isnull;

			m.ids[r] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[r],
												   SPI_tuptable->tupdesc, 1, &isnull));
			list.n = 0;
		}
		lens[r] = list.n;
		lists_ids[r] = list.ids;
		lists_sims[r] = list.similarities;
		total += lens[r];
	}
	m.index = IdMapFromArray(caller, m.ids, m.n);
	m.nptr = MemoryContextAlloc(caller, sizeof(int64) * (m.n + 1));
	m.nidx = MemoryContextAllocHuge(caller, sizeof(int32) * Max(total, 1));
	m.nsim = MemoryContextAllocHuge(caller, sizeof(float) * Max(total, 1));
	total = 0;
	for (int r = 0; r < m.n; r++)
	{
		m.nptr[r] = total;
		for (int j = 0; j < lens[r]; j++)
		{
			int32		idx = IdMapGet(m.index, lists_ids[r][j]);

			if (idx < 0)
				continue;
			m.nidx[total] = idx;
			m.nsim[total] = lists_sims[r][j];
			total++;
		}
	}
	m.nptr[m.n] = total;
	SPI_finish();
	return m;
}

/* The training histories of the test users, by user, as catalog indexes. */
typedef struct Histories
{
	idmap_hash *users;
	const KnnModel *knn;
	MemoryContext cxt;			/* where the per-user lists go */
	int64	   *counts;
	int32	  **idx;
	float	  **w;
} Histories;

/* Keeps a test user's training items that the catalog knows. */
static void
HistoryRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	Histories  *h = (Histories *) arg;
	int32		user = RowTestUser(h->users, tuple, desc);
	bool		isnull;
	ArrayType  *a,
			   *s;
	int			n;

	if (user < 0)
		return;
	a = DatumGetArrayTypeP(SPI_getbinval(tuple, desc, 2, &isnull));
	s = DatumGetArrayTypeP(SPI_getbinval(tuple, desc, 3, &isnull));
	n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
	if (n != ArrayGetNItems(ARR_NDIM(s), ARR_DIMS(s)))
		return;
	h->idx[user] = MemoryContextAlloc(h->cxt, sizeof(int32) * Max(n, 1));
	h->w[user] = MemoryContextAlloc(h->cxt, sizeof(float) * Max(n, 1));
	for (int j = 0; j < n; j++)
	{
		int32		i = IdMapGet(h->knn->index, ((int64 *) ARR_DATA_PTR(a))[j]);

		if (i < 0)
			continue;
		h->idx[user][h->counts[user]] = i;
		h->w[user][h->counts[user]] = ((float *) ARR_DATA_PTR(s))[j];
		h->counts[user]++;
	}
}

/* The training histories of the test users (model_interactions), as CSR. */
static void
LoadHistories(const CachedModel *model, idmap_hash *users, int nusers,
			  const KnnModel *knn, int64 **hptr_out, int32 **hidx_out, float **hw_out)
{
	Histories	h;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(model->model_id)};
	int64	   *hptr;
	int32	   *hidx;
	float	   *hw;
	int64		total = 0;

	h.users = users;
	h.knn = knn;
	h.cxt = CurrentMemoryContext;
	h.counts = palloc0(sizeof(int64) * (nusers + 1));
	h.idx = palloc0(sizeof(int32 *) * Max(nusers, 1));
	h.w = palloc0(sizeof(float *) * Max(nusers, 1));
	SpiConnect();
	ScanQueryRows("SELECT user_id, item_ids, weights FROM rerank.model_interactions WHERE model_id = $1",
				  1, types, values, HistoryRow, &h);
	SPI_finish();
	for (int u = 0; u < nusers; u++)
		total += h.counts[u];
	hptr = palloc(sizeof(int64) * (nusers + 1));
	hidx = palloc_extended(sizeof(int32) * Max(total, 1), MCXT_ALLOC_HUGE);
	hw = palloc_extended(sizeof(float) * Max(total, 1), MCXT_ALLOC_HUGE);
	total = 0;
	for (int u = 0; u < nusers; u++)
	{
		hptr[u] = total;
		for (int64 j = 0; j < h.counts[u]; j++)
		{
			hidx[total] = h.idx[u][j];
			hw[total] = h.w[u][j];
			total++;
		}
	}
	hptr[nusers] = total;
	*hptr_out = hptr;
	*hidx_out = hidx;
	*hw_out = hw;
}

/* Writes the result into the model's metrics under "evaluation". */
static void
StoreMetrics(const CachedModel *model, const char *json)
{
	Oid			types[2] = {INT4OID, TEXTOID};
	Datum		values[2] = {Int32GetDatum(model->model_id), CStringGetTextDatum(json)};

	SpiConnect();
	if (SPI_execute_with_args("UPDATE rerank.models SET metrics = metrics || "
							  "jsonb_build_object('evaluation', $2::jsonb || "
							  "jsonb_build_object('evaluated_at', now())) WHERE model_id = $1",
							  2, types, values, NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "storing the metrics failed");
	SPI_finish();
}

/* What the rankings of the test users add up to. */
typedef struct Evaluation
{
	int			k;
	int			ncatalog;
	UserLists	tests;
	UserLists	seen;			/* train items, excluded from the rankings */
	int32	   *top;			/* k */
	float	   *top_scores;		/* k */
	bool	   *recommended;	/* by catalog index, for coverage */
	RankMetrics m;
} Evaluation;

/*
 * Ranks one user, whose scores (NaN: not scored) cover the catalog: the
 * best k apart from the user's train items, or nothing for a user the model
 * cannot score; then adds the user's metrics.
 */
static void
RankUser(Evaluation *e, int user, float *scores, bool scorable)
{
	int			found = 0;

	if (scorable)
	{
		for (int64 j = e->seen.indptr[user]; j < e->seen.indptr[user + 1]; j++)
			scores[e->seen.items[j]] = NAN;
		found = TopKSelect(scores, NULL, e->ncatalog, e->k, e->top, e->top_scores);
	}
	for (int j = 0; j < found; j++)
		e->recommended[e->top[j]] = true;
	RankMetricsAdd(&e->m, e->k, e->top, found,
				   e->tests.items + e->tests.indptr[user],
				   (int) (e->tests.indptr[user + 1] - e->tests.indptr[user]),
				   e->tests.total[user]);
}

/* Ranks the test users of a factor model, EVAL_BLOCK users per sgemm. */
static void
EvaluateFactors(Evaluation *e, const CachedModel *model, const ItemMatrix *items,
				idmap_hash *users, int nusers)
{
	int			dims = model->dimensions;
	int			ncatalog = e->ncatalog;
	float	   *scores = palloc_extended(sizeof(float) * (Size) ncatalog * EVAL_BLOCK,
										 MCXT_ALLOC_HUGE);
	float	   *U = palloc_extended(sizeof(float) * (Size) nusers * dims,
									MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	bool	   *has_vector = LoadTestUserVectors(model, users, nusers, U);

	FoldInMissingUsers(model, users, U, has_vector);

	for (int b = 0; b < nusers; b += EVAL_BLOCK)
	{
		int			B = Min(EVAL_BLOCK, nusers - b);

		CHECK_FOR_INTERRUPTS();
		/* scores of B users at once: U_b Yᵀ + bias */
		for (int u = 0; u < B; u++)
			memcpy(scores + (size_t) u * ncatalog, items->biases, sizeof(float) * ncatalog);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, ncatalog, dims,
					1.0f, U + (size_t) b * dims, dims, items->vectors, dims,
					1.0f, scores, ncatalog);
		for (int u = 0; u < B; u++)
			RankUser(e, b + u, scores + (size_t) u * ncatalog, has_vector[b + u]);
	}
}

/* Ranks the test users of an item-kNN model by their training histories. */
static void
EvaluateKnn(Evaluation *e, const CachedModel *model, const KnnModel *km,
			idmap_hash *users, int nusers)
{
	float	   *scores = palloc_extended(sizeof(float) * (Size) e->ncatalog,
										 MCXT_ALLOC_HUGE);
	int64	   *hptr;
	int32	   *hidx;
	float	   *hw;

	LoadHistories(model, users, nusers, km, &hptr, &hidx, &hw);
	for (int user = 0; user < nusers; user++)
	{
		if ((user & 63) == 0)
			CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < e->ncatalog; i++)
			scores[i] = NAN;	/* only items near the history score */
		for (int64 h = hptr[user]; h < hptr[user + 1]; h++)
		{
			int32		j = hidx[h];

			for (int64 n = km->nptr[j]; n < km->nptr[j + 1]; n++)
			{
				int32		i = km->nidx[n];
				float		add = hw[h] * km->nsim[n];

				scores[i] = isnan(scores[i]) ? add : scores[i] + add;
			}
		}
		RankUser(e, user, scores, true);
	}
}

/*
 * Ranks the test users of a user-kNN model by their neighbors, found as
 * recommend() finds them (trained, or from the current history).
 */
static void
EvaluateUserKnn(Evaluation *e, const CachedModel *model, const UserKnnIndex *index,
				idmap_hash *users, int nusers)
{
	float	   *scores = palloc_extended(sizeof(float) * (Size) e->ncatalog,
										 MCXT_ALLOC_HUGE);
	double	   *acc = palloc_extended(sizeof(double) * (Size) e->ncatalog,
									  MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	AlsCsr		by_user = UserKnnByUser(index);
	int64	   *user_ids = palloc(sizeof(int64) * Max(nusers, 1));
	MemoryContext per_user = AllocSetContextCreate(CurrentMemoryContext,
												   "rerank evaluate user",
												   ALLOCSET_DEFAULT_SIZES);
	idmap_iterator it;
	IdMapEntry *entry;

	/* in user index order, as the factor models go */
	idmap_start_iterate(users, &it);
	while ((entry = idmap_iterate(users, &it)) != NULL)
		user_ids[entry->index] = entry->id;
	for (int user = 0; user < nusers; user++)
	{
		MemoryContext old = MemoryContextSwitchTo(per_user);
		UserNeighbors neighbors;
		int64	   *ids;
		float	   *weights;
		int			n;

		CHECK_FOR_INTERRUPTS();
		for (int i = 0; i < e->ncatalog; i++)
			scores[i] = NAN;	/* only items a neighbor has score */
		UserKnnNeighborsOfUser(index, user_ids[user], NULL, &neighbors, &ids,
							   &weights, &n);
		UserKnnScoreAll(&by_user, neighbors.users, neighbors.similarities,
						neighbors.n, neighbors.total, acc, scores);
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_user);
		RankUser(e, user, scores, true);
	}
	MemoryContextDelete(per_user);
}

PG_FUNCTION_INFO_V1(evaluate);

/* evaluate(model_name, test, k, train): one row of metrics at k. */
Datum
evaluate(PG_FUNCTION_ARGS)
{
	const CachedModel *model;
	Oid			test,
				train = InvalidOid;
	bool		knn;
	Catalog		catalog = {0};
	ItemMatrix	items;
	KnnModel	km;
	PairReader	tr,
				rr;
	Evaluation	e = {0};
	RankMetrics *m = &e.m;
	int64		covered = 0;
	TupleDesc	tupdesc;
	Datum		values[7];
	bool		nulls[7] = {false};
	StringInfoData json;
	int			nusers;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("evaluate: model_name, test and k must not be NULL")));
	e.k = PG_GETARG_INT32(2);
	if (e.k <= 0 || e.k > 10000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("k must be between 1 and 10000, not %d", e.k)));
	model = ModelByName(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	test = PG_GETARG_OID(1);
	if (!PG_ARGISNULL(3))
		train = PG_GETARG_OID(3);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "evaluate must return a row");

	knn = ModelHasNeighbors(model);
	if (knn)
	{
		km = LoadKnnModel(model);
		catalog.knn_index = km.index;
		catalog.n = km.n;
	}
	else if (ModelIsUserKnn(model))
	{
		catalog.user_knn = ModelUserKnnIndex(model);
		catalog.n = UserKnnItems(catalog.user_knn);
	}
	else
	{
		if (model->dimensions == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no factors", model->name)));
		ModelItemMatrix(model, &items);
		catalog.matrix = &items;
		catalog.n = items.n;
	}
	if (catalog.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no items", model->name)));

	PairReaderInit(&tr, idmap_create(CurrentMemoryContext, 1024, NULL), &catalog, true);
	(void) ReadSourceRows(test, NULL, "test", PairAdd, &tr);
	nusers = tr.nusers;
	if (nusers == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("test \"%s\" has no rows with a positive weight", get_rel_name(test))));
	e.tests = GroupPairs(&tr, nusers, true);
	PairReaderInit(&rr, tr.users, &catalog, false);
	if (OidIsValid(train))
		(void) ReadSourceRows(train, NULL, "train", PairAdd, &rr);
	e.seen = GroupPairs(&rr, nusers, false);

	e.ncatalog = catalog.n;
	e.recommended = palloc0(sizeof(bool) * catalog.n);
	e.top = palloc(sizeof(int32) * e.k);
	e.top_scores = palloc(sizeof(float) * e.k);
	if (knn)
		EvaluateKnn(&e, model, &km, tr.users, nusers);
	else if (catalog.user_knn != NULL)
		EvaluateUserKnn(&e, model, catalog.user_knn, tr.users, nusers);
	else
		EvaluateFactors(&e, model, &items, tr.users, nusers);
	for (int i = 0; i < catalog.n; i++)
		covered += e.recommended[i];

	values[0] = Int64GetDatum(m->users);
	values[1] = Float8GetDatum(m->users ? m->precision / m->users : 0);
	values[2] = Float8GetDatum(m->users ? m->recall / m->users : 0);
	values[3] = Float8GetDatum(m->users ? m->ndcg / m->users : 0);
	values[4] = Float8GetDatum(m->users ? m->map / m->users : 0);
	values[5] = Float8GetDatum(m->users ? (double) m->hit_users / m->users : 0);
	values[6] = Float8GetDatum((double) covered / catalog.n);

	initStringInfo(&json);
	appendStringInfo(&json, "{\"k\": %d, \"test\": ", e.k);
	escape_json(&json, QualifiedRelationName(test));
	appendStringInfoString(&json, ", \"train\": ");
	if (OidIsValid(train))
		escape_json(&json, QualifiedRelationName(train));
	else
		appendStringInfoString(&json, "null");
	appendStringInfo(&json, ", \"users\": " INT64_FORMAT, m->users);
	{
		const char *keys[6] = {"precision_at_k", "recall_at_k", "ndcg_at_k", "map_at_k", "hit_rate", "coverage"};

		for (int i = 0; i < 6; i++)
			AppendJsonField(&json, keys[i], DatumGetFloat8(values[i + 1]));
	}
	appendStringInfoString(&json, "}");
	StoreMetrics(model, json.data);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc), values, nulls)));
}
