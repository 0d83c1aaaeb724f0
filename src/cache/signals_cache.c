/*
 * signals_cache.c
 *	  Item signals in backend memory (see signals_cache.h).
 *
 * One load reads the three tables once each through SPI, gathers the rows
 * by item in a temporary map, and writes the block with ItemSignalsBuild
 * into memory of its own context, built under the transaction's memory and
 * adopted only when complete (an error or a cancel during a load leaks
 * nothing).  Rows are numbered lists first (by item id), then the other
 * items as they come, so the lists form one CSR array without a sort.
 * Statistics rows computed at different times (a hand edit) are decayed to
 * the latest one's time.  Brand numbers follow the brand names' byte order.
 */
#include "postgres.h"

#include <math.h>

#include "cache/backend_cache.h"
#include "cache/cache_memory.h"
#include "cache/signals_cache.h"
#include "catalog/pg_type.h"
#include "common/feat_time.h"
#include "common/id_map.h"
#include "common/spi_util.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/memutils.h"

/* GUC: per-backend budget for the item signals, in megabytes. */
static int	signals_cache_mb = 256;

static MemoryContext cache_context = NULL;
static bool cache_valid = false;
static const ItemSignals *cache_block = NULL;
static Oid	watched[3] = {InvalidOid, InvalidOid, InvalidOid};

/* Relcache callback: a change of a source table makes the block stale. */
static void
SignalsCacheRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == watched[0] || relid == watched[1] ||
		relid == watched[2])
		cache_valid = false;
}

/* Assign hook of rerank.signals_cache_mb: a new budget applies at once. */
static void
SignalsCacheBudgetAssign(int newval, void *extra)
{
	cache_valid = false;
}

void
SignalsCacheInit(void)
{
	DefineCacheBudget("rerank.signals_cache_mb",
					  "Memory per backend for the cached item signals (popularity, first seen, brands, co-visitation lists), in megabytes.",
					  "Signals that do not fit are not used: rerank() serves without them, with a WARNING.",
					  &signals_cache_mb, 256, SignalsCacheBudgetAssign);
	CacheRegisterRelcacheCallback(SignalsCacheRelcacheCallback, (Datum) 0);
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

/* Loads the block, or notes that there is none or it does not fit. */
static void
SignalsCacheLoad(void)
{
	Size		budget = CacheBudgetBytes(signals_cache_mb);
	MemoryContext context;
	MemoryContext scratch;
	MemoryContext caller = CurrentMemoryContext;
	SignalsLoad load;
	ItemSignalsInput input;
	int64		rows;
	int64		links;
	size_t		size;
	void	   *memory;

	watched[0] = RerankTableOid("items");
	watched[1] = RerankTableOid("item_stats");
	watched[2] = RerankTableOid("item_covisits");

	SpiConnect();
	rows = CountQuery("SELECT (SELECT pg_catalog.count(*) FROM rerank.item_stats)"
					  " OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM rerank.item_covisits)"
					  " OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM rerank.items"
					  "                         WHERE brand IS NOT NULL)");
	links = CountQuery("SELECT pg_catalog.sum(pg_catalog.cardinality(neighbor_ids))::pg_catalog.int8"
					   " FROM rerank.item_covisits");
	memset(&input, 0, sizeof(input));
	input.nitems = rows;
	/* an upper bound: the rows may share items */
	size = ItemSignalsSize(&input) + (size_t) links * (sizeof(int64) + sizeof(float));
	if (rows == 0 || rows > PG_INT32_MAX / 2 || size > budget)
	{
		SPI_finish();
		if (cache_context != NULL)
			MemoryContextDelete(cache_context);
		cache_context = NULL;
		cache_block = NULL;
		cache_valid = true;
		if (rows > 0)
			ereport(WARNING,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("the item signals (%lld items, %lld co-visitation entries, about %zu MB) do not fit in rerank.signals_cache_mb (%d MB)",
							(long long) rows, (long long) links, size / (1024 * 1024) + 1,
							signals_cache_mb),
					 errdetail("rerank() serves without popularity, item age, brands and co-visitation."),
					 errhint("Raise rerank.signals_cache_mb, or build shorter lists.")));
		return;
	}

	context = AllocSetContextCreate(CurTransactionContext, "rerank signals cache",
									ALLOCSET_DEFAULT_SIZES);
	scratch = AllocSetContextCreate(CurTransactionContext, "rerank signals load",
									ALLOCSET_DEFAULT_SIZES);
	/* the rows are read under SPI into the load's own context */
	MemoryContextSwitchTo(scratch);
	memset(&load, 0, sizeof(load));
	load.map = idmap_create(scratch, (uint32) Min(rows + 16, PG_UINT32_MAX / 2), NULL);
	load.capacity = 1024;
	load.ids = palloc(sizeof(int64) * load.capacity);
	load.brands = palloc(sizeof(int32) * load.capacity);
	load.first_seen = palloc(sizeof(double) * load.capacity);
	load.popularity = palloc(sizeof(float) * FEAT_POP_WINDOWS * load.capacity);
	load.computed_at = palloc(sizeof(double) * load.capacity);
	load.offsets = palloc(sizeof(int64) * (load.capacity + 1));
	load.offsets[0] = 0;
	load.link_capacity = 4096;
	load.link_ids = palloc(sizeof(int64) * load.link_capacity);
	load.link_weights = palloc(sizeof(float) * load.link_capacity);

	ScanQueryRows("SELECT item_id, neighbor_ids, weights FROM rerank.item_covisits"
				  " ORDER BY item_id", 0, NULL, NULL, LoadListRow, &load);
	ScanQueryRows("SELECT item_id, first_seen_at, popularity_hour, popularity_day,"
				  " popularity_week, computed_at FROM rerank.item_stats",
				  0, NULL, NULL, LoadStatsRow, &load);
	ScanQueryRows("SELECT item_id, brand FROM rerank.items WHERE brand IS NOT NULL"
				  " ORDER BY brand COLLATE pg_catalog.\"C\"",
				  0, NULL, NULL, LoadBrandRow, &load);
	SPI_finish();				/* back in the caller's context */
	MemoryContextSwitchTo(scratch);

	/* every row's counts at the latest statistics time */
	for (int32 r = 0; r < load.n; r++)
		if (!isnan(load.computed_at[r]))
			ItemStatsDecay(load.popularity + r * FEAT_POP_WINDOWS, load.computed_at[r],
						   load.stats_at);

	input.nitems = load.n;
	input.ids = load.ids;
	input.brands = load.brands;
	input.first_seen = load.first_seen;
	input.popularity = load.popularity;
	input.has_stats = load.has_stats;
	input.stats_at = load.stats_at;
	input.list_offsets = load.nlinks > 0 ? load.offsets : NULL;
	input.list_ids = load.link_ids;
	input.list_weights = load.link_weights;
	size = ItemSignalsSize(&input);
	memory = CacheMemoryAlloc(context, size, false);
	if (!ItemSignalsBuild(memory, size, &input))
		elog(ERROR, "could not build the item signals block");
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(scratch);

	/* complete: adopt it */
	MemoryContextSetParent(context, TopMemoryContext);
	if (cache_context != NULL)
		MemoryContextDelete(cache_context);
	cache_context = context;
	cache_block = ItemSignalsOpen(memory, size);
	cache_valid = true;
}

const ItemSignals *
SignalsCacheBlock(void)
{
	/* what a role may read never depends on what is cached */
	if (!cache_valid || !OidIsValid(watched[0]) || !OidIsValid(watched[1]) ||
		!OidIsValid(watched[2]))
	{
		watched[0] = RerankTableOid("items");
		watched[1] = RerankTableOid("item_stats");
		watched[2] = RerankTableOid("item_covisits");
	}
	/* a 0.1.0 schema (before ALTER EXTENSION rerank UPDATE): no signals */
	if (!OidIsValid(watched[1]) || !OidIsValid(watched[2]))
		return NULL;
	for (int t = 0; t < 3; t++)
		CheckCacheReadPrivilege(watched[t]);
	if (!cache_valid)
		SignalsCacheLoad();
	return cache_block;
}

PG_FUNCTION_INFO_V1(signals_cache_invalidate);

/*
 * AFTER statement trigger of rerank.item_stats, rerank.item_covisits and
 * rerank.items: invalidates the item signals cached by every backend, at
 * commit.
 */
Datum
signals_cache_invalidate(PG_FUNCTION_ARGS)
{
	InvalidateCacheOnStatement(fcinfo, "signals_cache_invalidate");
	return PointerGetDatum(NULL);
}
