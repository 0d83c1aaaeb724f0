/*
 * serve.c
 *	  What the serving functions share: the blend settings (GUCs), the
 *	  per-call look-up of a user's vector and features (and the recency
 *	  profile of the recent items), and the look-up of item categories with
 *	  the user's affinity to each.
 *
 * The user's vector and features come from model/user_features.c (two
 * primary key look-ups, or one query).  The category look-up over the
 * category cache's budget is an SPI query with a kept plan, which passes
 * every value as a parameter and schema-qualifies every operator.
 */
#include "postgres.h"

#include <math.h>

#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "serve/serve.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/*
 * The blend weight settings rerank.<name>, in the order of the terms
 * (core/rank.h): the defaults of the weight arguments of the same names.
 */
static const struct
{
	const char *name;
	const char *description;
	double		boot;
}			weight_settings[RANK_NTERMS] = {
	{"model_weight", "Default weight of the model score x_u·y_i + b_i in rerank().", 1.0},
	{"recent_weight", "Default weight of the similarity to the user's recent items in rerank().", 0.2},
	{"position_weight", "Default weight of the upstream position 1/log2(1 + position) in rerank().", 0.1},
	{"category_weight", "Default weight of the user's category affinity in rerank().", 0.1}
};

static double weight_values[RANK_NTERMS];

double		rerank_recent_decay = 0.8;
int			rerank_recent_items = 20;
int			rerank_diversity_depth = 100;

/* Registers the serving settings; called by _PG_init. */
void
ServeInit(void)
{
	for (int t = 0; t < RANK_NTERMS; t++)
	{
		char		name[NAMEDATALEN];

		/* guc.c keeps a copy of the name */
		snprintf(name, sizeof(name), "rerank.%s", weight_settings[t].name);
		DefineCustomRealVariable(name, weight_settings[t].description,
								 NULL, &weight_values[t], weight_settings[t].boot,
								 -1e6, 1e6, PGC_USERSET, 0, NULL, NULL, NULL);
	}
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
	for (int t = 0; t < RANK_NTERMS; t++)
	{
		if (PG_ARGISNULL(first_arg + t))
			weights->w[t] = weight_values[t];
		else
		{
			weights->w[t] = PG_GETARG_FLOAT8(first_arg + t);
			CheckFiniteArgument(weights->w[t], weight_settings[t].name);
		}
	}
}

/* ---- the user ---- */

/* The vectors of the user's recent items that the recent term uses. */
const float **
RecentVectors(const CachedModel *model, const ServeUser *user, int *nrecent)
{
	const float **recent;

	*nrecent = Min(user->features.nrecent, rerank_recent_items);
	recent = palloc(sizeof(float *) * Max(*nrecent, 1));
	ModelItemVectors(model, user->features.recent_items, *nrecent, recent, NULL);
	return recent;
}

/* The recency profile of the recent items' vectors; NULL when there is none. */
const float *
RecentProfile(const CachedModel *model, const float **recent, int nrecent)
{
	int			dims = model->dimensions;
	float	   *profile = palloc(sizeof(float) * dims);
	double	   *work = palloc(sizeof(double) * dims);

	return RankProfile(recent, nrecent, rerank_recent_decay, dims, profile, work) ?
		profile : NULL;
}

/* Reads the user's vector and features; see serve.h. */
void
LoadUserState(const CachedModel *model, int64 user_id, ServeUser *state)
{
	memset(state, 0, sizeof(ServeUser));
	LoadUserFeatures(model, user_id, &state->features, &state->vector);
}

/* ---- categories ---- */

static SPIPlanPtr category_plan = NULL;

static int	LoadCategoriesByQuery(const int64 *item_ids, int n, const Jsonb *weights,
								  int32 *categories, double **affinity);
static double *CachedCategoryAffinity(const Jsonb *weights, int ncategories);

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

	*affinity = NULL;
	if (n == 0)
		return 0;
	global = palloc(sizeof(int32) * n);
	if (CategoryCacheLookup(item_ids, n, global))
		return CategoriesFromNumbers(global, n, weights, categories, affinity);
	return LoadCategoriesByQuery(item_ids, n, weights, categories, affinity);
}

/* LoadCategories from the category cache's numbers; see serve.h. */
int
CategoriesFromNumbers(const int32 *global, int n, const Jsonb *weights,
					  int32 *categories, double **affinity)
{
	int			ncategories = CategoryRenumber(global, n, categories);

	*affinity = NULL;
	if (weights != NULL && ncategories > 0)
		*affinity = CachedCategoryAffinity(weights, ncategories);
	return ncategories;
}

/*
 * The user's affinity to each local category of CategoryRenumber's last
 * call, or NULL when the user has no positive weight: one pass over the
 * user's weights, each name found in the category cache, rather than a
 * look-up in the weights per category.  The same values as
 * CategoryAffinity.
 */
static double *
CachedCategoryAffinity(const Jsonb *weights, int ncategories)
{
	int			npairs = JB_ROOT_COUNT(weights);
	int32	   *locals = palloc(sizeof(int32) * Max(npairs, 1));
	double	   *values = palloc(sizeof(double) * Max(npairs, 1));
	int			m = 0;
	int32		local = -1;
	double		max = 0.0;
	double	   *aff;
	JsonbIterator *it = JsonbIteratorInit((JsonbContainer *) &weights->root);
	JsonbValue	value;
	JsonbIteratorToken token;

	while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE)
	{
		double		w;

		if (token == WJB_KEY)
			local = CategoryLocalNumber(CategoryFind(value.val.string.val,
													 value.val.string.len));
		else if (token == WJB_VALUE && JsonbNumber(&value, &w))
		{
			if (w > max)
				max = w;
			if (local >= 0 && w > 0.0 && m < npairs)
			{
				locals[m] = local;
				values[m] = w;
				m++;
			}
		}
	}
	if (max <= 0.0)
		return NULL;
	aff = palloc0(sizeof(double) * ncategories);
	for (int j = 0; j < m; j++)
		aff[locals[j]] = Min(values[j] / max, 1.0);
	return aff;
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

	SpiConnect();
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
