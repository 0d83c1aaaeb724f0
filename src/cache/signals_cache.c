/*
 * signals_cache.c
 *	  The item signals served from memory (see signals_cache.h): a served
 *	  snapshot (snapshot.h, kind SNAPSHOT_SIGNALS) of one block, one copy per
 *	  server with the preload, else this backend's.
 *
 * A build reads the three tables once each through SPI (the provider's
 * plan), gathers the rows by item in a temporary map, and writes the block
 * with ItemSignalsBuild into the snapshot's memory (its fill).  Rows are
 * numbered lists first (by item id), then the other items as they come, so
 * the lists form one CSR array without a sort.  Statistics rows computed at
 * different times (a hand edit) are decayed to the latest one's time.
 * Brand numbers follow the brand names' byte order.
 *
 * The version is the signals generation: with the preload a number in the
 * shared registry that the commit of any change of the three tables
 * replaces (a transaction callback, armed by their statement triggers,
 * before the invalidation of the other backends is sent); without it, a
 * counter of this backend's invalidations of the three tables.  A
 * transaction that changed them builds a block of its own from what it
 * sees (within rerank.signals_cache_mb), freed at its end: what it wrote is
 * never served to another transaction before its commit.
 *
 * PREPARED VERSIONS.  With the preload, the refresh procedures build the
 * version their commit makes current before they commit
 * (SignalsCachePrepare), so no call waits for a build after it: under a
 * lock of their own (one prepared version at a time per database) they
 * read the generation (the base), take a new version number, and build a
 * prepared snapshot (snapshot.h) from what the transaction sees.  At the
 * commit the version becomes the generation if the generation is still the
 * base and nothing changed the tables after the build in the transaction
 * (SharedRegistryAdoptPrepared; else a new generation as before, built at
 * first use); a rollback of the transaction, or of a subtransaction the
 * build ran in, retires it.  Either way the preparing backend unmaps it.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "cache/backend_cache.h"
#include "cache/cache_memory.h"
#include "cache/shared_registry.h"
#include "cache/signals_cache.h"
#include "cache/snapshot.h"
#include "catalog/pg_type.h"
#include "common/feat_time.h"
#include "common/id_map.h"
#include "common/spi_util.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"

#if PG_VERSION_NUM >= 170000
#define CURRENT_LXID (MyProc->vxid.lxid)
#else
#define CURRENT_LXID (MyProc->lxid)
#endif

/* The label of the signals' snapshots (messages, rerank.model_memory). */
#define SIGNALS_LABEL "rerank.item_stats, item_covisits, items.brand"

/*
 * The fourth field of the advisory lock tag a transaction holds from its
 * prepared build to its end ('S'; builds use 'R', SHARED_BUILD_LOCK_FIELD4).
 */
#define SIGNALS_PREPARE_LOCK_FIELD4 83

/* GUC: per-backend budget for the item signals without the preload, MB. */
static int	signals_cache_mb = 256;

/* The tables, and the signals version, known until their next invalidation. */
static Oid	watched[3] = {InvalidOid, InvalidOid, InvalidOid};
static bool version_known = false;
static int64 signals_version = 0;
static int64 local_generation = 0;

/* This transaction's block (from a snapshot), and why there is none. */
static LocalTransactionId block_lxid = InvalidLocalTransactionId;
static const ItemSignals *served_block = NULL;
static SnapshotStatus signals_status = SNAPSHOT_SERVED;
static Size status_budget = 0;

/*
 * This transaction changed the tables: it reads a block of its own, built
 * under TopTransactionContext (valid while own_lxid is the transaction's
 * and own_valid holds).
 */
static bool signals_changed = false;
static LocalTransactionId own_lxid = InvalidLocalTransactionId;
static bool own_valid = false;
static MemoryContext own_context = NULL;
static const ItemSignals *own_block = NULL;

/*
 * This transaction's prepared version (with the preload): its key, the
 * generation its build started from, the subtransaction it was built in,
 * and whether it still holds what the transaction will commit.
 */
static bool prepared = false;
static bool prepared_valid = false;
static SnapshotKey prepared_key;
static uint64 prepared_base = 0;
static SubTransactionId prepared_subid = InvalidSubTransactionId;

/* Relcache callback: a change of a source table means a new version. */
static void
SignalsCacheRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == watched[0] || relid == watched[1] ||
		relid == watched[2])
	{
		version_known = false;
		block_lxid = InvalidLocalTransactionId;
		own_valid = false;
	}
}

/* Assign hook of rerank.signals_cache_mb: a new budget applies at once. */
static void
SignalsCacheBudgetAssign(int newval, void *extra)
{
	block_lxid = InvalidLocalTransactionId;
	own_valid = false;
}

/* The private budget of signals snapshots, in bytes. */
static Size
SignalsPrivateBudget(void)
{
	return CacheBudgetBytes(signals_cache_mb);
}

/*
 * Gives this transaction's prepared version up (rolled back, or not what
 * it commits) and unmaps it.
 */
static void
DiscardPrepared(void)
{
	if (!prepared)
		return;
	SharedRegistryDiscardPrepared(&prepared_key);
	SnapshotForget(&prepared_key);
	prepared = false;
	prepared_valid = false;
}

/*
 * At the commit of a transaction that changed the signals' tables, a new
 * signals generation (before the other backends hear of the change): its
 * prepared version when it still holds what commits and no other change
 * committed since its build, else a number built at first use.  PREPARE
 * of such a transaction is refused with the preload, since its commit
 * would not get one.  A rollback gives the prepared version up.
 */
static void
SignalsXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (signals_changed && SnapshotsShared())
			{
				if (prepared && prepared_valid)
					(void) SharedRegistryAdoptPrepared(MyDatabaseId, SNAPSHOT_SIGNALS,
													   prepared_base, &prepared_key);
				else
				{
					DiscardPrepared();
					SharedRegistryBumpGeneration(MyDatabaseId, SNAPSHOT_SIGNALS);
				}
			}
			else
				DiscardPrepared();
			/* the preparing backend did not serve it: no mapping held */
			if (prepared)
				SnapshotForget(&prepared_key);
			prepared = false;
			prepared_valid = false;
			signals_changed = false;
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (signals_changed && SnapshotsShared())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that changed the item signals"),
						 errdetail("rerank serves the item signals (rerank.item_stats, rerank.item_covisits, brands in rerank.items) from shared memory, and a prepared transaction's commit could not replace them.")));
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_ABORT:
			DiscardPrepared();
			signals_changed = false;
			break;
		default:
			break;
	}
}

/*
 * The rollback of the subtransaction a prepared version was built in, or
 * of one around it, takes back what the build read: the version goes.
 */
static void
SignalsSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && prepared && mySubid <= prepared_subid)
		DiscardPrepared();
}

/*
 * The signals kind's check: nothing to build from a transaction that
 * changed the tables (the caller read the generation before the build's
 * MVCC snapshot was taken, so the snapshot sees at least that content).
 */
static bool
SignalsIsCurrent(const SnapshotSource *source)
{
	return !signals_changed;
}

/* A load in progress. */
typedef struct SignalsLoad
{
	idmap_hash *map;
	int32		n;
	int32		capacity;
	int64	   *ids;
	int32	   *brands;
	double	   *first_seen;
	float	   *popularity;
	double	   *computed_at;	/* per row; NaN: no statistics row */
	int64	   *offsets;		/* CSR of the lists (rows with lists first) */
	int64		nlinks;
	int64		link_capacity;
	int64	   *link_ids;
	float	   *link_weights;
	int32		nbrands;
	char	   *brand_name;		/* the previous row's brand, for numbering */
	int			brand_length;
	bool		has_stats;
	double		stats_at;
} SignalsLoad;

/* The row of an item, added with nothing known when new. */
static int32
LoadRow(SignalsLoad *load, int64 item_id)
{
	int32		before = load->n;
	int32		row = IdMapAdd(load->map, item_id, &load->n);

	if (load->n > before)
	{
		if (load->n > load->capacity)
		{
			int32		capacity = Max(1024, load->capacity * 2);

			load->ids = repalloc_huge(load->ids, sizeof(int64) * capacity);
			load->brands = repalloc_huge(load->brands, sizeof(int32) * capacity);
			load->first_seen = repalloc_huge(load->first_seen, sizeof(double) * capacity);
			load->popularity = repalloc_huge(load->popularity,
											 sizeof(float) * FEAT_POP_WINDOWS * capacity);
			load->computed_at = repalloc_huge(load->computed_at, sizeof(double) * capacity);
			load->offsets = repalloc_huge(load->offsets, sizeof(int64) * (capacity + 1));
			load->capacity = capacity;
		}
		load->ids[row] = item_id;
		load->brands[row] = -1;
		load->first_seen[row] = NAN;
		for (int w = 0; w < FEAT_POP_WINDOWS; w++)
			load->popularity[row * FEAT_POP_WINDOWS + w] = 0.0f;
		load->computed_at[row] = NAN;
		load->offsets[row + 1] = load->nlinks;
	}
	return row;
}

/* QueryRowFn: a row of rerank.item_covisits, in item id order. */
static void
LoadListRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	SignalsLoad *load = arg;
	bool		isnull;
	int64		item_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	Datum		ids_datum = SPI_getbinval(tuple, desc, 2, &isnull);
	bool		ids_null = isnull;
	Datum		weights_datum = SPI_getbinval(tuple, desc, 3, &isnull);
	Datum	   *ids = NULL,
			   *weights = NULL;
	bool	   *id_nulls = NULL,
			   *weight_nulls = NULL;
	int			nids = 0,
				nweights = 0;
	int32		row;

	/* rows come by item id, before any other: each opens the next list */
	row = LoadRow(load, item_id);
	if (!ids_null && !isnull)
	{
		deconstruct_array(DatumGetArrayTypeP(ids_datum), INT8OID, 8, FLOAT8PASSBYVAL,
						  TYPALIGN_DOUBLE, &ids, &id_nulls, &nids);
		deconstruct_array(DatumGetArrayTypeP(weights_datum), FLOAT4OID, 4, true,
						  TYPALIGN_INT, &weights, &weight_nulls, &nweights);
	}
	for (int e = 0; e < Min(nids, nweights); e++)
	{
		float		w;

		/* a hand-edited list: NULL or non-finite entries are left out */
		if (id_nulls[e] || weight_nulls[e])
			continue;
		w = DatumGetFloat4(weights[e]);
		if (!isfinite(w))
			continue;
		if (load->nlinks == load->link_capacity)
		{
			load->link_capacity = Max(4096, load->link_capacity * 2);
			load->link_ids = repalloc_huge(load->link_ids, sizeof(int64) * load->link_capacity);
			load->link_weights = repalloc_huge(load->link_weights,
											   sizeof(float) * load->link_capacity);
		}
		load->link_ids[load->nlinks] = DatumGetInt64(ids[e]);
		load->link_weights[load->nlinks] = w;
		load->nlinks++;
	}
	load->offsets[row + 1] = load->nlinks;
	if (ids != NULL)
	{
		pfree(ids);
		pfree(weights);
		pfree(id_nulls);
		pfree(weight_nulls);
	}
}

/* QueryRowFn: a row of rerank.item_stats. */
static void
LoadStatsRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	SignalsLoad *load = arg;
	bool		isnull;
	int32		row = LoadRow(load, DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull)));
	Datum		first = SPI_getbinval(tuple, desc, 2, &isnull);
	double		at;

	load->first_seen[row] = isnull ? NAN : FeatTimeFromTimestamp(DatumGetTimestampTz(first));
	for (int w = 0; w < FEAT_POP_WINDOWS; w++)
		load->popularity[row * FEAT_POP_WINDOWS + w] =
			DatumGetFloat4(SPI_getbinval(tuple, desc, 3 + w, &isnull));
	at = FeatTimeFromTimestamp(DatumGetTimestampTz(SPI_getbinval(tuple, desc,
																  3 + FEAT_POP_WINDOWS,
																  &isnull)));
	load->computed_at[row] = at;
	if (!isnan(at) && (!load->has_stats || at > load->stats_at))
		load->stats_at = at;
	load->has_stats = load->has_stats || !isnan(at);
}

/* QueryRowFn: an item with a brand, in brand name order. */
static void
LoadBrandRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	SignalsLoad *load = arg;
	bool		isnull;
	int32		row = LoadRow(load, DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull)));
	text	   *name = DatumGetTextPP(SPI_getbinval(tuple, desc, 2, &isnull));
	int			length = VARSIZE_ANY_EXHDR(name);

	if (load->brand_name == NULL || load->brand_length != length ||
		memcmp(load->brand_name, VARDATA_ANY(name), length) != 0)
	{
		load->brand_name = pnstrdup(VARDATA_ANY(name), length);
		load->brand_length = length;
		load->nbrands++;
	}
	load->brands[row] = load->nbrands - 1;
}

/* One number from a one-row query. */
static int64
CountQuery(const char *sql)
{
	bool		isnull;
	int64		count;
	int			ret = SPI_execute(sql, true, 1);

	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the item signals: %s", SPI_result_code_string(ret));
	count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										&isnull));
	return isnull ? 0 : count;
}

/*
 * Reads the three tables (inside SPI) into load and input, in the current
 * memory context; returns the bytes of the block, 0 when there are no
 * signals at all (or more items than a block holds, with a WARNING).
 */
static Size
SignalsRead(SignalsLoad *load, ItemSignalsInput *input)
{
	int64		rows;

	rows = CountQuery("SELECT (SELECT pg_catalog.count(*) FROM rerank.item_stats)"
					  " OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM rerank.item_covisits)"
					  " OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM rerank.items"
					  "                         WHERE brand IS NOT NULL)");
	memset(input, 0, sizeof(ItemSignalsInput));
	memset(load, 0, sizeof(SignalsLoad));
	if (rows == 0)
		return 0;
	if (rows > PG_INT32_MAX / 2)
	{
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the item signals have %lld rows, more than can be served from memory",
						(long long) rows),
				 errdetail("rerank() serves without popularity, item age, brands and co-visitation.")));
		return 0;
	}

	load->map = idmap_create(CurrentMemoryContext, (uint32) Min(rows + 16, PG_UINT32_MAX / 2), NULL);
	load->capacity = 1024;
	load->ids = palloc(sizeof(int64) * load->capacity);
	load->brands = palloc(sizeof(int32) * load->capacity);
	load->first_seen = palloc(sizeof(double) * load->capacity);
	load->popularity = palloc(sizeof(float) * FEAT_POP_WINDOWS * load->capacity);
	load->computed_at = palloc(sizeof(double) * load->capacity);
	load->offsets = palloc(sizeof(int64) * (load->capacity + 1));
	load->offsets[0] = 0;
	load->link_capacity = 4096;
	load->link_ids = palloc(sizeof(int64) * load->link_capacity);
	load->link_weights = palloc(sizeof(float) * load->link_capacity);

	ScanQueryRows("SELECT item_id, neighbor_ids, weights FROM rerank.item_covisits"
				  " ORDER BY item_id", 0, NULL, NULL, LoadListRow, load);
	ScanQueryRows("SELECT item_id, first_seen_at, popularity_hour, popularity_day,"
				  " popularity_week, computed_at FROM rerank.item_stats",
				  0, NULL, NULL, LoadStatsRow, load);
	ScanQueryRows("SELECT item_id, brand FROM rerank.items WHERE brand IS NOT NULL"
				  " ORDER BY brand COLLATE pg_catalog.\"C\"",
				  0, NULL, NULL, LoadBrandRow, load);

	/* every row's counts at the latest statistics time */
	for (int32 r = 0; r < load->n; r++)
		if (!isnan(load->computed_at[r]))
			ItemStatsDecay(load->popularity + r * FEAT_POP_WINDOWS, load->computed_at[r],
						   load->stats_at);

	input->nitems = load->n;
	input->ids = load->ids;
	input->brands = load->brands;
	input->first_seen = load->first_seen;
	input->popularity = load->popularity;
	input->has_stats = load->has_stats;
	input->stats_at = load->stats_at;
	input->list_offsets = load->nlinks > 0 ? load->offsets : NULL;
	input->list_ids = load->link_ids;
	input->list_weights = load->link_weights;
	return load->n > 0 ? ItemSignalsSize(input) : 0;
}

/* Writes the block of input into memory of size bytes (SignalsRead's). */
static void
SignalsWrite(const ItemSignalsInput *input, void *memory, Size size)
{
	if (!ItemSignalsBuild(memory, size, input))
		elog(ERROR, "could not build the item signals block");
}

/* What the plan read, for the fill. */
typedef struct SignalsPlan
{
	SignalsLoad load;
	ItemSignalsInput input;
	Size		size;
} SignalsPlan;

/* Plans the signals' block: reads the tables (the build's SPI memory). */
static void *
SignalsPlanBlocks(SnapshotBuild *build, const SnapshotSource *source)
{
	SignalsPlan *plan = palloc0(sizeof(SignalsPlan));

	plan->size = SignalsRead(&plan->load, &plan->input);
	if (plan->size > 0)
		SnapshotReserve(build, BLOCK_ITEM_SIGNALS, plan->size, 1);
	return plan;
}

/* Fills the signals' block. */
static void
SignalsFillBlocks(SnapshotBuild *build, const SnapshotSource *source, void *state)
{
	SignalsPlan *plan = (SignalsPlan *) state;

	if (plan->size > 0)
		SignalsWrite(&plan->input, SnapshotBlockForWrite(build, BLOCK_ITEM_SIGNALS),
					 plan->size);
}

static const SnapshotKindInfo signals_kind = {
	.name = "item signals",
	.private_budget = SignalsPrivateBudget,
	.private_budget_setting = "rerank.signals_cache_mb",
	.without_memory = "rerank() serves without popularity, item age, brands and co-visitation",
	.latest_snapshot = true,
	.serve_previous = false,
	.is_current = SignalsIsCurrent
};

static const SnapshotProvider signals_provider = {
	.name = "item signals",
	.kind = SNAPSHOT_SIGNALS,
	.plan = SignalsPlanBlocks,
	.fill = SignalsFillBlocks
};

/* Registers the GUC, the kind, its provider and the callbacks. */
void
SignalsCacheInit(void)
{
	DefineCacheBudget("rerank.signals_cache_mb",
					  "Memory per backend for the item signals (popularity, first seen, brands, co-visitation lists), in megabytes, when rerank is not in shared_preload_libraries.",
					  "Signals that do not fit are not used: rerank() serves without them, with a WARNING. With the preload they are held once per server within rerank.shared_cache_mb; 0 turns them off for the session either way.",
					  &signals_cache_mb, 256, SignalsCacheBudgetAssign);
	CacheRegisterRelcacheCallback(SignalsCacheRelcacheCallback, (Datum) 0);
	RegisterXactCallback(SignalsXactCallback, NULL);
	RegisterSubXactCallback(SignalsSubXactCallback, NULL);
	RegisterSnapshotKind(SNAPSHOT_SIGNALS, &signals_kind);
	RegisterSnapshotProvider(&signals_provider);
}

/*
 * The block of a transaction that changed the tables (or cannot build a
 * snapshot): built from what it sees, once per change, within the private
 * budget; NULL when empty, turned off (a budget of 0) or over it (with a
 * WARNING).
 */
static const ItemSignals *
OwnBlock(void)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext context;
	SignalsLoad load;
	ItemSignalsInput input;
	Size		size;
	void	   *memory = NULL;

	if (own_lxid == CURRENT_LXID && own_valid)
		return own_block;
	/* the previous one of this transaction goes; earlier ones went with theirs */
	if (own_lxid == CURRENT_LXID && own_context != NULL)
		MemoryContextDelete(own_context);
	own_context = NULL;
	own_block = NULL;
	own_lxid = InvalidLocalTransactionId;
	/* turned off for the session */
	if (SignalsPrivateBudget() == 0)
	{
		own_lxid = CURRENT_LXID;
		own_valid = true;
		return NULL;
	}

	context = AllocSetContextCreate(TopTransactionContext, "rerank own item signals",
									ALLOCSET_DEFAULT_SIZES);
	SpiConnect();
	size = SignalsRead(&load, &input);
	if (size > SignalsPrivateBudget())
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the item signals changed in this transaction (%zu MB) do not fit in rerank.signals_cache_mb (%d MB)",
						size / (1024 * 1024) + 1, signals_cache_mb),
				 errdetail("Until the transaction ends, rerank() serves without popularity, item age, brands and co-visitation."),
				 errhint("Raise rerank.signals_cache_mb.")));
	else if (size > 0)
	{
		memory = CacheMemoryAlloc(context, size, false);
		SignalsWrite(&input, memory, size);
	}
	SPI_finish();
	MemoryContextSwitchTo(caller);
	own_context = context;
	own_block = memory != NULL ? ItemSignalsOpen(memory, size) : NULL;
	own_lxid = CURRENT_LXID;
	own_valid = true;
	return own_block;
}

/* The block of this transaction's snapshot, or NULL; see the header. */
const ItemSignals *
SignalsCacheBlock(void)
{
	SnapshotSource source;
	const ServingSnapshot *snapshot;
	const void *memory;
	uint64		size;

	if (!version_known || !OidIsValid(watched[0]) || !OidIsValid(watched[1]) ||
		!OidIsValid(watched[2]))
	{
		watched[0] = RerankTableOid("items");
		watched[1] = RerankTableOid("item_stats");
		watched[2] = RerankTableOid("item_covisits");
	}
	/* a 0.1.0 schema (before ALTER EXTENSION rerank UPDATE): no signals */
	if (!OidIsValid(watched[1]) || !OidIsValid(watched[2]))
		return NULL;
	/* what a role may read never depends on what is cached */
	for (int t = 0; t < 3; t++)
		CheckCacheReadPrivilege(watched[t]);
	if (signals_changed)
		return OwnBlock();
	if (block_lxid == CURRENT_LXID)
		return served_block;
	/* known not to fit this backend's budget: not again until it changes */
	if (version_known && served_block == NULL && !SnapshotsShared() &&
		(signals_status == SNAPSHOT_OVER_BUDGET || signals_status == SNAPSHOT_DISABLED) &&
		status_budget == SignalsPrivateBudget())
	{
		block_lxid = CURRENT_LXID;
		return NULL;
	}
	if (!version_known)
	{
		signals_version = SnapshotsShared() ?
			(int64) SharedRegistryGeneration(MyDatabaseId, SNAPSHOT_SIGNALS) :
			++local_generation;
		version_known = true;
	}
	memset(&source, 0, sizeof(source));
	source.key.kind = SNAPSHOT_SIGNALS;
	source.key.dbid = MyDatabaseId;
	source.key.relid = watched[1];
	source.key.object_id = 0;
	source.key.version = signals_version;
	source.label = SIGNALS_LABEL;
	snapshot = GetServingSnapshot(&source, &signals_status);
	status_budget = SignalsPrivateBudget();
	if (signals_status == SNAPSHOT_NOT_CURRENT)
		return OwnBlock();
	served_block = NULL;
	if (snapshot != NULL &&
		(memory = SnapshotBlock(snapshot, BLOCK_ITEM_SIGNALS, &size)) != NULL)
	{
		served_block = ItemSignalsOpen(memory, size);
		if (served_block == NULL)
			elog(ERROR, "the item signals snapshot holds no valid block");
	}
	block_lxid = CURRENT_LXID;
	return served_block;
}

PG_FUNCTION_INFO_V1(signals_cache_invalidate);

/*
 * AFTER statement trigger of rerank.item_stats, rerank.item_covisits and
 * rerank.items: a change replaces the item signals served to every backend
 * at commit; until then this transaction builds its own from what it sees.
 */
Datum
signals_cache_invalidate(PG_FUNCTION_ARGS)
{
	InvalidateCacheOnStatement(fcinfo, "signals_cache_invalidate");
	signals_changed = true;
	own_valid = false;
	/* a change after the prepared build: it is not what commits */
	prepared_valid = false;
	return PointerGetDatum(NULL);
}

/*
 * With the preload, builds the item signals this transaction will commit,
 * as a prepared version (see the file's header); see signals_cache.h.
 */
void
SignalsCachePrepare(void)
{
	SnapshotSource source;
	LOCKTAG		tag;
	Oid			relids[3];

	if (!SnapshotsShared() || !signals_changed)
		return;
	relids[0] = RerankTableOid("items");
	relids[1] = RerankTableOid("item_stats");
	relids[2] = RerankTableOid("item_covisits");
	if (!OidIsValid(relids[0]) || !OidIsValid(relids[1]) || !OidIsValid(relids[2]))
		return;
	/* a caller who could not read them serves them no other way */
	for (int t = 0; t < 3; t++)
		if (!CacheReadAllowed(relids[t]))
			return;
	/* a second refresh in the transaction: the first one's build is stale */
	DiscardPrepared();

	/*
	 * One prepared version at a time per database, until the end of its
	 * transaction: a second refresh builds after the first commits, so from
	 * its changes, and finds the generation it read still current at its own
	 * commit.
	 */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) SNAPSHOT_SIGNALS, 0,
						 SIGNALS_PREPARE_LOCK_FIELD4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	/* the base before the build's MVCC snapshot: it sees at least that */
	memset(&source, 0, sizeof(source));
	source.key.kind = SNAPSHOT_SIGNALS;
	source.key.dbid = MyDatabaseId;
	source.key.relid = relids[1];
	source.key.object_id = 0;
	prepared_base = SharedRegistryGeneration(MyDatabaseId, SNAPSHOT_SIGNALS);
	source.key.version = (int64) SharedRegistryNewVersion();
	source.label = SIGNALS_LABEL;
	/* noted before the build: an error after its publication still retires it */
	prepared_key = source.key;
	prepared_subid = GetCurrentSubTransactionId();
	prepared = true;
	prepared_valid = true;
	if (SnapshotPrepare(&source) != SNAPSHOT_SERVED)
		DiscardPrepared();
}
