/*
 * model_cache_stub.c
 *	  TEMPORARY stand-in for src/model_cache.c (the lead's in-memory model
 *	  cache), so rerank() can be built and tested against the contract of
 *	  model_cache.h before the cache lands on main.  No caching at all: every
 *	  call queries the tables.  Deleted when main's model_cache.c is merged.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "model_cache.h"
#include "rerank.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

typedef struct StubEntry
{
	int64		item_id;
	float	   *vector;
	float		bias;
} StubEntry;

/* Loads the model row selected by the query (one parameter, text). */
static const CachedModel *
StubLoad(const char *query, const char *name)
{
	MemoryContext caller = CurTransactionContext;
	CachedModel *model = NULL;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	char		nulls[1] = {name ? ' ' : 'n'};
	int			ret;

	args[0] = name ? CStringGetTextDatum(name) : (Datum) 0;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ret = SPI_execute_with_args(query, 1, argtypes, args, nulls, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "model lookup failed");
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		gram;
		char	   *s;

		model = MemoryContextAllocZero(caller, sizeof(CachedModel));
		model->model_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		strlcpy(model->name, SPI_getvalue(tup, desc, 2), NAMEDATALEN);
		strlcpy(model->algorithm, SPI_getvalue(tup, desc, 3), NAMEDATALEN);
		model->dimensions = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		model->factors_version = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
		s = SPI_getvalue(tup, desc, 6);
		model->regularization = s ? strtod(s, NULL) : RERANK_DEFAULT_REGULARIZATION;
		s = SPI_getvalue(tup, desc, 7);
		model->alpha = s ? strtod(s, NULL) : RERANK_DEFAULT_ALPHA;
		model->item_count = DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
		gram = SPI_getbinval(tup, desc, 8, &isnull);
		if (!isnull)
		{
			ArrayType  *a = DatumGetArrayTypeP(gram);
			int			n = ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
			float	   *g = MemoryContextAlloc(caller, sizeof(float) * Max(n, 1));

			memcpy(g, ARR_DATA_PTR(a), sizeof(float) * n);
			model->gram = g;
		}
		model->vectors_cached = false;
	}
	SPI_finish();
	return model;
}

#define STUB_MODEL_COLUMNS \
	"SELECT m.model_id, m.name, m.algorithm, m.dimensions, m.factors_version, " \
	"       m.params->>'regularization', m.params->>'alpha', " \
	"       coalesce(m.gram, (SELECT rerank.gram_matrix(f.factors) FROM rerank.item_factors f WHERE f.model_id = m.model_id)), " \
	"       (SELECT count(*) FROM rerank.item_factors f WHERE f.model_id = m.model_id) " \
	"  FROM rerank.models m "

const CachedModel *
ActiveModel(void)
{
	return StubLoad(STUB_MODEL_COLUMNS "WHERE m.is_active AND $1 IS NULL", NULL);
}

const CachedModel *
ModelByName(const char *name)
{
	const CachedModel *model;

	if (name == NULL)
		return ActiveModel();
	model = StubLoad(STUB_MODEL_COLUMNS "WHERE m.name = $1", name);
	if (model == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name)));
	return model;
}

void
ModelItemVectors(const CachedModel *model, const int64 *item_ids, int n,
				 const float **vectors, float *biases)
{
	MemoryContext caller = CurrentMemoryContext;
	HASHCTL		ctl;
	HTAB	   *map;
	Datum	   *elems;
	ArrayType  *ids;
	Oid			argtypes[2] = {INT4OID, INT8ARRAYOID};
	Datum		args[2];

	for (int i = 0; i < n; i++)
	{
		vectors[i] = NULL;
		if (biases)
			biases[i] = 0;
	}
	if (n == 0)
		return;
	elems = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(item_ids[i]);
	ids = construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	args[0] = Int32GetDatum(model->model_id);
	args[1] = PointerGetDatum(ids);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(int64);
	ctl.entrysize = sizeof(StubEntry);
	ctl.hcxt = CurrentMemoryContext;
	map = hash_create("model cache stub", n, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args("SELECT item_id, factors, bias FROM rerank.item_factors "
							  "WHERE model_id = $1 AND item_id = ANY ($2)",
							  2, argtypes, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "item lookup failed");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		ArrayType  *f = DatumGetArrayTypeP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		StubEntry  *e = hash_search(map, &id, HASH_ENTER, NULL);
		MemoryContext old = MemoryContextSwitchTo(caller);

		e->vector = palloc(sizeof(float) * Max(model->dimensions, 1));
		memcpy(e->vector, ARR_DATA_PTR(f), sizeof(float) * model->dimensions);
		e->bias = DatumGetFloat4(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
		MemoryContextSwitchTo(old);
	}
	SPI_finish();
	for (int i = 0; i < n; i++)
	{
		StubEntry  *e = hash_search(map, &item_ids[i], HASH_FIND, NULL);

		if (e)
		{
			vectors[i] = e->vector;
			if (biases)
				biases[i] = e->bias;
		}
	}
}

const float *
ModelItemVector(const CachedModel *model, int64 item_id, float *bias)
{
	const float *v;
	float		b;

	ModelItemVectors(model, &item_id, 1, &v, &b);
	if (bias)
		*bias = b;
	return v;
}

void
ModelCacheInit(void)
{
}
