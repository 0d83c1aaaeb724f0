/*
 * train_source.c
 *	  Reading interaction sources (a table or view with user_id, item_id and
 *	  an optional weight column) for training and evaluation.
 *
 * An ordinary table is read with a sequential scan of its heap, the three
 * columns taken from each tuple (no executor); any other source (a view, a
 * partitioned or foreign table, a table under row-level security or one the
 * user may read only some columns of) streams through a DestReceiver
 * straight from the executor.  Either way a source of ten million rows is
 * never materialized as tuples: each row becomes 12 bytes (two dense
 * indexes and a float) in a growing array, which is then turned into both
 * CSR orientations in linear time.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/id_map.h"
#include "common/spi_util.h"
#include "core/als_solve.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "tcop/dest.h"
#include "train/train_source.h"
#include "utils/builtins.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/* The qualified, quoted name of a relation; see train_source.h. */
char *
QualifiedRelationName(Oid relid)
{
	char	   *name = get_rel_name(relid);

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
									  name);
}

/* Checks that a column exists and has one of the accepted types. */
static void
CheckColumn(Oid relid, const char *what, const char *column, bool numeric)
{
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			type;

	if (attnum == InvalidAttrNumber || attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s \"%s\" has no column \"%s\"", what,
						get_rel_name(relid), column),
				 errhint("The %s needs columns user_id and item_id (bigint) and optionally a weight column.",
						 what)));
	type = get_atttype(relid, attnum);
	if (type == INT8OID || type == INT4OID || type == INT2OID)
		return;
	if (numeric && (type == FLOAT4OID || type == FLOAT8OID || type == NUMERICOID))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("column \"%s\" of %s \"%s\" has type %s, expected %s",
					column, what, get_rel_name(relid), format_type_be(type),
					numeric ? "a number" : "bigint, integer or smallint")));
}

/*
 * The weight column read from a source: the one given, else "weight" when
 * the source has that column, else NULL (every weight 1).
 */
static const char *
WeightColumn(Oid source, const char *weight_column)
{
	if (weight_column == NULL && get_attnum(source, "weight") > 0)
		return "weight";
	return weight_column;
}

typedef struct SourceReceiver
{
	DestReceiver pub;
	SourceRowFn fn;
	void	   *arg;
	int64		rows;
	const char *what;
} SourceReceiver;

/*
 * Validates one row (ids and weight, each with its NULL flag) and hands it
 * to the callback.
 */
static void
SourceRow(SourceReceiver *r, int64 user_id, bool user_null, int64 item_id,
		  bool item_null, double weight, bool weight_null)
{
	if (user_null || item_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s has a NULL %s", r->what,
						user_null ? "user_id" : "item_id")));
	if (weight_null)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s has a NULL weight for user " INT64_FORMAT " and item " INT64_FORMAT,
						r->what, user_id, item_id)));
	if (isnan(weight) || weight < 0 || weight > FLT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s has an invalid weight %g for user " INT64_FORMAT " and item " INT64_FORMAT,
						r->what, weight, user_id, item_id),
				 errdetail("Weights must be finite and not negative.")));
	r->fn(r->arg, user_id, item_id, weight);
	if ((++r->rows & 0xffff) == 0)
		CHECK_FOR_INTERRUPTS();
}

/* DestReceiver of the query path: one projected row (int8, int8, float8). */
static bool
SourceReceive(TupleTableSlot *slot, DestReceiver *self)
{
	slot_getallattrs(slot);
	SourceRow((SourceReceiver *) self,
			  slot->tts_isnull[0] ? 0 : DatumGetInt64(slot->tts_values[0]), slot->tts_isnull[0],
			  slot->tts_isnull[1] ? 0 : DatumGetInt64(slot->tts_values[1]), slot->tts_isnull[1],
			  slot->tts_isnull[2] ? 0 : DatumGetFloat8(slot->tts_values[2]), slot->tts_isnull[2]);
	return true;
}

/* An id column's value (smallint, integer or bigint) as int64. */
static inline int64
IdValue(Datum value, Oid type)
{
	if (type == INT8OID)
		return DatumGetInt64(value);
	if (type == INT4OID)
		return DatumGetInt32(value);
	return DatumGetInt16(value);
}

/* A weight column's value (any number type CheckColumn accepts) as double. */
static inline double
WeightValue(Datum value, Oid type)
{
	switch (type)
	{
		case FLOAT8OID:
			return DatumGetFloat8(value);
		case FLOAT4OID:
			return DatumGetFloat4(value);
		case NUMERICOID:
			return DatumGetFloat8(DirectFunctionCall1(numeric_float8, value));
		default:
			return (double) IdValue(value, type);
	}
}

/*
 * Reads an ordinary table with a sequential scan of its heap, taking the
 * three columns from each tuple without the executor's projection: the
 * rows the query would give (the same MVCC snapshot, the same checks), in
 * about half the time.  False, with nothing read, when the source is not
 * one this serves: not an ordinary table, not readable as a whole by the
 * current user, or with row-level security enabled; the query path then
 * reads it, with the executor's checks and errors.
 */
static bool
ScanSourceHeap(Oid source, const char *weight, SourceReceiver *r)
{
	Relation	rel;
	TupleDesc	desc;
	AttrNumber	cols[3];
	Oid			types[3];
	int			natts;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	bool		pushed = false;

	if (get_rel_relkind(source) != RELKIND_RELATION ||
		pg_class_aclcheck(source, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return false;
	rel = table_open(source, AccessShareLock);
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relrowsecurity)
	{
		table_close(rel, AccessShareLock);
		return false;
	}
	desc = RelationGetDescr(rel);
	cols[0] = get_attnum(source, "user_id");
	cols[1] = get_attnum(source, "item_id");
	cols[2] = weight != NULL ? get_attnum(source, weight) : InvalidAttrNumber;
	natts = Max(cols[0], Max(cols[1], cols[2]));
	for (int c = 0; c < 3; c++)
		types[c] = cols[c] > 0 ? TupleDescAttr(desc, cols[c] - 1)->atttypid : InvalidOid;

	if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		pushed = true;
	}
	snapshot = GetActiveSnapshot();
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		Datum	   *values;
		bool	   *nulls;

		slot_getsomeattrs(slot, natts);
		values = slot->tts_values;
		nulls = slot->tts_isnull;
		SourceRow(r,
				  nulls[cols[0] - 1] ? 0 : IdValue(values[cols[0] - 1], types[0]),
				  nulls[cols[0] - 1],
				  nulls[cols[1] - 1] ? 0 : IdValue(values[cols[1] - 1], types[1]),
				  nulls[cols[1] - 1],
				  cols[2] <= 0 ? 1.0 :
				  nulls[cols[2] - 1] ? 0 : WeightValue(values[cols[2] - 1], types[2]),
				  cols[2] > 0 && nulls[cols[2] - 1]);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	if (pushed)
		PopActiveSnapshot();
	table_close(rel, AccessShareLock);
	return true;
}

static void
SourceStartup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
SourceShutdown(DestReceiver *self)
{
}

static void
SourceDestroy(DestReceiver *self)
{
}

int64
ReadSourceRows(Oid source, const char *weight_column, const char *what,
			   SourceRowFn fn, void *arg)
{
	char		relkind = get_rel_relkind(source);
	StringInfoData query;
	SourceReceiver receiver;
	SPIExecuteOptions options;
	const char *weight;
	int			ret;

	if (relkind == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("%s relation with OID %u does not exist", what, source)));
	if (relkind != RELKIND_RELATION && relkind != RELKIND_VIEW &&
		relkind != RELKIND_MATVIEW && relkind != RELKIND_FOREIGN_TABLE &&
		relkind != RELKIND_PARTITIONED_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s \"%s\" is not a table or view", what, get_rel_name(source))));
	CheckColumn(source, what, "user_id", false);
	CheckColumn(source, what, "item_id", false);
	weight = WeightColumn(source, weight_column);
	if (weight != NULL)
		CheckColumn(source, what, weight, true);

	initStringInfo(&query);
	appendStringInfo(&query, "SELECT user_id::pg_catalog.int8, item_id::pg_catalog.int8, %s%s::pg_catalog.float8 FROM %s",
					 weight ? "" : "1", weight ? quote_identifier(weight) : "",
					 QualifiedRelationName(source));

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = SourceReceive;
	receiver.pub.rStartup = SourceStartup;
	receiver.pub.rShutdown = SourceShutdown;
	receiver.pub.rDestroy = SourceDestroy;
	receiver.pub.mydest = DestNone;
	receiver.fn = fn;
	receiver.arg = arg;
	receiver.what = what;

	/* an ordinary table is read from its heap directly */
	if (ScanSourceHeap(source, weight, &receiver))
	{
		pfree(query.data);
		return receiver.rows;
	}

	memset(&options, 0, sizeof(options));
	options.read_only = true;
	options.dest = (DestReceiver *) &receiver;

	SpiConnect();
	ret = SPI_execute_extended(query.data, &options);
	/* SPI reports a SELECT into a DestNone receiver as a utility command */
	if (ret != SPI_OK_SELECT && ret != SPI_OK_UTILITY)
		elog(ERROR, "reading %s failed: %s", what, SPI_result_code_string(ret));
	SPI_finish();
	pfree(query.data);
	return receiver.rows;
}

/* Growing coordinate arrays of the interactions being read. */
typedef struct CooBuilder
{
	idmap_hash *users;
	idmap_hash *items;
	int32		nusers;
	int32		nitems;
	int64		n;
	int64		capacity;
	int32	   *u;
	int32	   *i;
	float	   *w;
	int64		last_user;		/* the previous row's user, and its index */
	int32		last_user_index;
} CooBuilder;

static void *
HugeAlloc(Size size)
{
	return palloc_extended(size > 0 ? size : 1, MCXT_ALLOC_HUGE);
}

static void
CooAdd(void *arg, int64 user_id, int64 item_id, double weight)
{
	CooBuilder *b = (CooBuilder *) arg;

	if (weight <= 0)
		return;					/* preference 0: the same as no row */
	if (b->n == b->capacity)
	{
		int64		cap = b->capacity * 2;

		b->u = repalloc_huge(b->u, sizeof(int32) * cap);
		b->i = repalloc_huge(b->i, sizeof(int32) * cap);
		b->w = repalloc_huge(b->w, sizeof(float) * cap);
		b->capacity = cap;
	}
	/* sources often come grouped by user: the same user needs no look-up */
	if (b->n == 0 || user_id != b->last_user)
	{
		b->last_user = user_id;
		b->last_user_index = IdMapAdd(b->users, user_id, &b->nusers);
	}
	b->u[b->n] = b->last_user_index;
	b->i[b->n] = IdMapAdd(b->items, item_id, &b->nitems);
	b->w[b->n] = (float) weight;
	b->n++;
}

void
ReadInteractions(Oid source, const char *weight_column, Interactions *out)
{
	CooBuilder	b;
	const char *weight;
	int32	   *uperm,
			   *iperm;
	instr_time	start,
				end;
	int64	   *p_item,
			   *p_user;
	int32	   *i_item,
			   *i_user;
	float	   *w_item,
			   *w_user;
	int64		nnz;

	memset(&b, 0, sizeof(b));
	b.users = idmap_create(CurrentMemoryContext, 1024, NULL);
	b.items = idmap_create(CurrentMemoryContext, 1024, NULL);
	b.capacity = 65536;
	b.u = HugeAlloc(sizeof(int32) * b.capacity);
	b.i = HugeAlloc(sizeof(int32) * b.capacity);
	b.w = HugeAlloc(sizeof(float) * b.capacity);

	INSTR_TIME_SET_CURRENT(start);
	out->rows = ReadSourceRows(source, weight_column, "source", CooAdd, &b);
	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_SUBTRACT(end, start);
	out->scan_seconds = INSTR_TIME_GET_DOUBLE(end);
	out->source_name = QualifiedRelationName(source);
	weight = WeightColumn(source, weight_column);
	out->weight_name = weight ? pstrdup(weight) : NULL;
	if (b.n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("source \"%s\" has no interactions", get_rel_name(source)),
				 errdetail("It has " INT64_FORMAT " rows, none with a positive weight.",
						   out->rows)));

	/* number users and items in ascending id order */
	out->users = b.nusers;
	out->items = b.nitems;
	out->user_ids = IdMapSortedIds(b.users, b.nusers, &uperm);
	out->item_ids = IdMapSortedIds(b.items, b.nitems, &iperm);
	for (int64 e = 0; e < b.n; e++)
	{
		b.u[e] = uperm[b.u[e]];
		b.i[e] = iperm[b.i[e]];
		if ((e & 0xfffff) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	idmap_destroy(b.users);
	idmap_destroy(b.items);
	pfree(uperm);
	pfree(iperm);

	/* COO → by item (unsorted) → by user (sorted, compacted) → by item */
	p_item = HugeAlloc(sizeof(int64) * ((Size) out->items + 1));
	i_item = HugeAlloc(sizeof(int32) * b.n);
	w_item = HugeAlloc(sizeof(float) * b.n);
	AlsCsrFromCoo(out->items, b.n, b.i, b.u, b.w, p_item, i_item, w_item);
	pfree(b.u);
	pfree(b.i);
	pfree(b.w);
	CHECK_FOR_INTERRUPTS();

	p_user = HugeAlloc(sizeof(int64) * ((Size) out->users + 1));
	i_user = HugeAlloc(sizeof(int32) * b.n);
	w_user = HugeAlloc(sizeof(float) * b.n);
	out->by_item = (AlsCsr) {out->items, out->users, b.n, p_item, i_item, w_item};
	AlsTransposeCsr(&out->by_item, p_user, i_user, w_user);
	nnz = AlsCsrCompact(out->users, p_user, i_user, w_user);
	out->by_user = (AlsCsr) {out->users, out->items, nnz, p_user, i_user, w_user};
	CHECK_FOR_INTERRUPTS();
	AlsTransposeCsr(&out->by_user, p_item, i_item, w_item);
	out->by_item.nnz = nnz;
	CheckInteractionWeights(out, -1);
}

void
CheckInteractionWeights(const Interactions *data, double alpha)
{
	int64		e = AlsCsrFindOutOfRange(&data->by_user, alpha);
	int64		user_id;
	int64		item_id;
	double		r;

	if (e < 0)
		return;
	user_id = data->user_ids[AlsCsrRowOf(&data->by_user, e)];
	item_id = data->item_ids[data->by_user.indices[e]];
	r = data->by_user.weights[e];
	if (!isfinite(r))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("source \"%s\": the weights of user " INT64_FORMAT " and item " INT64_FORMAT " add up beyond the range of real",
						data->source_name, user_id, item_id),
				 errdetail("The rows of a (user, item) pair add up to its weight.")));
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("source \"%s\": weight %g of user " INT64_FORMAT " and item " INT64_FORMAT " is too large for alpha %g",
					data->source_name, r, user_id, item_id, alpha),
			 errdetail("The confidence 1 + alpha * weight of a (user, item) pair must be at most %g; the rows of a pair add up to its weight.",
					   ALS_MAX_CONFIDENCE),
			 errhint("Scale the weights down, or lower alpha.")));
}
