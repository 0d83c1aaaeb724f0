/*
 * neighbor_lists.c
 *	  Item-kNN neighbor lists in backend memory (see neighbor_lists.h): all
 *	  neighbor ids in one array, all similarities in another, and an
 *	  open-addressing hash from item id to the slice of its list, so serving
 *	  an item-kNN model reads memory instead of probing an index per item.
 */
#include "postgres.h"

#include "cache/backend_cache.h"
#include "cache/model_cache.h"
#include "cache/neighbor_lists.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "core/id_hash.h"
#include "executor/spi.h"
#include "utils/array.h"

/* One item: where its list starts in the flat arrays, and its length. */
typedef struct ListSlot
{
	int64		item_id;
	uint64		start;
	uint32		length;
	char		status;
} ListSlot;

#define SH_PREFIX listmap
#define SH_ELEMENT_TYPE ListSlot
#define SH_KEY_TYPE int64
#define SH_KEY item_id
#define SH_HASH_KEY(tb, key) ((uint32) IdHash(key))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_FILLFACTOR (0.5)
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

struct NeighborLists
{
	listmap_hash *items;
	int64	   *ids;			/* every list's neighbor ids, end to end */
	float	   *similarities;	/* in the same order */
	uint64		used;			/* entries filled */
	uint64		capacity;
};

/* The size of the lists of a model; see neighbor_lists.h. */
Size
NeighborListsBytes(int32 model_id, NeighborListsSize *size)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	bool		isnull;
	int			ret;

	ret = SPI_execute_with_args("SELECT pg_catalog.count(*), "
								"COALESCE(pg_catalog.sum(pg_catalog.cardinality(neighbor_ids)), 0)::bigint "
								"FROM rerank.item_neighbors WHERE model_id OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the neighbor lists of model %d", model_id);
	size->lists = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	size->neighbors = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return add_size(mul_size((Size) size->neighbors, sizeof(int64) + sizeof(float)),
					ID_TABLE_BYTES(size->lists + 16, sizeof(ListSlot)));
}

/* Reads a row (item_id, neighbor_ids, similarities); see neighbor_lists.h. */
bool
NeighborRow(HeapTuple tuple, TupleDesc desc, int64 *item_id, NeighborList *list)
{
	bool		isnull[3];
	Datum		item = SPI_getbinval(tuple, desc, 1, &isnull[0]);
	Datum		ids_datum = SPI_getbinval(tuple, desc, 2, &isnull[1]);
	Datum		sims_datum = SPI_getbinval(tuple, desc, 3, &isnull[2]);
	ArrayType  *ids;
	ArrayType  *sims;
	int			m;

	if (isnull[0] || isnull[1] || isnull[2])
		return false;
	ids = DatumGetArrayTypeP(ids_datum);
	sims = DatumGetArrayTypeP(sims_datum);
	m = ArrayGetNItems(ARR_NDIM(ids), ARR_DIMS(ids));
	if (ARR_HASNULL(ids) || ARR_HASNULL(sims) ||
		ARR_ELEMTYPE(ids) != INT8OID || ARR_ELEMTYPE(sims) != FLOAT4OID ||
		m != ArrayGetNItems(ARR_NDIM(sims), ARR_DIMS(sims)))
		return false;
	*item_id = DatumGetInt64(item);
	list->n = m;
	list->ids = (int64 *) ARR_DATA_PTR(ids);
	list->similarities = (float *) ARR_DATA_PTR(sims);
	return true;
}

/* QueryRowFn: appends one row (item_id, neighbor_ids, similarities). */
static void
LoadListRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	NeighborLists *lists = arg;
	int64		item_id;
	NeighborList list;
	bool		found;
	ListSlot   *slot;

	if (!NeighborRow(tuple, desc, &item_id, &list))
		return;
	/* counted before the scan; a change under us is not expected */
	if (lists->used + list.n > lists->capacity)
		elog(ERROR, "neighbor lists changed while loading");
	memcpy(lists->ids + lists->used, list.ids, sizeof(int64) * list.n);
	memcpy(lists->similarities + lists->used, list.similarities, sizeof(float) * list.n);
	slot = listmap_insert(lists->items, item_id, &found);
	slot->start = lists->used;
	slot->length = (uint32) list.n;
	lists->used += list.n;
}

/* Reads every list of a model into memory; see neighbor_lists.h. */
NeighborLists *
NeighborListsLoad(MemoryContext context, int32 model_id,
				  const NeighborListsSize *size)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	NeighborLists *lists = MemoryContextAllocZero(context, sizeof(NeighborLists));

	lists->capacity = (uint64) size->neighbors;
	lists->ids = MemoryContextAllocExtended(context,
											mul_size(Max(lists->capacity, 1), sizeof(int64)),
											MCXT_ALLOC_HUGE);
	lists->similarities = MemoryContextAllocExtended(context,
													 mul_size(Max(lists->capacity, 1), sizeof(float)),
													 MCXT_ALLOC_HUGE);
	lists->items = listmap_create(context, ID_TABLE_INITIAL_SIZE(size->lists), NULL);
	ScanQueryRows("SELECT item_id, neighbor_ids, similarities FROM rerank.item_neighbors "
				  "WHERE model_id OPERATOR(pg_catalog.=) $1",
				  1, argtypes, args, LoadListRow, lists);
	return lists;
}

/* The list of an item; see neighbor_lists.h. */
bool
NeighborListsFind(const NeighborLists *lists, int64 item_id, NeighborList *list)
{
	ListSlot   *slot = listmap_lookup(lists->items, item_id);

	if (slot == NULL)
		return false;
	list->n = (int) slot->length;
	list->ids = lists->ids + slot->start;
	list->similarities = lists->similarities + slot->start;
	return true;
}
