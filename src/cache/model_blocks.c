/*
 * model_blocks.c
 *	  The snapshot provider of factor models (see snapshot.h and
 *	  snapshot_blocks.h): a model version's item vectors as one row-major
 *	  float matrix in ascending item id order, the ids and biases of its
 *	  rows, a flat id table from item id to row, bias and vector norm (one
 *	  32-byte slot per item), and YᵀY.
 */
#include "postgres.h"

#include "cache/model_blocks.h"
#include "cache/snapshot.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "core/id_table.h"
#include "core/vec.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"

/* What the plan found, for the fill. */
typedef struct VectorPlan
{
	int64		items;
	uint64		capacity;		/* slots of the id table */
	bool		gram;			/* a YᵀY block was reserved */
} VectorPlan;

/* The fill's scan: where the next row goes. */
typedef struct VectorFill
{
	const ModelSource *model;
	const char *label;
	int64		row;
	int64		items;
	int64	   *ids;
	float	   *vectors;
	float	   *biases;
	ItemTableSlot *table;
	uint64		capacity;
} VectorFill;

/* Runs a one-row, one-column query with the model id as $1. */
static Datum
ModelValue(const char *sql, int32 model_id, bool *isnull)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	int			ret = SPI_execute_with_args(sql, 1, argtypes, args, NULL, true, 1);

	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "query failed: %s", sql);
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, isnull);
}

/* The number of item vectors of a model; see model_blocks.h. */
int64
ModelItemCount(int32 model_id)
{
	bool		isnull;

	return DatumGetInt64(ModelValue("SELECT pg_catalog.count(*) FROM rerank.item_factors "
									"WHERE model_id OPERATOR(pg_catalog.=) $1",
									model_id, &isnull));
}

/* YᵀY of a model into k² floats; see model_blocks.h. */
bool
ModelReadGram(int32 model_id, int k, const char *name, float *gram)
{
	bool		isnull;
	Datum		value;
	ArrayType  *array;

	value = ModelValue("SELECT gram FROM rerank.models WHERE model_id OPERATOR(pg_catalog.=) $1",
					   model_id, &isnull);
	if (isnull)
		value = ModelValue("SELECT rerank.gram_matrix(factors) "
						   "FROM rerank.item_factors WHERE model_id OPERATOR(pg_catalog.=) $1",
						   model_id, &isnull);
	if (isnull)
		return false;
	array = DatumGetArrayTypeP(value);
	if (ARR_NDIM(array) != 1 || ARR_DIMS(array)[0] != k * k || ARR_HASNULL(array))
		elog(ERROR, "YᵀY of model \"%s\" is not a %d×%d matrix", name, k, k);
	memcpy(gram, ARR_DATA_PTR(array), sizeof(float) * k * k);
	return true;
}

/* Plans the blocks of a factor model's vectors. */
static void *
VectorsPlan(SnapshotBuild *build, const SnapshotSource *source)
{
	const ModelSource *model = (const ModelSource *) source->detail;
	int			k = model->dimensions;
	VectorPlan *plan;
	int64		n;

	if (k == 0)
		return NULL;
	n = ModelItemCount(model->model_id);
	if (n == 0)
		return NULL;
	if (n >= (int64) PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("model \"%s\" has " INT64_FORMAT " items, more than the %d a model can serve from memory",
						source->label, n, PG_INT32_MAX - 1)));
	plan = palloc0(sizeof(VectorPlan));
	plan->items = n;
	plan->capacity = IdTableCapacity((uint64) n);
	SnapshotReserve(build, BLOCK_MODEL_IDS, n, sizeof(int64));
	SnapshotReserve(build, BLOCK_MODEL_VECTORS, mul_size(n, k), sizeof(float));
	SnapshotReserve(build, BLOCK_MODEL_BIASES, n, sizeof(float));
	SnapshotReserve(build, BLOCK_MODEL_ITEM_TABLE, plan->capacity, sizeof(ItemTableSlot));
	SnapshotReserve(build, BLOCK_MODEL_GRAM, mul_size(k, k), sizeof(float));
	return plan;
}

/* Copies one item's vector, bias and id into the next row. */
static void
FillVectorRow(HeapTuple tuple, TupleDesc tupdesc, void *arg)
{
	VectorFill *fill = (VectorFill *) arg;
	int			k = fill->model->dimensions;
	int64		row = fill->row;
	bool		isnull;
	int64		item_id = DatumGetInt64(SPI_getbinval(tuple, tupdesc, 1, &isnull));
	ArrayType  *factors = DatumGetArrayTypeP(SPI_getbinval(tuple, tupdesc, 2, &isnull));
	float		bias = DatumGetFloat4(SPI_getbinval(tuple, tupdesc, 3, &isnull));
	float	   *vector = fill->vectors + row * k;
	uint32		bias_bits;
	IdTableSlot *slot;

	/* rows were validated on the way in, and one snapshot reads them all */
	if (row >= fill->items || ARR_NDIM(factors) != 1 || ARR_DIMS(factors)[0] != k ||
		ARR_HASNULL(factors))
		elog(ERROR, "item factors of model \"%s\" do not match the model", fill->label);
	memcpy(vector, ARR_DATA_PTR(factors), sizeof(float) * k);
	fill->ids[row] = item_id;
	fill->biases[row] = bias;
	memcpy(&bias_bits, &bias, sizeof(bias_bits));
	slot = IdTableInsertSized(fill->table, fill->capacity, sizeof(ItemTableSlot),
							  item_id, (uint32) row, bias_bits);
	if (slot == NULL)
		elog(ERROR, "item %lld appears twice in model \"%s\"",
			 (long long) item_id, fill->label);
	((ItemTableSlot *) slot)->norm = VecNorm(vector, (size_t) k);
	fill->row++;
}

/* Fills the blocks of a factor model's vectors. */
static void
VectorsFill(SnapshotBuild *build, const SnapshotSource *source, void *state)
{
	const ModelSource *model = (const ModelSource *) source->detail;
	VectorPlan *plan = (VectorPlan *) state;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model->model_id)};
	VectorFill	fill;

	if (plan == NULL)
		return;
	fill.model = model;
	fill.label = source->label;
	fill.row = 0;
	fill.items = plan->items;
	fill.ids = SnapshotBlockForWrite(build, BLOCK_MODEL_IDS);
	fill.vectors = SnapshotBlockForWrite(build, BLOCK_MODEL_VECTORS);
	fill.biases = SnapshotBlockForWrite(build, BLOCK_MODEL_BIASES);
	fill.table = SnapshotBlockForWrite(build, BLOCK_MODEL_ITEM_TABLE);
	fill.capacity = plan->capacity;
	IdTableClearSized(fill.table, fill.capacity, sizeof(ItemTableSlot));
	ScanQueryRows("SELECT item_id, factors, bias FROM rerank.item_factors "
				  "WHERE model_id OPERATOR(pg_catalog.=) $1 ORDER BY item_id",
				  1, argtypes, args, FillVectorRow, &fill);
	if (fill.row != plan->items)
		elog(ERROR, "item factors of model \"%s\" changed while loading", source->label);
	if (!ModelReadGram(model->model_id, model->dimensions, source->label,
					   SnapshotBlockForWrite(build, BLOCK_MODEL_GRAM)))
		SnapshotBlockShrink(build, BLOCK_MODEL_GRAM, 0);
}

static const SnapshotProvider vectors_provider = {
	.name = "item vectors",
	.kind = SNAPSHOT_MODEL,
	.plan = VectorsPlan,
	.fill = VectorsFill
};

/* Registers the provider; see model_blocks.h. */
void
ModelBlocksInit(void)
{
	RegisterSnapshotProvider(&vectors_provider);
}
