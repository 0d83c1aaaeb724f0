/*
 * model_access.c
 *	  Reading trained models for serving and evaluation: the registry row,
 *	  every item vector (cached per backend), user vectors, histories and
 *	  neighbor lists.
 *
 * Single-item look-ups (predict, fold-in of a user without a vector) use the
 * shared model cache (model_cache.h).  Whole-catalog scans (recommend,
 * similar_items, evaluate) need every vector as one matrix, which that
 * cache's contract does not expose, so LoadModelItems keeps its own copy of
 * one model in a backend-lifetime memory context, keyed by model id,
 * factors_version and the xmin of the model row:
 * any statement that changes item factors bumps factors_version, and a
 * rolled-back change cannot be confused with a later committed one because
 * the row version differs.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "model_cache.h"
#include "rerank.h"
#include "training.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* Runs a read-only query with parameters; errors on failure. */
static void
RunQuery(const char *sql, int nargs, Oid *types, Datum *values, long limit)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, NULL,
											true, limit);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "query failed (%s): %s", SPI_result_code_string(ret), sql);
}

static Datum
GetColumn(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

/* A model by name, by id (name NULL, id > 0) or the active one. */
static ModelInfo *
FindModelInfo(const char *name, int32 id, bool missing_ok)
{
	static const char *columns =
		"SELECT model_id, name, algorithm, dimensions, "
		"CASE WHEN jsonb_typeof(params->'regularization') = 'number' "
		"THEN (params->>'regularization')::float8 END, "
		"CASE WHEN jsonb_typeof(params->'alpha') = 'number' "
		"THEN (params->>'alpha')::float8 END, "
		"factors_version, is_active, gram FROM rerank.models ";
	MemoryContext caller = CurrentMemoryContext;
	ModelInfo  *model = NULL;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	char	   *sql;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (name != NULL)
	{
		values[0] = CStringGetTextDatum(name);
		sql = psprintf("%s WHERE name = $1", columns);
		RunQuery(sql, 1, types, values, 1);
	}
	else if (id > 0)
	{
		types[0] = INT4OID;
		values[0] = Int32GetDatum(id);
		sql = psprintf("%s WHERE model_id = $1", columns);
		RunQuery(sql, 1, types, values, 1);
	}
	else
	{
		sql = psprintf("%s WHERE is_active", columns);
		RunQuery(sql, 0, NULL, NULL, 1);
	}
	if (SPI_processed == 1)
	{
		Datum		d;

		model = MemoryContextAllocZero(caller, sizeof(ModelInfo));
		model->model_id = DatumGetInt32(GetColumn(0, 1, &isnull));
		strlcpy(model->name, TextDatumGetCString(GetColumn(0, 2, &isnull)), NAMEDATALEN);
		strlcpy(model->algorithm, TextDatumGetCString(GetColumn(0, 3, &isnull)), NAMEDATALEN);
		model->dimensions = DatumGetInt32(GetColumn(0, 4, &isnull));
		d = GetColumn(0, 5, &isnull);
		model->regularization = isnull ? RERANK_DEFAULT_REGULARIZATION : DatumGetFloat8(d);
		d = GetColumn(0, 6, &isnull);
		model->alpha = isnull ? RERANK_DEFAULT_ALPHA : DatumGetFloat8(d);
		model->factors_version = DatumGetInt64(GetColumn(0, 7, &isnull));
		model->is_active = DatumGetBool(GetColumn(0, 8, &isnull));
		d = GetColumn(0, 9, &isnull);
		if (!isnull)
		{
			ArrayType  *gram = DatumGetArrayTypeP(d);
			int			k = model->dimensions;

			if (VectorArgLength(gram, "gram") == k * k && k > 0)
			{
				model->gram = MemoryContextAlloc(caller, sizeof(float) * k * k);
				memcpy(model->gram, VECTOR_DATA(gram), sizeof(float) * k * k);
			}
		}
	}
	SPI_finish();
	if (model == NULL && !missing_ok)
	{
		if (name != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" does not exist", name)));
		if (id > 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model with id %d does not exist", id)));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no model is active"),
				 errhint("Pass a model name, or activate a model with rerank.activate_model().")));
	}
	return model;
}

ModelInfo *
LookupModel(const char *name, bool missing_ok)
{
	return FindModelInfo(name, 0, missing_ok);
}

ModelInfo *
LookupModelById(int32 model_id)
{
	return FindModelInfo(NULL, model_id, false);
}

const float *
ModelGram(ModelInfo *model)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(model->model_id)};
	bool		isnull;
	int			k = model->dimensions;

	if (model->gram != NULL || k == 0)
		return model->gram;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RunQuery("SELECT rerank.gram_matrix(factors) FROM rerank.item_factors "
			 "WHERE model_id = $1", 1, types, values, 1);
	{
		Datum		d = GetColumn(0, 1, &isnull);

		if (!isnull)
		{
			ArrayType  *gram = DatumGetArrayTypeP(d);

			if (VectorArgLength(gram, "gram") != k * k)
				elog(ERROR, "gram matrix of model \"%s\" has the wrong size", model->name);
			model->gram = MemoryContextAlloc(caller, sizeof(float) * k * k);
			memcpy(model->gram, VECTOR_DATA(gram), sizeof(float) * k * k);
		}
	}
	SPI_finish();
	if (model->gram == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("model \"%s\" has no item factors", model->name)));
	return model->gram;
}

/* The backend's cache of one model's item vectors. */
static MemoryContext items_cxt = NULL;
static ModelItems *cached_items = NULL;
static int32 cached_model_id;
static int64 cached_version;
static TransactionId cached_xmin;

/* The xmin of the model's row: changes with every update of the row. */
static TransactionId
ModelRowXmin(int32 model_id)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(model_id)};
	bool		isnull;
	TransactionId xmin = InvalidTransactionId;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RunQuery("SELECT xmin::text::int8 FROM rerank.models WHERE model_id = $1",
			 1, types, values, 1);
	if (SPI_processed == 1)
		xmin = (TransactionId) DatumGetInt64(GetColumn(0, 1, &isnull));
	SPI_finish();
	return xmin;
}

const ModelItems *
LoadModelItems(const ModelInfo *model)
{
	TransactionId xmin = ModelRowXmin(model->model_id);
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {Int32GetDatum(model->model_id)};
	int			k = model->dimensions;
	ModelItems *items;
	MemoryContext old;
	Portal		portal;
	SPIPlanPtr	plan;
	int64		capacity = 1024;

	if (cached_items != NULL && cached_model_id == model->model_id &&
		cached_version == model->factors_version && cached_xmin == xmin)
		return cached_items;

	if (items_cxt == NULL)
		items_cxt = AllocSetContextCreate(TopMemoryContext, "rerank model items",
										  ALLOCSET_DEFAULT_SIZES);
	cached_items = NULL;
	MemoryContextReset(items_cxt);

	items = MemoryContextAllocZero(items_cxt, sizeof(ModelItems));
	items->k = k;
	items->ids = MemoryContextAllocHuge(items_cxt, sizeof(int64) * capacity);
	items->vectors = MemoryContextAllocHuge(items_cxt, sizeof(float) * capacity * Max(k, 1));
	items->bias = MemoryContextAllocHuge(items_cxt, sizeof(float) * capacity);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = SPI_prepare("SELECT item_id, factors, bias FROM rerank.item_factors "
					   "WHERE model_id = $1 ORDER BY item_id", 1, types);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, values, NULL, true);
	for (;;)
	{
		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			ArrayType  *factors;

			if (items->n == capacity)
			{
				capacity *= 2;
				items->ids = repalloc_huge(items->ids, sizeof(int64) * capacity);
				items->vectors = repalloc_huge(items->vectors, sizeof(float) * capacity * Max(k, 1));
				items->bias = repalloc_huge(items->bias, sizeof(float) * capacity);
			}
			items->ids[items->n] = DatumGetInt64(GetColumn(r, 1, &isnull));
			factors = DatumGetArrayTypeP(GetColumn(r, 2, &isnull));
			if (VectorArgLength(factors, "factors") != k)
				elog(ERROR, "item factors of model \"%s\" have the wrong length", model->name);
			memcpy(items->vectors + (size_t) items->n * k, VECTOR_DATA(factors), sizeof(float) * k);
			items->bias[items->n] = DatumGetFloat4(GetColumn(r, 3, &isnull));
			items->n++;
		}
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
	SPI_finish();

	old = MemoryContextSwitchTo(items_cxt);
	items->index = IdMapFromArray(items_cxt, items->ids, items->n);
	MemoryContextSwitchTo(old);

	cached_items = items;
	cached_model_id = model->model_id;
	cached_version = model->factors_version;
	cached_xmin = xmin;
	return items;
}

bool
LoadUserVector(const ModelInfo *model, int64 user_id, float *out)
{
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		values[2] = {Int32GetDatum(model->model_id), Int64GetDatum(user_id)};
	bool		found = false;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RunQuery("SELECT factors FROM rerank.user_factors WHERE model_id = $1 AND user_id = $2",
			 2, types, values, 1);
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

/* Appends the elements of a bigint[] and a real[] (or weight w) to a history. */
static void
AppendHistory(ArrayType *ids, ArrayType *weights, float w, int64 **out_ids,
			  float **out_w, int *n, int *capacity, MemoryContext cxt)
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

typedef struct HistoryItem
{
	int64		id;
	float		weight;
} HistoryItem;

static int
CompareHistoryItem(const void *a, const void *b)
{
	int64		x = ((const HistoryItem *) a)->id;
	int64		y = ((const HistoryItem *) b)->id;

	return x < y ? -1 : x > y;
}

int
LoadUserHistory(const ModelInfo *model, int64 user_id, bool with_recent,
				int64 **item_ids, float **weights)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		values[2] = {Int32GetDatum(model->model_id), Int64GetDatum(user_id)};
	int			n = 0,
				capacity = 64,
				out = 0;
	int64	   *ids = palloc(sizeof(int64) * capacity);
	float	   *w = palloc(sizeof(float) * capacity);
	HistoryItem *items;
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RunQuery("SELECT item_ids, weights FROM rerank.model_interactions "
			 "WHERE model_id = $1 AND user_id = $2", 2, types, values, 1);
	if (SPI_processed == 1)
		AppendHistory(DatumGetArrayTypeP(GetColumn(0, 1, &isnull)),
					  DatumGetArrayTypeP(GetColumn(0, 2, &isnull)), 0,
					  &ids, &w, &n, &capacity, caller);
	if (with_recent)
	{
		RunQuery("SELECT recent_items, recent_weights, purchased_items "
				 "FROM rerank.user_features WHERE user_id = $1",
				 1, types + 1, values + 1, 1);
		if (SPI_processed == 1)
		{
			MemoryContext spi = MemoryContextSwitchTo(caller);

			AppendHistory(DatumGetArrayTypeP(GetColumn(0, 1, &isnull)),
						  DatumGetArrayTypeP(GetColumn(0, 2, &isnull)), 0,
						  &ids, &w, &n, &capacity, caller);
			/* bought items: excluded, not scored (weight 0) */
			AppendHistory(DatumGetArrayTypeP(GetColumn(0, 3, &isnull)), NULL, 0,
						  &ids, &w, &n, &capacity, caller);
			MemoryContextSwitchTo(spi);
		}
	}
	SPI_finish();

	/*
	 * The recent history overlaps the training interactions (the triggers
	 * record every event): keep each item once, with its largest weight.
	 */
	items = palloc(sizeof(HistoryItem) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		items[i].id = ids[i];
		items[i].weight = w[i];
	}
	qsort(items, n, sizeof(HistoryItem), CompareHistoryItem);
	for (int i = 0; i < n; i++)
	{
		if (out > 0 && ids[out - 1] == items[i].id)
			w[out - 1] = Max(w[out - 1], items[i].weight);
		else
		{
			ids[out] = items[i].id;
			w[out] = items[i].weight;
			out++;
		}
	}
	pfree(items);
	*item_ids = ids;
	*weights = w;
	return out;
}

NeighborList
LoadNeighbors(const ModelInfo *model, int64 item_id)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		values[2] = {Int32GetDatum(model->model_id), Int64GetDatum(item_id)};
	NeighborList list = {0, NULL, NULL};
	bool		isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RunQuery("SELECT neighbor_ids, similarities FROM rerank.item_neighbors "
			 "WHERE model_id = $1 AND item_id = $2", 2, types, values, 1);
	if (SPI_processed == 1)
	{
		ArrayType  *ids = DatumGetArrayTypeP(GetColumn(0, 1, &isnull));
		ArrayType  *sims = DatumGetArrayTypeP(GetColumn(0, 2, &isnull));
		int			n = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));

		if (n == ArrayGetNItems(ARR_NDIM(sims), ARR_DIMS(sims)) && n > 0)
		{
			list.n = n;
			list.ids = MemoryContextAlloc(caller, sizeof(int64) * n);
			list.similarities = MemoryContextAlloc(caller, sizeof(float) * n);
			memcpy(list.ids, ARR_DATA_PTR(ids), sizeof(int64) * n);
			memcpy(list.similarities, ARR_DATA_PTR(sims), sizeof(float) * n);
		}
	}
	SPI_finish();
	return list;
}

void
AppendJsonNumber(StringInfo buf, double value)
{
	if (!isfinite(value))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.9g", value);
}
