/*
 * event_columns.h
 *	  Events read from the shop's own tables (event_columns.c): which column
 *	  plays which role, resolved against a table or a query, and one row read
 *	  as an event.
 */
#ifndef RERANK_EVENT_COLUMNS_H
#define RERANK_EVENT_COLUMNS_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/relcache.h"

/* The roles a column of the shop's event table can play. */
typedef enum EventColumn
{
	EVENT_USER,
	EVENT_ITEM,
	EVENT_TYPE,
	EVENT_TIME,
	EVENT_DWELL,
	EVENT_NCOLUMNS
} EventColumn;

/*
 * Where the fields of an event are and how to read them: column names (NULL
 * when absent), resolved against a tuple descriptor into attribute numbers
 * and base types.  The event type is a column or a constant.
 */
typedef struct EventColumns
{
	char	   *names[EVENT_NCOLUMNS];
	char	   *constant_type;	/* event type of every row, or NULL */
	AttrNumber	attnums[EVENT_NCOLUMNS];	/* 0: absent */
	Oid			types[EVENT_NCOLUMNS];	/* base types */
	bool		type_needs_output;	/* event type read by its output function */
	FmgrInfo	type_output;
	AttrNumber	category_attnum;	/* the item's category, when the query
									 * joined rerank.items; else 0 */
} EventColumns;

/* One event as the features see it. */
typedef struct BehaviorEvent
{
	int64		user_id;
	bool		has_item;
	int64		item_id;
	const char *event_type;		/* NULL: none (counted as "other") */
	TimestampTz occurred_at;	/* now() when absent or NULL */
	int64		dwell_ms;		/* 0 when absent, NULL or negative */
	bool		category_known; /* category was read with the event */
	const char *category;		/* the item's category, or NULL */
} BehaviorEvent;

/* A table of events and its column mapping. */
typedef struct EventSource
{
	Oid			relid;
	char	   *from;			/* the table's qualified, quoted name */
	EventColumns columns;		/* resolved against the table */
} EventSource;

/*
 * The event tables rerank tracks: every table with a rerank.track_behavior
 * trigger (partitions' clones left out), each with the mapping of its
 * trigger's arguments (what attach() recorded), in OID order; the tables
 * are locked AccessShare.  Returns how many (*sources palloc'd).  Called
 * inside SPI.
 */
extern int	TrackedEventSources(EventSource **sources);

/*
 * One table with a mapping by column name (NULL: the role is absent),
 * validated like attach()'s; the table is locked AccessShare.  caller
 * names the function in errors.
 */
extern void EventSourceByName(EventSource *source, Oid relid, const char *user_column,
							  const char *item_column, const char *time_column,
							  const char *caller);

/*
 * Refuses (42809) a relation events cannot be read from: a table,
 * partitioned or not, a view or a materialized view is required.
 */
extern void CheckEventRelationKind(Relation rel, const char *caller);

extern void EventColumnsFromArgs(EventColumns *columns, int nargs, char **args,
								 const char *caller);
extern void EventColumnsByName(EventColumns *columns, TupleDesc desc,
							   const char *relname);
extern void EventColumnsByPosition(EventColumns *columns, TupleDesc desc);
extern char *EventColumnsQuery(const EventColumns *columns, const char *from,
							   bool order_by_time, bool categories);
extern bool EventFromTuple(const EventColumns *columns, HeapTuple tuple,
						   TupleDesc desc, BehaviorEvent *event);

#endif							/* RERANK_EVENT_COLUMNS_H */
