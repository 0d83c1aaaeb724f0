/*
 * category_cache.c
 *	  Item categories in backend memory (see category_cache.h).
 *
 * One load scans rerank.items ordered by category, so category numbers are
 * assigned as the names change and no name hash is needed.  The cache is
 * built in a context under the transaction's memory and adopted only when
 * complete, so an error or a cancel during a load leaks nothing; the old
 * cache is freed when the new one is adopted (callers never keep category
 * numbers or names across calls).
 */
#include "postgres.h"

#include "cache/backend_cache.h"
#include "cache/cache_key.h"
#include "cache/cache_memory.h"
#include "cache/category_cache.h"
#include "common/spi_util.h"
#include "core/id_hash.h"
#include "core/key_values.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/inval.h"
#include "utils/memutils.h"

typedef struct CategorySlot
{
	int64		item_id;
	int32		category;
	char		status;
} CategorySlot;

#define SH_PREFIX catmap
#define SH_ELEMENT_TYPE CategorySlot
#define SH_KEY_TYPE int64
#define SH_KEY item_id
#define SH_HASH_KEY(tb, key) ((uint32) IdHash(key))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_USE_NONDEFAULT_ALLOCATOR
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* The hash's slots: on huge pages when big (cache_memory.c). */
CACHE_MEMORY_HASH_ALLOCATOR(catmap)

/* How many look-ups ahead CategoryCacheLookup prefetches hash slots. */
#define CATEGORY_PREFETCH_AHEAD 16

/* GUC: per-backend budget for cached categories, in megabytes. */
static int	category_cache_mb = 64;

/* The cache: valid until the next invalidation of rerank.items. */
static MemoryContext cache_context = NULL;
static bool cache_valid = false;
static bool cache_fits = false;
static Oid	items_relid = InvalidOid;
static catmap_hash *cache_map = NULL;
static int	cache_ncategories = 0;
static char **cache_names = NULL;
static int *cache_name_lengths = NULL;
/* CategoryRenumber's map from global to local numbers, by generation */
static uint32 *renumber_stamp = NULL;
static int32 *renumber_local = NULL;
static uint32 renumber_generation = 0;
/* bumped by every load that fits: numbers of one generation never change */
static uint64 cache_generation = 0;

/* invalidations received, to trust a load only if none arrived meanwhile */
static CacheInvalCount invalidations = 0;

/* Relcache callback: a change of rerank.items makes the cache stale. */
static void
CategoryCacheRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == items_relid)
	{
		invalidations++;
		cache_valid = false;
	}
}

/* Assign hook of rerank.category_cache_mb: a new budget applies at once. */
static void
CategoryCacheBudgetAssign(int newval, void *extra)
{
	cache_valid = false;
}

/* Registers the GUC and the invalidation callback. */
void
CategoryCacheInit(void)
{
	DefineCacheBudget("rerank.category_cache_mb",
					  "Memory per backend for cached item categories, in megabytes.",
					  "Categories that do not fit are looked up by a query per call.",
					  &category_cache_mb, 64, CategoryCacheBudgetAssign);
	CacheRegisterRelcacheCallback(CategoryCacheRelcacheCallback, (Datum) 0);
}

/* Rows of rerank.items with a category, or -1 when over budget. */
static int64
CountCategorized(void)
{
	int			ret = SPI_execute("SELECT pg_catalog.count(*) FROM rerank.items"
								  " WHERE category IS NOT NULL", true, 1);
	bool		isnull;

	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count rerank.items: %s", SPI_result_code_string(ret));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/* A load in progress: the map and the names so far, in its context. */
typedef struct CategoryLoad
{
	MemoryContext context;
	catmap_hash *map;
	int			capacity;
	int			ncategories;
	char	  **names;
	int		   *lengths;
} CategoryLoad;

/* Adds one (item, category) row; rows come sorted by category name. */
static void
LoadCategoryRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	CategoryLoad *load = (CategoryLoad *) arg;
	bool		isnull;
	int64		item_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	text	   *name = DatumGetTextPP(SPI_getbinval(tuple, desc, 2, &isnull));
	int			length = VARSIZE_ANY_EXHDR(name);
	int			n = load->ncategories;
	CategorySlot *slot;
	bool		found;

	/* sorted by name: a new name is a new number */
	if (n == 0 || load->lengths[n - 1] != length ||
		memcmp(load->names[n - 1], VARDATA_ANY(name), length) != 0)
	{
		if (n == load->capacity)
		{
			load->capacity *= 2;
			load->names = repalloc(load->names, sizeof(char *) * load->capacity);
			load->lengths = repalloc(load->lengths, sizeof(int) * load->capacity);
		}
		load->names[n] = MemoryContextAlloc(load->context, Max(length, 1));
		memcpy(load->names[n], VARDATA_ANY(name), length);
		load->lengths[n] = length;
		load->ncategories = ++n;
	}
	slot = catmap_insert(load->map, item_id, &found);
	slot->category = n - 1;
}

/* Loads the categories, or notes that they do not fit. */
static void
CategoryCacheLoad(void)
{
	Size		budget = CacheBudgetBytes(category_cache_mb);
	CategoryLoad load;
	int64		count;
	CacheInvalCount seen = invalidations;

	SpiConnect();
	count = CountCategorized();
	if (ID_TABLE_BYTES(count, sizeof(CategorySlot)) > budget)
	{
		SPI_finish();
		if (cache_context != NULL)
			MemoryContextDelete(cache_context);
		cache_context = NULL;
		cache_map = NULL;
		cache_fits = false;
		cache_valid = invalidations == seen;
		return;
	}

	load.context = AllocSetContextCreate(CurTransactionContext, "rerank category cache",
										 ALLOCSET_DEFAULT_SIZES);
	load.map = catmap_create(load.context, ID_TABLE_INITIAL_SIZE(count), NULL);
	load.capacity = 64;
	load.ncategories = 0;
	load.names = MemoryContextAlloc(load.context, sizeof(char *) * load.capacity);
	load.lengths = MemoryContextAlloc(load.context, sizeof(int) * load.capacity);
	ScanQueryRows("SELECT item_id, category FROM rerank.items"
				  " WHERE category IS NOT NULL"
				  " ORDER BY category COLLATE pg_catalog.\"C\"",
				  0, NULL, NULL, LoadCategoryRow, &load);
	SPI_finish();

	/* complete: adopt it */
	MemoryContextSetParent(load.context, TopMemoryContext);
	if (cache_context != NULL)
		MemoryContextDelete(cache_context);
	cache_context = load.context;
	cache_map = load.map;
	cache_ncategories = load.ncategories;
	cache_names = load.names;
	cache_name_lengths = load.lengths;
	renumber_stamp = MemoryContextAllocZero(load.context,
											sizeof(uint32) * Max(load.ncategories, 1));
	renumber_local = MemoryContextAlloc(load.context,
										sizeof(int32) * Max(load.ncategories, 1));
	renumber_generation = 0;
	cache_generation++;
	cache_fits = true;
	cache_valid = invalidations == seen;
}

/*
 * Loads the cache if stale; whether the categories fit in it.  The current
 * user must be allowed to read rerank.items, cached or not.
 */
bool
CategoryCacheEnsure(void)
{
	if (!cache_valid || !OidIsValid(items_relid))
		items_relid = RerankTableOid("items");
	CheckCacheReadPrivilege(items_relid);
	if (!cache_valid)
		CategoryCacheLoad();
	return cache_fits;
}

/* The generation of the loaded categories; see category_cache.h. */
uint64
CategoryCacheGeneration(void)
{
	return cache_fits ? cache_generation : 0;
}

/* The category number of one item, or -1; the cache must fit. */
int32
CategoryCacheLookupOne(int64 item_id)
{
	CategorySlot *slot;

	Assert(cache_fits && cache_map != NULL);
	slot = catmap_lookup(cache_map, item_id);
	return slot != NULL ? slot->category : -1;
}

/* Starts loading the hash slot where an item's look-up starts. */
static inline void
PrefetchSlot(int64 item_id)
{
	CACHE_PREFETCH(&cache_map->data[IdHash(item_id) & cache_map->sizemask]);
}

/* Category numbers of items from the cache; see category_cache.h. */
bool
CategoryCacheLookup(const int64 *item_ids, int n, int32 *categories)
{
	if (!CategoryCacheEnsure())
		return false;
	for (int i = 0; i < n; i++)
	{
		/* candidates hit random slots: ask for later ones ahead of time */
		if (i + CATEGORY_PREFETCH_AHEAD < n)
			PrefetchSlot(item_ids[i + CATEGORY_PREFETCH_AHEAD]);
		categories[i] = CategoryCacheLookupOne(item_ids[i]);
	}
	return true;
}

/* Starts loading the hash slots of the items, if the cache is usable. */
void
CategoryCachePrefetch(const int64 *item_ids, int n)
{
	if (!cache_valid || !cache_fits)
		return;
	for (int i = 0; i < n; i++)
		PrefetchSlot(item_ids[i]);
}

const char *
CategoryName(int32 category, int *length)
{
	Assert(category >= 0 && category < cache_ncategories);
	*length = cache_name_lengths[category];
	return cache_names[category];
}

/* The number of a category name, or -1; see category_cache.h. */
int32
CategoryFind(const char *name, int length)
{
	/* the names were numbered in byte order (COLLATE "C") */
	return SortedKeyFind((const char *const *) cache_names, cache_name_lengths,
						 cache_ncategories, name, length);
}

/* The local number of a category in the last renumbering, or -1. */
int32
CategoryLocalNumber(int32 category)
{
	if (category < 0 || category >= cache_ncategories ||
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
		memset(renumber_stamp, 0, sizeof(uint32) * Max(cache_ncategories, 1));
		renumber_generation = 1;
	}
	for (int i = 0; i < n; i++)
	{
		int32		g = categories[i];

		if (g < 0)
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
 * categories invalidates the categories cached by every backend, at commit.
 */
Datum
category_cache_invalidate(PG_FUNCTION_ARGS)
{
	InvalidateCacheOnStatement(fcinfo, "category_cache_invalidate");
	return PointerGetDatum(NULL);
}
