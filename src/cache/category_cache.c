/*
 * category_cache.c
 *	  Item categories served from memory (see category_cache.h): the item
 *	  catalog's snapshot (snapshot.h, kind SNAPSHOT_CATALOG), one copy per
 *	  server with the preload, else this backend's.
 *
 * The snapshot holds a flat id table from item id to category number and
 * the category names end to end, numbered in byte order (one scan of
 * rerank.items ordered by category, so no name hash is needed).  Its
 * version is the catalog generation: with the preload a number in the
 * shared registry that the commit of any change of rerank.items replaces
 * (a transaction callback, armed by the statement trigger on rerank.items,
 * before the invalidation of the other backends is sent); without it, a
 * counter of this backend's invalidations.  A transaction that changed
 * rerank.items itself reads categories by query until it ends.  While a
 * new generation is being built by another backend, the previous one
 * serves (categories may lag a build behind a change, never the other way).
 */
#include "postgres.h"

#include "access/xact.h"
#include "cache/backend_cache.h"
#include "cache/cache_memory.h"
#include "cache/category_cache.h"
#include "cache/shared_registry.h"
#include "cache/snapshot.h"
#include "common/spi_util.h"
#include "core/id_table.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#if PG_VERSION_NUM >= 170000
#define CURRENT_LXID (MyProc->vxid.lxid)
#else
#define CURRENT_LXID (MyProc->lxid)
#endif

/* How many look-ups ahead CategoryCacheLookup prefetches table slots. */
#define CATEGORY_PREFETCH_AHEAD 16

/* GUC: per-backend budget for categories without the preload, megabytes. */
static int	category_cache_mb = 64;

/* The catalog version, known until the next invalidation of rerank.items. */
static bool version_known = false;
static Oid	items_relid = InvalidOid;
static int64 catalog_version = 0;
static int64 local_generation = 0;

/* This transaction's snapshot and its blocks. */
static LocalTransactionId snapshot_lxid = InvalidLocalTransactionId;
static const ServingSnapshot *catalog = NULL;
static uint64 catalog_serial = 0;	/* SnapshotSerial of catalog, 0 for none */
static SnapshotStatus catalog_status = SNAPSHOT_SERVED;
static Size status_budget = 0;
static const IdTableSlot *cat_table = NULL;
static uint64 cat_capacity = 0;
static const uint64 *name_starts = NULL;
static const char *names = NULL;
static int	ncategories = 0;

/* This transaction changed rerank.items: categories by query until its end. */
static bool items_changed = false;

/* CategoryRenumber's map from global to local numbers, by generation. */
static MemoryContext renumber_context = NULL;
static uint32 *renumber_stamp = NULL;
static int32 *renumber_local = NULL;
static int	renumber_size = 0;
static uint32 renumber_generation = 0;

/* Relcache callback: a change of rerank.items means a new version. */
static void
CategoryCacheRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == items_relid)
	{
		version_known = false;
		snapshot_lxid = InvalidLocalTransactionId;
	}
}

/* Assign hook of rerank.category_cache_mb: a new budget applies at once. */
static void
CategoryCacheBudgetAssign(int newval, void *extra)
{
	snapshot_lxid = InvalidLocalTransactionId;
}

/* The private budget of catalog snapshots, in bytes. */
static Size
CategoryPrivateBudget(void)
{
	return CacheBudgetBytes(category_cache_mb);
}

/*
 * At the commit of a transaction that changed rerank.items, a new catalog
 * generation (before the other backends hear of the change); PREPARE of
 * such a transaction is refused with the preload, since its commit would
 * not get one.
 */
static void
CategoryXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (items_changed && SnapshotsShared())
				SharedRegistryBumpGeneration(MyDatabaseId, SNAPSHOT_CATALOG);
			items_changed = false;
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (items_changed && SnapshotsShared())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that changed rerank.items"),
						 errdetail("rerank serves item categories from shared memory, and a prepared transaction's commit could not replace them.")));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_ABORT:
			items_changed = false;
			break;
		default:
			break;
	}
}

/*
 * The catalog kind's check: nothing to build from a transaction that
 * changed rerank.items (the caller read the generation before the build's
 * MVCC snapshot was taken, so the snapshot sees at least that content).
 */
static bool
CatalogIsCurrent(const SnapshotSource *source)
{
	return !items_changed;
}

/* What the plan counted, for the fill. */
typedef struct CatalogPlan
{
	int64		items;
	int64		categories;
	int64		name_bytes;
	uint64		capacity;
} CatalogPlan;

/* The fill's scan. */
typedef struct CatalogFill
{
	const CatalogPlan *plan;
	IdTableSlot *table;
	uint64	   *starts;
	char	   *names;
	int64		ncategories;
	int64		used;			/* name bytes written */
} CatalogFill;

/* Plans the catalog's blocks: one counting query. */
static void *
CatalogPlanBlocks(SnapshotBuild *build, const SnapshotSource *source)
{
	CatalogPlan *plan = palloc0(sizeof(CatalogPlan));
	bool		isnull;
	int			ret;

	ret = SPI_execute("SELECT (SELECT pg_catalog.count(*) FROM rerank.items"
					  "         WHERE category IS NOT NULL),"
					  "       pg_catalog.count(*),"
					  "       COALESCE(pg_catalog.sum(pg_catalog.octet_length(c)), 0)::bigint"
					  "  FROM (SELECT DISTINCT category AS c FROM rerank.items"
					  "         WHERE category IS NOT NULL) d", true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count rerank.items: %s", SPI_result_code_string(ret));
	plan->items = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	plan->categories = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	plan->name_bytes = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	if (plan->categories >= (int64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("rerank.items has " INT64_FORMAT " categories, more than can be served from memory",
						plan->categories)));
	plan->capacity = IdTableCapacity((uint64) plan->items);
	SnapshotReserve(build, BLOCK_CATEGORY_TABLE, plan->capacity, sizeof(IdTableSlot));
	SnapshotReserve(build, BLOCK_CATEGORY_NAME_STARTS, plan->categories + 1, sizeof(uint64));
	SnapshotReserve(build, BLOCK_CATEGORY_NAMES, plan->name_bytes, 1);
	return plan;
}

/* Adds one (item, category) row; rows come sorted by category name. */
static void
FillCategoryRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	CatalogFill *fill = (CatalogFill *) arg;
	bool		isnull;
	int64		item_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	text	   *name = DatumGetTextPP(SPI_getbinval(tuple, desc, 2, &isnull));
	int			length = VARSIZE_ANY_EXHDR(name);
	int64		n = fill->ncategories;

	/* sorted by name: a new name is a new number */
	if (n == 0 ||
		fill->starts[n] - fill->starts[n - 1] != (uint64) length ||
		memcmp(fill->names + fill->starts[n - 1], VARDATA_ANY(name), length) != 0)
	{
		if (n >= fill->plan->categories || fill->used + length > fill->plan->name_bytes)
			elog(ERROR, "rerank.items changed while loading");
		memcpy(fill->names + fill->used, VARDATA_ANY(name), length);
		fill->used += length;
		fill->starts[++n] = fill->used;
		fill->ncategories = n;
	}
	if (IdTableInsert(fill->table, fill->plan->capacity, item_id, (uint32) (n - 1), 0) < 0)
		elog(ERROR, "rerank.items changed while loading");
}

/* Fills the catalog's blocks. */
static void
CatalogFillBlocks(SnapshotBuild *build, const SnapshotSource *source, void *state)
{
	CatalogPlan *plan = (CatalogPlan *) state;
	CatalogFill fill;

	fill.plan = plan;
	fill.table = SnapshotBlockForWrite(build, BLOCK_CATEGORY_TABLE);
	fill.starts = SnapshotBlockForWrite(build, BLOCK_CATEGORY_NAME_STARTS);
	fill.names = SnapshotBlockForWrite(build, BLOCK_CATEGORY_NAMES);
	fill.ncategories = 0;
	fill.used = 0;
	fill.starts[0] = 0;
	IdTableClear(fill.table, plan->capacity);
	ScanQueryRows("SELECT item_id, category FROM rerank.items"
				  " WHERE category IS NOT NULL"
				  " ORDER BY category COLLATE pg_catalog.\"C\"",
				  0, NULL, NULL, FillCategoryRow, &fill);
	SnapshotBlockShrink(build, BLOCK_CATEGORY_NAME_STARTS, fill.ncategories + 1);
	if (plan->name_bytes > 0)
		SnapshotBlockShrink(build, BLOCK_CATEGORY_NAMES, fill.used);
}

static const SnapshotKindInfo catalog_kind = {
	.name = "item catalog",
	.private_budget = CategoryPrivateBudget,
	.private_budget_setting = "rerank.category_cache_mb",
	.latest_snapshot = true,
	.serve_previous = true,
	.is_current = CatalogIsCurrent
};

static const SnapshotProvider catalog_provider = {
	.name = "item categories",
	.kind = SNAPSHOT_CATALOG,
	.plan = CatalogPlanBlocks,
	.fill = CatalogFillBlocks
};

/* Registers the GUC, the kind, its provider and the callbacks. */
void
CategoryCacheInit(void)
{
	DefineCacheBudget("rerank.category_cache_mb",
					  "Memory per backend for item categories, in megabytes, when rerank is not in shared_preload_libraries.",
					  "Categories that do not fit are looked up by a query per call.",
					  &category_cache_mb, 64, CategoryCacheBudgetAssign);
	CacheRegisterRelcacheCallback(CategoryCacheRelcacheCallback, (Datum) 0);
	RegisterXactCallback(CategoryXactCallback, NULL);
	RegisterSnapshotKind(SNAPSHOT_CATALOG, &catalog_kind);
	RegisterSnapshotProvider(&catalog_provider);
}

/* Points the module at a snapshot's blocks (or at none). */
static void
SetCatalog(const ServingSnapshot *snapshot)
{
	uint64		starts;

	catalog = snapshot;
	catalog_serial = snapshot != NULL ? SnapshotSerial(snapshot) : 0;
	cat_table = NULL;
	cat_capacity = 0;
	name_starts = NULL;
	names = NULL;
	ncategories = 0;
	if (snapshot == NULL)
		return;
	cat_table = SnapshotBlock(snapshot, BLOCK_CATEGORY_TABLE, &cat_capacity);
	name_starts = SnapshotBlock(snapshot, BLOCK_CATEGORY_NAME_STARTS, &starts);
	names = SnapshotBlock(snapshot, BLOCK_CATEGORY_NAMES, NULL);
	ncategories = starts > 0 ? (int) (starts - 1) : 0;
	if (ncategories > renumber_size)
	{
		if (renumber_context == NULL)
			renumber_context = AllocSetContextCreate(TopMemoryContext, "rerank categories",
													 ALLOCSET_SMALL_SIZES);
		if (renumber_stamp != NULL)
		{
			pfree(renumber_stamp);
			pfree(renumber_local);
		}
		renumber_size = Max(ncategories, 2 * renumber_size);
		renumber_stamp = MemoryContextAllocZero(renumber_context, sizeof(uint32) * renumber_size);
		renumber_local = MemoryContextAlloc(renumber_context, sizeof(int32) * renumber_size);
		renumber_generation = 0;
	}
}

/*
 * Gets this transaction's catalog snapshot; whether categories are in
 * memory.  The current user must be allowed to read rerank.items, whether
 * the categories are in memory (this backend's or shared) or not.
 */
bool
CategoryCacheEnsure(void)
{
	SnapshotSource source;
	const ServingSnapshot *snapshot;

	if (!version_known || !OidIsValid(items_relid))
		items_relid = RerankTableOid("items");
	CheckCacheReadPrivilege(items_relid);
	if (items_changed)
	{
		SetCatalog(NULL);
		snapshot_lxid = InvalidLocalTransactionId;
		return false;
	}
	if (snapshot_lxid == CURRENT_LXID)
		return catalog != NULL;
	/* known not to fit this backend's budget: not again until it changes */
	if (version_known && catalog == NULL && !SnapshotsShared() &&
		(catalog_status == SNAPSHOT_OVER_BUDGET || catalog_status == SNAPSHOT_DISABLED) &&
		status_budget == CategoryPrivateBudget())
	{
		snapshot_lxid = CURRENT_LXID;
		return false;
	}
	if (!version_known)
	{
		catalog_version = SnapshotsShared() ?
			(int64) SharedRegistryGeneration(MyDatabaseId, SNAPSHOT_CATALOG) : ++local_generation;
		version_known = true;
	}
	memset(&source, 0, sizeof(source));
	source.key.kind = SNAPSHOT_CATALOG;
	source.key.dbid = MyDatabaseId;
	source.key.relid = items_relid;
	source.key.object_id = 0;
	source.key.version = catalog_version;
	source.label = "rerank.items";
	snapshot = GetServingSnapshot(&source, &catalog_status);
	status_budget = CategoryPrivateBudget();
	snapshot_lxid = CURRENT_LXID;
	/* the serial, not the pointer: a freed hold's memory may be reused */
	if ((snapshot != NULL ? SnapshotSerial(snapshot) : 0) != catalog_serial)
		SetCatalog(snapshot);
	return catalog != NULL;
}

/* The id table of this transaction's categories, or NULL; see the header. */
const IdTableSlot *
CategoryCacheTable(uint64 *capacity)
{
	if (!CategoryCacheEnsure())
		return NULL;
	*capacity = cat_capacity;
	return cat_table;
}

/* The category number of one item, or -1; the categories must be in memory. */
int32
CategoryCacheLookupOne(int64 item_id)
{
	const IdTableSlot *slot;

	Assert(catalog != NULL);
	slot = IdTableFind(cat_table, cat_capacity, item_id);
	return slot != NULL ? (int32) slot->value : -1;
}

/* Category numbers of items; see category_cache.h. */
bool
CategoryCacheLookup(const int64 *item_ids, int n, int32 *categories)
{
	if (!CategoryCacheEnsure())
		return false;
	for (int i = 0; i < n; i++)
	{
		/* candidates hit random slots: ask for later ones ahead of time */
		if (i + CATEGORY_PREFETCH_AHEAD < n)
			CACHE_PREFETCH(IdTableHome(cat_table, cat_capacity,
									   IdHash(item_ids[i + CATEGORY_PREFETCH_AHEAD])));
		categories[i] = CategoryCacheLookupOne(item_ids[i]);
	}
	return true;
}

/* Starts loading the table slots of the items, if they are in memory. */
void
CategoryCachePrefetch(const int64 *item_ids, int n)
{
	if (catalog == NULL || snapshot_lxid != CURRENT_LXID)
		return;
	for (int i = 0; i < n; i++)
		CACHE_PREFETCH(IdTableHome(cat_table, cat_capacity, IdHash(item_ids[i])));
}

const char *
CategoryName(int32 category, int *length)
{
	Assert(category >= 0 && category < ncategories);
	*length = (int) (name_starts[category + 1] - name_starts[category]);
	return names + name_starts[category];
}

/* The number of a category name, or -1; see category_cache.h. */
int32
CategoryFind(const char *name, int length)
{
	int			low = 0;
	int			high = ncategories - 1;

	/* the names were numbered in byte order (COLLATE "C") */
	while (low <= high)
	{
		int			mid = low + (high - low) / 2;
		int			mid_length;
		const char *mid_name = CategoryName(mid, &mid_length);
		int			cmp = memcmp(mid_name, name, Min(mid_length, length));

		if (cmp == 0)
			cmp = (mid_length > length) - (mid_length < length);
		if (cmp == 0)
			return mid;
		if (cmp < 0)
			low = mid + 1;
		else
			high = mid - 1;
	}
	return -1;
}

/* The local number of a category in the last renumbering, or -1. */
int32
CategoryLocalNumber(int32 category)
{
	if (category < 0 || category >= ncategories ||
		renumber_generation == 0 ||
		renumber_stamp[category] != renumber_generation)
		return -1;
	return renumber_local[category];
}

/* Dense local numbers for the categories of one call; O(n). */
int
CategoryRenumber(const int32 *categories, int n, int32 *local)
{
	int			nlocal = 0;

	/* a new generation makes every stamp stale; on wrap-around, clear */
	if (++renumber_generation == 0)
	{
		memset(renumber_stamp, 0, sizeof(uint32) * renumber_size);
		renumber_generation = 1;
	}
	for (int i = 0; i < n; i++)
	{
		int32		g = categories[i];

		if (g < 0 || g >= ncategories)
		{
			local[i] = -1;
			continue;
		}
		if (renumber_stamp[g] != renumber_generation)
		{
			renumber_stamp[g] = renumber_generation;
			renumber_local[g] = nlocal++;
		}
		local[i] = renumber_local[g];
	}
	return nlocal;
}

PG_FUNCTION_INFO_V1(category_cache_invalidate);

/*
 * AFTER statement trigger of rerank.items: a change of item ids or
 * categories replaces the categories served to every backend at commit;
 * until then this transaction reads them by query.
 */
Datum
category_cache_invalidate(PG_FUNCTION_ARGS)
{
	InvalidateCacheOnStatement(fcinfo, "category_cache_invalidate");
	items_changed = true;
	return PointerGetDatum(NULL);
}
