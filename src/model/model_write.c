/*
 * model_write.c
 *	  Writing trained models into the registry: the model row (create or
 *	  replace), factors, training interactions and neighbor lists.
 *
 * Rows go in as a few set-based INSERTs whose arrays are parameters (one
 * flat real[] sliced per row), never spliced into SQL, and through the
 * tables' own triggers: the factor check, and the statement trigger that
 * resets YᵀY and bumps factors_version, which is why the Gram matrix is
 * written last.  Everything happens in the caller's transaction, so an error
 * or a cancel leaves the registry as it was; the write phase takes its table
 * locks before any row (LockForModelWrite), so it cannot deadlock with the
 * triggers writing user vectors meanwhile.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "model/model_write.h"
#include "utils/array.h"
#include "utils/builtins.h"

/*
 * Elements per INSERT: bounds the parameter arrays to about 8 MB (ids and
 * their copy as an array, the floats).  The write phase used to be the
 * peak of training's memory: 16M elements per INSERT put 550 MB on top of
 * the 220 MB reading and training need, at 10M interactions; statements of
 * 1M elements cost nothing measurable more.
 */
#define WRITE_BATCH_ELEMENTS (1024 * 1024)

static void
Execute(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, NULL,
											false, 0);

	if (ret != expected)
		elog(ERROR, "statement failed (%s): %s", SPI_result_code_string(ret), sql);
}

/* The model row of a name: id, dimensions, active; false when none. */
static bool
FindModel(const char *name, bool lock, int32 *id, int *dims, bool *active)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	bool		isnull;
	int			ret;

	ret = SPI_execute_with_args(lock ?
								"SELECT model_id, dimensions, is_active FROM rerank.models WHERE name = $1 FOR NO KEY UPDATE" :
								"SELECT model_id, dimensions, is_active FROM rerank.models WHERE name = $1",
								1, types, values, NULL, !lock, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "model lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed != 1)
		return false;
	*id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*dims = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	*active = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	return true;
}

/* The errors of an existing name; true when it may be replaced in place. */
static bool
CheckExisting(const char *name, bool replace, int dimensions, int existing_dims,
			  bool active)
{
	if (!replace)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("model \"%s\" already exists", name),
				 errhint("Pass replace => true to retrain it, or choose another name.")));
	if (existing_dims != dimensions && active)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("cannot replace the active model \"%s\" of %d dimensions by one of %d",
						name, existing_dims, dimensions),
				 errhint("Train under another name and activate it, or deactivate this model first.")));
	return existing_dims == dimensions;
}

void
CheckModelName(const char *name, bool replace, int dimensions)
{
	int32		id;
	int			dims;
	bool		active;

	SpiConnect();
	if (FindModel(name, false, &id, &dims, &active))
		(void) CheckExisting(name, replace, dimensions, dims, active);
	SPI_finish();
}

/*
 * Takes the locks of a model's write phase, before anything is written, in
 * the order every writer follows (docs/locking.md): rerank.models in
 * SHARE ROW EXCLUSIVE mode (one writer of the registry at a time: other
 * trainings' write phases, activations, drops), the model's row, and, when
 * an existing model is replaced (its user vectors deleted and rewritten),
 * rerank.user_factors in EXCLUSIVE mode: that waits for the transactions
 * whose events are writing user vectors and holds back new ones until
 * commit, readers going on.  From then on no other transaction holds a row
 * lock the write phase needs, so a retrain under any ingestion load waits
 * but never deadlocks.  Returns FindModel's answer for the name.
 */
static bool
LockForModelWrite(const char *name, int32 *id, int *dims, bool *active)
{
	if (SPI_execute("LOCK TABLE rerank.models IN SHARE ROW EXCLUSIVE MODE",
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock rerank.models");
	if (!FindModel(name, true, id, dims, active))
		return false;
	if (SPI_execute("LOCK TABLE rerank.user_factors IN EXCLUSIVE MODE",
					false, 0) != SPI_OK_UTILITY)
		elog(ERROR, "could not lock rerank.user_factors");
	return true;
}

int32
PrepareModelRow(const char *name, const char *algorithm, int dimensions,
				bool replace, const char *params_json, const char *description)
{
	int32		id;
	int			dims;
	bool		active;
	bool		isnull;
	Oid			types[5] = {TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', description ? ' ' : 'n'};
	int			ret;

	SpiConnect();
	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(algorithm);
	values[2] = Int32GetDatum(dimensions);
	values[3] = CStringGetTextDatum(params_json);
	values[4] = description ? CStringGetTextDatum(description) : (Datum) 0;

	if (LockForModelWrite(name, &id, &dims, &active))
	{
		Oid			idtype[1] = {INT4OID};
		Datum		idval[1] = {Int32GetDatum(id)};

		if (CheckExisting(name, replace, dimensions, dims, active))
		{
			/* same dimensions: keep the id, activation and history */
			Execute("DELETE FROM rerank.item_factors WHERE model_id = $1", 1, idtype, idval, SPI_OK_DELETE);
			Execute("DELETE FROM rerank.user_factors WHERE model_id = $1", 1, idtype, idval, SPI_OK_DELETE);
			Execute("DELETE FROM rerank.model_interactions WHERE model_id = $1", 1, idtype, idval, SPI_OK_DELETE);
			Execute("DELETE FROM rerank.item_neighbors WHERE model_id = $1", 1, idtype, idval, SPI_OK_DELETE);
			Execute("DELETE FROM rerank.user_neighbors WHERE model_id = $1", 1, idtype, idval, SPI_OK_DELETE);
			values[0] = Int32GetDatum(id);
			types[0] = INT4OID;
			ret = SPI_execute_with_args("UPDATE rerank.models SET algorithm = $2, params = $4::jsonb, "
										"metrics = '{}', gram = NULL, "
										"description = coalesce($5, description) "
										"WHERE model_id = $1",
										5, types, values, nulls, false, 0);
			if (ret != SPI_OK_UPDATE)
				elog(ERROR, "model update failed: %s", SPI_result_code_string(ret));
			SPI_finish();
			return id;
		}
		Execute("DELETE FROM rerank.models WHERE model_id = $1", 1, idtype, idval, SPI_OK_DELETE);
	}
	ret = SPI_execute_with_args("INSERT INTO rerank.models (name, algorithm, dimensions, params, description) "
								"VALUES ($1, $2, $3, $4::jsonb, $5) RETURNING model_id",
								5, types, values, nulls, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "model insert failed: %s", SPI_result_code_string(ret));
	id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return id;
}

void
WriteFactors(int32 model_id, bool items, const int64 *ids,
			 const float *vectors, int n, int k)
{
	int			batch = Max(1, WRITE_BATCH_ELEMENTS / Max(k, 1));
	const char *sql = items ?
		"INSERT INTO rerank.item_factors (model_id, item_id, factors) "
		"SELECT $1, t.id, $3[(t.o::int4 - 1) * $4 + 1 : t.o::int4 * $4] "
		"FROM unnest($2::int8[]) WITH ORDINALITY AS t(id, o)" :
		"INSERT INTO rerank.user_factors (model_id, user_id, factors) "
		"SELECT $1, t.id, $3[(t.o::int4 - 1) * $4 + 1 : t.o::int4 * $4] "
		"FROM unnest($2::int8[]) WITH ORDINALITY AS t(id, o)";
	Oid			types[4] = {INT4OID, INT8ARRAYOID, FLOAT4ARRAYOID, INT4OID};

	SpiConnect();
	for (int start = 0; start < n; start += batch)
	{
		int			m = Min(batch, n - start);
		Datum		values[4];

		values[0] = Int32GetDatum(model_id);
		values[1] = PointerGetDatum(BuildInt64Array(ids + start, m));
		values[2] = PointerGetDatum(BuildVector(vectors + (size_t) start * k, m * k));
		values[3] = Int32GetDatum(k);
		Execute(sql, 4, types, values, SPI_OK_INSERT);
		pfree(DatumGetPointer(values[1]));
		pfree(DatumGetPointer(values[2]));
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
}

/*
 * Writes one row per id of row_ids[0..rows): row r's list is entries
 * [offsets[r], offsets[r + 1]), as the ids index_ids[indices[e]] and the
 * floats values[e].  sql inserts from $1 model_id, $2 the row ids, $3 the
 * lists' ids and $4 their floats (concatenated), $5 and $6 each row's bounds
 * in $3 and $4.  Batches of whole rows, up to WRITE_BATCH_ELEMENTS entries
 * (at least one row).
 */
static void
WriteLists(const char *sql, int32 model_id, const int64 *row_ids, int rows,
		   const int64 *offsets, const int32 *indices, const int64 *index_ids,
		   const float *values)
{
	Oid			types[6] = {INT4OID, INT8ARRAYOID, INT8ARRAYOID, FLOAT4ARRAYOID,
	INT4ARRAYOID, INT4ARRAYOID};
	int			start = 0;

	SpiConnect();
	while (start < rows)
	{
		int			end = start;
		int64		e0 = offsets[start];
		int64		count;
		int64	   *ids;
		Datum		args[6];
		Datum	   *lo,
				   *hi;

		while (end < rows &&
			   (end == start || offsets[end + 1] - e0 <= WRITE_BATCH_ELEMENTS))
			end++;
		count = offsets[end] - e0;
		ids = palloc_extended(sizeof(int64) * Max(count, 1), MCXT_ALLOC_HUGE);
		for (int64 e = 0; e < count; e++)
			ids[e] = index_ids[indices[e0 + e]];
		lo = palloc(sizeof(Datum) * (end - start));
		hi = palloc(sizeof(Datum) * (end - start));
		for (int r = start; r < end; r++)
		{
			lo[r - start] = Int32GetDatum((int32) (offsets[r] - e0 + 1));
			hi[r - start] = Int32GetDatum((int32) (offsets[r + 1] - e0));
		}
		args[0] = Int32GetDatum(model_id);
		args[1] = PointerGetDatum(BuildInt64Array(row_ids + start, end - start));
		args[2] = PointerGetDatum(BuildInt64Array(ids, (int) count));
		args[3] = PointerGetDatum(BuildVector(values + e0, (int) count));
		args[4] = PointerGetDatum(construct_array(lo, end - start, INT4OID, 4, true, TYPALIGN_INT));
		args[5] = PointerGetDatum(construct_array(hi, end - start, INT4OID, 4, true, TYPALIGN_INT));
		Execute(sql, 6, types, args, SPI_OK_INSERT);
		pfree(ids);
		start = end;
		CHECK_FOR_INTERRUPTS();
	}
	SPI_finish();
}

void
WriteInteractions(int32 model_id, const int64 *user_ids, const AlsCsr *by_user,
				  const int64 *item_ids)
{
	WriteLists("INSERT INTO rerank.model_interactions (model_id, user_id, item_ids, weights) "
			   "SELECT $1, t.id, $3[t.lo:t.hi], $4[t.lo:t.hi] "
			   "FROM unnest($2::int8[], $5::int4[], $6::int4[]) AS t(id, lo, hi)",
			   model_id, user_ids, by_user->rows, by_user->indptr,
			   by_user->indices, item_ids, by_user->weights);
}

void
WriteNeighbors(int32 model_id, bool of_users, const int64 *ids, int n,
			   const int64 *offsets, const int32 *neighbors,
			   const float *similarities)
{
	/* the two tables differ in their names only (constants, not input) */
	WriteLists(psprintf("INSERT INTO rerank.%s (model_id, %s, neighbor_ids, similarities) "
						"SELECT $1, t.id, $3[t.lo:t.hi], $4[t.lo:t.hi] "
						"FROM unnest($2::int8[], $5::int4[], $6::int4[]) AS t(id, lo, hi) "
						"WHERE t.hi >= t.lo",
						of_users ? "user_neighbors" : "item_neighbors",
						of_users ? "user_id" : "item_id"),
			   model_id, ids, n, offsets, neighbors, ids, similarities);
}

void
FinishModelRow(int32 model_id, const float *gram, int k,
			   const char *metrics_json, double seconds)
{
	Oid			types[4] = {INT4OID, FLOAT4ARRAYOID, TEXTOID, FLOAT8OID};
	Datum		values[4];
	char		nulls[4] = {' ', gram ? ' ' : 'n', ' ', ' '};
	int			ret;

	SpiConnect();
	values[0] = Int32GetDatum(model_id);
	values[1] = gram ? PointerGetDatum(BuildVector(gram, k * k)) : (Datum) 0;
	values[2] = CStringGetTextDatum(metrics_json);
	values[3] = Float8GetDatum(seconds);
	ret = SPI_execute_with_args("UPDATE rerank.models SET gram = $2, metrics = $3::jsonb, "
								"trained_at = now(), training_seconds = $4 "
								"WHERE model_id = $1", 4, types, values, nulls, false, 0);
	if (ret != SPI_OK_UPDATE)
		elog(ERROR, "model update failed: %s", SPI_result_code_string(ret));
	SPI_finish();
}

void
ActivateModelByName(const char *name)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};

	SpiConnect();
	Execute("SELECT rerank.activate_model($1)", 1, types, values, SPI_OK_SELECT);
	SPI_finish();
}
