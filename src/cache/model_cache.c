/*
 * model_cache.c
 *	  Models held in backend memory (see model_cache.h for the contract).
 *
 * Each cached model is an entry with its own memory context: the item
 * vectors as one float matrix in ascending item id order, the biases and
 * ids of its rows, an open-addressing hash from item id to matrix row
 * (simplehash; a 32-byte slot also holds the bias, the vector's norm and the
 * item's category number, so a look-up reads one cache line before the
 * vector), and YᵀY.  Serving reads the matrix and the hash at random places,
 * so they sit on huge pages (cache_memory.c).  Entries are keyed by the
 * model id and its data version (cache_key.h: a version no aborted
 * transaction can give back) and validated against rerank.models after any
 * relcache invalidation of that table; a statement trigger on rerank.models
 * sends one at commit for every change of a model row, and a statement
 * changing item factors or neighbor lists gives the model row a new version,
 * so serving never queries the registry while nothing changes.  Whoever
 * asks, cached or not, must have the right to read what the cache holds
 * (CheckCachedModelsReadable): privileges never depend on the cache.
 *
 * An entry being replaced may still be in use by the current statement (a
 * row trigger keeps pointers for one row at most, but a caller could hold
 * them across a nested call), so replaced entries are retired and freed only
 * in a later transaction.  A load builds its entry in a context under the
 * current transaction's memory and adopts it into the cache only when
 * complete, so an error or a cancel during a load leaks nothing.
 */
#include "postgres.h"

#include "cache/backend_cache.h"
#include "cache/cache_key.h"
#include "cache/cache_memory.h"
#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "cache/neighbor_lists.h"
#include "cache/user_knn_cache.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "core/id_hash.h"
#include "core/vec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_bitutils.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#if PG_VERSION_NUM >= 170000
#define CURRENT_LXID (MyProc->vxid.lxid)
#else
#define CURRENT_LXID (MyProc->lxid)
#endif

/*
 * One item of a cached model: its row in the vector matrix, and what
 * serving reads with it, so that one cache line gives all of it: the bias
 * (also in the entry's biases), the vector's norm and the item's category
 * number in the category cache (valid for the entry's category_generation).
 */
typedef struct ItemSlot
{
	int64		item_id;
	double		norm;			/* ‖vector‖ = VecNorm(vector) */
	uint32		row;
	float		bias;
	int32		category;		/* -1: none */
	char		status;
	char		padding[3];		/* 32 bytes: never across two cache lines */
} ItemSlot;

StaticAssertDecl(sizeof(ItemSlot) == 32, "ItemSlot must be 32 bytes");

/* The hash of an item id in the item map (core/id_hash.h). */
static inline uint32
HashItemId(int64 item_id)
{
	return (uint32) IdHash(item_id);
}

#define SH_PREFIX itemmap
#define SH_ELEMENT_TYPE ItemSlot
#define SH_KEY_TYPE int64
#define SH_KEY item_id
#define SH_HASH_KEY(tb, key) HashItemId(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_USE_NONDEFAULT_ALLOCATOR
/* half full at most: short probes, and no growth (and copy) while loading */
#define SH_FILLFACTOR (0.5)
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* The hash's slots: on huge pages when big (cache_memory.c). */
CACHE_MEMORY_HASH_ALLOCATOR(itemmap)

/* A cached model: the public part first, so a CachedModel * is an entry. */
typedef struct ModelEntry
{
	CachedModel pub;
	MemoryContext context;		/* owns everything below */
	float	   *vectors;		/* item_count × dimensions, or NULL */
	float	   *biases;			/* item_count */
	int64	   *ids;			/* item id of each row, ascending */
	itemmap_hash *items;		/* item id → row, when vectors are cached */
	NeighborLists *neighbors;	/* item-kNN: the lists, when cached */
	const UserKnnIndex *user_knn;	/* user-kNN: the index, when cached */
	uint64		category_generation;	/* of the slots' categories; 0: none */
	Size		bytes;			/* memory charged to the budget */
	Size		wanted_bytes;	/* what caching the vectors would take */
	bool		checked;		/* validated since the last invalidation */
	uint64		last_used;		/* LRU clock */
	LocalTransactionId retired_in;	/* retired entries: freed later */
	struct ModelEntry *next;
} ModelEntry;

/* GUC: per-backend budget for cached item vectors, in megabytes. */
static int	model_cache_mb = 256;

static MemoryContext CacheContext = NULL;
static ModelEntry *entries = NULL;	/* live entries */
static ModelEntry *retired = NULL;	/* replaced, freed in a later xact */
static ModelEntry *active_entry = NULL; /* valid while active_checked */
static bool active_checked = false;
static Oid	models_relid = InvalidOid;
/* the tables the cache holds rows of, for the privilege check */
#define CACHED_TABLES 5
#define USER_KNN_TABLES 3		/* the last two: user-kNN models only */
static Oid	cached_relids[CACHED_TABLES];
static bool cached_relids_valid = false;
static CacheInvalCount invalidations = 0;
static uint64 lru_clock = 0;
static int64 loads = 0;			/* for rerank.model_cache_info() */

/* The registry columns a cache entry is validated against. */
#define MODEL_HEADER_COLUMNS \
	"model_id, name, algorithm, dimensions, factors_version, " \
	"CASE WHEN pg_catalog.jsonb_typeof(params OPERATOR(pg_catalog.->) 'regularization') " \
	"OPERATOR(pg_catalog.=) 'number' " \
	"THEN (params OPERATOR(pg_catalog.->>) 'regularization')::float8 END, " \
	"CASE WHEN pg_catalog.jsonb_typeof(params OPERATOR(pg_catalog.->) 'alpha') " \
	"OPERATOR(pg_catalog.=) 'number' " \
	"THEN (params OPERATOR(pg_catalog.->>) 'alpha')::float8 END"

/* The key of an entry's data. */
static inline ModelDataKey
EntryKey(const ModelEntry *entry)
{
	ModelDataKey key = {entry->pub.model_id, entry->pub.factors_version};

	return key;
}

/*
 * Relcache callback: a change of rerank.models makes every entry suspect;
 * a change of any table the cache reads, the tables' OIDs too.
 */
static void
ModelCacheRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == models_relid)
	{
		invalidations++;
		active_checked = false;
		for (ModelEntry *e = entries; e != NULL; e = e->next)
			e->checked = false;
	}
	for (int i = 0; i < CACHED_TABLES; i++)
		if (relid == InvalidOid || relid == cached_relids[i])
			cached_relids_valid = false;
}

/*
 * Checks that the current user may read the cached tables from first to
 * last - 1, as the queries that load them would.
 */
static void
CheckCachedTablesReadable(int first, int last)
{
	static const char *const names[CACHED_TABLES] = {
		"models", "item_factors", "item_neighbors",
		"user_neighbors", "model_interactions"
	};

	if (!cached_relids_valid)
	{
		for (int i = 0; i < CACHED_TABLES; i++)
			cached_relids[i] = RerankTableOid(names[i]);
		cached_relids_valid = true;
	}
	for (int i = first; i < last; i++)
		if (OidIsValid(cached_relids[i]))
			CheckCacheReadPrivilege(cached_relids[i]);
}

/*
 * Checks that the current user may read what the cache holds, as the
 * queries that load it would: rerank.models, rerank.item_factors and
 * rerank.item_neighbors (and for a user-kNN model's index, see
 * ModelUserKnnIndex, rerank.user_neighbors and rerank.model_interactions).
 * Called by every look-up, whether it is served from memory or not, so that
 * what a role may read never depends on what its backend has cached (issue
 * 10).
 */
static void
CheckCachedModelsReadable(void)
{
	CheckCachedTablesReadable(0, USER_KNN_TABLES);
}

/* Assign hook of rerank.model_cache_mb: a new budget applies at once. */
static void
ModelCacheBudgetAssign(int newval, void *extra)
{
	ModelCacheRelcacheCallback((Datum) 0, InvalidOid);
}

void
ModelCacheInit(void)
{
	DefineCacheBudget("rerank.model_cache_mb",
					  "Memory per backend for cached item vectors, in megabytes.",
					  "A model whose vectors do not fit is served by index look-ups.",
					  &model_cache_mb, 256, ModelCacheBudgetAssign);
	CacheRegisterRelcacheCallback(ModelCacheRelcacheCallback, (Datum) 0);
}

/* Frees retired entries once the transaction that retired them is over. */
static void
FreeRetiredEntries(void)
{
	ModelEntry **link = &retired;

	while (*link != NULL)
	{
		ModelEntry *e = *link;

		if (e->retired_in != CURRENT_LXID)
		{
			*link = e->next;
			MemoryContextDelete(e->context);
		}
		else
			link = &e->next;
	}
}

/* Moves an entry from the live list to the retired list. */
static void
RetireEntry(ModelEntry *victim)
{
	ModelEntry **link = &entries;

	while (*link != NULL && *link != victim)
		link = &(*link)->next;
	if (*link == NULL)
		return;
	*link = victim->next;
	victim->retired_in = CURRENT_LXID;
	victim->next = retired;
	retired = victim;
	if (active_entry == victim)
	{
		active_entry = NULL;
		active_checked = false;
	}
}

/* Memory held by the vectors of live entries. */
static Size
CachedBytes(void)
{
	Size		total = 0;

	for (ModelEntry *e = entries; e != NULL; e = e->next)
		total += e->bytes;
	return total;
}

/* The header of a model row as read by ReadModelHeader. */
typedef struct ModelHeader
{
	int32		model_id;
	char		name[NAMEDATALEN];
	char		algorithm[NAMEDATALEN];
	int			dimensions;
	int64		factors_version;
	double		regularization;
	double		alpha;
} ModelHeader;

/*
 * Reads the row of the named model, else of the model with the id (> 0),
 * else of the active model; false when there is none.  Called inside SPI.
 */
static bool
ReadModelHeader(const char *name, int32 model_id, ModelHeader *header)
{
	/* by the active flag, by name, by id: one kept plan each */
	static SPIPlanPtr plans[3] = {NULL, NULL, NULL};
	static const char *const queries[3] = {
		"SELECT " MODEL_HEADER_COLUMNS " FROM rerank.models WHERE is_active",
		"SELECT " MODEL_HEADER_COLUMNS " FROM rerank.models WHERE name OPERATOR(pg_catalog.=) $1",
		"SELECT " MODEL_HEADER_COLUMNS " FROM rerank.models WHERE model_id OPERATOR(pg_catalog.=) $1"
	};
	static Oid	argtypes[3] = {InvalidOid, TEXTOID, INT4OID};
	int			which = name != NULL ? 1 : model_id > 0 ? 2 : 0;
	Datum		args[1];
	bool		isnull;
	HeapTuple	tuple;
	TupleDesc	tupdesc;
	Datum		value;

	if (which == 1)
		args[0] = CStringGetTextDatum(name);
	else
		args[0] = Int32GetDatum(model_id);
	ExecuteKeptPlan(&plans[which], queries[which], which == 0 ? 0 : 1,
					&argtypes[which], args, true, 2, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	if (SPI_processed > 1)
		elog(ERROR, "more than one active model");

	tuple = SPI_tuptable->vals[0];
	tupdesc = SPI_tuptable->tupdesc;
	header->model_id = DatumGetInt32(SPI_getbinval(tuple, tupdesc, 1, &isnull));
	strlcpy(header->name, SPI_getvalue(tuple, tupdesc, 2), NAMEDATALEN);
	strlcpy(header->algorithm, SPI_getvalue(tuple, tupdesc, 3), NAMEDATALEN);
	header->dimensions = DatumGetInt32(SPI_getbinval(tuple, tupdesc, 4, &isnull));
	header->factors_version = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 5, &isnull));
	value = SPI_getbinval(tuple, tupdesc, 6, &isnull);
	header->regularization = isnull ? RERANK_DEFAULT_REGULARIZATION : DatumGetFloat8(value);
	value = SPI_getbinval(tuple, tupdesc, 7, &isnull);
	header->alpha = isnull ? RERANK_DEFAULT_ALPHA : DatumGetFloat8(value);
	return true;
}

/* Runs a one-row, one-column query with the model id as $1. */
static Datum
QueryModelValue(const char *sql, int32 model_id, bool *isnull)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	int			ret = SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1);

	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "query failed: %s", sql);
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
}

/* The number of item vectors of a model. */
static int64
ItemCount(int32 model_id)
{
	bool		isnull;

	return DatumGetInt64(QueryModelValue("SELECT pg_catalog.count(*) FROM rerank.item_factors "
										 "WHERE model_id OPERATOR(pg_catalog.=) $1",
										 model_id, &isnull));
}

/*
 * Loads YᵀY into the entry: the registry's copy when present, else computed
 * by the gram_matrix aggregate (what activation stores), never written back.
 */
static void
LoadGram(ModelEntry *entry)
{
	int			k = entry->pub.dimensions;
	bool		isnull;
	Datum		value;
	ArrayType  *gram;
	float	   *copy;

	if (k == 0 || entry->pub.item_count == 0)
		return;
	value = QueryModelValue("SELECT gram FROM rerank.models WHERE model_id OPERATOR(pg_catalog.=) $1",
							entry->pub.model_id, &isnull);
	if (isnull)
		value = QueryModelValue("SELECT rerank.gram_matrix(factors) "
								"FROM rerank.item_factors WHERE model_id OPERATOR(pg_catalog.=) $1",
								entry->pub.model_id, &isnull);
	if (isnull)
		return;
	gram = DatumGetArrayTypeP(value);
	if (ARR_NDIM(gram) != 1 || ARR_DIMS(gram)[0] != k * k ||
		ARR_HASNULL(gram))
		elog(ERROR, "YᵀY of model \"%s\" is not a %d×%d matrix",
			 entry->pub.name, k, k);
	copy = MemoryContextAlloc(entry->context, sizeof(float) * k * k);
	memcpy(copy, ARR_DATA_PTR(gram), sizeof(float) * k * k);
	entry->pub.gram = copy;
}

/* LoadVectors' scan: the entry being filled and its next row. */
typedef struct VectorLoad
{
	ModelEntry *entry;
	int64		row;
} VectorLoad;

/* Copies one item's vector, bias and id into the next row of the entry. */
static void
LoadVectorRow(HeapTuple tuple, TupleDesc tupdesc, void *arg)
{
	VectorLoad *load = (VectorLoad *) arg;
	ModelEntry *entry = load->entry;
	int			k = entry->pub.dimensions;
	int64		row = load->row;
	bool		isnull;
	int64		item_id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
	ArrayType  *factors = DatumGetArrayTypeP(SPI_getbinval(tuple, tupdesc, 2, &isnull));
	float		bias = DatumGetFloat4(SPI_getbinval(tuple, tupdesc, 3, &isnull));
	bool		found;
	ItemSlot   *slot;

	/* rows were validated on the way in; a change under us is not */
	if (row >= entry->pub.item_count || ARR_NDIM(factors) != 1 ||
		ARR_DIMS(factors)[0] != k)
		elog(ERROR, "item factors of model \"%s\" changed while loading",
			 entry->pub.name);
	memcpy(entry->vectors + row * k, ARR_DATA_PTR(factors), sizeof(float) * k);
	entry->biases[row] = bias;
	entry->ids[row] = item_id;
	slot = itemmap_insert(entry->items, item_id, &found);
	slot->row = (uint32) row;
	slot->bias = bias;
	slot->norm = VecNorm(entry->vectors + row * k, (size_t) k);
	slot->category = -1;
	load->row++;
}

/*
 * Reads every item vector of the model into the entry's context, rows in
 * ascending item id order (so that a whole-catalog ranking breaks ties to
 * the smaller id), in batches through a cursor so the result set is never
 * materialized twice.
 */
static void
LoadVectors(ModelEntry *entry)
{
	int			k = entry->pub.dimensions;
	int64		count = entry->pub.item_count;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(entry->pub.model_id)};
	VectorLoad	load = {entry, 0};

	/* rows start on cache lines: a 64-float row is 4 lines, not 5 */
	entry->vectors = CacheMemoryAlloc(entry->context,
									  mul_size(Max(count, 1), mul_size(k, sizeof(float))),
									  false);
	entry->biases = MemoryContextAllocExtended(entry->context,
											   mul_size(Max(count, 1), sizeof(float)),
											   MCXT_ALLOC_HUGE);
	entry->ids = MemoryContextAllocExtended(entry->context,
											mul_size(Max(count, 1), sizeof(int64)),
											MCXT_ALLOC_HUGE);
	entry->items = itemmap_create(entry->context, ID_TABLE_INITIAL_SIZE(count), NULL);
	ScanQueryRows("SELECT item_id, factors, bias FROM rerank.item_factors "
				  "WHERE model_id OPERATOR(pg_catalog.=) $1 ORDER BY item_id",
				  1, argtypes, args, LoadVectorRow, &load);
	entry->pub.item_count = load.row;
}

/* Retires the least recently used entries until bytes more fit the budget. */
static void
MakeRoom(Size bytes, Size budget)
{
	while (entries != NULL && CachedBytes() + bytes > budget)
	{
		ModelEntry *lru = entries;

		for (ModelEntry *e = entries; e != NULL; e = e->next)
			if (e->last_used < lru->last_used)
				lru = e;
		RetireEntry(lru);
	}
}

/* Whether what the entry serves from (vectors or lists) is in memory. */
static bool
EntryInMemory(const ModelEntry *entry)
{
	if (ModelHasNeighbors(&entry->pub))
		return entry->pub.neighbors_cached;
	if (ModelIsUserKnn(&entry->pub))
		return entry->user_knn != NULL;
	return entry->pub.vectors_cached;
}

/*
 * Builds a new entry for the model described by header.  Built under the
 * transaction's memory and adopted into CacheContext only when complete.
 */
static ModelEntry *
LoadModel(const ModelHeader *header)
{
	MemoryContext context;
	ModelEntry *entry;
	Size		per_item;
	Size		budget = CacheBudgetBytes(model_cache_mb);

	if (CacheContext == NULL)
		CacheContext = AllocSetContextCreate(TopMemoryContext, "rerank model cache",
											 ALLOCSET_DEFAULT_SIZES);
	context = AllocSetContextCreate(CurTransactionContext, "rerank cached model",
									ALLOCSET_DEFAULT_SIZES);
	entry = MemoryContextAllocZero(context, sizeof(ModelEntry));
	entry->context = context;
	entry->pub.model_id = header->model_id;
	strlcpy(entry->pub.name, header->name, NAMEDATALEN);
	strlcpy(entry->pub.algorithm, header->algorithm, NAMEDATALEN);
	entry->pub.dimensions = header->dimensions;
	entry->pub.factors_version = header->factors_version;
	entry->pub.regularization = header->regularization;
	entry->pub.alpha = header->alpha;
	entry->pub.private_data = entry;
	entry->pub.item_count = ItemCount(header->model_id);

	/*
	 * vectors, biases and ids, and the item map: a power of two of 32-byte
	 * slots, at least two per item (SH_FILLFACTOR)
	 */
	per_item = sizeof(float) * (header->dimensions + 1) + sizeof(int64);
	entry->wanted_bytes =
		add_size(mul_size(per_item, (Size) entry->pub.item_count),
				 mul_size(pg_nextpower2_64((uint64) (entry->pub.item_count + 16) * 2),
						  sizeof(ItemSlot)));
	entry->bytes = entry->wanted_bytes;

	if (ModelHasNeighbors(&entry->pub))
	{
		/* an item-kNN model: its neighbor lists take the place of vectors */
		NeighborListsSize size;

		entry->wanted_bytes = NeighborListsBytes(header->model_id, &size);
		entry->bytes = entry->wanted_bytes;
		entry->pub.vectors_cached = true;
		if (entry->bytes <= budget)
		{
			MakeRoom(entry->bytes, budget);
			entry->neighbors = NeighborListsLoad(context, header->model_id, &size);
			entry->pub.neighbors_cached = true;
		}
		else
			entry->bytes = 0;
	}
	else if (ModelIsUserKnn(&entry->pub))
	{
		/* a user-kNN model: its index takes the place of vectors */
		UserKnnRows *rows = UserKnnReadRows(header->model_id, header->name);

		entry->wanted_bytes = UserKnnRowsBytes(rows);
		entry->bytes = entry->wanted_bytes;
		entry->pub.vectors_cached = true;
		if (entry->bytes <= budget)
		{
			MakeRoom(entry->bytes, budget);
			entry->user_knn = UserKnnBuild(context, rows);
		}
		else
		{
			UserKnnFreeRows(rows);
			entry->bytes = 0;
		}
	}
	else if (entry->pub.dimensions > 0 && entry->bytes <= budget)
	{
		MakeRoom(entry->bytes, budget);
		LoadVectors(entry);
		entry->pub.vectors_cached = true;
	}
	else
	{
		entry->bytes = 0;
		entry->pub.vectors_cached = entry->pub.dimensions == 0;
	}
	LoadGram(entry);

	MemoryContextSetParent(context, CacheContext);
	entry->next = entries;
	entries = entry;
	loads++;
	return entry;
}

/* The live entry of a model id, or NULL. */
static ModelEntry *
FindEntry(int32 model_id)
{
	for (ModelEntry *e = entries; e != NULL; e = e->next)
		if (e->pub.model_id == model_id)
			return e;
	return NULL;
}

/*
 * Returns an up-to-date entry for the model of header: the cached one when
 * its key matches, else a fresh load (retiring the stale one).  The entry
 * counts as checked only when no invalidation arrived since seen, the count
 * taken before the header was read (cache_key.h).
 */
static ModelEntry *
EntryForHeader(const ModelHeader *header, CacheInvalCount seen)
{
	ModelEntry *entry = FindEntry(header->model_id);
	ModelDataKey key = {header->model_id, header->factors_version};

	if (entry != NULL &&
		ModelDataKeyEquals(EntryKey(entry), key) &&
		entry->pub.dimensions == header->dimensions &&
		(EntryInMemory(entry) ?
		 entry->bytes <= CacheBudgetBytes(model_cache_mb) :
		 entry->wanted_bytes > CacheBudgetBytes(model_cache_mb)))
	{
		/* parameters and name may change without new vectors */
		strlcpy(entry->pub.name, header->name, NAMEDATALEN);
		entry->pub.regularization = header->regularization;
		entry->pub.alpha = header->alpha;
	}
	else
	{
		if (entry != NULL)
			RetireEntry(entry);
		entry = LoadModel(header);
	}
	entry->checked = invalidations == seen;
	return entry;
}

/* Whether the model serves from neighbor lists; see model_cache.h. */
bool
ModelHasNeighbors(const CachedModel *model)
{
	return model != NULL && model->dimensions == 0 &&
		strcmp(model->algorithm, "item_knn") == 0;
}

/* Whether the model is a user-kNN model; see model_cache.h. */
bool
ModelIsUserKnn(const CachedModel *model)
{
	return model != NULL && model->dimensions == 0 &&
		strcmp(model->algorithm, "user_knn") == 0;
}

/* The index of a user-kNN model, cached or read; see model_cache.h. */
const UserKnnIndex *
ModelUserKnnIndex(const CachedModel *model)
{
	const ModelEntry *entry = (const ModelEntry *) model->private_data;
	MemoryContext caller = CurrentMemoryContext;
	UserKnnRows *rows;
	const UserKnnIndex *index;

	Assert(ModelIsUserKnn(model));
	/* every call, cached or not: what its load would read */
	CheckCachedTablesReadable(USER_KNN_TABLES, CACHED_TABLES);
	if (entry->user_knn != NULL)
		return entry->user_knn;
	SpiConnect();
	rows = UserKnnReadRows(model->model_id, model->name);
	index = UserKnnBuild(caller, rows);
	SPI_finish();
	return index;
}

/* The cached neighbor list of an item; see model_cache.h. */
bool
ModelItemNeighbors(const CachedModel *model, int64 item_id, NeighborList *list)
{
	const ModelEntry *entry = (const ModelEntry *) model->private_data;

	Assert(model->neighbors_cached && entry->neighbors != NULL);
	return NeighborListsFind(entry->neighbors, item_id, list);
}

/*
 * Notes the registry's OID, so the callback recognizes its invalidations.
 * A different OID means the extension was dropped and created again: model
 * ids start over, so no entry can be trusted.
 */
static void
NoteModelsRelid(void)
{
	Oid			relid = RerankTableOid("models");

	if (relid != models_relid)
	{
		while (entries != NULL)
			RetireEntry(entries);
		models_relid = relid;
	}
}

const CachedModel *
ActiveModel(void)
{
	ModelHeader header;

	FreeRetiredEntries();
	if (!active_checked)
		NoteModelsRelid();
	CheckCachedModelsReadable();
	if (!active_checked)
	{
		CacheInvalCount seen = invalidations;

		SpiConnect();
		if (ReadModelHeader(NULL, 0, &header))
			active_entry = EntryForHeader(&header, seen);
		else
			active_entry = NULL;
		SPI_finish();
		active_checked = invalidations == seen;
	}
	if (active_entry == NULL)
		return NULL;
	active_entry->last_used = ++lru_clock;
	return &active_entry->pub;
}

/*
 * ReadModelHeader for a model that must exist: the named one, else the one
 * with the id.  Unknown model: error, SQLSTATE 42704.  Called inside SPI.
 */
static void
ReadExistingModelHeader(const char *name, int32 model_id, ModelHeader *header)
{
	if (ReadModelHeader(name, model_id, header))
		return;
	if (name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name)));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("model with id %d does not exist", model_id)));
}

/*
 * The live entry of the named model, else of the model with the id, when it
 * was validated since the last invalidation; else NULL.
 */
static ModelEntry *
FindCheckedEntry(const char *name, int32 model_id)
{
	ModelEntry *entry = NULL;

	for (ModelEntry *e = entries; e != NULL; e = e->next)
		if (e->checked && (name != NULL ? strcmp(e->pub.name, name) == 0 :
						   e->pub.model_id == model_id))
			entry = e;
	return entry;
}

/*
 * The entry of the named model, else of the model with the id: a live
 * entry validated since the last invalidation, else the registry's row
 * (loading the model when needed).  Unknown model: error, SQLSTATE 42704.
 */
static ModelEntry *
LookupEntry(const char *name, int32 model_id)
{
	ModelHeader header;
	ModelEntry *entry;

	FreeRetiredEntries();
	entry = FindCheckedEntry(name, model_id);
	if (entry == NULL)
		NoteModelsRelid();
	CheckCachedModelsReadable();
	if (entry == NULL)
	{
		CacheInvalCount seen = invalidations;

		SpiConnect();
		ReadExistingModelHeader(name, model_id, &header);
		entry = EntryForHeader(&header, seen);
		SPI_finish();
	}
	entry->last_used = ++lru_clock;
	return entry;
}

/* A model by name, or the active one (NULL when none is active). */
const CachedModel *
ModelByName(const char *name)
{
	if (name == NULL)
		return ActiveModel();
	return &LookupEntry(name, 0)->pub;
}

/* A model by name, or the active one, which must exist. */
const CachedModel *
RequireModel(const char *name)
{
	const CachedModel *model = ModelByName(name);

	if (model == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no model is active"),
				 errhint("Pass a model name, or activate a model with rerank.activate_model().")));
	return model;
}

/* A model by id. */
const CachedModel *
ModelById(int32 model_id)
{
	return &LookupEntry(NULL, model_id)->pub;
}

/* The id and dimensions of a named model, without loading it. */
int32
ModelIdByName(const char *name, int *dimensions)
{
	ModelEntry *entry = FindCheckedEntry(name, 0);
	ModelHeader header;

	if (entry == NULL)
		NoteModelsRelid();
	CheckCachedModelsReadable();
	if (entry != NULL)
	{
		*dimensions = entry->pub.dimensions;
		return entry->pub.model_id;
	}
	SpiConnect();
	ReadExistingModelHeader(name, 0, &header);
	SPI_finish();
	*dimensions = header.dimensions;
	return header.model_id;
}

/* Looks up ids the cache does not hold, with one index scan. */
static void
FetchItemVectors(const CachedModel *model, const int64 *item_ids, int n,
				 const float **vectors, float *biases)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT4OID, INT8ARRAYOID};
	int			k = model->dimensions;
	Datum		args[2];
	float	   *storage;

	for (int i = 0; i < n; i++)
	{
		vectors[i] = NULL;
		if (biases)
			biases[i] = 0;
	}
	if (n == 0 || k == 0)
		return;

	/* results live in the caller's memory context */
	storage = palloc(mul_size(mul_size(n, k), sizeof(float)));
	args[0] = Int32GetDatum(model->model_id);
	args[1] = PointerGetDatum(BuildInt64Array(item_ids, n));

	SpiConnect();
	ExecuteKeptPlan(&plan,
					"SELECT o.i OPERATOR(pg_catalog.-) 1, f.factors, f.bias "
					"FROM pg_catalog.unnest($2) WITH ORDINALITY AS o(id, i) "
					"JOIN rerank.item_factors f "
					"ON f.model_id OPERATOR(pg_catalog.=) $1 "
					"AND f.item_id OPERATOR(pg_catalog.=) o.id",
					2, argtypes, args, true, 0, SPI_OK_SELECT);
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[r];
		TupleDesc	tupdesc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		i = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
		ArrayType  *factors = DatumGetArrayTypeP(SPI_getbinval(tuple, tupdesc, 2, &isnull));

		if (i < 0 || i >= n || ARR_NDIM(factors) != 1 || ARR_DIMS(factors)[0] != k)
			elog(ERROR, "unexpected item vector row");
		memcpy(storage + i * k, ARR_DATA_PTR(factors), sizeof(float) * k);
		vectors[i] = storage + i * k;
		if (biases)
			biases[i] = DatumGetFloat4(SPI_getbinval(tuple, tupdesc, 3, &isnull));
	}
	SPI_finish();
}

/* How far ahead the look-ups request hash slots. */
#define LOOKUP_AHEAD 16
#define LOOKUP_RING (2 * LOOKUP_AHEAD)	/* a power of two above the distance */

/*
 * The cached look-ups, software-pipelined: candidates hit random hash slots
 * and random rows of the matrix, so one after the other each would cost a
 * cache miss.  Id i's hash slot is requested LOOKUP_AHEAD ids before it is
 * probed; the probe gives the row, the bias, the norm and the category
 * (each when asked for) and requests the vector, which stays requested for
 * the caller, who reads it next.  Items without a slot take their category
 * from the category cache.
 */
static void
CachedLookups(ModelEntry *entry, const int64 *item_ids, int n,
			  const float **vectors, float *biases, double *norms,
			  int32 *categories)
{
	itemmap_hash *map = entry->items;
	int			dims = entry->pub.dimensions;
	Size		row_bytes = sizeof(float) * dims;
	uint32		hashes[LOOKUP_RING];

	for (int i = 0; i < n + LOOKUP_AHEAD; i++)
	{
		int			j = i - LOOKUP_AHEAD;

		/* stage 1: hash the id, request its slot */
		if (i < n)
		{
			uint32		hash = HashItemId(item_ids[i]);

			hashes[i % LOOKUP_RING] = hash;
			CACHE_PREFETCH(&map->data[hash & map->sizemask]);
		}
		/* stage 2: probe; request the vector */
		if (j >= 0)
		{
			ItemSlot   *slot = itemmap_lookup_hash(map, item_ids[j],
												   hashes[j % LOOKUP_RING]);

			if (slot == NULL)
			{
				vectors[j] = NULL;
				if (biases)
					biases[j] = 0;
				if (norms)
					norms[j] = 0;
				if (categories)
					categories[j] = CategoryCacheLookupOne(item_ids[j]);
			}
			else
			{
				const char *v = (const char *) (entry->vectors + (Size) slot->row * dims);

				for (Size offset = 0; offset < row_bytes; offset += 64)
					CACHE_PREFETCH(v + offset);
				vectors[j] = (const float *) v;
				if (biases)
					biases[j] = slot->bias;
				if (norms)
					norms[j] = slot->norm;
				if (categories)
					categories[j] = slot->category;
			}
		}
	}
}

void
ModelItemVectors(const CachedModel *model, const int64 *item_ids, int n,
				 const float **vectors, float *biases)
{
	ModelEntry *entry = (ModelEntry *) model->private_data;

	/* over the budget, or no dimensions (no vectors, no query) */
	if (!model->vectors_cached || entry->items == NULL)
		FetchItemVectors(model, item_ids, n, vectors, biases);
	else
		CachedLookups(entry, item_ids, n, vectors, biases, NULL, NULL);
}

/*
 * Brings the category numbers in the entry's slots up to the category
 * cache's generation (loading that cache if need be); false when the
 * categories do not fit in their cache.  A new generation costs one
 * category look-up per item, once per backend.
 */
static bool
SyncSlotCategories(ModelEntry *entry)
{
	uint64		generation;

	if (!CategoryCacheEnsure())
		return false;
	generation = CategoryCacheGeneration();
	if (entry->category_generation != generation)
	{
		itemmap_iterator it;
		ItemSlot   *slot;
		uint32		count = 0;

		itemmap_start_iterate(entry->items, &it);
		while ((slot = itemmap_iterate(entry->items, &it)) != NULL)
		{
			if ((++count & 4095) == 0)
				CHECK_FOR_INTERRUPTS();
			slot->category = CategoryCacheLookupOne(slot->item_id);
		}
		entry->category_generation = generation;
	}
	return true;
}

bool
ModelItemDetails(const CachedModel *model, const int64 *item_ids, int n,
				 const float **vectors, float *biases, double *norms,
				 int32 *categories)
{
	ModelEntry *entry = (ModelEntry *) model->private_data;

	if (!model->vectors_cached || entry->items == NULL)
	{
		ModelItemVectors(model, item_ids, n, vectors, biases);
		if (norms)
			for (int i = 0; i < n; i++)
				norms[i] = vectors[i] != NULL ?
					VecNorm(vectors[i], (size_t) model->dimensions) : 0.0;
		return false;
	}
	/* categories over their budget: the slots still give the norms */
	if (categories != NULL && !SyncSlotCategories(entry))
		categories = NULL;
	CachedLookups(entry, item_ids, n, vectors, biases, norms, categories);
	return categories != NULL;
}

const float *
ModelItemVector(const CachedModel *model, int64 item_id, float *bias)
{
	const float *vector;
	float		b;

	ModelItemVectors(model, &item_id, 1, &vector, &b);
	if (bias)
		*bias = b;
	return vector;
}

/*
 * Loads the vectors of a model over the budget into a temporary entry in
 * the current memory context, which the cache never adopts.
 */
static ModelEntry *
LoadTemporaryCopy(const CachedModel *model)
{
	ModelEntry *copy = palloc0(sizeof(ModelEntry));

	copy->pub = *model;
	copy->pub.private_data = copy;
	copy->context = CurrentMemoryContext;
	SpiConnect();
	copy->pub.item_count = ItemCount(model->model_id);
	LoadVectors(copy);
	SPI_finish();
	return copy;
}

/* The whole catalog of a model as one matrix; see model_cache.h. */
void
ModelItemMatrix(const CachedModel *model, ItemMatrix *matrix)
{
	ModelEntry *entry = (ModelEntry *) model->private_data;

	memset(matrix, 0, sizeof(ItemMatrix));
	matrix->k = model->dimensions;
	if (model->dimensions == 0)
		return;
	if (model->item_count > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" has " INT64_FORMAT " items, too many to rank the whole catalog",
						model->name, model->item_count)));
	if (!model->vectors_cached)
		entry = LoadTemporaryCopy(model);
	matrix->n = (int) entry->pub.item_count;
	matrix->ids = entry->ids;
	matrix->vectors = entry->vectors;
	matrix->biases = entry->biases;
	matrix->private_data = entry->items;
}

/* The row of an item in a matrix, or -1. */
int32
ItemMatrixRow(const ItemMatrix *matrix, int64 item_id)
{
	ItemSlot   *slot;

	if (matrix->private_data == NULL)
		return -1;
	slot = itemmap_lookup((itemmap_hash *) matrix->private_data, item_id);
	return slot != NULL ? (int32) slot->row : -1;
}

PG_FUNCTION_INFO_V1(model_cache_invalidate);

/*
 * AFTER statement trigger of rerank.models: every change of a model row
 * invalidates the cached copies in all backends, at commit.
 */
Datum
model_cache_invalidate(PG_FUNCTION_ARGS)
{
	InvalidateCacheOnStatement(fcinfo, "model_cache_invalidate");
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(model_cache_info);

/*
 * The models cached in this backend: name, version, items, whether the
 * vectors are in memory, bytes, whether it is the active one, and the
 * backend's total number of loads (a test sees a reload through it).
 */
Datum
model_cache_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	/* the names and versions of models: what rerank.models shows */
	CheckCachedModelsReadable();
	InitMaterializedSRF(fcinfo, 0);
	for (ModelEntry *e = entries; e != NULL; e = e->next)
	{
		Datum		values[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};

		values[0] = CStringGetTextDatum(e->pub.name);
		values[1] = Int64GetDatum(e->pub.factors_version);
		values[2] = Int64GetDatum(e->pub.item_count);
		values[3] = BoolGetDatum(EntryInMemory(e));
		values[4] = Int64GetDatum((int64) e->bytes);
		values[5] = BoolGetDatum(e == active_entry && active_checked);
		values[6] = Int64GetDatum(loads);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
