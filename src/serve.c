/*
 * serve.c
 *	  What the serving functions share: the blend settings (GUCs), the
 *	  per-call look-up of a user's vector and features, and the look-up of
 *	  item categories with the user's affinity to each.
 *
 * Both look-ups are SPI queries with plans prepared once per backend and
 * kept (SPI_keepplan), with every value passed as a parameter and every
 * operator schema-qualified.  The user's vector and features come from one
 * query: a user costs one executor run per call.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "category_cache.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "rerank.h"
#include "serve.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"

double		rerank_model_weight = 1.0;
double		rerank_recent_weight = 0.2;
double		rerank_position_weight = 0.1;
double		rerank_category_weight = 0.1;
double		rerank_recent_decay = 0.8;
int			rerank_recent_items = 20;
int			rerank_diversity_depth = 100;

/* Registers the serving settings; called by _PG_init. */
void
ServeInit(void)
{
	DefineCustomRealVariable("rerank.model_weight",
							 "Default weight of the model score x_u·y_i + b_i in rerank().",
							 NULL, &rerank_model_weight, 1.0, -1e6, 1e6,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("rerank.recent_weight",
							 "Default weight of the similarity to the user's recent items in rerank().",
							 NULL, &rerank_recent_weight, 0.2, -1e6, 1e6,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("rerank.position_weight",
							 "Default weight of the upstream position 1/log2(1 + position) in rerank().",
							 NULL, &rerank_position_weight, 0.1, -1e6, 1e6,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("rerank.category_weight",
							 "Default weight of the user's category affinity in rerank().",
							 NULL, &rerank_category_weight, 0.1, -1e6, 1e6,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("rerank.recent_decay",
							 "Recency decay of the recent-items similarity: the j-th most recent item weighs decay^j.",
							 NULL, &rerank_recent_decay, 0.8, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("rerank.recent_items",
							"How many of the user's most recent items the recent-items similarity uses.",
							NULL, &rerank_recent_items, 20, 0, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("rerank.diversity_depth",
							"How many places of the result MMR diversity chooses; the rest follow by score.",
							NULL, &rerank_diversity_depth, 100, 1, RERANK_MAX_CANDIDATES,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/* CHECK_FOR_INTERRUPTS as a function the core can call. */
void
ServeCheckInterrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* Raises an error for a NaN or infinite argument. */
void
CheckFiniteArgument(double value, const char *name)
{
	if (!isfinite(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", name)));
}

/*
 * The blend weights: the four arguments model_weight, recent_weight,
 * position_weight, category_weight from first_arg on, the settings where
 * an argument is NULL.
 */
void
ServeWeights(FunctionCallInfo fcinfo, int first_arg, RankWeights *weights)
{
	static const char *const names[RANK_NTERMS] = {
		"model_weight", "recent_weight", "position_weight", "category_weight"
	};
	const double defaults[RANK_NTERMS] = {
		rerank_model_weight, rerank_recent_weight,
		rerank_position_weight, rerank_category_weight
	};

	for (int t = 0; t < RANK_NTERMS; t++)
	{
		if (PG_ARGISNULL(first_arg + t))
			weights->w[t] = defaults[t];
		else
		{
			weights->w[t] = PG_GETARG_FLOAT8(first_arg + t);
			CheckFiniteArgument(weights->w[t], names[t]);
		}
	}
}

/* ---- the user ---- */

static SPIPlanPtr user_plan = NULL;

/* Elements of a one-dimensional array column, NULL elements flagged. */
static int
ColumnElements(HeapTuple tuple, TupleDesc desc, int column, Oid elemtype,
			   Datum **values, bool **nulls)
{
	bool		isnull;
	Datum		datum = SPI_getbinval(tuple, desc, column, &isnull);
	ArrayType  *array;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			n;

	if (isnull)
		return 0;
	array = DatumGetArrayTypeP(datum);
	if (ARR_ELEMTYPE(array) != elemtype)
		elog(ERROR, "unexpected element type %u in user features", ARR_ELEMTYPE(array));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(array, elemtype, typlen, typbyval, typalign,
					  values, nulls, &n);
	return n;
}

/* Reads the user's vector and features; see serve.h. */
void
LoadUserState(const CachedModel *model, int64 user_id, UserState *state)
{
	MemoryContext caller = CurrentMemoryContext;
	int			dims = model != NULL ? model->dimensions : 0;
	Oid			argtypes[2] = {INT4OID, INT8OID};
	Datum		args[2];
	SPIPlanPtr	plan;
	int			ret;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		datum;
	Datum	   *values;
	bool	   *nulls;
	int			n;

	memset(state, 0, sizeof(UserState));
	/* model_id 0 matches no row (model ids are positive) */
	args[0] = Int32GetDatum(dims > 0 ? model->model_id : 0);
	args[1] = Int64GetDatum(user_id);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = KeptPlan(&user_plan,
					"SELECT (SELECT f.factors FROM rerank.user_factors f"
					"         WHERE f.model_id OPERATOR(pg_catalog.=) $1"
					"           AND f.user_id OPERATOR(pg_catalog.=) $2),"
					"       u.recent_items, u.recent_weights,"
					"       u.purchased_items, u.category_weights"
					"  FROM (SELECT) AS one"
					"  LEFT JOIN rerank.user_features u"
					"         ON u.user_id OPERATOR(pg_catalog.=) $2",
					2, argtypes);
	ret = SPI_execute_plan(plan, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "user look-up failed: %s", SPI_result_code_string(ret));
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	datum = SPI_getbinval(tuple, desc, 1, &isnull);
	if (!isnull && dims > 0)
	{
		ArrayType  *factors = DatumGetArrayTypeP(datum);
		int			length = VectorArgLength(factors, "user vector");

		if (length != dims)
			elog(ERROR, "vector of user " INT64_FORMAT " has %d dimensions, model \"%s\" %d",
				 user_id, length, model->name, dims);
		state->vector = MemoryContextAlloc(caller, sizeof(float) * dims);
		memcpy(state->vector, VECTOR_DATA(factors), sizeof(float) * dims);
	}

	/* recent history: pairs of item and weight, NULLs skipped */
	n = ColumnElements(tuple, desc, 2, INT8OID, &values, &nulls);
	if (n > 0)
	{
		Datum	   *wvalues;
		bool	   *wnulls;
		int			nw = ColumnElements(tuple, desc, 3, FLOAT4OID, &wvalues, &wnulls);

		state->recent_items = MemoryContextAlloc(caller, sizeof(int64) * n);
		state->recent_weights = MemoryContextAlloc(caller, sizeof(float) * n);
		for (int i = 0; i < n; i++)
		{
			if (nulls[i])
				continue;
			state->recent_items[state->nrecent] = DatumGetInt64(values[i]);
			state->recent_weights[state->nrecent] =
				(i < nw && !wnulls[i]) ? DatumGetFloat4(wvalues[i]) : 0.0f;
			state->nrecent++;
		}
	}

	n = ColumnElements(tuple, desc, 4, INT8OID, &values, &nulls);
	if (n > 0)
	{
		state->purchased_items = MemoryContextAlloc(caller, sizeof(int64) * n);
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				state->purchased_items[state->npurchased++] = DatumGetInt64(values[i]);
	}

	datum = SPI_getbinval(tuple, desc, 5, &isnull);
	if (!isnull)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);
		Jsonb	   *weights = DatumGetJsonbPCopy(datum);

		MemoryContextSwitchTo(spi);
		if (JB_ROOT_IS_OBJECT(weights) && JB_ROOT_COUNT(weights) > 0)
			state->category_weights = weights;
	}
	SPI_finish();
}

/* ---- categories ---- */

static SPIPlanPtr category_plan = NULL;

static int	LoadCategoriesByQuery(const int64 *item_ids, int n, const Jsonb *weights,
								  int32 *categories, double **affinity);

/* A JSON number as a double; false for anything else. */
static bool
JsonbNumber(const JsonbValue *value, double *result)
{
	if (value->type != jbvNumeric)
		return false;
	*result = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
												 NumericGetDatum(value->val.numeric)));
	return isfinite(*result);
}

/* The largest positive weight of the user's categories, or 0. */
static double
MaxCategoryWeight(const Jsonb *weights)
{
	JsonbIterator *it = JsonbIteratorInit((JsonbContainer *) &weights->root);
	JsonbValue	value;
	JsonbIteratorToken token;
	double		max = 0.0;

	while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE)
	{
		double		w;

		if (token == WJB_VALUE && JsonbNumber(&value, &w) && w > max)
			max = w;
	}
	return max;
}

/* The user's affinity to one category, in [0, 1]. */
static double
CategoryAffinity(const Jsonb *weights, double max, const char *name, int length)
{
	JsonbValue	buffer;
	JsonbValue *value;
	double		w;

	value = getKeyJsonValueFromContainer((JsonbContainer *) &weights->root,
										 name, length, &buffer);
	if (value == NULL || !JsonbNumber(value, &w) || w <= 0.0)
		return 0.0;
	return Min(w / max, 1.0);
}

/*
 * Categories of items as dense numbers, and the user's affinity to each:
 * from the category cache, or by a query when the categories do not fit in
 * its budget.
 */
int
LoadCategories(const int64 *item_ids, int n, const Jsonb *weights,
			   int32 *categories, double **affinity)
{
	int32	   *global;
	double		max;

	*affinity = NULL;
	if (n == 0)
		return 0;
	global = palloc(sizeof(int32) * n);
	if (CategoryCacheLookup(item_ids, n, global))
	{
		int32	   *names = palloc(sizeof(int32) * n);
		int			ncategories = CategoryRenumber(global, n, categories, names);

		max = weights != NULL ? MaxCategoryWeight(weights) : 0.0;
		if (max > 0.0 && ncategories > 0)
		{
			double	   *aff = palloc(sizeof(double) * ncategories);

			for (int c = 0; c < ncategories; c++)
			{
				int			length;
				const char *name = CategoryName(names[c], &length);

				aff[c] = CategoryAffinity(weights, max, name, length);
			}
			*affinity = aff;
		}
		return ncategories;
	}
	return LoadCategoriesByQuery(item_ids, n, weights, categories, affinity);
}

/* LoadCategories with a query, for categories over the cache's budget. */
static int
LoadCategoriesByQuery(const int64 *item_ids, int n, const Jsonb *weights,
					  int32 *categories, double **affinity)
{
	MemoryContext caller = CurrentMemoryContext;
	double		max = weights != NULL ? MaxCategoryWeight(weights) : 0.0;
	double	   *aff = NULL;
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		args[1];
	SPIPlanPtr	plan;
	int			ret;
	int			ncategories = 0;
	text	   *previous = NULL;

	for (int i = 0; i < n; i++)
		categories[i] = -1;
	*affinity = NULL;
	if (n == 0)
		return 0;

	/* the ids as an int8[] built straight from the C array */
	args[0] = PointerGetDatum(BuildInt64Array(item_ids, n));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	plan = KeptPlan(&category_plan,
					"SELECT c.ord, i.category"
					"  FROM pg_catalog.unnest($1) WITH ORDINALITY AS c(id, ord)"
					"  JOIN rerank.items i ON i.item_id OPERATOR(pg_catalog.=) c.id"
					" WHERE i.category IS NOT NULL"
					" ORDER BY i.category COLLATE pg_catalog.\"C\"",
					1, argtypes);
	ret = SPI_execute_plan(plan, args, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "category look-up failed: %s", SPI_result_code_string(ret));
	if (max > 0.0 && SPI_processed > 0)
		aff = MemoryContextAlloc(caller, sizeof(double) * SPI_processed);

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		bool		isnull;
		int64		ord = DatumGetInt64(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 1, &isnull));
		text	   *name = DatumGetTextPP(SPI_getbinval(tuple, SPI_tuptable->tupdesc, 2, &isnull));

		if ((r & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
		if (ord < 1 || ord > n)
			elog(ERROR, "category look-up returned position " INT64_FORMAT, ord);
		/* rows come sorted by category: a new name is a new number */
		if (previous == NULL ||
			VARSIZE_ANY_EXHDR(previous) != VARSIZE_ANY_EXHDR(name) ||
			memcmp(VARDATA_ANY(previous), VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name)) != 0)
		{
			if (aff != NULL)
				aff[ncategories] = CategoryAffinity(weights, max, VARDATA_ANY(name),
													VARSIZE_ANY_EXHDR(name));
			ncategories++;
			previous = name;
		}
		categories[ord - 1] = ncategories - 1;
	}
	SPI_finish();
	*affinity = aff;
	return ncategories;
}
