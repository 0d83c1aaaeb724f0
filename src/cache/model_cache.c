/*
 * model_cache.c
 *	  Models as backends see them (see model_cache.h for the contract): the
 *	  registry row of each model a backend uses, with what serving reads of
 *	  its version taken from the version's served snapshot (snapshot.h): one
 *	  copy per server in shared memory with the preload, else this backend's.
 *
 * An entry holds a model's registry row (name, dimensions, factors_version,
 * fold-in parameters) and pointers into the snapshot of its version: the
 * item vectors in ascending item id order, their ids and biases, a flat id
 * table from item id to row with the bias and the vector's norm in the
 * slot, YᵀY, and an
 * item-kNN model's neighbor lists.  Entries are keyed by the model id and
 * its data version (cache_key.h: a version no aborted transaction can give
 * back, which also keys the model's served snapshots) and validated against
 * rerank.models after any relcache invalidation of that table; a statement
 * trigger on rerank.models sends one at commit for every change of a model
 * row, and a statement changing item factors or neighbor lists gives the
 * model row a new version, so serving never queries the registry while
 * nothing changes.  In each transaction an entry asks for its snapshot
 * again (a few comparisons when nothing changed), so the pointers it gives
 * are valid for the transaction.  Whoever asks, from memory or not, must
 * have the right to read what the cache holds (CheckCachedModelsReadable):
 * privileges never depend on what is in memory, shared or not.
 *
 * A version that cannot be served from memory (over its budget, or written
 * by the current transaction and not committed) is read from the tables:
 * vectors by index per call, the whole catalog by a temporary copy, YᵀY
 * once into the entry.  The answers are the same.
 *
 * An entry being replaced may still be in use by the current statement, so
 * replaced entries are retired and freed only in a later transaction.
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "cache/backend_cache.h"
#include "cache/cache_key.h"
#include "cache/cache_memory.h"
#include "cache/category_cache.h"
#include "cache/model_blocks.h"
#include "cache/model_cache.h"
#include "cache/neighbor_lists.h"
#include "cache/ranker_cache.h"
#include "cache/snapshot.h"
#include "cache/user_knn_cache.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "core/id_table.h"
#include "core/vec.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#if PG_VERSION_NUM >= 170000
#define CURRENT_LXID (MyProc->vxid.lxid)
#else
#define CURRENT_LXID (MyProc->lxid)
#endif

/* A model as this backend uses it: the public part first. */
typedef struct ModelEntry
{
	CachedModel pub;
	MemoryContext context;		/* the entry, and YᵀY when read from tables */
	const ServingSnapshot *snapshot;	/* NULL: read from the tables */
	uint64		snapshot_serial;	/* SnapshotSerial of it, 0 for none */
	SnapshotStatus status;		/* why, when NULL */
	Size		status_budget;	/* the private budget status was found for */
	LocalTransactionId snapshot_lxid;	/* the transaction it was got in */
	/* blocks of the snapshot */
	const int64 *ids;
	const float *vectors;
	const float *biases;
	const ItemTableSlot *table; /* item id → row; NULL: no vector at all */
	uint64		capacity;
	NeighborLists neighbors;
	const UserKnnIndex *user_knn;	/* user-kNN: the index, in the snapshot */
	float	   *own_gram;		/* YᵀY read from the tables */
	bool		checked;		/* validated since the last invalidation */
	uint64		last_used;		/* LRU clock */
	LocalTransactionId retired_in;	/* retired entries: freed later */
	struct ModelEntry *next;
} ModelEntry;

/* GUC: per-backend budget for models held without the preload, megabytes. */
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
 * Relcache callback: a change of rerank.models makes every entry suspect
 * (entries also ask for their snapshot again, at once); a change of any
 * table the cache reads, the tables' OIDs too.
 */
static void
ModelCacheRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == models_relid)
	{
		invalidations++;
		active_checked = false;
		for (ModelEntry *e = entries; e != NULL; e = e->next)
		{
			e->checked = false;
			e->snapshot_lxid = InvalidLocalTransactionId;
		}
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
 * Called by every look-up, whether it is served from memory (this backend's
 * or shared) or not, so that what a role may read never depends on what is
 * in memory.
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

/* The private budget of model snapshots, in bytes. */
static Size
ModelPrivateBudget(void)
{
	return CacheBudgetBytes(model_cache_mb);
}

/*
 * The model kind's check, under the build's MVCC snapshot inside SPI:
 * the model row shows the version asked for, and was not written by this
 * transaction (then its content is committed, and the version names it).
 */
static bool
ModelIsCurrent(const SnapshotSource *source)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum((int32) source->key.object_id)};
	bool		isnull;
	int64		version;
	TransactionId xmin;

	ExecuteKeptPlan(&plan, "SELECT factors_version, xmin FROM rerank.models "
					"WHERE model_id OPERATOR(pg_catalog.=) $1",
					1, argtypes, args, true, 1, SPI_OK_SELECT);
	if (SPI_processed != 1)
		return false;
	version = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return version == source->key.version && !TransactionIdIsCurrentTransactionId(xmin);
}

static const SnapshotKindInfo model_kind = {
	.name = "model",
	.private_budget = ModelPrivateBudget,
	.private_budget_setting = "rerank.model_cache_mb",
	.latest_snapshot = false,
	.serve_previous = false,
	.is_current = ModelIsCurrent
};

/* Models deleted by this transaction: their shared versions go at commit. */
static int32 *dropped = NULL;
static int	ndropped = 0;
static int	dropped_capacity = 0;
static Oid	dropped_relid = InvalidOid;

/*
 * At commit, the versions of the models this transaction deleted are
 * released (shared ones freed when their last reader unmaps them); a model
 * id is never used again, so nothing would ever ask for them.
 */
static void
ModelXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT)
	{
		for (int i = 0; i < ndropped; i++)
		{
			SnapshotKey object;

			memset(&object, 0, sizeof(object));
			object.kind = SNAPSHOT_MODEL;
			object.dbid = MyDatabaseId;
			object.relid = dropped_relid;
			object.object_id = dropped[i];
			SnapshotRelease(&object);
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE)
		ndropped = 0;
}

void
ModelCacheInit(void)
{
	DefineCacheBudget("rerank.model_cache_mb",
					  "Memory per backend for models, in megabytes, when rerank is not in shared_preload_libraries.",
					  "A model that does not fit is read from its tables per call.",
					  &model_cache_mb, 256, ModelCacheBudgetAssign);
	CacheRegisterRelcacheCallback(ModelCacheRelcacheCallback, (Datum) 0);
	RegisterXactCallback(ModelXactCallback, NULL);
	RegisterSnapshotKind(SNAPSHOT_MODEL, &model_kind);
	ModelBlocksInit();
	NeighborListsInit();
	UserKnnCacheInit();
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
		"SELECT " MODEL_HEADER_COLUMNS " FROM rerank.models WHERE is_active"
		" AND algorithm OPERATOR(pg_catalog.<>) 'ranker'",
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

/* Points the entry at a snapshot's blocks (NULL: read from the tables). */
static void
SetSnapshot(ModelEntry *entry, const ServingSnapshot *snapshot)
{
	uint64		count;

	entry->snapshot = snapshot;
	entry->snapshot_serial = snapshot != NULL ? SnapshotSerial(snapshot) : 0;
	entry->ids = NULL;
	entry->vectors = NULL;
	entry->biases = NULL;
	entry->table = NULL;
	entry->capacity = 0;
	memset(&entry->neighbors, 0, sizeof(NeighborLists));
	entry->user_knn = NULL;
	entry->pub.gram = entry->own_gram;
	entry->pub.vectors_cached = entry->pub.dimensions == 0;
	entry->pub.neighbors_cached = false;
	if (snapshot == NULL)
		return;
	entry->ids = SnapshotBlock(snapshot, BLOCK_MODEL_IDS, &count);
	entry->pub.item_count = (int64) count;
	entry->vectors = SnapshotBlock(snapshot, BLOCK_MODEL_VECTORS, NULL);
	entry->biases = SnapshotBlock(snapshot, BLOCK_MODEL_BIASES, NULL);
	entry->table = SnapshotBlock(snapshot, BLOCK_MODEL_ITEM_TABLE, &entry->capacity);
	entry->pub.gram = SnapshotBlock(snapshot, BLOCK_MODEL_GRAM, NULL);
	entry->pub.vectors_cached = true;
	entry->pub.neighbors_cached = NeighborListsOf(snapshot, &entry->neighbors);
	entry->user_knn = SnapshotBlock(snapshot, BLOCK_USER_KNN_INDEX, NULL);
	loads++;
}

/*
 * Reads what an entry needs when it is served from the tables: its item
 * count and YᵀY, once per entry, under the current transaction's view.
 */
static void
ReadFromTables(ModelEntry *entry)
{
	int			k = entry->pub.dimensions;

	if (entry->own_gram != NULL || entry->pub.item_count >= 0)
		return;
	SpiConnect();
	entry->pub.item_count = ModelItemCount(entry->pub.model_id);
	if (k > 0 && entry->pub.item_count > 0)
	{
		float	   *gram = MemoryContextAlloc(entry->context, sizeof(float) * k * k);

		if (ModelReadGram(entry->pub.model_id, k, entry->pub.name, gram))
			entry->own_gram = gram;
	}
	SPI_finish();
	entry->pub.gram = entry->own_gram;
}

/*
 * Gets the entry's snapshot for this transaction: the same one in a few
 * comparisons while nothing changed, a new one after a build elsewhere,
 * NULL when the version is read from the tables.
 */
static void
RefreshSnapshot(ModelEntry *entry)
{
	SnapshotSource source;
	ModelSource detail;
	SnapshotStatus status;
	const ServingSnapshot *snapshot;

	if (entry->snapshot_lxid == CURRENT_LXID)
		return;
	/* known not to fit this backend's budget: not again until it changes */
	if (entry->snapshot == NULL && !SnapshotsShared() &&
		entry->snapshot_lxid != InvalidLocalTransactionId &&
		(entry->status == SNAPSHOT_OVER_BUDGET || entry->status == SNAPSHOT_DISABLED) &&
		entry->status_budget == ModelPrivateBudget())
	{
		entry->snapshot_lxid = CURRENT_LXID;
		return;
	}
	memset(&source, 0, sizeof(source));
	source.key.kind = SNAPSHOT_MODEL;
	source.key.dbid = MyDatabaseId;
	source.key.relid = models_relid;
	source.key.object_id = entry->pub.model_id;
	source.key.version = entry->pub.factors_version;
	source.label = entry->pub.name;
	detail.model_id = entry->pub.model_id;
	detail.dimensions = entry->pub.dimensions;
	detail.neighbors = ModelHasNeighbors(&entry->pub);
	detail.user_knn = ModelIsUserKnn(&entry->pub);
	source.detail = &detail;

	snapshot = GetServingSnapshot(&source, &status);
	entry->snapshot_lxid = CURRENT_LXID;
	entry->status = status;
	entry->status_budget = ModelPrivateBudget();
	/* the serial, not the pointer: a freed hold's memory may be reused */
	if ((snapshot != NULL ? SnapshotSerial(snapshot) : 0) != entry->snapshot_serial)
		SetSnapshot(entry, snapshot);
	if (snapshot == NULL)
		ReadFromTables(entry);
}

/*
 * A new entry for the model described by header; its snapshot is got by
 * the caller (RefreshSnapshot).
 */
static ModelEntry *
LoadModel(const ModelHeader *header)
{
	MemoryContext context;
	ModelEntry *entry;

	if (CacheContext == NULL)
		CacheContext = AllocSetContextCreate(TopMemoryContext, "rerank model cache",
											 ALLOCSET_SMALL_SIZES);
	context = AllocSetContextCreate(CacheContext, "rerank cached model",
									ALLOCSET_SMALL_SIZES);
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
	entry->pub.item_count = -1;
	entry->pub.vectors_cached = entry->pub.dimensions == 0;
	entry->snapshot_lxid = InvalidLocalTransactionId;
	entry->next = entries;
	entries = entry;
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
 * Returns an up-to-date entry for the model of header: the entry of the
 * same key, else a new one (retiring the stale one).  An entry of a version
 * this transaction wrote is never kept: after the commit (or the rollback)
 * it is read again.  The entry counts as checked only when no invalidation
 * arrived since seen, the count taken before the header was read
 * (cache_key.h).
 */
static ModelEntry *
EntryForHeader(const ModelHeader *header, CacheInvalCount seen)
{
	ModelEntry *entry = FindEntry(header->model_id);
	ModelDataKey key = {header->model_id, header->factors_version};

	if (entry != NULL &&
		ModelDataKeyEquals(EntryKey(entry), key) &&
		entry->pub.dimensions == header->dimensions &&
		strcmp(entry->pub.algorithm, header->algorithm) == 0 &&
		entry->status != SNAPSHOT_NOT_CURRENT)
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

/* The index of a user-kNN model, from memory or read; see model_cache.h. */
const UserKnnIndex *
ModelUserKnnIndex(const CachedModel *model)
{
	const ModelEntry *entry = (const ModelEntry *) model->private_data;
	MemoryContext caller = CurrentMemoryContext;
	UserKnnRows *rows;
	const UserKnnIndex *index;

	Assert(ModelIsUserKnn(model));
	/* every call, in memory or not: what its load would read */
	CheckCachedTablesReadable(USER_KNN_TABLES, CACHED_TABLES);
	if (entry->user_knn != NULL)
		return entry->user_knn;
	SpiConnect();
	rows = UserKnnReadRows(model->model_id, model->name);
	index = UserKnnBuild(caller, rows);
	SPI_finish();
	return index;
}

/* The neighbor list of an item from the snapshot; see model_cache.h. */
bool
ModelItemNeighbors(const CachedModel *model, int64 item_id, NeighborList *list)
{
	const ModelEntry *entry = (const ModelEntry *) model->private_data;

	Assert(model->neighbors_cached);
	return NeighborListsFind(&entry->neighbors, item_id, list);
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
	RefreshSnapshot(active_entry);
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
	RefreshSnapshot(entry);
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

/* How far ahead the look-ups request table slots. */
#define LOOKUP_AHEAD 16
#define LOOKUP_RING (2 * LOOKUP_AHEAD)	/* a power of two above the distance */

/*
 * The look-ups in the snapshot, software-pipelined: candidates hit random
 * slots of the id table and random rows of the matrix, so one after the
 * other each would cost a cache miss (and, in shared memory on small pages,
 * a TLB miss).  Id i's slot (and its category slot) is requested
 * LOOKUP_AHEAD ids before it is probed; the probe gives the row, the bias
 * and the norm, and requests the vector, which stays requested for the
 * caller, who reads it next.  categories, when not NULL, come from the
 * category table (cat_table, every item, with or without a vector).
 */
static void
CachedLookups(ModelEntry *entry, const int64 *item_ids, int n,
			  const float **vectors, float *biases, double *norms,
			  int32 *categories, const IdTableSlot *cat_table,
			  uint64 cat_capacity)
{
	const ItemTableSlot *table = entry->table;
	uint64		capacity = entry->capacity;
	int			dims = entry->pub.dimensions;
	Size		row_bytes = sizeof(float) * dims;
	uint64		hashes[LOOKUP_RING];

	for (int i = 0; i < n + LOOKUP_AHEAD; i++)
	{
		int			j = i - LOOKUP_AHEAD;

		/* stage 1: hash the id, request its slots */
		if (i < n)
		{
			uint64		hash = IdHash(item_ids[i]);

			hashes[i % LOOKUP_RING] = hash;
			CACHE_PREFETCH(IdTableHomeSized(table, capacity, sizeof(ItemTableSlot), hash));
			if (categories)
				CACHE_PREFETCH(IdTableHome(cat_table, cat_capacity, hash));
		}
		/* stage 2: probe; request the vector */
		if (j >= 0)
		{
			uint64		hash = hashes[j % LOOKUP_RING];
			const ItemTableSlot *slot = (const ItemTableSlot *)
				IdTableProbeSized(table, capacity, sizeof(ItemTableSlot), item_ids[j], hash);

			if (categories)
			{
				const IdTableSlot *cat = IdTableProbe(cat_table, cat_capacity,
													  item_ids[j], hash);

				categories[j] = cat != NULL ? (int32) cat->value : -1;
			}
			if (slot == NULL)
			{
				vectors[j] = NULL;
				if (biases)
					biases[j] = 0;
				if (norms)
					norms[j] = 0;
			}
			else
			{
				const char *v = (const char *) (entry->vectors + (Size) slot->base.value * dims);

				for (Size offset = 0; offset < row_bytes; offset += 64)
					CACHE_PREFETCH(v + offset);
				vectors[j] = (const float *) v;
				if (biases)
					memcpy(&biases[j], &slot->base.aux, sizeof(float));
				if (norms)
					norms[j] = slot->norm;
			}
		}
	}
}

/* Whether the entry's vectors are looked up in its snapshot. */
static bool
InSnapshot(const ModelEntry *entry)
{
	return entry->snapshot != NULL && entry->pub.dimensions > 0;
}

/* No vector for any of n ids (a model in memory with no item vectors). */
static void
NoVectors(int n, const float **vectors, float *biases, double *norms)
{
	for (int i = 0; i < n; i++)
	{
		vectors[i] = NULL;
		if (biases)
			biases[i] = 0;
		if (norms)
			norms[i] = 0;
	}
}

void
ModelItemVectors(const CachedModel *model, const int64 *item_ids, int n,
				 const float **vectors, float *biases)
{
	ModelEntry *entry = (ModelEntry *) model->private_data;

	if (!InSnapshot(entry))
		FetchItemVectors(model, item_ids, n, vectors, biases);
	else if (entry->table == NULL)
		NoVectors(n, vectors, biases, NULL);
	else
		CachedLookups(entry, item_ids, n, vectors, biases, NULL, NULL, NULL, 0);
}

bool
ModelItemDetails(const CachedModel *model, const int64 *item_ids, int n,
				 const float **vectors, float *biases, double *norms,
				 int32 *categories)
{
	ModelEntry *entry = (ModelEntry *) model->private_data;
	const IdTableSlot *cat_table = NULL;
	uint64		cat_capacity = 0;

	if (!InSnapshot(entry) || entry->table == NULL)
	{
		ModelItemVectors(model, item_ids, n, vectors, biases);
		if (norms)
			for (int i = 0; i < n; i++)
				norms[i] = vectors[i] != NULL ?
					VecNorm(vectors[i], (size_t) model->dimensions) : 0.0;
		return false;
	}
	/* categories not in memory: the slots still give the rest */
	if (categories != NULL &&
		(cat_table = CategoryCacheTable(&cat_capacity)) == NULL)
		categories = NULL;
	CachedLookups(entry, item_ids, n, vectors, biases, norms, categories,
				  cat_table, cat_capacity);
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

/* An ItemMatrix's map from item id to row. */
typedef struct MatrixIndex
{
	const ItemTableSlot *table;
	uint64		capacity;
} MatrixIndex;

/* TemporaryMatrix's scan: the next row. */
typedef struct MatrixCopy
{
	int			k;
	int64		n;
	int64		row;
	int64	   *ids;
	float	   *vectors;
	float	   *biases;
	ItemTableSlot *table;
	uint64		capacity;
} MatrixCopy;

/* Copies one row of a temporary matrix. */
static void
CopyMatrixRow(HeapTuple tuple, TupleDesc tupdesc, void *arg)
{
	MatrixCopy *copy = (MatrixCopy *) arg;
	bool		isnull;
	int64		item_id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
	ArrayType  *factors = DatumGetArrayTypeP(SPI_getbinval(tuple, tupdesc, 2, &isnull));

	if (copy->row >= copy->n || ARR_NDIM(factors) != 1 ||
		ARR_DIMS(factors)[0] != copy->k)
		elog(ERROR, "item factors changed while loading");
	memcpy(copy->vectors + copy->row * copy->k, ARR_DATA_PTR(factors),
		   sizeof(float) * copy->k);
	copy->ids[copy->row] = item_id;
	copy->biases[copy->row] = DatumGetFloat4(SPI_getbinval(tuple, tupdesc, 3, &isnull));
	(void) IdTableInsertSized(copy->table, copy->capacity, sizeof(ItemTableSlot),
							  item_id, (uint32) copy->row, 0);
	copy->row++;
}

/*
 * The vectors of a model not served from memory, read into the current
 * memory context for one whole-catalog ranking (correct, slower).
 */
static void
TemporaryMatrix(const CachedModel *model, ItemMatrix *matrix, MatrixIndex *index)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model->model_id)};
	MatrixCopy	copy;
	MemoryContext caller = CurrentMemoryContext;

	SpiConnect();
	copy.k = model->dimensions;
	copy.n = ModelItemCount(model->model_id);
	if (copy.n > PG_INT32_MAX - 1)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" has " INT64_FORMAT " items, too many to rank the whole catalog",
						model->name, copy.n)));
	copy.row = 0;
	/* in the caller's context, not SPI's */
	copy.ids = MemoryContextAllocExtended(caller, mul_size(Max(copy.n, 1), sizeof(int64)), MCXT_ALLOC_HUGE);
	copy.vectors = CacheMemoryAlloc(caller, mul_size(Max(copy.n, 1), mul_size(copy.k, sizeof(float))), false);
	copy.biases = MemoryContextAllocExtended(caller, mul_size(Max(copy.n, 1), sizeof(float)), MCXT_ALLOC_HUGE);
	copy.capacity = IdTableCapacity((uint64) copy.n);
	copy.table = MemoryContextAllocExtended(caller, mul_size(copy.capacity, sizeof(ItemTableSlot)), MCXT_ALLOC_HUGE);
	IdTableClearSized(copy.table, copy.capacity, sizeof(ItemTableSlot));
	ScanQueryRows("SELECT item_id, factors, bias FROM rerank.item_factors "
				  "WHERE model_id OPERATOR(pg_catalog.=) $1 ORDER BY item_id",
				  1, argtypes, args, CopyMatrixRow, &copy);
	SPI_finish();
	matrix->n = (int) copy.row;
	matrix->ids = copy.ids;
	matrix->vectors = copy.vectors;
	matrix->biases = copy.biases;
	index->table = copy.table;
	index->capacity = copy.capacity;
}

/* The whole catalog of a model as one matrix; see model_cache.h. */
void
ModelItemMatrix(const CachedModel *model, ItemMatrix *matrix)
{
	ModelEntry *entry = (ModelEntry *) model->private_data;
	MatrixIndex *index = palloc0(sizeof(MatrixIndex));

	memset(matrix, 0, sizeof(ItemMatrix));
	matrix->k = model->dimensions;
	matrix->private_data = index;
	if (model->dimensions == 0)
		return;
	if (!InSnapshot(entry))
	{
		TemporaryMatrix(model, matrix, index);
		return;
	}
	matrix->n = (int) model->item_count;
	matrix->ids = entry->ids;
	matrix->vectors = entry->vectors;
	matrix->biases = entry->biases;
	index->table = entry->table;
	index->capacity = entry->capacity;
}

/* The row of an item in a matrix, or -1. */
int32
ItemMatrixRow(const ItemMatrix *matrix, int64 item_id)
{
	const MatrixIndex *index = (const MatrixIndex *) matrix->private_data;
	const IdTableSlot *slot;

	if (index == NULL || index->table == NULL)
		return -1;
	slot = IdTableProbeSized(index->table, index->capacity, sizeof(ItemTableSlot),
							 item_id, IdHash(item_id));
	return slot != NULL ? (int32) slot->value : -1;
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
 * The models this backend uses: name, version, items, whether the vectors
 * (or lists) are in memory, bytes of the snapshot, whether it is the active
 * one, and the backend's total number of snapshots taken up (a test sees a
 * reload through it).
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
		values[2] = Int64GetDatum(Max(e->pub.item_count, 0));
		values[3] = BoolGetDatum(EntryInMemory(e));
		values[4] = Int64GetDatum(e->snapshot != NULL ? (int64) SnapshotBytes(e->snapshot) : 0);
		values[5] = BoolGetDatum(e == active_entry && active_checked);
		values[6] = Int64GetDatum(loads);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(warm_model);

/*
 * rerank.warm_model(name): builds (or maps) the snapshot of the model's
 * committed version now, so that the first calls after its activation find
 * it ready; true when it is served from memory.  A ranker's is its forest
 * (ranker_cache.c), which the model cache does not hold.
 */
Datum
warm_model(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ModelEntry *entry;
	bool		served;

	CheckCachedModelsReadable();
	if (WarmRanker(name, 0, false, &served))
		PG_RETURN_BOOL(served);
	entry = LookupEntry(name, 0);
	PG_RETURN_BOOL(EntryInMemory(entry));
}

PG_FUNCTION_INFO_V1(prepare_activation);

/*
 * rerank.prepare_activation(model_id): what activation (and rollback) does
 * first, before it changes the registry: with the preload, the model's
 * snapshot is built (or found) so that no backend waits for it after the
 * commit; for a ranker, the snapshot of its forest, and a booster whose
 * forest does not build is an error here, before anything is active.
 * Nothing without the preload, where each backend loads its own copy
 * anyway.  The caller needs to be able to read the models either way (it
 * is executable by PUBLIC and runs as the caller).
 */
Datum
prepare_activation(PG_FUNCTION_ARGS)
{
	bool		served;

	CheckCachedModelsReadable();
	if (SnapshotsShared() && !PG_ARGISNULL(0) &&
		!WarmRanker(NULL, PG_GETARG_INT32(0), true, &served))
		(void) LookupEntry(NULL, PG_GETARG_INT32(0));
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(model_memory_release);

/*
 * AFTER DELETE statement trigger of rerank.models (transition table
 * dropped_models): notes the deleted models, whose versions held in memory
 * are released at commit.
 */
Datum
model_memory_release(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	int			ret;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		trigdata->tg_oldtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("model_memory_release: must be fired AFTER DELETE, FOR EACH STATEMENT, with an OLD TABLE")));
	dropped_relid = RelationGetRelid(trigdata->tg_relation);
	SpiConnect();
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition table");
	ret = SPI_execute("SELECT model_id FROM dropped_models", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the deleted models: %s", SPI_result_code_string(ret));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		Datum		id = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull);

		if (isnull)
			continue;
		if (ndropped == dropped_capacity)
		{
			dropped_capacity = Max(16, 2 * dropped_capacity);
			dropped = dropped == NULL ?
				MemoryContextAlloc(TopMemoryContext, sizeof(int32) * dropped_capacity) :
				repalloc(dropped, sizeof(int32) * dropped_capacity);
		}
		dropped[ndropped++] = DatumGetInt32(id);
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}
