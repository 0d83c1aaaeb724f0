/*
 * signal_refresh.c
 *	  The item-side signals computed from the shop's event log on a
 *	  schedule, never on the insert path:
 *
 *	  rerank.refresh_item_stats(events, item, time, as_of, horizon)
 *		item popularity (decayed event counts) and first-seen times into
 *		rerank.item_stats;
 *	  CALL rerank.build_covisitation(events, user, item, time, …)
 *		each item's co-visitation list into rerank.item_covisits.
 *
 * Both read the tracked event tables (the mapping attach() recorded in the
 * trigger's arguments) or one table with the columns given, through SPI as
 * their caller (who needs SELECT on the tables), and replace the table they
 * write in one transaction, locked against a concurrent run (SHARE ROW
 * EXCLUSIVE: readers go on).  With the preload the served copy of the
 * signals that commit is built before the commit (SignalsCachePrepare), so
 * serving switches to it without waiting; without it, each backend
 * reloads at its first call after the commit.  The arithmetic is the
 * core's (core/item_signals.h: ItemStatsAdd, CovisBuild), the same a
 * trainer's replay calls.
 *
 * Why on a schedule: popularity is a counter every user touches, and a
 * counter row updated by the trigger would serialize all concurrent events
 * on a popular item.  The insert path stays as it was; popularity is as
 * fresh as the last refresh (run it every few minutes, e.g. from pg_cron).
 */
#include "postgres.h"

#include <math.h>

#include "cache/signals_cache.h"
#include "catalog/pg_type.h"
#include "common/feat_time.h"
#include "common/id_map.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "core/item_signals.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "model/event_columns.h"
#include "portability/instr_time.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* Elements written per INSERT statement. */
#define WRITE_BATCH_ROWS 10000

/* Most neighbors per list, and the widest pair window. */
#define MAX_COVIS_NEIGHBORS 1000
#define MAX_COVIS_WINDOW 1000

/* Seconds of an interval (months as 30 days, as the rest of PostgreSQL). */
static double
IntervalSeconds(const Interval *span)
{
	return (double) span->time / USECS_PER_SEC +
		((double) span->day + (double) span->month * DAYS_PER_MONTH) * SECS_PER_DAY;
}

/*
 * The event sources of a call: the table given (with its columns), or
 * every tracked table.  Each must have a time column; need_user: and a
 * user column.  Returns how many.
 */
static int
ResolveSources(FunctionCallInfo fcinfo, int table_arg, int user_arg, int item_arg,
			   int time_arg, const char *caller, EventSource **sources)
{
	int			n;

	if (PG_ARGISNULL(table_arg))
	{
		for (int a = Min(user_arg >= 0 ? user_arg : item_arg, item_arg); a <= time_arg; a++)
			if (!PG_ARGISNULL(a))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: column names need an event table", caller),
						 errhint("Pass events => the table, or no columns to read every tracked table.")));
		n = TrackedEventSources(sources);
		if (n == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s: no event table is tracked", caller),
					 errhint("Attach one with rerank.attach(), or pass events => the table.")));
	}
	else
	{
		const char *user = user_arg >= 0 ?
			(PG_ARGISNULL(user_arg) ? "user_id" : text_to_cstring(PG_GETARG_TEXT_PP(user_arg))) :
			NULL;
		const char *item = PG_ARGISNULL(item_arg) ? "item_id" :
			text_to_cstring(PG_GETARG_TEXT_PP(item_arg));
		const char *time = PG_ARGISNULL(time_arg) ? NULL :
			text_to_cstring(PG_GETARG_TEXT_PP(time_arg));

		if (time == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s: time_column is required with an event table", caller)));
		*sources = palloc(sizeof(EventSource));
		EventSourceByName(*sources, PG_GETARG_OID(table_arg), user, item, time, caller);
		n = 1;
	}
	for (int s = 0; s < n; s++)
	{
		if ((*sources)[s].columns.names[EVENT_TIME] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s: event table %s has no time column", caller, (*sources)[s].from),
					 errhint("Attach it with time_column => …, or pass events => the table and time_column => its time column.")));
	}
	return n;
}

/*
 * The union of the sources' (user,) item and time, rows with a NULL item,
 * user or time left out, times in ($1, $2] (either bound NULL: open).
 */
static char *
SourcesQuery(const EventSource *sources, int n, bool with_user, const char *order_by)
{
	StringInfoData sql;

	initStringInfo(&sql);
	for (int s = 0; s < n; s++)
	{
		const EventColumns *c = &sources[s].columns;
		const char *item = quote_identifier(c->names[EVENT_ITEM]);
		const char *time = quote_identifier(c->names[EVENT_TIME]);

		if (s > 0)
			appendStringInfoString(&sql, " UNION ALL ");
		appendStringInfoString(&sql, "SELECT ");
		if (with_user)
			appendStringInfo(&sql, "e.%s::pg_catalog.int8, ", quote_identifier(c->names[EVENT_USER]));
		appendStringInfo(&sql, "e.%s::pg_catalog.int8, e.%s::pg_catalog.timestamptz FROM %s e"
						 " WHERE e.%s IS NOT NULL AND e.%s IS NOT NULL"
						 " AND ($1 IS NULL OR e.%s::pg_catalog.timestamptz OPERATOR(pg_catalog.>) $1)"
						 " AND ($2 IS NULL OR e.%s::pg_catalog.timestamptz OPERATOR(pg_catalog.<=) $2)",
						 item, time, sources[s].from, item, time, time, time);
		if (with_user)
			appendStringInfo(&sql, " AND e.%s IS NOT NULL", quote_identifier(c->names[EVENT_USER]));
	}
	if (order_by != NULL)
		appendStringInfo(&sql, " ORDER BY %s", order_by);
	return sql.data;
}

/* ---- refresh_item_stats ---- */

/* Statistics being gathered: one entry per item. */
typedef struct StatsGather
{
	idmap_hash *map;
	int32		n;
	int32		capacity;
	int64	   *ids;
	ItemStats  *stats;
	double		at;				/* as_of, in feature seconds */
	MemoryContext context;
} StatsGather;

/* The entry of an item, added with zero counts when new. */
static ItemStats *
GatherEntry(StatsGather *gather, int64 item_id)
{
	int32		before = gather->n;
	int32		index = IdMapAdd(gather->map, item_id, &gather->n);

	if (gather->n > before)
	{
		if (gather->n > gather->capacity)
		{
			int32		capacity = Max(1024, gather->capacity * 2);

			gather->ids = repalloc_huge(gather->ids, sizeof(int64) * capacity);
			gather->stats = repalloc_huge(gather->stats, sizeof(ItemStats) * capacity);
			gather->capacity = capacity;
		}
		gather->ids[index] = item_id;
		ItemStatsInit(&gather->stats[index]);
	}
	return &gather->stats[index];
}

/* QueryRowFn: one event (item, time). */
static void
GatherEvent(HeapTuple tuple, TupleDesc desc, void *arg)
{
	StatsGather *gather = arg;
	bool		isnull;
	int64		item = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	TimestampTz at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 2, &isnull));
	double		t = FeatTimeFromTimestamp(at);

	if (isnan(t))
		return;
	ItemStatsAdd(GatherEntry(gather, item), gather->at, t);
}

/* QueryRowFn: a stored row (item, first seen): its first seen is kept. */
static void
GatherStored(HeapTuple tuple, TupleDesc desc, void *arg)
{
	StatsGather *gather = arg;
	bool		isnull;
	int64		item = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	Datum		first = SPI_getbinval(tuple, desc, 2, &isnull);
	ItemStats  *stats = GatherEntry(gather, item);
	double		t = isnull ? NAN : FeatTimeFromTimestamp(DatumGetTimestampTz(first));

	/* a first seen after as_of (a refresh back in time) is not known yet */
	if (!isnan(t) && t <= gather->at &&
		(isnan(stats->first_seen) || t < stats->first_seen))
		stats->first_seen = t;
}

/* Writes the gathered statistics over rerank.item_stats. */
static void
WriteStats(const StatsGather *gather, TimestampTz as_of)
{
	Oid			types[7] = {INT8ARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID,
		FLOAT4ARRAYOID, FLOAT4ARRAYOID, FLOAT4ARRAYOID, TIMESTAMPTZOID};
	SPIPlanPtr	plan;
	int			ret;

	ret = SPI_execute("DELETE FROM rerank.item_stats", false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not empty rerank.item_stats: %s", SPI_result_code_string(ret));
	plan = SPI_prepare("INSERT INTO rerank.item_stats (item_id, first_seen_at, events,"
					   " popularity_hour, popularity_day, popularity_week, computed_at)"
					   " SELECT t.*, $7 FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2),"
					   " pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5),"
					   " pg_catalog.unnest($6)) AS t",
					   7, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the statistics insert: %s",
			 SPI_result_code_string(SPI_result));
	for (int32 start = 0; start < gather->n; start += WRITE_BATCH_ROWS)
	{
		int32		count = Min(WRITE_BATCH_ROWS, gather->n - start);
		Datum	   *first = palloc(sizeof(Datum) * count);
		bool	   *first_nulls = palloc(sizeof(bool) * count);
		Datum	   *events = palloc(sizeof(Datum) * count);
		float	   *pop[FEAT_POP_WINDOWS];
		Datum		args[7];
		int			dims[1] = {count};
		int			lbs[1] = {1};

		for (int w = 0; w < FEAT_POP_WINDOWS; w++)
			pop[w] = palloc(sizeof(float) * count);
		for (int32 i = 0; i < count; i++)
		{
			const ItemStats *stats = &gather->stats[start + i];

			first_nulls[i] = isnan(stats->first_seen);
			first[i] = first_nulls[i] ? (Datum) 0 :
				TimestampTzGetDatum(FeatTimeToTimestamp(stats->first_seen));
			events[i] = Int64GetDatum(stats->events);
			for (int w = 0; w < FEAT_POP_WINDOWS; w++)
				pop[w][i] = stats->popularity[w];
		}
		args[0] = PointerGetDatum(BuildInt64Array(gather->ids + start, count));
		args[1] = PointerGetDatum(construct_md_array(first, first_nulls, 1, dims, lbs,
													 TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
													 TYPALIGN_DOUBLE));
		args[2] = PointerGetDatum(construct_array(events, count, INT8OID, 8,
												  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		for (int w = 0; w < FEAT_POP_WINDOWS; w++)
			args[3 + w] = PointerGetDatum(BuildVector(pop[w], count));
		args[6] = TimestampTzGetDatum(as_of);
		ret = SPI_execute_plan(plan, args, NULL, false, 0);
		if (ret != SPI_OK_INSERT)
			elog(ERROR, "could not write rerank.item_stats: %s", SPI_result_code_string(ret));
		CHECK_FOR_INTERRUPTS();
	}
	SPI_freeplan(plan);
}

PG_FUNCTION_INFO_V1(refresh_item_stats);

/*
 * refresh_item_stats(events, item_column, time_column, as_of, horizon):
 * recomputes rerank.item_stats as of as_of (NULL: the transaction's start)
 * from the events with times in (as_of − horizon, as_of] (horizon NULL, or
 * an empty table: every event up to as_of).  Every item keeps its earliest
 * first-seen time (up to as_of); items without events in the window keep a
 * row with zero counts.  Returns the number of rows written.
 */
Datum
refresh_item_stats(PG_FUNCTION_ARGS)
{
	EventSource *sources;
	int			nsources;
	TimestampTz as_of = PG_ARGISNULL(3) ? GetCurrentTransactionStartTimestamp() :
		PG_GETARG_TIMESTAMPTZ(3);
	Datum		bounds[2];
	char		bound_nulls[2] = {'n', ' '};
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	StatsGather gather;
	char	   *query;
	SPIPlanPtr	plan;
	bool		empty;
	int			ret;

	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite time")));
	if (!PG_ARGISNULL(4))
	{
		Interval   *horizon = PG_GETARG_INTERVAL_P(4);

		if (!(IntervalSeconds(horizon) > 0.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("horizon must be positive")));
	}
	SpiConnect();
	nsources = ResolveSources(fcinfo, 0, -1, 1, 2, "refresh_item_stats", &sources);

	/* one refresh at a time; readers go on reading the previous rows */
	ret = SPI_execute("LOCK TABLE rerank.item_stats IN SHARE ROW EXCLUSIVE MODE", false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not lock rerank.item_stats: %s", SPI_result_code_string(ret));
	ret = SPI_execute("SELECT NOT EXISTS (SELECT FROM rerank.item_stats)", true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read rerank.item_stats: %s", SPI_result_code_string(ret));
	{
		bool		isnull;

		empty = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										   1, &isnull));
	}

	memset(&gather, 0, sizeof(gather));
	gather.context = AllocSetContextCreate(CurrentMemoryContext, "rerank item stats",
										   ALLOCSET_DEFAULT_SIZES);
	gather.map = idmap_create(gather.context, 1024, NULL);
	gather.capacity = 1024;
	gather.ids = MemoryContextAllocHuge(gather.context, sizeof(int64) * gather.capacity);
	gather.stats = MemoryContextAllocHuge(gather.context, sizeof(ItemStats) * gather.capacity);
	gather.at = FeatTimeFromTimestamp(as_of);

	bounds[1] = TimestampTzGetDatum(as_of);
	if (!PG_ARGISNULL(4) && !empty)
	{
		bounds[0] = DirectFunctionCall2(timestamptz_mi_interval, TimestampTzGetDatum(as_of),
										PG_GETARG_DATUM(4));
		bound_nulls[0] = ' ';
	}
	query = SourcesQuery(sources, nsources, false, NULL);
	plan = SPI_prepare(query, 2, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the event query: %s", SPI_result_code_string(SPI_result));
	{
		Portal		portal = SPI_cursor_open(NULL, plan, bounds, bound_nulls, true);

		for (;;)
		{
			MemoryContext old;

			SPI_cursor_fetch(portal, true, 10000);
			if (SPI_processed == 0)
				break;
			old = MemoryContextSwitchTo(gather.context);
			for (uint64 r = 0; r < SPI_processed; r++)
				GatherEvent(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, &gather);
			MemoryContextSwitchTo(old);
			SPI_freetuptable(SPI_tuptable);
			CHECK_FOR_INTERRUPTS();
		}
		SPI_cursor_close(portal);
	}
	{
		MemoryContext old = MemoryContextSwitchTo(gather.context);

		ScanQueryRows("SELECT item_id, first_seen_at FROM rerank.item_stats", 0, NULL, NULL,
					  GatherStored, &gather);
		MemoryContextSwitchTo(old);
	}
	WriteStats(&gather, as_of);
	SPI_finish();
	/* the served copy of what commits, built now rather than after the commit */
	SignalsCachePrepare();
	PG_RETURN_INT64(gather.n);
}

/* ---- build_covisitation ---- */

/* Sessions being read: dense item numbers in time order, cut into sessions. */
typedef struct SessionRead
{
	MemoryContext context;
	idmap_hash *map;
	int32		nitems;
	int64	   *item_ids;		/* dense number → id */
	int32		item_capacity;
	int32	   *items;
	int64		nevents;
	int64		event_capacity;
	int64	   *starts;
	int64		nsessions;
	int64		session_capacity;
	double		gap;
	bool		has_previous;
	int64		previous_user;
	double		previous_at;
} SessionRead;

/* QueryRowFn: one event (user, item, time), in (user, time) order. */
static void
ReadSessionEvent(HeapTuple tuple, TupleDesc desc, void *arg)
{
	SessionRead *read = arg;
	bool		isnull;
	int64		user = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	int64		item = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
	double		at = FeatTimeFromTimestamp(DatumGetTimestampTz(SPI_getbinval(tuple, desc, 3,
																			  &isnull)));
	int32		before = read->nitems;
	int32		index;
	MemoryContext old;

	if (isnan(at))
		return;
	old = MemoryContextSwitchTo(read->context);
	index = IdMapAdd(read->map, item, &read->nitems);
	if (read->nitems > before)
	{
		if (read->nitems > read->item_capacity)
		{
			read->item_capacity = Max(1024, read->item_capacity * 2);
			read->item_ids = repalloc_huge(read->item_ids, sizeof(int64) * read->item_capacity);
		}
		read->item_ids[index] = item;
	}
	if (!read->has_previous || user != read->previous_user ||
		CovisNewSession(read->previous_at, at, read->gap))
	{
		if (read->nsessions + 1 >= read->session_capacity)
		{
			read->session_capacity *= 2;
			read->starts = repalloc_huge(read->starts, sizeof(int64) * read->session_capacity);
		}
		read->starts[read->nsessions++] = read->nevents;
		if (read->nsessions >= PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("build_covisitation: more than %d sessions", PG_INT32_MAX - 1),
					 errhint("Build from a shorter window (since => …).")));
	}
	if (read->nevents >= read->event_capacity)
	{
		read->event_capacity *= 2;
		read->items = repalloc_huge(read->items, sizeof(int32) * read->event_capacity);
	}
	read->items[read->nevents++] = index;
	read->has_previous = true;
	read->previous_user = user;
	read->previous_at = at;
	MemoryContextSwitchTo(old);
}

/* qsort comparator of int64 ids. */
static int
CompareIds(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/*
 * Renumbers the items by ascending id, so that ties in the lists go by id
 * whatever the order the events came in.
 */
static void
RenumberByIds(SessionRead *read)
{
	int64	   *sorted = palloc_extended(sizeof(int64) * Max(read->nitems, 1), MCXT_ALLOC_HUGE);
	int32	   *rank = palloc_extended(sizeof(int32) * Max(read->nitems, 1), MCXT_ALLOC_HUGE);
	idmap_hash *order;

	memcpy(sorted, read->item_ids, sizeof(int64) * read->nitems);
	qsort(sorted, read->nitems, sizeof(int64), CompareIds);
	order = IdMapFromArray(CurrentMemoryContext, sorted, read->nitems);
	for (int32 i = 0; i < read->nitems; i++)
		rank[i] = IdMapGet(order, read->item_ids[i]);
	for (int64 e = 0; e < read->nevents; e++)
		read->items[e] = rank[read->items[e]];
	memcpy(read->item_ids, sorted, sizeof(int64) * read->nitems);
}

/* The interrupt check handed to CovisBuild. */
static void
CovisCheckInterrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

/* Writes the lists over rerank.item_covisits. */
static void
WriteCovisits(const SessionRead *read, const int64 *offsets, const int32 *neighbors,
			  const float *weights, const int32 *sessions)
{
	Oid			types[6] = {INT8ARRAYOID, INT8ARRAYOID, FLOAT4ARRAYOID, INT4ARRAYOID,
		INT4ARRAYOID, INT4ARRAYOID};
	SPIPlanPtr	plan;
	int			ret;
	int32		start = 0;

	ret = SPI_execute("DELETE FROM rerank.item_covisits", false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not empty rerank.item_covisits: %s", SPI_result_code_string(ret));
	plan = SPI_prepare("INSERT INTO rerank.item_covisits (item_id, neighbor_ids, weights, sessions)"
					   " SELECT t.id, $2[t.lo:t.hi], $3[t.lo:t.hi], t.n"
					   " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($4),"
					   " pg_catalog.unnest($5), pg_catalog.unnest($6)) AS t(id, lo, hi, n)",
					   6, types);
	if (plan == NULL)
		elog(ERROR, "could not prepare the list insert: %s", SPI_result_code_string(SPI_result));
	while (start < read->nitems)
	{
		int32		end = start;
		int32		rows = 0;
		int64		e0 = offsets[start];
		int64		count;
		int64	   *ids;
		int64	   *neighbor_ids;
		Datum	   *lo,
				   *hi,
				   *n;
		Datum		args[6];

		while (end < read->nitems &&
			   (rows == 0 || offsets[end + 1] - e0 <= WRITE_BATCH_ROWS) &&
			   rows < WRITE_BATCH_ROWS)
		{
			end++;
			rows++;
		}
		count = offsets[end] - e0;
		ids = palloc(sizeof(int64) * rows);
		lo = palloc(sizeof(Datum) * rows);
		hi = palloc(sizeof(Datum) * rows);
		n = palloc(sizeof(Datum) * rows);
		neighbor_ids = palloc(sizeof(int64) * Max(count, 1));
		rows = 0;
		for (int32 i = start; i < end; i++)
		{
			if (offsets[i + 1] == offsets[i])
				continue;		/* no list: no row */
			ids[rows] = read->item_ids[i];
			lo[rows] = Int32GetDatum((int32) (offsets[i] - e0 + 1));
			hi[rows] = Int32GetDatum((int32) (offsets[i + 1] - e0));
			n[rows] = Int32GetDatum(sessions[i]);
			rows++;
		}
		for (int64 e = 0; e < count; e++)
			neighbor_ids[e] = read->item_ids[neighbors[e0 + e]];
		if (rows > 0)
		{
			args[0] = PointerGetDatum(BuildInt64Array(ids, rows));
			args[1] = PointerGetDatum(BuildInt64Array(neighbor_ids, (int) count));
			args[2] = PointerGetDatum(BuildVector(weights + e0, (int) count));
			args[3] = PointerGetDatum(construct_array(lo, rows, INT4OID, 4, true, TYPALIGN_INT));
			args[4] = PointerGetDatum(construct_array(hi, rows, INT4OID, 4, true, TYPALIGN_INT));
			args[5] = PointerGetDatum(construct_array(n, rows, INT4OID, 4, true, TYPALIGN_INT));
			ret = SPI_execute_plan(plan, args, NULL, false, 0);
			if (ret != SPI_OK_INSERT)
				elog(ERROR, "could not write rerank.item_covisits: %s",
					 SPI_result_code_string(ret));
		}
		start = end;
		CHECK_FOR_INTERRUPTS();
	}
	SPI_freeplan(plan);
}

PG_FUNCTION_INFO_V1(build_covisitation);

/*
 * build_covisitation(events, user_column, item_column, time_column,
 * session_gap, window_size, neighbors, min_count, since, until): rebuilds
 * rerank.item_covisits from the events with times in (since, until]
 * (NULL: open).  See item_signals.h (CovisBuild) for the lists and the
 * README for how sessions are cut.
 */
Datum
build_covisitation(PG_FUNCTION_ARGS)
{
	EventSource *sources;
	int			nsources;
	CovisParams params;
	double		gap;
	Datum		bounds[2];
	char		bound_nulls[2];
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	SessionRead read;
	int64	   *offsets;
	int32	   *neighbors;
	float	   *weights;
	int32	   *sessions;
	int64		total;
	int64		with_list = 0;
	instr_time	start;
	instr_time	end;
	int			ret;

	INSTR_TIME_SET_CURRENT(start);
	for (int a = 4; a <= 7; a++)
		if (PG_ARGISNULL(a))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("build_covisitation: session_gap, window_size, neighbors and min_count must not be NULL")));
	gap = IntervalSeconds(PG_GETARG_INTERVAL_P(4));
	params.window = PG_GETARG_INT32(5);
	params.neighbors = PG_GETARG_INT32(6);
	params.min_count = PG_GETARG_INT32(7);
	if (!(gap > 0.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("session_gap must be positive")));
	if (params.window < 1 || params.window > MAX_COVIS_WINDOW)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_size must be between 1 and %d, not %d",
						MAX_COVIS_WINDOW, params.window)));
	if (params.neighbors < 1 || params.neighbors > MAX_COVIS_NEIGHBORS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("neighbors must be between 1 and %d, not %d",
						MAX_COVIS_NEIGHBORS, params.neighbors)));
	if (params.min_count < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_count must be at least 1, not %d", params.min_count)));
	bound_nulls[0] = PG_ARGISNULL(8) ? 'n' : ' ';
	bound_nulls[1] = PG_ARGISNULL(9) ? 'n' : ' ';
	bounds[0] = PG_ARGISNULL(8) ? (Datum) 0 : PG_GETARG_DATUM(8);
	bounds[1] = PG_ARGISNULL(9) ? (Datum) 0 : PG_GETARG_DATUM(9);

	SpiConnect();
	nsources = ResolveSources(fcinfo, 0, 1, 2, 3, "build_covisitation", &sources);
	ret = SPI_execute("LOCK TABLE rerank.item_covisits IN SHARE ROW EXCLUSIVE MODE", false, 0);
	if (ret != SPI_OK_UTILITY)
		elog(ERROR, "could not lock rerank.item_covisits: %s", SPI_result_code_string(ret));

	memset(&read, 0, sizeof(read));
	/* under SPI's procedure context: SPI_finish frees it */
	read.context = AllocSetContextCreate(CurrentMemoryContext, "rerank co-visitation",
										 ALLOCSET_DEFAULT_SIZES);
	read.map = idmap_create(read.context, 1024, NULL);
	read.item_capacity = 1024;
	read.item_ids = MemoryContextAllocHuge(read.context, sizeof(int64) * read.item_capacity);
	read.event_capacity = 1024;
	read.items = MemoryContextAllocHuge(read.context, sizeof(int32) * read.event_capacity);
	read.session_capacity = 1024;
	read.starts = MemoryContextAllocHuge(read.context, sizeof(int64) * read.session_capacity);
	read.gap = gap;
	{
		char	   *query = SourcesQuery(sources, nsources, true, "1, 3, 2");
		SPIPlanPtr	plan = SPI_prepare(query, 2, types);
		Portal		portal;

		if (plan == NULL)
			elog(ERROR, "could not prepare the event query: %s",
				 SPI_result_code_string(SPI_result));
		portal = SPI_cursor_open(NULL, plan, bounds, bound_nulls, true);
		for (;;)
		{
			SPI_cursor_fetch(portal, true, 10000);
			if (SPI_processed == 0)
				break;
			for (uint64 r = 0; r < SPI_processed; r++)
				ReadSessionEvent(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, &read);
			SPI_freetuptable(SPI_tuptable);
			CHECK_FOR_INTERRUPTS();
		}
		SPI_cursor_close(portal);
	}
	read.starts[read.nsessions] = read.nevents;

	{
		MemoryContext old = MemoryContextSwitchTo(read.context);

		RenumberByIds(&read);
		offsets = palloc_extended(sizeof(int64) * ((Size) read.nitems + 1), MCXT_ALLOC_HUGE);
		neighbors = palloc_extended(mul_size(Max(read.nitems, 1), sizeof(int32) * params.neighbors),
									MCXT_ALLOC_HUGE);
		weights = palloc_extended(mul_size(Max(read.nitems, 1), sizeof(float) * params.neighbors),
								  MCXT_ALLOC_HUGE);
		sessions = palloc_extended(sizeof(int32) * Max(read.nitems, 1), MCXT_ALLOC_HUGE);
		total = CovisBuild(read.nitems, read.nsessions, read.starts, read.items, &params,
						   offsets, neighbors, weights, sessions,
						   palloc_extended(CovisWorkspace(read.nitems, read.nevents,
														  read.nsessions, params.neighbors),
										   MCXT_ALLOC_HUGE),
						   CovisCheckInterrupts);
		MemoryContextSwitchTo(old);
	}
	if (read.nitems == 0)
		offsets[0] = 0;
	for (int32 i = 0; i < read.nitems; i++)
		if (offsets[i + 1] > offsets[i])
			with_list++;
	WriteCovisits(&read, offsets, neighbors, weights, sessions);
	SPI_finish();
	/* the served copy of what commits, built now rather than after the commit */
	SignalsCachePrepare();
	INSTR_TIME_SET_CURRENT(end);
	INSTR_TIME_SUBTRACT(end, start);
	ereport(NOTICE,
			(errmsg("build_covisitation: " INT64_FORMAT " events in " INT64_FORMAT " sessions, "
					INT64_FORMAT " of %d items with a list, " INT64_FORMAT " pairs",
					read.nevents, read.nsessions, with_list, read.nitems, total)));
	elog(DEBUG1, "build_covisitation: %.3f s", INSTR_TIME_GET_DOUBLE(end));
	PG_RETURN_VOID();
}
