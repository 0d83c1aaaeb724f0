/*
 * serve.c
 *	  What the serving functions share: the blend settings (GUCs), the
 *	  per-call look-up of a user's vector and features (and the recency
 *	  profile of the recent items), and the look-up of item categories with
 *	  the user's affinity to each.
 *
 * The user's vector and features are read by primary key straight from
 * the two tables' indexes under the statement's snapshot, with the checks
 * the executor would make (SELECT privilege, no row-level security; else
 * the same row comes from one SPI query with a kept plan).  The category
 * look-up over the category cache's budget is an SPI query with a kept
 * plan.  Queries pass every value as a parameter and schema-qualify every
 * operator.
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "serve/serve.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"

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

	*nrecent = Min(user->nrecent, rerank_recent_items);
	recent = palloc(sizeof(float *) * Max(*nrecent, 1));
	ModelItemVectors(model, user->recent_items, *nrecent, recent, NULL);
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

/* The columns of the user's row that serving reads, in this order. */
enum
{
	USER_FACTORS = 0,			/* user_factors.factors */
	USER_RECENT_ITEMS,			/* user_features.recent_items ... */
	USER_RECENT_WEIGHTS,
	USER_PURCHASED_ITEMS,
	USER_CATEGORY_WEIGHTS,
	USER_NCOLUMNS
};

static const char *const user_feature_columns[USER_NCOLUMNS] = {
	NULL, "recent_items", "recent_weights", "purchased_items", "category_weights"
};
static const Oid user_feature_types[USER_NCOLUMNS] = {
	InvalidOid, INT8ARRAYOID, FLOAT4ARRAYOID, INT8ARRAYOID, JSONBOID
};

static SPIPlanPtr user_plan = NULL;

/*
 * Elements of a one-dimensional array datum (NULL: none), NULL elements
 * flagged (nulls NULL when there is none).  The values point into the
 * array, which is detoasted into the current memory context if need be.
 */
static int
ArrayElements(Datum datum, bool isnull, Oid elemtype, char **data, bits8 **nulls)
{
	ArrayType  *array;

	*data = NULL;
	*nulls = NULL;
	if (isnull)
		return 0;
	array = DatumGetArrayTypeP(datum);
	if (ARR_ELEMTYPE(array) != elemtype)
		elog(ERROR, "unexpected element type %u in user features", ARR_ELEMTYPE(array));
	if (ARR_NDIM(array) == 0)
		return 0;
	*data = ARR_DATA_PTR(array);
	*nulls = ARR_NULLBITMAP(array);
	return ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array));
}

/* Whether element i of an array is not NULL. */
#define ELEMENT_PRESENT(nulls, i) ((nulls) == NULL || ((nulls)[(i) / 8] & (1 << ((i) % 8))))

/*
 * Fills state from the user's row (values and nulls in the order of the
 * enum above), copying everything into the current memory context: the
 * datums may point into a shared buffer or SPI's memory.
 */
static void
UserStateFill(const CachedModel *model, int64 user_id, const Datum *values,
			  const bool *nulls, ServeUser *state)
{
	int			dims = model != NULL ? model->dimensions : 0;
	char	   *data;
	bits8	   *bitmap;
	int			n;

	if (!nulls[USER_FACTORS] && dims > 0)
	{
		ArrayType  *factors = DatumGetArrayTypeP(values[USER_FACTORS]);
		int			length = VectorArgLength(factors, "user vector");

		if (length != dims)
			elog(ERROR, "vector of user " INT64_FORMAT " has %d dimensions, model \"%s\" %d",
				 user_id, length, model->name, dims);
		state->vector = palloc(sizeof(float) * dims);
		memcpy(state->vector, VECTOR_DATA(factors), sizeof(float) * dims);
	}

	/* recent history: pairs of item and weight, NULL items skipped */
	n = ArrayElements(values[USER_RECENT_ITEMS], nulls[USER_RECENT_ITEMS],
					  INT8OID, &data, &bitmap);
	if (n > 0)
	{
		const int64 *items = (const int64 *) data;
		char	   *wdata;
		bits8	   *wbitmap;
		int			nw = ArrayElements(values[USER_RECENT_WEIGHTS],
									   nulls[USER_RECENT_WEIGHTS],
									   FLOAT4OID, &wdata, &wbitmap);
		const float4 *weights = (const float4 *) wdata;
		int			w = 0;		/* data index of weight i */

		state->recent_items = palloc(sizeof(int64) * n);
		state->recent_weights = palloc(sizeof(float) * n);
		for (int i = 0, k = 0; i < n; i++)
		{
			float		weight = 0.0f;

			if (i < nw)
			{
				if (ELEMENT_PRESENT(wbitmap, i))
					weight = weights[w++];
			}
			if (!ELEMENT_PRESENT(bitmap, i))
				continue;
			state->recent_items[state->nrecent] = items[k++];
			state->recent_weights[state->nrecent] = weight;
			state->nrecent++;
		}
	}

	n = ArrayElements(values[USER_PURCHASED_ITEMS], nulls[USER_PURCHASED_ITEMS],
					  INT8OID, &data, &bitmap);
	if (n > 0)
	{
		const int64 *items = (const int64 *) data;

		state->purchased_items = palloc(sizeof(int64) * n);
		for (int i = 0, k = 0; i < n; i++)
			if (ELEMENT_PRESENT(bitmap, i))
				state->purchased_items[state->npurchased++] = items[k++];
	}

	if (!nulls[USER_CATEGORY_WEIGHTS])
	{
		Jsonb	   *weights = DatumGetJsonbPCopy(values[USER_CATEGORY_WEIGHTS]);

		if (JB_ROOT_IS_OBJECT(weights) && JB_ROOT_COUNT(weights) > 0)
			state->category_weights = weights;
	}
}

/* LoadUserState with one query (kept plan) through SPI. */
static void
LoadUserStateByQuery(const CachedModel *model, int64 user_id, ServeUser *state)
{
	MemoryContext caller = CurrentMemoryContext;
	int			dims = model != NULL ? model->dimensions : 0;
	Oid			argtypes[2] = {INT4OID, INT8OID};
	Datum		args[2];
	SPIPlanPtr	plan;
	int			ret;
	HeapTuple	tuple;
	TupleDesc	desc;
	Datum		values[USER_NCOLUMNS];
	bool		nulls[USER_NCOLUMNS];

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
	for (int c = 0; c < USER_NCOLUMNS; c++)
		values[c] = SPI_getbinval(tuple, desc, c + 1, &nulls[c]);

	MemoryContextSwitchTo(caller);
	UserStateFill(model, user_id, values, nulls, state);
	SPI_finish();
}

/*
 * A table of the extension opened for a direct read by primary key: the
 * table, its primary key index and the heap attribute numbers of the key
 * columns, checked to be what the install script made.
 */
typedef struct KeyedTable
{
	Relation	heap;
	Relation	index;
	int			nkeys;
	AttrNumber	key_attnums[2];
	RegProcedure key_procs[2];
} KeyedTable;

/*
 * Opens rerank.<name> for a direct read by its primary key (key columns and
 * their types given); false, with nothing left open, when the table cannot
 * be read that way: missing or altered, not readable by the current user as
 * a whole, or under row-level security.  The query path then serves the
 * call, with the executor's checks and errors.
 */
static bool
OpenKeyedTable(Oid nsp, const char *name, int nkeys, const char *const *key_names,
			   const Oid *key_types, KeyedTable *table)
{
	Oid			relid = get_relname_relid(name, nsp);
	Relation	heap;
	Relation	index;
	Oid			indexid;

	if (!OidIsValid(relid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return false;
	heap = table_open(relid, AccessShareLock);
	if (heap->rd_rel->relkind != RELKIND_RELATION || heap->rd_rel->relrowsecurity)
	{
		table_close(heap, AccessShareLock);
		return false;
	}
	indexid = RelationGetPrimaryKeyIndex(heap);
	if (!OidIsValid(indexid))
	{
		table_close(heap, AccessShareLock);
		return false;
	}
	index = index_open(indexid, AccessShareLock);
	if (index->rd_rel->relam != BTREE_AM_OID || !index->rd_index->indisvalid ||
		index->rd_index->indnkeyatts != nkeys)
	{
		index_close(index, AccessShareLock);
		table_close(heap, AccessShareLock);
		return false;
	}
	for (int k = 0; k < nkeys; k++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[k];
		Form_pg_attribute att;

		if (attnum <= 0 || attnum > RelationGetDescr(heap)->natts)
			break;
		att = TupleDescAttr(RelationGetDescr(heap), attnum - 1);
		if (att->attisdropped || strcmp(NameStr(att->attname), key_names[k]) != 0 ||
			att->atttypid != key_types[k] ||
			index->rd_opcintype[k] != key_types[k])
			break;
		table->key_attnums[k] = attnum;
		table->key_procs[k] = key_types[k] == INT4OID ? F_INT4EQ : F_INT8EQ;
		if (k == nkeys - 1)
		{
			table->heap = heap;
			table->index = index;
			table->nkeys = nkeys;
			return true;
		}
	}
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return false;
}

/* The attribute number of a column of the given type, or 0. */
static AttrNumber
ColumnAttnum(Relation heap, const char *name, Oid type)
{
	TupleDesc	desc = RelationGetDescr(heap);

	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->atttypid == type ? att->attnum : 0;
	}
	return 0;
}

/*
 * Reads the row of a keyed table with the given key under the active
 * snapshot into values/nulls (columns by attribute number, 0: not
 * wanted); every column NULL when there is no row.  The slot returned
 * holds the row's buffer: the caller drops it once the values are copied.
 */
static TupleTableSlot *
FetchByKey(KeyedTable *table, const Datum *key, int ncolumns,
		   const AttrNumber *attnums, Datum *values, bool *nulls)
{
	ScanKeyData keys[2];
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(table->heap, NULL);

	for (int k = 0; k < table->nkeys; k++)
		ScanKeyInit(&keys[k], k + 1, BTEqualStrategyNumber,
					table->key_procs[k], key[k]);
	scan = index_beginscan(table->heap, table->index, GetActiveSnapshot(),
						   table->nkeys, 0);
	index_rescan(scan, keys, table->nkeys, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		for (int c = 0; c < ncolumns; c++)
			if (attnums[c] > 0)
				values[c] = slot_getattr(slot, attnums[c], &nulls[c]);
	}
	index_endscan(scan);
	return slot;
}

/* Closes a keyed table; the locks stay until the end of the transaction. */
static void
CloseKeyedTable(KeyedTable *table)
{
	index_close(table->index, NoLock);
	table_close(table->heap, NoLock);
}

/*
 * LoadUserState with two primary key look-ups and no executor: what the
 * query does, at a fraction of the cost (plan revalidation, executor start
 * and end are most of a one-row query).  False, with state untouched, when
 * a table cannot be read this way (OpenKeyedTable).
 */
static bool
LoadUserStateDirect(const CachedModel *model, int64 user_id, ServeUser *state)
{
	static const char *const factors_key[2] = {"model_id", "user_id"};
	static const Oid factors_key_types[2] = {INT4OID, INT8OID};
	static const char *const features_key[1] = {"user_id"};
	static const Oid features_key_types[1] = {INT8OID};
	int			dims = model != NULL ? model->dimensions : 0;
	Oid			nsp;
	KeyedTable	factors;
	KeyedTable	features;
	AttrNumber	attnums[USER_NCOLUMNS];
	Datum		values[USER_NCOLUMNS];
	bool		nulls[USER_NCOLUMNS];
	TupleTableSlot *factors_slot = NULL;
	TupleTableSlot *features_slot;

	if (!ActiveSnapshotSet())
		return false;
	nsp = get_namespace_oid("rerank", true);
	if (!OidIsValid(nsp))
		return false;
	if (!OpenKeyedTable(nsp, "user_features", 1, features_key,
						features_key_types, &features))
		return false;
	memset(attnums, 0, sizeof(attnums));
	for (int c = USER_RECENT_ITEMS; c < USER_NCOLUMNS; c++)
	{
		attnums[c] = ColumnAttnum(features.heap, user_feature_columns[c],
								  user_feature_types[c]);
		if (attnums[c] == 0)
		{
			CloseKeyedTable(&features);
			return false;
		}
	}
	if (dims > 0)
	{
		if (!OpenKeyedTable(nsp, "user_factors", 2, factors_key,
							factors_key_types, &factors))
		{
			CloseKeyedTable(&features);
			return false;
		}
		attnums[USER_FACTORS] = ColumnAttnum(factors.heap, "factors", FLOAT4ARRAYOID);
		if (attnums[USER_FACTORS] == 0)
		{
			CloseKeyedTable(&factors);
			CloseKeyedTable(&features);
			return false;
		}
	}

	for (int c = 0; c < USER_NCOLUMNS; c++)
	{
		values[c] = (Datum) 0;
		nulls[c] = true;
	}
	if (dims > 0)
	{
		Datum		key[2] = {Int32GetDatum(model->model_id), Int64GetDatum(user_id)};

		factors_slot = FetchByKey(&factors, key, 1, &attnums[USER_FACTORS],
								  &values[USER_FACTORS], &nulls[USER_FACTORS]);
	}
	{
		Datum		key[1] = {Int64GetDatum(user_id)};

		features_slot = FetchByKey(&features, key, USER_NCOLUMNS - 1,
								   &attnums[USER_RECENT_ITEMS],
								   &values[USER_RECENT_ITEMS],
								   &nulls[USER_RECENT_ITEMS]);
	}
	UserStateFill(model, user_id, values, nulls, state);

	ExecDropSingleTupleTableSlot(features_slot);
	CloseKeyedTable(&features);
	if (factors_slot != NULL)
	{
		ExecDropSingleTupleTableSlot(factors_slot);
		CloseKeyedTable(&factors);
	}
	return true;
}

/* Reads the user's vector and features; see serve.h. */
void
LoadUserState(const CachedModel *model, int64 user_id, ServeUser *state)
{
	memset(state, 0, sizeof(ServeUser));
	if (!LoadUserStateDirect(model, user_id, state))
		LoadUserStateByQuery(model, user_id, state);
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
