/*
 * neighbor_lists.c
 *	  Item-kNN neighbor lists in served snapshots (see neighbor_lists.h): all
 *	  neighbor ids in one array, all similarities in another, the start of
 *	  each list in a third, and a flat id table from item id to its list, so
 *	  serving an item-kNN model reads memory instead of probing an index per
 *	  item.
 */
#include "postgres.h"

#include "cache/neighbor_lists.h"
#include "cache/snapshot.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "executor/spi.h"
#include "utils/array.h"

/* What the plan counted, for the fill. */
typedef struct ListPlan
{
	int64		lists;
	int64		neighbors;
	uint64		capacity;
} ListPlan;

/* The fill's scan: what is written so far. */
typedef struct ListFill
{
	const ListPlan *plan;
	IdTableSlot *table;
	uint64	   *starts;
	int64	   *ids;
	float	   *similarities;
	int64		lists;			/* lists written */
	uint64		used;			/* entries written */
} ListFill;

/* Plans the blocks of an item-kNN model's lists: one counting query. */
static void *
ListsPlan(SnapshotBuild *build, const SnapshotSource *source)
{
	const ModelSource *model = (const ModelSource *) source->detail;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model->model_id)};
	ListPlan   *plan;
	bool		isnull;
	int			ret;

	if (!model->neighbors)
		return NULL;
	ret = SPI_execute_with_args("SELECT pg_catalog.count(*), "
								"COALESCE(pg_catalog.sum(pg_catalog.cardinality(neighbor_ids)), 0)::bigint "
								"FROM rerank.item_neighbors WHERE model_id OPERATOR(pg_catalog.=) $1",
								1, argtypes, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count the neighbor lists of model \"%s\"", source->label);
	plan = palloc0(sizeof(ListPlan));
	plan->lists = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	plan->neighbors = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (plan->lists >= (int64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" has " INT64_FORMAT " neighbor lists, more than a model can serve from memory",
						source->label, plan->lists)));
	plan->capacity = IdTableCapacity((uint64) plan->lists);
	SnapshotReserve(build, BLOCK_NEIGHBOR_TABLE, plan->capacity, sizeof(IdTableSlot));
	SnapshotReserve(build, BLOCK_NEIGHBOR_STARTS, plan->lists, sizeof(uint64));
	SnapshotReserve(build, BLOCK_NEIGHBOR_IDS, plan->neighbors, sizeof(int64));
	SnapshotReserve(build, BLOCK_NEIGHBOR_SIMILARITIES, plan->neighbors, sizeof(float));
	return plan;
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
FillListRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	ListFill   *fill = arg;
	int64		item_id;
	NeighborList list;

	if (!NeighborRow(tuple, desc, &item_id, &list))
		return;
	/* counted under the same snapshot: more is not possible */
	if (fill->lists >= fill->plan->lists ||
		fill->used + list.n > (uint64) fill->plan->neighbors)
		elog(ERROR, "neighbor lists changed while loading");
	if (IdTableInsert(fill->table, fill->plan->capacity, item_id,
					  (uint32) fill->lists, (uint32) list.n) != 1)
		return;					/* a duplicate item: the first list stays */
	memcpy(fill->ids + fill->used, list.ids, sizeof(int64) * list.n);
	memcpy(fill->similarities + fill->used, list.similarities, sizeof(float) * list.n);
	fill->starts[fill->lists++] = fill->used;
	fill->used += list.n;
}

/* Fills the blocks of an item-kNN model's lists. */
static void
ListsFill(SnapshotBuild *build, const SnapshotSource *source, void *state)
{
	const ModelSource *model = (const ModelSource *) source->detail;
	ListPlan   *plan = (ListPlan *) state;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model->model_id)};
	ListFill	fill;

	if (plan == NULL)
		return;
	fill.plan = plan;
	fill.table = SnapshotBlockForWrite(build, BLOCK_NEIGHBOR_TABLE);
	fill.starts = SnapshotBlockForWrite(build, BLOCK_NEIGHBOR_STARTS);
	fill.ids = SnapshotBlockForWrite(build, BLOCK_NEIGHBOR_IDS);
	fill.similarities = SnapshotBlockForWrite(build, BLOCK_NEIGHBOR_SIMILARITIES);
	fill.lists = 0;
	fill.used = 0;
	IdTableClear(fill.table, plan->capacity);
	ScanQueryRows("SELECT item_id, neighbor_ids, similarities FROM rerank.item_neighbors "
				  "WHERE model_id OPERATOR(pg_catalog.=) $1",
				  1, argtypes, args, FillListRow, &fill);
	/* malformed rows were left out */
	if (plan->lists > 0)
		SnapshotBlockShrink(build, BLOCK_NEIGHBOR_STARTS, fill.lists);
	if (plan->neighbors > 0)
	{
		SnapshotBlockShrink(build, BLOCK_NEIGHBOR_IDS, fill.used);
		SnapshotBlockShrink(build, BLOCK_NEIGHBOR_SIMILARITIES, fill.used);
	}
}

static const SnapshotProvider lists_provider = {
	.name = "neighbor lists",
	.kind = SNAPSHOT_MODEL,
	.plan = ListsPlan,
	.fill = ListsFill
};

/* Registers the provider; see neighbor_lists.h. */
void
NeighborListsInit(void)
{
	RegisterSnapshotProvider(&lists_provider);
}

/* The lists in a model snapshot; see neighbor_lists.h. */
bool
NeighborListsOf(const ServingSnapshot *snapshot, NeighborLists *lists)
{
	memset(lists, 0, sizeof(NeighborLists));
	lists->table = SnapshotBlock(snapshot, BLOCK_NEIGHBOR_TABLE, &lists->capacity);
	if (lists->table == NULL)
		return false;
	lists->starts = SnapshotBlock(snapshot, BLOCK_NEIGHBOR_STARTS, NULL);
	lists->ids = SnapshotBlock(snapshot, BLOCK_NEIGHBOR_IDS, NULL);
	lists->similarities = SnapshotBlock(snapshot, BLOCK_NEIGHBOR_SIMILARITIES, NULL);
	return true;
}

/* The list of an item; see neighbor_lists.h. */
bool
NeighborListsFind(const NeighborLists *lists, int64 item_id, NeighborList *list)
{
	const IdTableSlot *slot;

	if (lists->table == NULL)
		return false;
	slot = IdTableFind(lists->table, lists->capacity, item_id);
	if (slot == NULL)
		return false;
	list->n = (int) slot->aux;
	list->ids = (int64 *) (lists->ids + lists->starts[slot->value]);
	list->similarities = (float *) (lists->similarities + lists->starts[slot->value]);
	return true;
}
