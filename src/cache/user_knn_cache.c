/*
 * user_knn_cache.c
 *	  Reading a user-kNN model into its flat index (see user_knn_cache.h).
 *
 * Two scans, both in user id order through a cursor: the training
 * interactions (one row of arrays per user) and the neighbor lists.  Items
 * are numbered in ascending id order as training numbers them, so a
 * ranking over the catalog breaks ties to the smaller id, and users keep
 * their ascending order, so a neighbor id is found by binary search.  The
 * rows are then laid out by the core's builder into one block.
 */
#include "postgres.h"

#include <math.h>

#include "cache/cache_memory.h"
#include "cache/snapshot.h"
#include "cache/user_knn_cache.h"
#include "catalog/pg_type.h"
#include "common/id_map.h"
#include "common/spi_util.h"
#include "core/recent_history.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* The defaults of train_user_knn, for params a model does not have. */
#define DEFAULT_NEIGHBORS 50

/* Most users or items an index holds (its hash tables index by uint32). */
#define MAX_INDEX_IDS (1 << 30)

/* A growing array of entries (item or user indexes with their values). */
typedef struct EntryArray
{
	int64		n;
	int64		capacity;
	int32	   *index;
	float	   *value;
} EntryArray;

struct UserKnnRows
{
	MemoryContext context;
	const char *model_name;
	UserKnnParams params;
	bool		catalog_given;	/* params has catalog_items */
	/* users, ascending, with their histories (items numbered first-seen) */
	int32		users;
	int32		users_capacity;
	int64	   *user_ids;
	int64	   *history_ptr;
	EntryArray	history;
	idmap_hash *item_map;
	int32		items;
	int64	   *item_ids;		/* ascending, once numbered */
	/* neighbor lists: user indexes, per user */
	int64	   *neighbor_ptr;
	int32		listed;			/* users whose list pointer is set */
	EntryArray	neighbors;
	/* one row's pairs, merged before they are appended */
	int64	   *row_ids;
	float	   *row_weights;
	HistoryPair *row_work;
	int			row_capacity;
};

/* Appends one entry, growing the arrays in the rows' context. */
static void
AppendEntry(UserKnnRows *rows, EntryArray *a, int32 index, float value)
{
	if (a->n == a->capacity)
	{
		a->capacity = Max(a->capacity * 2, 1024);
		a->index = a->index == NULL ?
			MemoryContextAllocHuge(rows->context, sizeof(int32) * a->capacity) :
			repalloc_huge(a->index, sizeof(int32) * a->capacity);
		a->value = a->value == NULL ?
			MemoryContextAllocHuge(rows->context, sizeof(float) * a->capacity) :
			repalloc_huge(a->value, sizeof(float) * a->capacity);
	}
	a->index[a->n] = index;
	a->value[a->n] = value;
	a->n++;
}

/* Whether a value is usable as a weight or similarity. */
static inline bool
PositiveFinite(float value)
{
	return isfinite(value) && value > 0.0f;
}

/*
 * Reads a (id, bigint[], real[]) row; false for a malformed one (NULLs,
 * other element types, lengths that differ), which is left out.
 */
static bool
ListRow(HeapTuple tuple, TupleDesc desc, int64 *id, ArrayType **ids,
		ArrayType **values, int *n)
{
	bool		isnull[3];
	Datum		d0 = SPI_getbinval(tuple, desc, 1, &isnull[0]);
	Datum		d1 = SPI_getbinval(tuple, desc, 2, &isnull[1]);
	Datum		d2 = SPI_getbinval(tuple, desc, 3, &isnull[2]);

	if (isnull[0] || isnull[1] || isnull[2])
		return false;
	*id = DatumGetInt64(d0);
	*ids = DatumGetArrayTypeP(d1);
	*values = DatumGetArrayTypeP(d2);
	*n = ArrayGetNItems(ARR_NDIM(*ids), ARR_DIMS(*ids));
	return !ARR_HASNULL(*ids) && !ARR_HASNULL(*values) &&
		ARR_ELEMTYPE(*ids) == INT8OID && ARR_ELEMTYPE(*values) == FLOAT4OID &&
		*n == ArrayGetNItems(ARR_NDIM(*values), ARR_DIMS(*values));
}

/* QueryRowFn: one user's training interactions (rows in user id order). */
static void
ReadHistoryRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	UserKnnRows *rows = arg;
	int64		user_id;
	ArrayType  *ids;
	ArrayType  *weights;
	int			n;
	int			kept = 0;

	if (!ListRow(tuple, desc, &user_id, &ids, &weights, &n))
		return;
	if (rows->users >= MAX_INDEX_IDS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("user-kNN model \"%s\" has more than %d users",
						rows->model_name, MAX_INDEX_IDS)));
	if (n > rows->row_capacity)
	{
		rows->row_capacity = Max(n, rows->row_capacity * 2);
		rows->row_ids = repalloc_huge(rows->row_ids, sizeof(int64) * rows->row_capacity);
		rows->row_weights = repalloc_huge(rows->row_weights, sizeof(float) * rows->row_capacity);
		rows->row_work = repalloc_huge(rows->row_work, sizeof(HistoryPair) * rows->row_capacity);
	}
	for (int e = 0; e < n; e++)
	{
		float		w = ((const float *) ARR_DATA_PTR(weights))[e];

		if (!PositiveFinite(w))
			continue;
		rows->row_ids[kept] = ((const int64 *) ARR_DATA_PTR(ids))[e];
		rows->row_weights[kept] = w;
		kept++;
	}
	/* ascending item ids, each once: in index order once numbered */
	kept = HistoryMergeMax(rows->row_ids, rows->row_weights, kept, rows->row_work);
	if (rows->users == rows->users_capacity)
	{
		rows->users_capacity *= 2;
		rows->user_ids = repalloc_huge(rows->user_ids, sizeof(int64) * rows->users_capacity);
		rows->history_ptr = repalloc_huge(rows->history_ptr,
										  sizeof(int64) * ((Size) rows->users_capacity + 1));
	}
	rows->user_ids[rows->users] = user_id;
	rows->history_ptr[rows->users] = rows->history.n;
	for (int e = 0; e < kept; e++)
		AppendEntry(rows, &rows->history,
					IdMapAdd(rows->item_map, rows->row_ids[e], &rows->items),
					rows->row_weights[e]);
	rows->users++;
	rows->history_ptr[rows->users] = rows->history.n;
	if (rows->items >= MAX_INDEX_IDS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("user-kNN model \"%s\" has more than %d items",
						rows->model_name, MAX_INDEX_IDS)));
}

/* The index of a user id among the rows' (ascending) users, or -1. */
static int32
FindUser(const UserKnnRows *rows, int64 user_id)
{
	int32		lo = 0,
				hi = rows->users;

	while (lo < hi)
	{
		int32		mid = lo + (hi - lo) / 2;

		if (rows->user_ids[mid] < user_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < rows->users && rows->user_ids[lo] == user_id ? lo : -1;
}

/* Sets the list pointers of the users before user (they have no list). */
static void
ListUpTo(UserKnnRows *rows, int32 user)
{
	while (rows->listed <= user)
		rows->neighbor_ptr[rows->listed++] = rows->neighbors.n;
}

/* QueryRowFn: one user's neighbor list (rows in user id order). */
static void
ReadNeighborRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	UserKnnRows *rows = arg;
	int64		user_id;
	ArrayType  *ids;
	ArrayType  *sims;
	int			n;
	int32		user;

	if (!ListRow(tuple, desc, &user_id, &ids, &sims, &n) ||
		(user = FindUser(rows, user_id)) < 0)
		return;
	ListUpTo(rows, user);
	for (int e = 0; e < n; e++)
	{
		int32		v = FindUser(rows, ((const int64 *) ARR_DATA_PTR(ids))[e]);
		float		s = ((const float *) ARR_DATA_PTR(sims))[e];

		if (v >= 0 && v != user && PositiveFinite(s))
			AppendEntry(rows, &rows->neighbors, v, s);
	}
}

/* The error of a param that is not valid. */
static void
BadParam(const UserKnnRows *rows, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_EXCEPTION),
			 errmsg("user-kNN model \"%s\" has an invalid %s in its params",
					rows->model_name, what)));
}

/* A number param of the model row read by ReadParams, or the default. */
static double
NumberParam(UserKnnRows *rows, int column, double fallback, bool *given)
{
	bool		isnull;
	Datum		value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									  column, &isnull);

	if (given)
		*given = !isnull;
	return isnull ? fallback : DatumGetFloat8(value);
}

/* The model's params (train_user_knn's defaults where it has none). */
static void
ReadParams(UserKnnRows *rows, int32 model_id)
{
#define JSON_NUMBER(key) \
	"CASE WHEN pg_catalog.jsonb_typeof(params OPERATOR(pg_catalog.->) '" key "') " \
	"OPERATOR(pg_catalog.=) 'number' " \
	"THEN (params OPERATOR(pg_catalog.->>) '" key "')::pg_catalog.float8 END"
	Oid			types[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	UserKnnParams *p = &rows->params;
	double		neighbors,
				min_overlap,
				catalog;
	char	   *similarity;
	int			ret;

	ret = SPI_execute_with_args("SELECT " JSON_NUMBER("neighbors") ", "
								"params OPERATOR(pg_catalog.->>) 'similarity', "
								JSON_NUMBER("shrinkage") ", " JSON_NUMBER("min_overlap") ", "
								JSON_NUMBER("catalog_items")
								" FROM rerank.models WHERE model_id OPERATOR(pg_catalog.=) $1",
								1, types, args, NULL, true, 1);
#undef JSON_NUMBER
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model with id %d does not exist", model_id)));
	neighbors = NumberParam(rows, 1, DEFAULT_NEIGHBORS, NULL);
	similarity = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	p->shrinkage = NumberParam(rows, 3, 0.0, NULL);
	min_overlap = NumberParam(rows, 4, 1.0, NULL);
	catalog = NumberParam(rows, 5, 0.0, &rows->catalog_given);
	if (!(neighbors >= 1 && neighbors <= 10000 && neighbors == floor(neighbors)))
		BadParam(rows, "neighbors");
	p->neighbors = (int32) neighbors;
	if (similarity == NULL)
		p->similarity = USER_SIMILARITY_COSINE;
	else if (!UserSimilarityFromName(similarity, &p->similarity))
		BadParam(rows, "similarity");
	if (!(p->shrinkage >= 0 && p->shrinkage <= 1e9))
		BadParam(rows, "shrinkage");
	if (!(min_overlap >= 1 && min_overlap <= PG_INT32_MAX && min_overlap == floor(min_overlap)))
		BadParam(rows, "min_overlap");
	p->min_overlap = (int32) min_overlap;
	if (!(catalog >= 0 && catalog <= PG_INT32_MAX && catalog == floor(catalog)))
		BadParam(rows, "catalog_items");
	p->catalog = (int32) catalog;
}

/* Reads a user-kNN model's rows; see user_knn_cache.h. */
UserKnnRows *
UserKnnReadRows(int32 model_id, const char *model_name)
{
	MemoryContext context = AllocSetContextCreate(CurrentMemoryContext,
												  "rerank user-kNN rows",
												  ALLOCSET_DEFAULT_SIZES);
	UserKnnRows *rows = MemoryContextAllocZero(context, sizeof(UserKnnRows));
	Oid			types[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	MemoryContext old = MemoryContextSwitchTo(context);
	int32	   *perm;

	rows->context = context;
	rows->model_name = pstrdup(model_name);
	rows->users_capacity = 1024;
	rows->user_ids = palloc(sizeof(int64) * rows->users_capacity);
	rows->history_ptr = palloc(sizeof(int64) * (rows->users_capacity + 1));
	rows->history_ptr[0] = 0;
	rows->row_capacity = 256;
	rows->row_ids = palloc(sizeof(int64) * rows->row_capacity);
	rows->row_weights = palloc(sizeof(float) * rows->row_capacity);
	rows->row_work = palloc(sizeof(HistoryPair) * rows->row_capacity);
	rows->item_map = idmap_create(context, 1024, NULL);
	MemoryContextSwitchTo(old);
	AppendEntry(rows, &rows->history, 0, 0);	/* allocates; then empty */
	AppendEntry(rows, &rows->neighbors, 0, 0);
	rows->history.n = rows->neighbors.n = 0;

	ReadParams(rows, model_id);
	ScanQueryRows("SELECT user_id, item_ids, weights FROM rerank.model_interactions "
				  "WHERE model_id OPERATOR(pg_catalog.=) $1 ORDER BY user_id",
				  1, types, args, ReadHistoryRow, rows);

	/* number the items in ascending id order; rows stay sorted */
	old = MemoryContextSwitchTo(context);
	rows->item_ids = IdMapSortedIds(rows->item_map, rows->items, &perm);
	for (int64 e = 0; e < rows->history.n; e++)
		rows->history.index[e] = perm[rows->history.index[e]];
	pfree(perm);
	if (!rows->catalog_given)
		rows->params.catalog = rows->items;
	rows->neighbor_ptr = palloc(sizeof(int64) * ((Size) rows->users + 1));
	MemoryContextSwitchTo(old);

	ScanQueryRows("SELECT user_id, neighbor_ids, similarities FROM rerank.user_neighbors "
				  "WHERE model_id OPERATOR(pg_catalog.=) $1 ORDER BY user_id",
				  1, types, args, ReadNeighborRow, rows);
	ListUpTo(rows, rows->users);
	return rows;
}

/* The bytes of the rows' index. */
Size
UserKnnRowsBytes(const UserKnnRows *rows)
{
	return UserKnnIndexBytes(rows->users, rows->items, rows->history.n,
							 rows->neighbors.n);
}

/* Frees rows. */
void
UserKnnFreeRows(UserKnnRows *rows)
{
	MemoryContextDelete(rows->context);
}

/* Builds the rows' index into memory; see user_knn_cache.h. */
const UserKnnIndex *
UserKnnBuildInto(void *memory, Size bytes, UserKnnRows *rows)
{
	UserKnnSource source;
	UserKnnIndex *index;

	source.params = rows->params;
	source.users = rows->users;
	source.items = rows->items;
	source.user_ids = rows->user_ids;
	source.item_ids = rows->item_ids;
	source.history_ptr = rows->history_ptr;
	source.history_items = rows->history.index;
	source.history_weights = rows->history.value;
	source.neighbor_ptr = rows->neighbor_ptr;
	source.neighbor_users = rows->neighbors.index;
	source.neighbor_similarities = rows->neighbors.value;
	index = UserKnnIndexBuild(memory, bytes, &source);
	if (index == NULL)
		elog(ERROR, "user-kNN index of model \"%s\" does not fit its size", rows->model_name);
	UserKnnFreeRows(rows);
	return index;
}

/* Builds the rows' index in context; see user_knn_cache.h. */
const UserKnnIndex *
UserKnnBuild(MemoryContext context, UserKnnRows *rows)
{
	Size		bytes = UserKnnRowsBytes(rows);

	return UserKnnBuildInto(CacheMemoryAlloc(context, bytes, false), bytes, rows);
}

/* The snapshot provider's plan: the rows, read now, and the index's block. */
static void *
IndexPlan(SnapshotBuild *build, const SnapshotSource *source)
{
	const ModelSource *model = (const ModelSource *) source->detail;
	UserKnnRows *rows;

	if (!model->user_knn)
		return NULL;
	rows = UserKnnReadRows(model->model_id, source->label);
	SnapshotReserve(build, BLOCK_USER_KNN_INDEX, UserKnnRowsBytes(rows), 1);
	return rows;
}

/* The snapshot provider's fill: the index built into its block. */
static void
IndexFill(SnapshotBuild *build, const SnapshotSource *source, void *state)
{
	UserKnnRows *rows = (UserKnnRows *) state;

	if (rows == NULL)
		return;
	(void) UserKnnBuildInto(SnapshotBlockForWrite(build, BLOCK_USER_KNN_INDEX),
							UserKnnRowsBytes(rows), rows);
}

static const SnapshotProvider index_provider = {
	.name = "user-kNN index",
	.kind = SNAPSHOT_MODEL,
	.plan = IndexPlan,
	.fill = IndexFill
};

/* Registers the provider; see user_knn_cache.h. */
void
UserKnnCacheInit(void)
{
	RegisterSnapshotProvider(&index_provider);
}
