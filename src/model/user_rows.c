/*
 * user_rows.c
 *	  Direct row access to the extension's user tables, rerank.user_features
 *	  and rerank.user_factors, without the executor: the one place where
 *	  rerank reads and writes heap tuples itself (see user_rows.h for the
 *	  contract).
 *
 * Why.  Serving reads a user's two rows on every rerank() call and an event
 * rewrites them: through SPI each of these was a planned statement
 * (executor start-up, plan revalidation, constraint expressions compiled
 * per statement, a BEFORE trigger that locks the row again), several times
 * the cost of the row operations themselves.
 *
 * Reads (KeyedTable*): a table opened by name in schema rerank, its primary
 * key checked to be what the install script made (a valid btree over the
 * key columns by name and type), read by key under the active snapshot,
 * only when the current user may SELECT the whole table and the table has
 * no row-level security.  Otherwise the caller falls back to a query, with
 * the executor's checks and errors.
 *
 * Writes (UserRows*): a batch opens the two tables and their primary keys
 * once, and per user:
 *
 *	- UserFeaturesLock: a fresh snapshot (as SPI takes per statement, after a
 *	  command counter increment so earlier users of the same statement are
 *	  seen), a primary key look-up, and the row lock of SELECT … FOR UPDATE
 *	  with its semantics: in READ COMMITTED the newest version of a row
 *	  updated meanwhile is locked (a deleted row is not found); under
 *	  REPEATABLE READ and SERIALIZABLE a concurrent update or delete is a
 *	  serialization failure.
 *	- UserFeaturesUpdate: replaces the locked row (heap_update, so TOAST,
 *	  HOT, WAL, predicate locks and statistics are PostgreSQL's own), and adds
 *	  index entries when the new version is not a heap-only tuple.
 *	- UserFactorsUpdate: the same for the user's vector of a model, with
 *	  UPDATE's semantics for a row changed meanwhile (the newest version is
 *	  updated in READ COMMITTED); a missing row is the caller's to insert.
 *
 * What the executor would add and these rows do not need: the tables' CHECK
 * constraints hold by construction (behavior/user_state.c builds every
 * value), check_factors' checks (dimensions, finite elements) are the
 * fold-in's own (FoldInHistoryVector rejects a non-finite vector), and the
 * foreign key of user_factors needs no check on an update that keeps
 * model_id (the executor skips it too).  No trigger fires on these rows: the
 * regress test realtime_bulk lists the tables' triggers, so that adding one
 * (a cache invalidation, say) shows up as a change to handle here.
 * Privileges are checked once per batch, as the statements would have: the
 * trigger runs as the extension's owner, rebuild_user_features() and
 * fold_in_users() as their caller.  New rows are rare (a user's first
 * event, a user's first vector for a model) and keep their INSERT
 * statements in behavior/user_state.c.
 *
 * Column values (UserColumnCompressed): a large array or map is compressed
 * inline with lz4 before it is written, as the toaster would.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/toast_compression.h"
#include "access/toast_internals.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "model/user_rows.h"
#include "nodes/execnodes.h"
#include "parser/parse_relation.h"
#include "utils/acl.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

/*
 * Column values from this size on are stored compressed: the kinds of a
 * 100-item history (a 200-byte smallint[]) compress to about 40 bytes,
 * which keeps such a row under the toaster's threshold.
 */
#define COMPRESS_MIN_BYTES 128

/* ---- reads by primary key ---- */

/* Opens rerank.<name> for reads by its primary key; see user_rows.h. */
bool
KeyedTableOpen(const char *name, int nkeys, const char *const *key_names,
			   const Oid *key_types, KeyedTable *table)
{
	Oid			nsp = get_namespace_oid("rerank", true);
	Oid			relid;
	Relation	heap;
	Relation	index;
	Oid			indexid;

	if (!OidIsValid(nsp))
		return false;
	relid = get_relname_relid(name, nsp);
	if (!OidIsValid(relid) ||
		pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		return false;
	heap = table_open(relid, AccessShareLock);
	if (heap->rd_rel->relkind != RELKIND_RELATION || heap->rd_rel->relrowsecurity)
	{
		table_close(heap, AccessShareLock);
		return false;
	}
	indexid = RelationGetPrimaryKeyIndex(heap);
	if (!OidIsValid(indexid))
	{
		table_close(heap, AccessShareLock);
		return false;
	}
	index = index_open(indexid, AccessShareLock);
	if (index->rd_rel->relam != BTREE_AM_OID || !index->rd_index->indisvalid ||
		index->rd_index->indnkeyatts != nkeys)
	{
		index_close(index, AccessShareLock);
		table_close(heap, AccessShareLock);
		return false;
	}
	for (int k = 0; k < nkeys; k++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[k];
		Form_pg_attribute att;

		if (attnum <= 0 || attnum > RelationGetDescr(heap)->natts)
			break;
		att = TupleDescAttr(RelationGetDescr(heap), attnum - 1);
		if (att->attisdropped || strcmp(NameStr(att->attname), key_names[k]) != 0 ||
			att->atttypid != key_types[k] ||
			index->rd_opcintype[k] != key_types[k])
			break;
		table->key_attnums[k] = attnum;
		table->key_procs[k] = key_types[k] == INT4OID ? F_INT4EQ : F_INT8EQ;
		if (k == nkeys - 1)
		{
			table->heap = heap;
			table->index = index;
			table->nkeys = nkeys;
			return true;
		}
	}
	index_close(index, AccessShareLock);
	table_close(heap, AccessShareLock);
	return false;
}

/* The attribute number of a column of the given type, or 0. */
AttrNumber
KeyedTableColumn(const KeyedTable *table, const char *name, Oid type)
{
	TupleDesc	desc = RelationGetDescr(table->heap);

	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, a);

		if (!att->attisdropped && strcmp(NameStr(att->attname), name) == 0)
			return att->atttypid == type ? att->attnum : 0;
	}
	return 0;
}

/* Reads the row of a key; see user_rows.h. */
TupleTableSlot *
KeyedTableFetch(KeyedTable *table, const Datum *key, int ncolumns,
				const AttrNumber *attnums, Datum *values, bool *nulls)
{
	ScanKeyData keys[2];
	IndexScanDesc scan;
	TupleTableSlot *slot = table_slot_create(table->heap, NULL);

	for (int k = 0; k < table->nkeys; k++)
		ScanKeyInit(&keys[k], k + 1, BTEqualStrategyNumber,
					table->key_procs[k], key[k]);
	scan = index_beginscan(table->heap, table->index, GetActiveSnapshot(),
						   table->nkeys, 0);
	index_rescan(scan, keys, table->nkeys, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		for (int c = 0; c < ncolumns; c++)
			if (attnums[c] > 0)
				values[c] = slot_getattr(slot, attnums[c], &nulls[c]);
	}
	index_endscan(scan);
	return slot;
}

/* Closes a keyed table; the locks stay until the end of the transaction. */
void
KeyedTableClose(KeyedTable *table)
{
	index_close(table->index, NoLock);
	table_close(table->heap, NoLock);
}

/* ---- row-level writes of the real-time path ---- */

/*
 * Opens a table of the extension's schema and its primary key, checks the
 * privileges the statements this replaces needed (SELECT and UPDATE),
 * finds the columns the real-time path needs and makes a slot for its rows.
 */
static Relation
OpenUserTable(const char *name, int ncolumns, const char *const *columns,
			  int nrequired, Relation *index, AttrNumber *attnums,
			  TupleTableSlot **slot)
{
	Oid			relid = get_relname_relid(name, get_namespace_oid("rerank", false));
	Relation	rel;
	Oid			indexid;
	AclResult	acl;

	if (!OidIsValid(relid))
		elog(ERROR, "table rerank.%s does not exist", name);
	rel = table_open(relid, RowExclusiveLock);
	indexid = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(indexid))
		elog(ERROR, "table rerank.%s has no primary key", name);
	*index = index_open(indexid, RowExclusiveLock);

	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl == ACLCHECK_OK)
		acl = pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));

	for (int i = 0; i < ncolumns; i++)
	{
		attnums[i] = attnameAttNum(rel, columns[i], false);
		if (attnums[i] <= 0 && i < nrequired)
			elog(ERROR, "table rerank.%s has no column \"%s\"", name, columns[i]);
		if (attnums[i] <= 0)
			attnums[i] = 0;		/* a column of a later version: not kept */
	}
	*slot = table_slot_create(rel, NULL);
	return rel;
}

/* Opens rerank.user_features for a batch (user_factors when first needed). */
void
UserRowsOpen(UserRows *rows)
{
	static const char *const names[USER_FEATURES_NCOLUMNS] = {
		"user_id", "event_counts", "total_dwell_ms", "first_event_at",
		"last_event_at", "recent_items", "recent_weights", "purchased_items",
		"category_weights", "updated_at", "recent_counts", "recent_last_at",
		"recent_kinds", "session_started_at"
	};

	/* what the executor checks before an UPDATE */
	PreventCommandIfReadOnly("UPDATE");
	PreventCommandIfParallelMode("UPDATE");

	memset(rows, 0, sizeof(UserRows));
	rows->context = CurrentMemoryContext;
	/*
	 * The columns 0.2.0 added are optional: between the installation of
	 * this library and ALTER EXTENSION rerank UPDATE, a 0.1.0 table keeps
	 * working without them.
	 */
	rows->features = OpenUserTable("user_features", USER_FEATURES_NCOLUMNS, names,
								   USER_FEATURES_RECENT_COUNTS,
								   &rows->features_index, rows->features_attnums,
								   &rows->features_slot);
}

/*
 * Opens rerank.user_factors (once per batch), taking its table lock: a
 * batch that folds in opens it before locking any row (docs/locking.md),
 * so a retrain holding the table waits for no row of the batch.
 */
void
UserRowsOpenFactors(UserRows *rows)
{
	static const char *const names[USER_FACTORS_NCOLUMNS] = {
		"model_id", "user_id", "factors", "updated_at"
	};
	MemoryContext old;

	if (rows->factors != NULL)
		return;
	old = MemoryContextSwitchTo(rows->context);
	rows->factors = OpenUserTable("user_factors", USER_FACTORS_NCOLUMNS, names,
								  USER_FACTORS_NCOLUMNS,
								  &rows->factors_index, rows->factors_attnums,
								  &rows->factors_slot);
	MemoryContextSwitchTo(old);
}

/* Closes what OpenUserTable opened (each part NULL when not); the locks stay. */
static void
CloseUserTable(Relation rel, Relation index, TupleTableSlot *slot)
{
	if (slot != NULL)
		ExecDropSingleTupleTableSlot(slot);
	if (index != NULL)
		index_close(index, NoLock);
	if (rel != NULL)
		table_close(rel, NoLock);
}

/* Closes what UserRowsOpen and the batch opened. */
void
UserRowsClose(UserRows *rows)
{
	CloseUserTable(rows->features, rows->features_index, rows->features_slot);
	CloseUserTable(rows->factors, rows->factors_index, rows->factors_slot);
	memset(rows, 0, sizeof(UserRows));
}

/*
 * Makes the effects of the transaction's earlier commands visible and
 * pushes the snapshot the next statement would get (what SPI does before a
 * statement that writes).
 */
static void
PushStatementSnapshot(void)
{
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
}

/*
 * Finds the row of a key (one or two int columns of the primary key) visible
 * to the active snapshot, into slot.
 */
static bool
FindByKey(Relation rel, Relation index, TupleTableSlot *slot,
		  int nkeys, const Oid *procs, const Datum *values)
{
	ScanKeyData keys[2];
	IndexScanDesc scan;
	bool		found;

	Assert(nkeys <= 2);
	for (int i = 0; i < nkeys; i++)
		ScanKeyInit(&keys[i], i + 1, BTEqualStrategyNumber, procs[i], values[i]);
	scan = index_beginscan(rel, index, GetActiveSnapshot(), nkeys, 0);
	index_rescan(scan, keys, nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	return found;
}

/* The error of a row changed by a concurrent transaction under a snapshot isolation. */
static void
SerializationFailure(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to concurrent update")));
}

/*
 * Locks the row in slot (FOR UPDATE, or the weaker FOR NO KEY UPDATE of an
 * UPDATE) as ExecLockRows does: the newest version in READ COMMITTED, a
 * serialization failure under a snapshot isolation.  False when the row is
 * gone (deleted, or updated by this very command); slot then holds nothing
 * useful.
 */
static bool
LockRow(Relation rel, TupleTableSlot *slot, LockTupleMode mode)
{
	TM_FailureData tmfd;
	TM_Result	result;
	ItemPointerData tid = slot->tts_tid;

	result = table_tuple_lock(rel, &tid, GetActiveSnapshot(), slot,
							  GetCurrentCommandId(true), mode, LockWaitBlock,
							  IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
							  &tmfd);
	switch (result)
	{
		case TM_Ok:
			return true;
		case TM_SelfModified:
			/* changed by this command already: as deleted (Halloween) */
			return false;
		case TM_Updated:
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				SerializationFailure();
			if (result == TM_Deleted)
				return false;
			elog(ERROR, "unexpected table_tuple_lock status: %u", result);
			break;
		default:
			elog(ERROR, "unexpected table_tuple_lock status: %u", result);
	}
	return false;
}

/* A key column of the tuple in slot: int8 (or with int4, integer); -1 when NULL. */
static int64
SlotKey(TupleTableSlot *slot, AttrNumber attnum, bool int4)
{
	bool		isnull;
	Datum		value = slot_getattr(slot, attnum, &isnull);

	if (isnull)
		return -1;
	return int4 ? DatumGetInt32(value) : DatumGetInt64(value);
}

/*
 * Finds and locks the features row of a user (FOR UPDATE), into
 * rows->features_slot.  False when the user has no row.
 */
bool
UserFeaturesLock(UserRows *rows, int64 user_id)
{
	Oid			procs[1] = {F_INT8EQ};
	Datum		values[1] = {Int64GetDatum(user_id)};
	AttrNumber	user_attnum = rows->features_attnums[USER_FEATURES_USER_ID];
	bool		locked = false;

	PushStatementSnapshot();
	if (FindByKey(rows->features, rows->features_index, rows->features_slot,
				  1, procs, values))
	{
		locked = LockRow(rows->features, rows->features_slot, LockTupleExclusive);
		/* the newest version of a row whose key was edited is another user's */
		if (locked && SlotKey(rows->features_slot, user_attnum, false) != user_id)
			locked = false;
	}
	PopActiveSnapshot();
	rows->features_locked = locked;
	return locked;
}

/* Forgets the locked features row without changing it (the lock stays). */
void
UserFeaturesRelease(UserRows *rows)
{
	if (rows->features_slot != NULL)
		ExecClearTuple(rows->features_slot);
	rows->features_locked = false;
}

/*
 * Adds the index entries of a new row version that is not heap-only (the
 * update could not stay on its page, or an indexed column changed).  As for
 * an UPDATE statement, the range table entry names the columns changed, so
 * indexes over unchanged keys get the hint that enables B-tree bottom-up
 * deletion of the old versions' entries.
 */
static void
InsertIndexEntries(Relation rel, HeapTuple tuple, const bool *replaced)
{
	EState	   *estate = CreateExecutorState();
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	ResultRelInfo *info = makeNode(ResultRelInfo);
	TupleTableSlot *slot;

	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	for (int i = 0; i < RelationGetDescr(rel)->natts; i++)
		if (replaced[i])
			rte->updatedCols = bms_add_member(rte->updatedCols,
											  i + 1 - FirstLowInvalidHeapAttributeNumber);
	ExecInitRangeTable(estate, list_make1(rte));
	InitResultRelInfo(info, rel, 1, NULL, 0);
	ExecOpenIndices(info, false);
	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(tuple, slot, false);
	ExecInsertIndexTuples(info, slot, estate, true, false, NULL, NIL);
	ExecCloseIndices(info);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
}

/*
 * Replaces the locked features row: values/nulls for the columns whose
 * replace flag is set (by attribute number - 1), the others kept.
 */
void
UserFeaturesUpdate(UserRows *rows, Datum *values, bool *nulls, bool *replace)
{
	TupleTableSlot *slot = rows->features_slot;
	bool		should_free;
	HeapTuple	old;
	HeapTuple	tuple;

	if (!rows->features_locked)
		elog(ERROR, "the features row is not locked");
	old = ExecFetchSlotHeapTuple(slot, false, &should_free);
	tuple = heap_modify_tuple(old, RelationGetDescr(rows->features), values, nulls, replace);
	if (should_free)
		heap_freetuple(old);
	/* locked by this transaction: nobody else can have changed it */
	simple_heap_update(rows->features, &slot->tts_tid, tuple);
	if (!HeapTupleIsHeapOnly(tuple))
		InsertIndexEntries(rows->features, tuple, replace);
	heap_freetuple(tuple);
	ExecClearTuple(slot);
	rows->features_locked = false;
}

/*
 * Replaces the vector of a user for a model, if the row exists: factors
 * (already checked: the model's dimensions, finite) and updated_at = now().
 * As UPDATE … WHERE model_id = … AND user_id = …: a row updated meanwhile is
 * updated in its newest version (READ COMMITTED); a row deleted meanwhile,
 * or none, gives false (the caller inserts).
 */
bool
UserFactorsUpdate(UserRows *rows, int32 model_id, int64 user_id, Datum factors)
{
	Oid			procs[2] = {F_INT4EQ, F_INT8EQ};
	Datum		keys[2] = {Int32GetDatum(model_id), Int64GetDatum(user_id)};
	TupleTableSlot *slot;
	Datum	   *values;
	bool	   *nulls;
	bool	   *replace;
	int			natts;
	bool		found;
	bool		done = false;

	UserRowsOpenFactors(rows);
	slot = rows->factors_slot;
	natts = RelationGetDescr(rows->factors)->natts;
	values = palloc0(sizeof(Datum) * natts);
	nulls = palloc0(sizeof(bool) * natts);
	replace = palloc0(sizeof(bool) * natts);
	values[rows->factors_attnums[USER_FACTORS_FACTORS] - 1] = factors;
	replace[rows->factors_attnums[USER_FACTORS_FACTORS] - 1] = true;
	values[rows->factors_attnums[USER_FACTORS_UPDATED_AT] - 1] =
		TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	replace[rows->factors_attnums[USER_FACTORS_UPDATED_AT] - 1] = true;

	PushStatementSnapshot();
	found = FindByKey(rows->factors, rows->factors_index, slot, 2, procs, keys);
	while (found)
	{
		bool		should_free;
		HeapTuple	old = ExecFetchSlotHeapTuple(slot, false, &should_free);
		HeapTuple	tuple = heap_modify_tuple(old, RelationGetDescr(rows->factors),
											  values, nulls, replace);
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		TM_Result	result;

		if (should_free)
			heap_freetuple(old);
		result = heap_update(rows->factors, &slot->tts_tid, tuple,
							 GetCurrentCommandId(true), InvalidSnapshot, true,
							 &tmfd, &lockmode);
		if (result == TM_Ok)
		{
			if (!HeapTupleIsHeapOnly(tuple))
				InsertIndexEntries(rows->factors, tuple, replace);
			done = true;
			break;
		}
		if (result == TM_SelfModified)
			break;				/* as UPDATE: already changed by this command */
		if (result != TM_Updated && result != TM_Deleted)
			elog(ERROR, "unexpected heap_update status: %u", result);
		if (IsolationUsesXactSnapshot())
			SerializationFailure();
		if (result == TM_Deleted)
			break;
		/* updated meanwhile: lock its newest version, check the key, again */
		found = LockRow(rows->factors, slot, lockmode) &&
			SlotKey(slot, rows->factors_attnums[USER_FACTORS_MODEL_ID], true) == model_id &&
			SlotKey(slot, rows->factors_attnums[USER_FACTORS_USER_ID], false) == user_id;
	}
	PopActiveSnapshot();
	ExecClearTuple(slot);
	return done;
}

/* ---- column values ---- */

/*
 * Compresses a large column value inline (lz4), when the server has lz4.
 * A 100-item history makes a 2.5 kB row of which the arrays and the
 * category map are nearly all: compressed, the row and the WAL record of
 * each event are about half as large, and the row stays under the size at
 * which heap_update hands it to the toaster (which logs an extra lock and
 * compresses only until the row fits in 2 kB).  Readers detoast as for any
 * compressed value; lz4 decompresses a column in well under a microsecond.
 */
Datum
UserColumnCompressed(Datum value)
{
#ifdef USE_LZ4
	if (VARSIZE_ANY(DatumGetPointer(value)) >= COMPRESS_MIN_BYTES)
	{
		Datum		compressed = toast_compress_datum(value, TOAST_LZ4_COMPRESSION);

		if (DatumGetPointer(compressed) != NULL)
			return compressed;
	}
#endif
	return value;
}
