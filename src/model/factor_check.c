/*
 * factor_check.c
 *	  rerank.check_factors(): the BEFORE INSERT OR UPDATE row trigger of
 *	  rerank.item_factors and rerank.user_factors.
 *
 * Imported vectors arrive by plain INSERT or COPY, so the tables themselves
 * must refuse a vector that is not a valid row of its model: wrong number of
 * dimensions, not one-dimensional, NULL elements, NaN or infinity, or a
 * non-finite bias.  The errors name the model and the id.  The last model's
 * name and dimensions are kept (see LookupModel), so a COPY of a whole
 * catalog costs a single lookup.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* Per-statement state: the positions of the columns read. */
typedef struct FactorCheckCache
{
	Oid			relid;
	int			model_attnum;
	int			id_attnum;
	int			factors_attnum;
	int			bias_attnum;	/* 0 when the table has no bias */
} FactorCheckCache;

/* What the checks need of a model. */
typedef struct FactorModel
{
	int32		model_id;		/* -1: none */
	int			dimensions;
	char		name[NAMEDATALEN * 4];
} FactorModel;

/* Column number of a column the trigger needs, or an error. */
static int
RequiredColumn(Relation rel, const char *name)
{
	int			attnum = SPI_fnumber(RelationGetDescr(rel), name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("check_factors: table \"%s\" has no column \"%s\"",
						RelationGetRelationName(rel), name)));
	return attnum;
}

/*
 * The last model looked up, kept for the backend's life: an import checks
 * rows of one model, and the real-time path inserts each new user vector in
 * its own statement.  A model's dimensions never change (rerank.models
 * refuses it); any change of rerank.models (a rename, a drop, the extension
 * created again) clears it through the relcache invalidation that table's
 * statement trigger sends.
 */
static FactorModel last_model = {.model_id = -1};
static Oid	models_relid = InvalidOid;

static void
FactorCheckRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == models_relid)
		last_model.model_id = -1;
}

/* The name and dimensions of a model; NULL when it does not exist. */
static const FactorModel *
LookupModel(int32 model_id)
{
	static SPIPlanPtr plan = NULL;
	static bool callback_registered = false;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	bool		found = false;

	if (last_model.model_id == model_id)
		return &last_model;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(FactorCheckRelcacheCallback, (Datum) 0);
		callback_registered = true;
	}
	models_relid = get_relname_relid("models", get_namespace_oid("rerank", false));

	SpiConnect();
	ExecuteKeptPlan(&plan, "SELECT name, dimensions FROM rerank.models WHERE model_id OPERATOR(pg_catalog.=) $1",
					1, argtypes, args, true, 1, SPI_OK_SELECT);
	if (SPI_processed == 1)
	{
		bool		isnull;
		char	   *name = SPI_getvalue(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 1);
		Datum		dims = SPI_getbinval(SPI_tuptable->vals[0],
										 SPI_tuptable->tupdesc, 2, &isnull);

		strlcpy(last_model.name, name, sizeof(last_model.name));
		last_model.dimensions = isnull ? -1 : DatumGetInt32(dims);
		last_model.model_id = model_id;
		found = true;
	}
	SPI_finish();
	return found ? &last_model : NULL;
}

/* Validates the factors (and bias) of one row against its model. */
static void
CheckFactorRow(FactorCheckCache *cache, HeapTuple tuple, TupleDesc tupdesc,
			   const char *kind)
{
	bool		isnull;
	const FactorModel *model;
	int64		id;
	Datum		datum;
	ArrayType  *factors;
	int			length;
	const float *data;

	datum = heap_getattr(tuple, cache->model_attnum, tupdesc, &isnull);
	if (isnull)
		return;					/* the NOT NULL constraint reports it */
	model = LookupModel(DatumGetInt32(datum));
	if (model == NULL)
		return;					/* the foreign key reports it */

	datum = heap_getattr(tuple, cache->id_attnum, tupdesc, &isnull);
	if (isnull)
		return;					/* the NOT NULL constraint reports it */
	id = DatumGetInt64(datum);

	datum = heap_getattr(tuple, cache->factors_attnum, tupdesc, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("factors of %s " INT64_FORMAT " in model \"%s\" must not be NULL",
						kind, id, model->name)));
	factors = DatumGetArrayTypeP(datum);
	if (ARR_NDIM(factors) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("factors of %s " INT64_FORMAT " in model \"%s\" must be a one-dimensional array",
						kind, id, model->name)));
	if (ARR_HASNULL(factors) && array_contains_nulls(factors))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("factors of %s " INT64_FORMAT " in model \"%s\" contain a NULL element",
						kind, id, model->name)));
	length = ARR_NDIM(factors) == 0 ? 0 : ARR_DIMS(factors)[0];
	if (length != model->dimensions)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("factors of %s " INT64_FORMAT " in model \"%s\" have %d dimensions, expected %d",
						kind, id, model->name, length, model->dimensions)));
	data = VECTOR_DATA(factors);
	for (int i = 0; i < length; i++)
	{
		if (!isfinite(data[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("factors of %s " INT64_FORMAT " in model \"%s\" contain %s",
							kind, id, model->name,
							isnan(data[i]) ? "NaN" : "an infinite value"),
					 errdetail("Element %d is not finite.", i + 1)));
	}

	if (cache->bias_attnum > 0)
	{
		datum = heap_getattr(tuple, cache->bias_attnum, tupdesc, &isnull);
		if (!isnull && !isfinite(DatumGetFloat4(datum)))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("bias of %s " INT64_FORMAT " in model \"%s\" must be finite",
							kind, id, model->name)));
	}
}

PG_FUNCTION_INFO_V1(check_factors);

/*
 * Trigger function: check_factors('item') on rerank.item_factors,
 * check_factors('user') on rerank.user_factors.
 */
Datum
check_factors(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	FactorCheckCache *cache;
	HeapTuple	tuple;
	const char *kind;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_factors: not called by trigger manager")));
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_factors: must be fired BEFORE, FOR EACH ROW")));
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		tuple = trigdata->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		tuple = trigdata->tg_newtuple;
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_factors: must be fired on INSERT or UPDATE")));
	if (trigdata->tg_trigger->tgnargs != 1 ||
		(strcmp(trigdata->tg_trigger->tgargs[0], "item") != 0 &&
		 strcmp(trigdata->tg_trigger->tgargs[0], "user") != 0))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("check_factors: the argument must be 'item' or 'user'")));
	kind = trigdata->tg_trigger->tgargs[0];
	rel = trigdata->tg_relation;

	cache = (FactorCheckCache *) fcinfo->flinfo->fn_extra;
	if (cache == NULL || cache->relid != RelationGetRelid(rel))
	{
		bool		is_item = kind[0] == 'i';

		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									   sizeof(FactorCheckCache));
		cache->relid = RelationGetRelid(rel);
		cache->model_attnum = RequiredColumn(rel, "model_id");
		cache->id_attnum = RequiredColumn(rel, is_item ? "item_id" : "user_id");
		cache->factors_attnum = RequiredColumn(rel, "factors");
		cache->bias_attnum = is_item ? RequiredColumn(rel, "bias") : 0;
		fcinfo->flinfo->fn_extra = cache;
	}

	CheckFactorRow(cache, tuple, RelationGetDescr(rel), kind);
	return PointerGetDatum(tuple);
}
