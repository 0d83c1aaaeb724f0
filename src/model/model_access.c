/*
 * model_access.c
 *	  Reading what trained models keep beside their item vectors: user
 *	  vectors, training histories and neighbor lists, for serving and
 *	  evaluation.  The registry row, YᵀY and item vectors come from the model
 *	  cache (model_cache.h).
 */
#include "postgres.h"

#include "cache/model_cache.h"
#include "cache/neighbor_lists.h"
#include "catalog/pg_type.h"
#include "common/id_map.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "core/recent_history.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "model/model_access.h"
#include "model/user_features.h"

/* The kept plans of the queries below. */
static SPIPlanPtr vector_plan = NULL;
static SPIPlanPtr interactions_plan = NULL;

/* A column of a row of the last SPI result. */
static Datum
GetColumn(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

bool
LoadUserVector(const CachedModel *model, int64 user_id, float *out)
{
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		values[2] = {Int32GetDatum(model->model_id), Int64GetDatum(user_id)};
	bool		found = false;
	bool		isnull;

	SpiConnect();
	ExecuteKeptPlan(&vector_plan, "SELECT factors FROM rerank.user_factors WHERE model_id OPERATOR(pg_catalog.=) $1 "
			 "AND user_id OPERATOR(pg_catalog.=) $2",
			 2, types, values, true, 1, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		ArrayType  *factors = DatumGetArrayTypeP(GetColumn(0, 1, &isnull));

		if (VectorArgLength(factors, "factors") == model->dimensions)
		{
			memcpy(out, VECTOR_DATA(factors), sizeof(float) * model->dimensions);
			found = true;
		}
	}
	SPI_finish();
	return found;
}

/*
 * Appends the elements of a bigint[] and a real[] (or weight w) to a
 * history; repalloc keeps the arrays in the memory they were allocated in.
 */
static void
AppendHistory(ArrayType *ids, ArrayType *weights, float w, int64 **out_ids,
			  float **out_w, int *n, int *capacity)
{
	int			count = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));
	const int64 *id = (const int64 *) ARR_DATA_PTR(ids);
	const float *wt = NULL;

	if (ARR_HASNULL(ids) || ARR_ELEMTYPE(ids) != INT8OID)
		return;
	if (weights != NULL)
	{
		if (ARR_HASNULL(weights) || ARR_ELEMTYPE(weights) != FLOAT4OID ||
			ArrayGetNItems(ARR_NDIM(weights), ARR_DIMS(weights)) != count)
			return;
		wt = (const float *) ARR_DATA_PTR(weights);
	}
	if (*n + count > *capacity)
	{
		*capacity = Max(*n + count, *capacity * 2);
		*out_ids = repalloc(*out_ids, sizeof(int64) * *capacity);
		*out_w = repalloc(*out_w, sizeof(float) * *capacity);
	}
	for (int i = 0; i < count; i++)
	{
		(*out_ids)[*n] = id[i];
		(*out_w)[*n] = wt ? wt[i] : w;
		(*n)++;
	}
}

/* A user's history from features and a training row; see model_access.h. */
int
MergeUserHistory(const UserFeatures *features, const int64 *train_ids,
				 const float *train_weights, int ntrain, int64 **item_ids,
				 float **weights)
{
	int			n = 0;
	int			capacity = Max(features->nrecent + features->npurchased + ntrain, 1);
	int64	   *ids = palloc(sizeof(int64) * capacity);
	float	   *w = palloc(sizeof(float) * capacity);

	/* the recent history, then bought items: excluded, not scored (weight 0) */
	for (int i = 0; i < features->nrecent; i++, n++)
	{
		ids[n] = features->recent_items[i];
		w[n] = features->recent_weights[i];
	}
	for (int i = 0; i < features->npurchased; i++, n++)
	{
		ids[n] = features->purchased_items[i];
		w[n] = 0;
	}
	memcpy(ids + n, train_ids, sizeof(int64) * ntrain);
	memcpy(w + n, train_weights, sizeof(float) * ntrain);
	n += ntrain;

	/*
	 * The recent history overlaps the training interactions (the triggers
	 * record every event): keep each item once, with its largest weight.
	 */
	*item_ids = ids;
	*weights = w;
	return HistoryMergeMax(ids, w, n, palloc(sizeof(HistoryPair) * capacity));
}

int
LoadUserHistory(const CachedModel *model, int64 user_id,
				const UserFeatures *features, int64 **item_ids, float **weights)
{
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		values[2] = {Int32GetDatum(model->model_id), Int64GetDatum(user_id)};
	int			n = 0,
				capacity = 64;
	int64	   *ids = palloc(sizeof(int64) * capacity);
	float	   *w = palloc(sizeof(float) * capacity);
	bool		isnull;
	UserFeatures read;

	if (features == NULL)
	{
		LoadUserFeatures(NULL, user_id, &read, NULL);
		features = &read;
	}
	SpiConnect();
	ExecuteKeptPlan(&interactions_plan, "SELECT item_ids, weights FROM rerank.model_interactions "
			 "WHERE model_id OPERATOR(pg_catalog.=) $1 "
			 "AND user_id OPERATOR(pg_catalog.=) $2", 2, types, values, true, 1, SPI_OK_SELECT);
	if (SPI_processed == 1)
		AppendHistory(DatumGetArrayTypeP(GetColumn(0, 1, &isnull)),
					  DatumGetArrayTypeP(GetColumn(0, 2, &isnull)), 0,
					  &ids, &w, &n, &capacity);
	SPI_finish();
	return MergeUserHistory(features, ids, w, n, item_ids, weights);
}

/*
 * Scans the rows of rerank.item_neighbors of the model's items ids (the
 * given columns, first item_id), calling fn for each, with a plan kept in
 * *plan: the query path of the neighbor list readers below.
 */
static void
ScanNeighborRows(SPIPlanPtr *plan, const char *columns, const CachedModel *model,
				 const int64 *ids, int n, QueryRowFn fn, void *arg)
{
	Oid			types[2] = {INT4OID, INT8ARRAYOID};
	Datum		values[2];

	values[0] = Int32GetDatum(model->model_id);
	values[1] = PointerGetDatum(BuildInt64Array(ids, n));
	SpiConnect();
	if (*plan == NULL)
	{
		char	   *sql = psprintf("SELECT %s FROM rerank.item_neighbors "
								   "WHERE model_id OPERATOR(pg_catalog.=) $1 "
								   "AND item_id OPERATOR(pg_catalog.=) ANY ($2)",
								   columns);

		KeptPlan(plan, sql, 2, types);
	}
	ScanPlanRows(*plan, values, fn, arg);
	SPI_finish();
}

/* ForEachNeighborList's row callback: a checked row to the caller's fn. */
typedef struct NeighborVisit
{
	NeighborListFn fn;
	void	   *arg;
} NeighborVisit;

static void
VisitNeighborRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	NeighborVisit *visit = arg;
	int64		item_id;
	NeighborList list;

	/* a hand-edited malformed list is left out */
	if (NeighborRow(tuple, desc, &item_id, &list))
		visit->fn(item_id, &list, visit->arg);
}

void
ForEachNeighborList(const CachedModel *model, const int64 *ids, int n,
					NeighborListFn fn, void *arg)
{
	static SPIPlanPtr plan = NULL;
	NeighborVisit visit = {fn, arg};

	if (n == 0)
		return;
	if (model->neighbors_cached)
	{
		idmap_hash *seen = idmap_create(CurrentMemoryContext, Max(n, 16), NULL);

		for (int i = 0; i < n; i++)
		{
			NeighborList list;
			bool		found;

			if ((i & 1023) == 1023)
				CHECK_FOR_INTERRUPTS();
			idmap_insert(seen, ids[i], &found);
			if (!found && ModelItemNeighbors(model, ids[i], &list))
				fn(ids[i], &list, arg);
		}
		return;
	}
	ScanNeighborRows(&plan, "item_id, neighbor_ids, similarities", model, ids, n,
					 VisitNeighborRow, &visit);
}

/* NeighborListsKnown's row callback: marks the id's position. */
typedef struct KnownScan
{
	idmap_hash *positions;
	bool	   *known;
} KnownScan;

static void
MarkKnownRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	KnownScan  *scan = arg;
	bool		isnull;
	Datum		item = SPI_getbinval(tuple, desc, 1, &isnull);
	int32		i = isnull ? -1 : IdMapGet(scan->positions, DatumGetInt64(item));

	if (i >= 0)
		scan->known[i] = true;
}

void
NeighborListsKnown(const CachedModel *model, const int64 *ids, int n, bool *known)
{
	static SPIPlanPtr plan = NULL;
	KnownScan	scan;

	memset(known, 0, sizeof(bool) * n);
	if (n == 0)
		return;
	if (model->neighbors_cached)
	{
		NeighborList list;

		for (int i = 0; i < n; i++)
			known[i] = ModelItemNeighbors(model, ids[i], &list);
		return;
	}
	scan.positions = IdMapFromArray(CurrentMemoryContext, ids, n);
	scan.known = known;
	ScanNeighborRows(&plan, "item_id", model, ids, n, MarkKnownRow, &scan);
}

/* LoadNeighbors' callback: copies the list into the caller's memory. */
typedef struct ListCopy
{
	MemoryContext context;
	NeighborList *list;
} ListCopy;

static void
CopyNeighborList(int64 item_id, const NeighborList *found, void *arg)
{
	ListCopy   *copy = arg;

	if (found->n == 0)
		return;
	copy->list->n = found->n;
	copy->list->ids = MemoryContextAlloc(copy->context, sizeof(int64) * found->n);
	copy->list->similarities = MemoryContextAlloc(copy->context, sizeof(float) * found->n);
	memcpy(copy->list->ids, found->ids, sizeof(int64) * found->n);
	memcpy(copy->list->similarities, found->similarities, sizeof(float) * found->n);
}

NeighborList
LoadNeighbors(const CachedModel *model, int64 item_id)
{
	NeighborList list = {0, NULL, NULL};
	ListCopy	copy = {CurrentMemoryContext, &list};

	ForEachNeighborList(model, &item_id, 1, CopyNeighborList, &copy);
	return list;
}
