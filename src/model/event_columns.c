/*
 * event_columns.c
 *	  Reading events from the shop's own tables: the column mapping given as
 *	  trigger arguments (or to attach() and rebuild_user_features()), its
 *	  validation against the table, and the extraction of one event from a
 *	  row.
 *
 * Columns are found by name in the tuple descriptor (SPI_fnumber), never by
 * splicing names into SQL; where a query over the rows is needed (the
 * transition table of a statement trigger, a rebuild), the names enter it
 * through quote_identifier.  Accepted types, domains over them included:
 *
 *	user, item	smallint, integer, bigint
 *	event type	text, varchar, char(n) (trailing blanks ignored), name, or
 *				an enum (its label)
 *	time		timestamptz, timestamp (in the session's time zone)
 *	dwell		smallint, integer, bigint, real, double precision, numeric
 *				(milliseconds, rounded), or interval
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "model/event_columns.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* Rows of at most this many columns are deformed at once by EventFromTuple. */
#define EVENT_DEFORM_MAX_ATTS 32

static const char *const column_roles[EVENT_NCOLUMNS] = {
	"user id", "item id", "event type", "event time", "dwell time"
};

/*
 * Fills the column names from the trigger arguments: user, item, event type,
 * then optionally time and dwell.  An empty argument means absent; an event
 * type argument starting with '=' is a constant event type for every row
 * (a table of orders has no event type column).
 */
void
EventColumnsFromArgs(EventColumns *columns, int nargs, char **args,
					 const char *caller)
{
	memset(columns, 0, sizeof(EventColumns));
	if (nargs < 3 || nargs > 5)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s: expected 3 to 5 arguments, got %d", caller, nargs),
				 errhint("Pass the names of the user id, item id and event type columns, then optionally the time and dwell columns.")));
	for (int i = 0; i < nargs; i++)
	{
		if (args[i] == NULL || args[i][0] == '\0')
			continue;
		if (i == EVENT_TYPE && args[i][0] == '=')
		{
			if (args[i][1] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: the constant event type must not be empty", caller)));
			columns->constant_type = pstrdup(args[i] + 1);
			continue;
		}
		columns->names[i] = pstrdup(args[i]);
	}
	if (columns->names[EVENT_USER] == NULL || columns->names[EVENT_ITEM] == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the user id and item id columns are required", caller)));
	if (columns->names[EVENT_TYPE] == NULL && columns->constant_type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: an event type column (or a constant event type, '=purchase') is required", caller)));
}

/* True when base type typid may hold the column of role. */
static bool
TypeFitsRole(EventColumn role, Oid typid)
{
	switch (role)
	{
		case EVENT_USER:
		case EVENT_ITEM:
			return typid == INT2OID || typid == INT4OID || typid == INT8OID;
		case EVENT_TYPE:
			return typid == TEXTOID || typid == VARCHAROID ||
				typid == BPCHAROID || typid == NAMEOID || type_is_enum(typid);
		case EVENT_TIME:
			return typid == TIMESTAMPTZOID || typid == TIMESTAMPOID;
		case EVENT_DWELL:
			return typid == INT2OID || typid == INT4OID || typid == INT8OID ||
				typid == FLOAT4OID || typid == FLOAT8OID ||
				typid == NUMERICOID || typid == INTERVALOID;
		default:
			return false;
	}
}

static const char *
RoleTypes(EventColumn role)
{
	switch (role)
	{
		case EVENT_USER:
		case EVENT_ITEM:
			return "smallint, integer or bigint";
		case EVENT_TYPE:
			return "text, varchar, char, name or an enum";
		case EVENT_TIME:
			return "timestamp with or without time zone";
		default:
			return "an integer, floating-point or numeric number of milliseconds, or an interval";
	}
}

/* Checks the types of the resolved columns and prepares their reading. */
static void
CheckColumnTypes(EventColumns *columns, TupleDesc desc, const char *relname)
{
	for (int role = 0; role < EVENT_NCOLUMNS; role++)
	{
		Form_pg_attribute attr;
		Oid			base;

		if (columns->attnums[role] == 0)
			continue;
		attr = TupleDescAttr(desc, columns->attnums[role] - 1);
		base = getBaseType(attr->atttypid);
		if (!TypeFitsRole(role, base))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of \"%s\" has type %s, but the %s must be %s",
							NameStr(attr->attname), relname,
							format_type_be(attr->atttypid), column_roles[role],
							RoleTypes(role))));
		columns->types[role] = base;
	}
	columns->type_needs_output = false;
	if (columns->attnums[EVENT_TYPE] != 0 &&
		columns->types[EVENT_TYPE] != TEXTOID &&
		columns->types[EVENT_TYPE] != VARCHAROID &&
		columns->types[EVENT_TYPE] != BPCHAROID)
	{
		Oid			output;
		bool		varlena;

		getTypeOutputInfo(columns->types[EVENT_TYPE], &output, &varlena);
		fmgr_info_cxt(output, &columns->type_output, CurrentMemoryContext);
		columns->type_needs_output = true;
	}
}

/*
 * Resolves the named columns in a table's descriptor; an unknown or system
 * column, or one of a type that cannot hold its role, is an error naming it.
 */
void
EventColumnsByName(EventColumns *columns, TupleDesc desc, const char *relname)
{
	for (int role = 0; role < EVENT_NCOLUMNS; role++)
	{
		int			attnum;

		columns->attnums[role] = 0;
		if (columns->names[role] == NULL)
			continue;
		attnum = SPI_fnumber(desc, columns->names[role]);
		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of \"%s\" does not exist",
							columns->names[role], relname),
					 errdetail("It was given as the %s column.", column_roles[role])));
		columns->attnums[role] = attnum;
	}
	CheckColumnTypes(columns, desc, relname);
}

/*
 * The query over event rows: the mapped columns in role order, rows without
 * a user left out, with categories each with its item's category from
 * rerank.items (without, the caller looks categories up in the backend's
 * category cache), sorted by user, then by time (when order_by_time), then
 * in the order the rows were read (row_number over the scan: the arrival
 * order of a transition table).  Column names enter through
 * quote_identifier; the subquery's own aliases keep them apart from the
 * names used here.
 */
char *
EventColumnsQuery(const EventColumns *columns, const char *from, bool order_by_time,
				  bool categories)
{
	static const char *const aliases[EVENT_NCOLUMNS] = {"u", "i", "t", "ts", "d"};
	StringInfoData list;
	StringInfoData names;
	StringInfoData order;

	initStringInfo(&list);
	initStringInfo(&names);
	for (int role = 0; role < EVENT_NCOLUMNS; role++)
	{
		if (columns->names[role] == NULL)
			continue;
		appendStringInfo(&list, "%s, ", quote_identifier(columns->names[role]));
		appendStringInfo(&names, "%s, ", aliases[role]);
	}
	initStringInfo(&order);
	appendStringInfoString(&order, "s.u");
	if (order_by_time && columns->names[EVENT_TIME] != NULL)
		appendStringInfoString(&order, ", s.ts NULLS LAST");
	appendStringInfoString(&order, ", s.rerank_seq");
	if (!categories)
		return psprintf("SELECT s.* FROM "
						"(SELECT %spg_catalog.row_number() OVER () FROM %s) AS s (%srerank_seq) "
						"WHERE s.u IS NOT NULL ORDER BY %s",
						list.data, from, names.data, order.data);
	return psprintf("SELECT s.*, c.category FROM "
					"(SELECT %spg_catalog.row_number() OVER () FROM %s) AS s (%srerank_seq) "
					"LEFT JOIN rerank.items c ON c.item_id = s.i "
					"WHERE s.u IS NOT NULL ORDER BY %s",
					list.data, from, names.data, order.data);
}

/*
 * Resolves the columns in the result of EventColumnsQuery: the present
 * columns in role order, the row number, the category when joined.
 */
void
EventColumnsByPosition(EventColumns *columns, TupleDesc desc)
{
	int			next = 1;

	for (int role = 0; role < EVENT_NCOLUMNS; role++)
		columns->attnums[role] = columns->names[role] != NULL ? next++ : 0;
	if (desc->natts != next && desc->natts != next + 1)
		elog(ERROR, "event query returned %d columns, expected %d or %d",
			 desc->natts, next, next + 1);
	CheckColumnTypes(columns, desc, "event query");
	columns->category_attnum = desc->natts == next + 1 ? next + 1 : 0;
}

/* An integer id of any accepted width as int64. */
static int64
IdFromDatum(Datum value, Oid typid)
{
	switch (typid)
	{
		case INT2OID:
			return DatumGetInt16(value);
		case INT4OID:
			return DatumGetInt32(value);
		default:
			return DatumGetInt64(value);
	}
}

/* Milliseconds from a dwell value; false for NaN and the like. */
static bool
DwellFromDatum(Datum value, Oid typid, int64 *dwell_ms)
{
	double		ms;

	switch (typid)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			*dwell_ms = IdFromDatum(value, typid);
			return true;
		case FLOAT4OID:
			ms = DatumGetFloat4(value);
			break;
		case FLOAT8OID:
			ms = DatumGetFloat8(value);
			break;
		case NUMERICOID:
			/* never an error: out-of-range numbers become infinities */
			ms = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, value));
			break;
		case INTERVALOID:
			{
				Interval   *span = DatumGetIntervalP(value);

				ms = (double) span->time / 1000.0 +
					((double) span->day + (double) span->month * DAYS_PER_MONTH) *
					(double) SECS_PER_DAY * 1000.0;
				break;
			}
		default:
			return false;
	}
	if (isnan(ms))
		return false;
	/* clamp into int64; the features saturate anyway */
	if (ms >= 9.0e18)
		*dwell_ms = INT64CONST(9000000000000000000);
	else if (ms <= -9.0e18)
		*dwell_ms = -INT64CONST(9000000000000000000);
	else
		*dwell_ms = (int64) rint(ms);
	return true;
}

/* The event type of a row as a C string (palloc'd), or NULL. */
static const char *
EventTypeFromDatum(const EventColumns *columns, Datum value)
{
	char	   *label;
	int			len;

	if (columns->type_needs_output)
		return OutputFunctionCall((FmgrInfo *) &columns->type_output, value);
	label = TextDatumGetCString(value);
	if (columns->types[EVENT_TYPE] == BPCHAROID)
	{
		/* char(n) pads with blanks: 'view' is 'view' */
		len = strlen(label);
		while (len > 0 && label[len - 1] == ' ')
			label[--len] = '\0';
	}
	return label;
}

/*
 * Reads one event from a row.  False when the user id is NULL: such rows
 * are not tracked (anonymous events; see docs/realtime.md, "Policies").  A NULL
 * item counts the event without a history entry; a NULL or absent time is
 * the transaction's; a NULL, absent or negative dwell adds nothing.
 */
bool
EventFromTuple(const EventColumns *columns, HeapTuple tuple, TupleDesc desc,
			   BehaviorEvent *event)
{
	Datum		values[EVENT_DEFORM_MAX_ATTS];
	bool		nulls[EVENT_DEFORM_MAX_ATTS];
	bool		deformed = desc->natts <= EVENT_DEFORM_MAX_ATTS;
	Datum		value;
	bool		isnull;

	/*
	 * A narrow row is deformed once: reading its columns one by one walks
	 * it from the start for every column after a variable-width one.
	 */
	if (deformed)
		heap_deform_tuple(tuple, desc, values, nulls);
#define GET_ATTR(attnum) \
	(deformed ? (isnull = nulls[(attnum) - 1], values[(attnum) - 1]) \
	 : heap_getattr(tuple, (attnum), desc, &isnull))

	value = GET_ATTR(columns->attnums[EVENT_USER]);
	if (isnull)
		return false;
	event->user_id = IdFromDatum(value, columns->types[EVENT_USER]);

	value = GET_ATTR(columns->attnums[EVENT_ITEM]);
	event->has_item = !isnull;
	event->item_id = isnull ? 0 : IdFromDatum(value, columns->types[EVENT_ITEM]);

	if (columns->attnums[EVENT_TYPE] != 0)
	{
		value = GET_ATTR(columns->attnums[EVENT_TYPE]);
		event->event_type = isnull ? NULL : EventTypeFromDatum(columns, value);
	}
	else
		event->event_type = columns->constant_type;

	event->occurred_at = GetCurrentTransactionStartTimestamp();
	if (columns->attnums[EVENT_TIME] != 0)
	{
		value = GET_ATTR(columns->attnums[EVENT_TIME]);
		if (!isnull)
		{
			TimestampTz when = DatumGetTimestampTz(value);
			int			overflow = 0;

			if (columns->types[EVENT_TIME] == TIMESTAMPOID)
				when = timestamp2timestamptz_opt_overflow(DatumGetTimestamp(value),
														  &overflow);
			/* infinite or out-of-range times say nothing; keep now() */
			if (overflow == 0 && !TIMESTAMP_NOT_FINITE(when))
				event->occurred_at = when;
		}
	}

	event->category_known = columns->category_attnum != 0;
	event->category = NULL;
	if (event->category_known)
	{
		value = GET_ATTR(columns->category_attnum);
		if (!isnull)
			event->category = TextDatumGetCString(value);
	}

	event->dwell_ms = 0;
	if (columns->attnums[EVENT_DWELL] != 0)
	{
		value = GET_ATTR(columns->attnums[EVENT_DWELL]);
		if (!isnull && DwellFromDatum(value, columns->types[EVENT_DWELL], &event->dwell_ms) &&
			event->dwell_ms < 0)
			event->dwell_ms = 0;
	}
#undef GET_ATTR
	return true;
}

/* The qualified, quoted name of an open relation. */
static char *
SourceName(Relation rel)
{
	return quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
									  RelationGetRelationName(rel));
}

int
TrackedEventSources(EventSource **sources)
{
	int			ret;
	int			n = 0;
	uint64		rows;
	Oid		   *relids;
	Oid		   *tgoids;

	ret = SPI_execute("SELECT t.tgrelid, t.oid FROM pg_catalog.pg_trigger t"
					  " WHERE t.tgfoid OPERATOR(pg_catalog.=)"
					  "       'rerank.track_behavior()'::pg_catalog.regprocedure"
					  "   AND t.tgparentid OPERATOR(pg_catalog.=) 0"
					  " ORDER BY t.tgrelid, t.oid", true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list the tracked event tables: %s",
			 SPI_result_code_string(ret));
	rows = SPI_processed;
	relids = palloc(sizeof(Oid) * Max(rows, 1));
	tgoids = palloc(sizeof(Oid) * Max(rows, 1));
	for (uint64 r = 0; r < rows; r++)
	{
		bool		isnull;

		relids[r] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r],
												   SPI_tuptable->tupdesc, 1, &isnull));
		tgoids[r] = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[r],
												   SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_freetuptable(SPI_tuptable);
	*sources = palloc0(sizeof(EventSource) * Max(rows, 1));
	for (uint64 r = 0; r < rows; r++)
	{
		Relation	rel = relation_open(relids[r], AccessShareLock);
		TriggerDesc *trigdesc = rel->trigdesc;

		for (int t = 0; trigdesc != NULL && t < trigdesc->numtriggers; t++)
		{
			Trigger    *trigger = &trigdesc->triggers[t];
			EventSource *source;

			if (trigger->tgoid != tgoids[r])
				continue;
			source = &(*sources)[n++];
			source->relid = relids[r];
			source->from = SourceName(rel);
			EventColumnsFromArgs(&source->columns, trigger->tgnargs, trigger->tgargs,
								 "track_behavior");
			EventColumnsByName(&source->columns, RelationGetDescr(rel),
							   RelationGetRelationName(rel));
		}
		relation_close(rel, NoLock);
	}
	return n;
}

/*
 * Refuses a relation events cannot be read from: a table (partitioned or
 * not), a view or a materialized view is required.
 */
void
CheckEventRelationKind(Relation rel, const char *caller)
{
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE &&
		rel->rd_rel->relkind != RELKIND_VIEW &&
		rel->rd_rel->relkind != RELKIND_MATVIEW)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s: \"%s\" is not a table or view", caller,
						RelationGetRelationName(rel))));
}

void
EventSourceByName(EventSource *source, Oid relid, const char *user_column,
				  const char *item_column, const char *time_column, const char *caller)
{
	Relation	rel = relation_open(relid, AccessShareLock);

	CheckEventRelationKind(rel, caller);
	memset(source, 0, sizeof(EventSource));
	source->relid = relid;
	source->from = SourceName(rel);
	source->columns.names[EVENT_USER] = user_column ? pstrdup(user_column) : NULL;
	source->columns.names[EVENT_ITEM] = item_column ? pstrdup(item_column) : NULL;
	source->columns.names[EVENT_TIME] = time_column ? pstrdup(time_column) : NULL;
	EventColumnsByName(&source->columns, RelationGetDescr(rel), RelationGetRelationName(rel));
	relation_close(rel, NoLock);
}
