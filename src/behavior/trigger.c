/*
 * trigger.c
 *	  The entry points of the real-time behavior path:
 *
 *	  rerank.track_behavior(user, item, event type [, time [, dwell]])
 *		AFTER INSERT trigger on the shop's own event table.  FOR EACH ROW it
 *		updates the user of the row; FOR EACH STATEMENT with REFERENCING NEW
 *		TABLE it reads the statement's rows sorted by user and updates each
 *		user once (a COPY or multi-row INSERT pays one fold-in per user).
 *	  rerank.rebuild_user_features(table, columns…)
 *		the same from an existing event table, set-based: seeds the
 *		features (and vectors) from history before the trigger takes over.
 *	  rerank.fold_in_users(updated_since)
 *		re-solves stored users' vectors for the active model.
 *	  rerank.check_event_columns(table, columns…)
 *		the validation attach() runs before creating the trigger.
 *
 * The trigger function is SECURITY DEFINER with a pinned search_path (see
 * 60_realtime.sql): the application role that inserts events needs no
 * privilege on the extension's tables, and attaching the trigger is what the
 * DBA grants (EXECUTE on track_behavior is revoked from PUBLIC).
 */
#include "postgres.h"

#include "access/relation.h"
#include "model/event_columns.h"
#include "behavior/user_state.h"
#include "cache/category_cache.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/spi_util.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* Rows fetched at a time from the event query. */
#define EVENT_FETCH_ROWS 1000

/* Per-statement cache of a trigger: its columns resolved for the table. */
typedef struct TrackCache
{
	Oid			relid;
	Oid			tgoid;
	EventColumns columns;
} TrackCache;

/*
 * Applies the rows of an open event query (sorted by user) to the users'
 * features: each user is locked, updated and folded in once.
 */
static void
ApplyEventQuery(Portal portal, EventColumns *columns, BehaviorBatch *batch)
{
	MemoryContext rows = AllocSetContextCreate(CurrentMemoryContext, "rerank event rows",
											   ALLOCSET_DEFAULT_SIZES);
	UserFeatureState *state = NULL;
	int64		current = 0;
	bool		resolved = false;

	for (;;)
	{
		SPITupleTable *fetched;
		uint64		count;
		MemoryContext old;

		SPI_cursor_fetch(portal, true, EVENT_FETCH_ROWS);
		fetched = SPI_tuptable;
		count = SPI_processed;
		if (count == 0)
			break;
		if (!resolved)
		{
			EventColumnsByPosition(columns, fetched->tupdesc);
			resolved = true;
		}
		old = MemoryContextSwitchTo(rows);
		for (uint64 i = 0; i < count; i++)
		{
			BehaviorEvent event;

			if (!EventFromTuple(columns, fetched->vals[i], fetched->tupdesc, &event))
				continue;
			if (state == NULL || event.user_id != current)
			{
				if (state != NULL)
					UserStateFinish(batch, state);
				state = UserStateLock(batch, event.user_id, true);
				current = event.user_id;
			}
			UserStateApply(batch, state, &event);
			CHECK_FOR_INTERRUPTS();
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(rows);
		SPI_freetuptable(fetched);
	}
	if (state != NULL)
		UserStateFinish(batch, state);
	MemoryContextDelete(rows);
}

/*
 * Runs an event query (sorted by user) through a cursor and applies its
 * rows in one batch (BehaviorBatchBegin's replace and fold_in; with
 * force_fold_in every user is folded in).  Called inside SPI.
 */
static void
RunEventQuery(const char *query, EventColumns *columns, BehaviorBatch *batch,
			  bool replace, bool fold_in, bool force_fold_in)
{
	SPIPlanPtr	plan = SPI_prepare(query, 0, NULL);
	Portal		portal;

	if (plan == NULL)
		elog(ERROR, "could not prepare the event query: %s",
			 SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, NULL, NULL, true);
	BehaviorBatchBegin(batch, replace, fold_in);
	batch->force_fold_in = force_fold_in;
	ApplyEventQuery(portal, columns, batch);
	BehaviorBatchEnd(batch);
	SPI_cursor_close(portal);
}

/* Row form: one event, one user. */
static void
TrackRow(TriggerData *trigdata, TrackCache *cache)
{
	BehaviorEvent event;
	BehaviorBatch batch;
	UserFeatureState *state;

	if (!EventFromTuple(&cache->columns, trigdata->tg_trigtuple,
						RelationGetDescr(trigdata->tg_relation), &event))
		return;					/* no user: not tracked */
	SpiConnect();
	BehaviorBatchBegin(&batch, false, behavior_fold_in);
	state = UserStateLock(&batch, event.user_id, true);
	UserStateApply(&batch, state, &event);
	UserStateFinish(&batch, state);
	BehaviorBatchEnd(&batch);
	SPI_finish();
}

/* Statement form: the transition table, each user once, in user id order. */
static void
TrackStatement(TriggerData *trigdata, TrackCache *cache)
{
	BehaviorBatch batch;
	EventColumns columns = cache->columns;
	char	   *query;

	if (trigdata->tg_newtable == NULL || trigdata->tg_trigger->tgnewtable == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("track_behavior: a FOR EACH STATEMENT trigger needs REFERENCING NEW TABLE"),
				 errhint("Use rerank.attach(…, for_each => 'statement'), which declares it.")));
	SpiConnect();
	if (SPI_register_trigger_data(trigdata) != SPI_OK_TD_REGISTER)
		elog(ERROR, "could not register the transition table");
	/*
	 * Categories come from the backend's category cache when the catalog fits
	 * in it; otherwise the query joins rerank.items, rather than the events
	 * looking them up one query at a time.
	 */
	query = EventColumnsQuery(&columns, quote_identifier(trigdata->tg_trigger->tgnewtable),
							  false, !CategoryCacheEnsure());
	RunEventQuery(query, &columns, &batch, false, behavior_fold_in, false);
	SPI_finish();
}

PG_FUNCTION_INFO_V1(track_behavior);

/*
 * Trigger function: AFTER INSERT, FOR EACH ROW or FOR EACH STATEMENT with
 * REFERENCING NEW TABLE; arguments name the columns.
 */
Datum
track_behavior(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TrackCache *cache;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("track_behavior: not called by trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("track_behavior: must be fired AFTER INSERT")));
	rel = trigdata->tg_relation;

	/* the column mapping, resolved once per statement and table */
	cache = (TrackCache *) fcinfo->flinfo->fn_extra;
	if (cache == NULL || cache->relid != RelationGetRelid(rel) ||
		cache->tgoid != trigdata->tg_trigger->tgoid)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		cache = palloc0(sizeof(TrackCache));
		cache->relid = RelationGetRelid(rel);
		cache->tgoid = trigdata->tg_trigger->tgoid;
		EventColumnsFromArgs(&cache->columns, trigdata->tg_trigger->tgnargs,
							 trigdata->tg_trigger->tgargs, "track_behavior");
		EventColumnsByName(&cache->columns, RelationGetDescr(rel),
						   RelationGetRelationName(rel));
		MemoryContextSwitchTo(old);
		fcinfo->flinfo->fn_extra = cache;
	}

	if (TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		TrackRow(trigdata, cache);
	else
		TrackStatement(trigdata, cache);
	return PointerGetDatum(NULL);
}

/*
 * The column mapping of the SQL functions' arguments from position first:
 * user, item, event type column, time, dwell, constant event type.  A NULL
 * event type column without a constant means "event_type".
 */
static void
EventColumnsFromFunctionArgs(FunctionCallInfo fcinfo, int first,
							 EventColumns *columns, const char *caller)
{
	char	   *args[5];
	char	   *constant = NULL;

	for (int i = 0; i < 5; i++)
		args[i] = PG_ARGISNULL(first + i) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(first + i));
	if (!PG_ARGISNULL(first + 5))
		constant = text_to_cstring(PG_GETARG_TEXT_PP(first + 5));
	if (constant != NULL && args[EVENT_TYPE] != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: give an event type column or a constant event type, not both", caller)));
	if (constant != NULL)
		args[EVENT_TYPE] = psprintf("=%s", constant);	/* EventColumnsFromArgs refuses "=" */
	else if (args[EVENT_TYPE] == NULL)
		args[EVENT_TYPE] = "event_type";
	else if (args[EVENT_TYPE][0] == '=')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: an event type column name must not start with \"=\"", caller)));
	EventColumnsFromArgs(columns, 5, args, caller);
}

/* Opens the event table and resolves the mapping against it. */
static Relation
OpenEventTable(Oid relid, EventColumns *columns, LOCKMODE lockmode)
{
	Relation	rel = relation_open(relid, lockmode);

	EventColumnsByName(columns, RelationGetDescr(rel), RelationGetRelationName(rel));
	return rel;
}

PG_FUNCTION_INFO_V1(check_event_columns);

/*
 * check_event_columns(table, user, item, event type, time, dwell, constant
 * event type): errors unless the table can feed track_behavior with this
 * mapping.
 */
Datum
check_event_columns(PG_FUNCTION_ARGS)
{
	EventColumns columns;
	Relation	rel;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the event table must not be NULL")));
	EventColumnsFromFunctionArgs(fcinfo, 1, &columns, "attach");
	rel = OpenEventTable(PG_GETARG_OID(0), &columns, AccessShareLock);
	relation_close(rel, AccessShareLock);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(rebuild_user_features);

/*
 * rebuild_user_features(table, user, item, event type, time, dwell, constant
 * event type, replace, fold_in): the features (and with fold_in the vectors
 * for the active model) of every user in an existing event table, from its
 * rows in time order.  replace: start each of these users from nothing;
 * otherwise add the rows to what is stored.  The table is locked against
 * inserts meanwhile (SHARE), so no event is counted twice or lost.
 * Returns the number of users written.
 */
Datum
rebuild_user_features(PG_FUNCTION_ARGS)
{
	EventColumns columns;
	Relation	rel;
	Oid			relid;
	char	   *from;
	char	   *query;
	BehaviorBatch batch;
	bool		replace = PG_ARGISNULL(7) ? true : PG_GETARG_BOOL(7);
	bool		fold_in = PG_ARGISNULL(8) ? true : PG_GETARG_BOOL(8);
	AclResult	acl;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the event table must not be NULL")));
	relid = PG_GETARG_OID(0);
	EventColumnsFromFunctionArgs(fcinfo, 1, &columns, "rebuild_user_features");

	/* reading the table is the caller's right; then no insert until commit */
	acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, get_relkind_objtype(get_rel_relkind(relid)),
					   get_rel_name(relid));
	rel = OpenEventTable(relid, &columns, ShareLock);
	from = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
	relation_close(rel, NoLock);

	query = EventColumnsQuery(&columns, from, true, true);
	SpiConnect();
	RunEventQuery(query, &columns, &batch, replace, fold_in, fold_in);
	SPI_finish();
	PG_RETURN_INT64(batch.users);
}

/* QueryRowFn of fold_in_users: re-solves one stored user's vector. */
static void
FoldInUserRow(HeapTuple tuple, TupleDesc desc, void *arg)
{
	BehaviorBatch *batch = arg;
	bool		isnull;
	int64		user_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	UserFeatureState *state = UserStateLock(batch, user_id, false);

	/* a user forgotten meanwhile stays forgotten */
	if (state != NULL)
		UserStateFinish(batch, state);
	CHECK_FOR_INTERRUPTS();
}

PG_FUNCTION_INFO_V1(fold_in_users);

/*
 * fold_in_users(updated_since): re-solves the vectors of the stored users
 * (those whose features changed since updated_since; NULL: all) for the
 * active model, from their recent histories.  Returns the number of vectors
 * written.
 */
Datum
fold_in_users(PG_FUNCTION_ARGS)
{
	BehaviorBatch batch;
	Oid			argtypes[1] = {TIMESTAMPTZOID};
	Datum		args[1];

	/* updated_at is never NULL: -infinity selects every user */
	args[0] = PG_ARGISNULL(0) ? TimestampTzGetDatum(DT_NOBEGIN) : PG_GETARG_DATUM(0);
	SpiConnect();
	BehaviorBatchBegin(&batch, false, true);
	if (batch.model == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no active model with item vectors to fold users into")));
	batch.force_fold_in = true;
	ScanQueryRows("SELECT user_id FROM rerank.user_features "
				  "WHERE updated_at OPERATOR(pg_catalog.>=) $1 ORDER BY user_id",
				  1, argtypes, args, FoldInUserRow, &batch);
	BehaviorBatchEnd(&batch);
	SPI_finish();
	PG_RETURN_INT64(batch.folded);
}
