/*
 * user_features.c
 *	  The one reader of a rerank.user_features row, and the look-up of a
 *	  user's row and vector for serving (see user_features.h for the rule
 *	  for NULLs).
 *
 * The look-up reads the user's two rows by primary key straight from the
 * tables' indexes under the statement's snapshot (model/user_rows.h: the
 * checks the executor would make, SELECT privilege and no row-level
 * security); else the same rows come from one SPI query with a kept plan,
 * which passes every value as a parameter and schema-qualifies every
 * operator.
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/feat_time.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "executor/spi.h"
#include "model/user_features.h"
#include "model/user_rows.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

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
 * Element i of an array read by ArrayElements, as a Datum of a by-value
 * type of elemlen bytes, or false when it is NULL or beyond the end.
 * data_index is the data position of element i (advanced by the caller
 * over the present elements).
 */
static bool
ElementAt(const char *data, const bits8 *nulls, int n, int i, int data_index,
		  int elemlen, Datum *value)
{
	const char *p;

	if (i >= n || !ELEMENT_PRESENT(nulls, i))
		return false;
	p = data + (Size) data_index * elemlen;
	switch (elemlen)
	{
		case 2:
			*value = Int16GetDatum(*(const int16 *) p);
			break;
		case 4:
			*value = Int32GetDatum(*(const int32 *) p);
			break;
		default:
			*value = Int64GetDatum(*(const int64 *) p);
			break;
	}
	return true;
}

/*
 * The per-item columns parallel to recent_items (counts, last times,
 * kinds), read by the rule of user_features.h for the entries kept.
 * kept[i] is the entry of element i of recent_items, or -1 (a NULL item).
 */
static void
ReadHistoryColumns(const Datum *values, const bool *nulls, const int *kept, int n,
				   UserFeatures *features)
{
	static const struct
	{
		UserFeaturesColumn column;
		Oid			elemtype;
		int			elemlen;
	}			columns[3] = {
		{USER_FEATURES_RECENT_COUNTS, INT4OID, 4},
		{USER_FEATURES_RECENT_LAST_AT, TIMESTAMPTZOID, 8},
		{USER_FEATURES_RECENT_KINDS, INT2OID, 2}
	};

	features->recent_counts = palloc(sizeof(int32) * Max(features->nrecent, 1));
	features->recent_last_at = palloc(sizeof(double) * Max(features->nrecent, 1));
	features->recent_kinds = palloc(sizeof(uint32) * Max(features->nrecent, 1));
	for (int e = 0; e < features->nrecent; e++)
	{
		features->recent_counts[e] = 1;
		features->recent_last_at[e] = NAN;
		features->recent_kinds[e] = 0;
	}
	for (int c = 0; c < 3; c++)
	{
		char	   *data;
		bits8	   *bitmap;
		int			m = ArrayElements(values[columns[c].column], nulls[columns[c].column],
									  columns[c].elemtype, &data, &bitmap);

		for (int i = 0, d = 0; i < Min(n, m); i++)
		{
			Datum		value;
			bool		present = ElementAt(data, bitmap, m, i, d, columns[c].elemlen, &value);

			if (present)
				d++;
			if (!present || kept[i] < 0)
				continue;
			switch (c)
			{
				case 0:
					features->recent_counts[kept[i]] = Max(DatumGetInt32(value), 1);
					break;
				case 1:
					/* FeatTimeFromTimestamp reads +-infinity as unknown */
					features->recent_last_at[kept[i]] =
						FeatTimeFromTimestamp(DatumGetTimestampTz(value));
					break;
				default:
					features->recent_kinds[kept[i]] = (uint32) (uint16) DatumGetInt16(value);
					break;
			}
		}
	}
}

/* Reads a row of rerank.user_features; see user_features.h. */
void
UserFeaturesRead(const Datum *values, const bool *nulls, UserFeatures *features)
{
	char	   *data;
	bits8	   *bitmap;
	int			n;

	memset(features, 0, sizeof(UserFeatures));

	/* recent history: pairs of item and weight, NULL items skipped */
	n = ArrayElements(values[USER_FEATURES_RECENT_ITEMS],
					  nulls[USER_FEATURES_RECENT_ITEMS], INT8OID, &data, &bitmap);
	if (n > 0)
	{
		const int64 *items = (const int64 *) data;
		char	   *wdata;
		bits8	   *wbitmap;
		int			nw = ArrayElements(values[USER_FEATURES_RECENT_WEIGHTS],
									   nulls[USER_FEATURES_RECENT_WEIGHTS],
									   FLOAT4OID, &wdata, &wbitmap);
		const float4 *weights = (const float4 *) wdata;
		int			w = 0;		/* data index of weight i */
		int		   *kept = palloc(sizeof(int) * n);

		features->recent_items = palloc(sizeof(int64) * n);
		features->recent_weights = palloc(sizeof(float) * n);
		for (int i = 0, k = 0; i < n; i++)
		{
			float		weight = 0.0f;

			kept[i] = -1;
			if (i < nw)
			{
				if (ELEMENT_PRESENT(wbitmap, i))
					weight = weights[w++];
			}
			if (!ELEMENT_PRESENT(bitmap, i))
				continue;
			kept[i] = features->nrecent;
			features->recent_items[features->nrecent] = items[k++];
			features->recent_weights[features->nrecent] = weight;
			features->nrecent++;
		}
		ReadHistoryColumns(values, nulls, kept, n, features);
		pfree(kept);
	}

	n = ArrayElements(values[USER_FEATURES_PURCHASED_ITEMS],
					  nulls[USER_FEATURES_PURCHASED_ITEMS], INT8OID, &data, &bitmap);
	if (n > 0)
	{
		const int64 *items = (const int64 *) data;

		features->purchased_items = palloc(sizeof(int64) * n);
		for (int i = 0, k = 0; i < n; i++)
			if (ELEMENT_PRESENT(bitmap, i))
				features->purchased_items[features->npurchased++] = items[k++];
	}

	if (!nulls[USER_FEATURES_CATEGORY_WEIGHTS])
	{
		Jsonb	   *weights = DatumGetJsonbPCopy(values[USER_FEATURES_CATEGORY_WEIGHTS]);

		if (JB_ROOT_IS_OBJECT(weights) && JB_ROOT_COUNT(weights) > 0)
			features->category_weights = weights;
	}
	if (!nulls[USER_FEATURES_EVENT_COUNTS])
		features->event_counts = DatumGetJsonbPCopy(values[USER_FEATURES_EVENT_COUNTS]);
	if (!nulls[USER_FEATURES_TOTAL_DWELL_MS])
		features->total_dwell_ms = DatumGetInt64(values[USER_FEATURES_TOTAL_DWELL_MS]);
	if (!nulls[USER_FEATURES_FIRST_EVENT_AT])
	{
		features->has_times = true;
		features->first_event_at = DatumGetTimestampTz(values[USER_FEATURES_FIRST_EVENT_AT]);
		features->last_event_at = nulls[USER_FEATURES_LAST_EVENT_AT] ?
			features->first_event_at :
			DatumGetTimestampTz(values[USER_FEATURES_LAST_EVENT_AT]);
	}
	if (!nulls[USER_FEATURES_SESSION_STARTED_AT])
	{
		features->has_session = true;
		features->session_started_at =
			DatumGetTimestampTz(values[USER_FEATURES_SESSION_STARTED_AT]);
	}
}

/* The columns of user_features that serving reads, with their types. */
static const UserFeaturesColumn served_columns[] = {
	USER_FEATURES_RECENT_ITEMS, USER_FEATURES_RECENT_WEIGHTS,
	USER_FEATURES_PURCHASED_ITEMS, USER_FEATURES_CATEGORY_WEIGHTS,
	USER_FEATURES_RECENT_COUNTS, USER_FEATURES_RECENT_LAST_AT,
	USER_FEATURES_RECENT_KINDS, USER_FEATURES_FIRST_EVENT_AT,
	USER_FEATURES_LAST_EVENT_AT, USER_FEATURES_SESSION_STARTED_AT
};
static const char *const served_column_names[] = {
	"recent_items", "recent_weights", "purchased_items", "category_weights",
	"recent_counts", "recent_last_at", "recent_kinds", "first_event_at",
	"last_event_at", "session_started_at"
};
static const Oid served_column_types[] = {
	INT8ARRAYOID, FLOAT4ARRAYOID, INT8ARRAYOID, JSONBOID,
	INT4ARRAYOID, TIMESTAMPTZARRAYOID, INT2ARRAYOID, TIMESTAMPTZOID,
	TIMESTAMPTZOID, TIMESTAMPTZOID
};

#define NSERVED lengthof(served_columns)

/*
 * The served columns 0.1.0's table has (the first four, with
 * first_event_at and last_event_at read as absent): between the
 * installation of this library and ALTER EXTENSION rerank UPDATE the rest
 * may be missing, and the features that need them are then unknown.
 */
#define NSERVED_010 4

/*
 * The user's vector from a user_factors.factors datum, checked against the
 * model's dimensions, copied; NULL for a NULL datum.
 */
static float *
UserVectorCopy(const CachedModel *model, int64 user_id, Datum value, bool isnull)
{
	ArrayType  *factors;
	int			length;
	float	   *vector;

	if (isnull)
		return NULL;
	factors = DatumGetArrayTypeP(value);
	length = VectorArgLength(factors, "user vector");
	if (length != model->dimensions)
		elog(ERROR, "vector of user " INT64_FORMAT " has %d dimensions, model \"%s\" %d",
			 user_id, length, model->name, model->dimensions);
	vector = palloc(sizeof(float) * length);
	memcpy(vector, VECTOR_DATA(factors), sizeof(float) * length);
	return vector;
}

static SPIPlanPtr user_plan = NULL;
static SPIPlanPtr user_plan_010 = NULL;

/* LoadUserFeatures with one query (kept plan) through SPI. */
static void
LoadUserFeaturesByQuery(const CachedModel *model, int64 user_id,
						UserFeatures *features, float **vector)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			argtypes[2] = {INT4OID, INT8OID};
	Datum		args[2];
	HeapTuple	tuple;
	TupleDesc	desc;
	Datum		values[USER_FEATURES_NCOLUMNS];
	bool		nulls[USER_FEATURES_NCOLUMNS];
	Datum		factors;
	bool		factors_null;
	int			nserved;

	/* model_id 0 matches no row (model ids are positive) */
	args[0] = Int32GetDatum(vector != NULL ? model->model_id : 0);
	args[1] = Int64GetDatum(user_id);

	SpiConnect();
	/* the table of a version before 0.2.0 has the first columns only */
	nserved = get_attnum(get_relname_relid("user_features",
										   get_namespace_oid("rerank", false)),
						 "session_started_at") != InvalidAttrNumber ?
		NSERVED : NSERVED_010;
	if (nserved == NSERVED)
		ExecuteKeptPlan(&user_plan,
						"SELECT (SELECT f.factors FROM rerank.user_factors f"
						"         WHERE f.model_id OPERATOR(pg_catalog.=) $1"
						"           AND f.user_id OPERATOR(pg_catalog.=) $2),"
						"       u.recent_items, u.recent_weights,"
						"       u.purchased_items, u.category_weights,"
						"       u.recent_counts, u.recent_last_at, u.recent_kinds,"
						"       u.first_event_at, u.last_event_at, u.session_started_at"
						"  FROM (SELECT) AS one"
						"  LEFT JOIN rerank.user_features u"
						"         ON u.user_id OPERATOR(pg_catalog.=) $2",
						2, argtypes, args, true, 1, SPI_OK_SELECT);
	else
		ExecuteKeptPlan(&user_plan_010,
						"SELECT (SELECT f.factors FROM rerank.user_factors f"
						"         WHERE f.model_id OPERATOR(pg_catalog.=) $1"
						"           AND f.user_id OPERATOR(pg_catalog.=) $2),"
						"       u.recent_items, u.recent_weights,"
						"       u.purchased_items, u.category_weights"
						"  FROM (SELECT) AS one"
						"  LEFT JOIN rerank.user_features u"
						"         ON u.user_id OPERATOR(pg_catalog.=) $2",
						2, argtypes, args, true, 1, SPI_OK_SELECT);
	if (SPI_processed != 1)
		elog(ERROR, "user look-up returned " UINT64_FORMAT " rows", SPI_processed);
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	for (int c = 0; c < USER_FEATURES_NCOLUMNS; c++)
	{
		values[c] = (Datum) 0;
		nulls[c] = true;
	}
	factors = SPI_getbinval(tuple, desc, 1, &factors_null);
	for (int c = 0; c < nserved; c++)
		values[served_columns[c]] = SPI_getbinval(tuple, desc, c + 2,
												  &nulls[served_columns[c]]);

	MemoryContextSwitchTo(caller);
	if (vector != NULL)
		*vector = UserVectorCopy(model, user_id, factors, factors_null);
	UserFeaturesRead(values, nulls, features);
	SPI_finish();
}

/*
 * LoadUserFeatures with two primary key look-ups and no executor: what the
 * query does, at a fraction of the cost (plan revalidation, executor start
 * and end are most of a one-row query).  False, with nothing read, when a
 * table cannot be read this way (KeyedTableOpen).
 */
static bool
LoadUserFeaturesDirect(const CachedModel *model, int64 user_id,
					   UserFeatures *features, float **vector)
{
	static const char *const factors_key[2] = {"model_id", "user_id"};
	static const Oid factors_key_types[2] = {INT4OID, INT8OID};
	static const char *const features_key[1] = {"user_id"};
	static const Oid features_key_types[1] = {INT8OID};
	KeyedTable	factors;
	KeyedTable	table;
	AttrNumber	attnums[NSERVED];
	AttrNumber	factors_attnum = 0;
	Datum		served[NSERVED];
	bool		served_nulls[NSERVED];
	Datum		values[USER_FEATURES_NCOLUMNS];
	bool		nulls[USER_FEATURES_NCOLUMNS];
	Datum		factors_value = (Datum) 0;
	bool		factors_null = true;
	TupleTableSlot *factors_slot = NULL;
	TupleTableSlot *features_slot;

	if (!ActiveSnapshotSet())
		return false;
	if (!KeyedTableOpen("user_features", 1, features_key, features_key_types,
						&table))
		return false;
	for (int c = 0; c < NSERVED; c++)
	{
		attnums[c] = KeyedTableColumn(&table, served_column_names[c],
									  served_column_types[c]);
		if (attnums[c] == 0 && c < NSERVED_010)
		{
			KeyedTableClose(&table);
			return false;
		}
	}
	if (vector != NULL)
	{
		if (!KeyedTableOpen("user_factors", 2, factors_key, factors_key_types,
							&factors))
		{
			KeyedTableClose(&table);
			return false;
		}
		factors_attnum = KeyedTableColumn(&factors, "factors", FLOAT4ARRAYOID);
		if (factors_attnum == 0)
		{
			KeyedTableClose(&factors);
			KeyedTableClose(&table);
			return false;
		}
	}

	for (int c = 0; c < NSERVED; c++)
	{
		served[c] = (Datum) 0;
		served_nulls[c] = true;
	}
	if (vector != NULL)
	{
		Datum		key[2] = {Int32GetDatum(model->model_id), Int64GetDatum(user_id)};

		factors_slot = KeyedTableFetch(&factors, key, 1, &factors_attnum,
									   &factors_value, &factors_null);
	}
	{
		Datum		key[1] = {Int64GetDatum(user_id)};

		features_slot = KeyedTableFetch(&table, key, NSERVED, attnums, served,
										served_nulls);
	}
	for (int c = 0; c < USER_FEATURES_NCOLUMNS; c++)
	{
		values[c] = (Datum) 0;
		nulls[c] = true;
	}
	for (int c = 0; c < NSERVED; c++)
	{
		values[served_columns[c]] = served[c];
		nulls[served_columns[c]] = served_nulls[c];
	}
	if (vector != NULL)
		*vector = UserVectorCopy(model, user_id, factors_value, factors_null);
	UserFeaturesRead(values, nulls, features);

	ExecDropSingleTupleTableSlot(features_slot);
	KeyedTableClose(&table);
	if (factors_slot != NULL)
	{
		ExecDropSingleTupleTableSlot(factors_slot);
		KeyedTableClose(&factors);
	}
	return true;
}

/* Reads the user's features and vector; see user_features.h. */
void
LoadUserFeatures(const CachedModel *model, int64 user_id,
				 UserFeatures *features, float **vector)
{
	if (vector != NULL)
	{
		*vector = NULL;
		if (model == NULL || model->dimensions == 0)
			vector = NULL;
	}
	if (!LoadUserFeaturesDirect(model, user_id, features, vector))
		LoadUserFeaturesByQuery(model, user_id, features, vector);
}
