/*
 * categories.c
 *	  The categories of a call's items, numbered densely, and the user's
 *	  affinity to each (see categories.h).
 *
 * What is read here: the items' category numbers (the category cache, or
 * one SPI query with a kept plan when the categories do not fit in its
 * budget) and the user's category weights (a jsonb map from name to
 * number).  What is computed from them, the affinity min(w / max w, 1), is
 * the core's (RankCategoryAffinity), the same for both ways of reading.
 */
#include "postgres.h"

#include <math.h>

#include "cache/category_cache.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "core/key_values.h"
#include "core/rank.h"
#include "miscadmin.h"
#include "serve/categories.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

/* The local category number of a name, or -1. */
typedef int32 (*CategoryNumberFn) (const char *name, int length, void *arg);

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

/*
 * The user's affinity to each of ncategories local categories, or NULL
 * when the user has no positive weight: the weights' (category, number)
 * pairs, numbers that are not finite left out, handed to the core.
 */
static double *
UserAffinity(const Jsonb *weights, int ncategories, CategoryNumberFn number,
			 void *arg)
{
	int			npairs = JB_ROOT_COUNT(weights);
	int32	   *pair_categories = palloc(sizeof(int32) * Max(npairs, 1));
	double	   *pair_weights = palloc(sizeof(double) * Max(npairs, 1));
	int			m = 0;
	int32		category = -1;
	double	   *affinity = palloc(sizeof(double) * Max(ncategories, 1));
	JsonbIterator *it = JsonbIteratorInit((JsonbContainer *) &weights->root);
	JsonbValue	value;
	JsonbIteratorToken token;

	while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE)
	{
		double		w;

		if (token == WJB_KEY)
			category = number(value.val.string.val, value.val.string.len, arg);
		else if (token == WJB_VALUE && JsonbNumber(&value, &w) && m < npairs)
		{
			pair_categories[m] = category;
			pair_weights[m] = w;
			m++;
		}
	}
	if (!RankCategoryAffinity(pair_categories, pair_weights, m, ncategories,
							  affinity))
		return NULL;
	return affinity;
}

/* CategoryNumberFn of the category cache: its number, renumbered locally. */
static int32
CachedCategoryNumber(const char *name, int length, void *arg)
{
	return CategoryLocalNumber(CategoryFind(name, length));
}

/* LoadCategories from the category cache's numbers; see categories.h. */
int
CategoriesFromNumbers(const int32 *global, int n, const Jsonb *weights,
					  int32 *categories, double **affinity)
{
	int			ncategories = CategoryRenumber(global, n, categories);

	*affinity = NULL;
	if (weights != NULL && ncategories > 0)
		*affinity = UserAffinity(weights, ncategories, CachedCategoryNumber, NULL);
	return ncategories;
}

/* The names of the categories a query found, numbered in byte order. */
typedef struct QueriedNames
{
	int			n;
	const char **names;			/* not NUL-terminated: see lengths */
	int		   *lengths;
} QueriedNames;

/* CategoryNumberFn over queried names: their number, or -1. */
static int32
QueriedCategoryNumber(const char *name, int length, void *arg)
{
	const QueriedNames *queried = arg;

	return SortedKeyFind(queried->names, queried->lengths, queried->n, name,
						 length);
}

static SPIPlanPtr category_plan = NULL;

/* LoadCategories with a query, for categories over the cache's budget. */
static int
LoadCategoriesByQuery(const int64 *item_ids, int n, const Jsonb *weights,
					  int32 *categories, double **affinity)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[1] = {INT8ARRAYOID};
	Datum		args[1];
	QueriedNames queried = {0, NULL, NULL};
	text	   *previous = NULL;

	for (int i = 0; i < n; i++)
		categories[i] = -1;
	*affinity = NULL;
	if (n == 0)
		return 0;

	/* the ids as an int8[] built straight from the C array */
	args[0] = PointerGetDatum(BuildInt64Array(item_ids, n));

	SpiConnect();
	ExecuteKeptPlan(&category_plan,
					"SELECT c.ord, i.category"
					"  FROM pg_catalog.unnest($1) WITH ORDINALITY AS c(id, ord)"
					"  JOIN rerank.items i ON i.item_id OPERATOR(pg_catalog.=) c.id"
					" WHERE i.category IS NOT NULL"
					" ORDER BY i.category COLLATE pg_catalog.\"C\"",
					1, argtypes, args, true, 0, SPI_OK_SELECT);
	queried.names = MemoryContextAlloc(caller, sizeof(char *) * Max(SPI_processed, 1));
	queried.lengths = MemoryContextAlloc(caller, sizeof(int) * Max(SPI_processed, 1));

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
			queried.names[queried.n] = VARDATA_ANY(name);
			queried.lengths[queried.n] = VARSIZE_ANY_EXHDR(name);
			queried.n++;
			previous = name;
		}
		categories[ord - 1] = queried.n - 1;
	}
	if (weights != NULL && queried.n > 0)
	{
		MemoryContext spi = MemoryContextSwitchTo(caller);

		*affinity = UserAffinity(weights, queried.n, QueriedCategoryNumber, &queried);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return queried.n;
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
