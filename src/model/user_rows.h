/*
 * user_rows.h
 *	  Direct row access to rerank.user_features and rerank.user_factors,
 *	  without the executor (user_rows.c): the one module of rerank that reads
 *	  and writes heap tuples itself.
 *
 * The contract, for every function here:
 *	- Tables: only the extension's own user tables, found by name in schema
 *	  rerank; anything unexpected (no such table, no primary key, a key that
 *	  is not the install script's) is the caller's cue to use SQL instead
 *	  (reads) or an error (writes).
 *	- Privileges: what the statements replaced would need, checked on open:
 *	  SELECT for reads (else the caller's query path reports the executor's
 *	  error), SELECT and UPDATE for writes (an error).  Row-level security:
 *	  a table under it is never read directly.  Nothing depends on what a
 *	  backend has cached.
 *	- Visibility: reads use the active snapshot; each write takes a fresh
 *	  snapshot after a command counter increment, as SPI does per statement,
 *	  and locks rows with SELECT … FOR UPDATE's semantics.
 *	- What is skipped, and why it may be: CHECK constraints (the values are
 *	  built by rerank), triggers (the tables have none besides the
 *	  extension's, which the regress test realtime_bulk lists), the foreign
 *	  key (an update keeps model_id), check_factors (the fold-in's own checks).
 *	- Locks: AccessShareLock for reads, RowExclusiveLock for writes, held to
 *	  the end of the transaction.
 */
#ifndef RERANK_USER_ROWS_H
#define RERANK_USER_ROWS_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "utils/relcache.h"

/* ---- reads by primary key (serving) ---- */

/*
 * A table of the extension opened for reads by its primary key: the table,
 * its primary key index and the heap attribute numbers of the key columns.
 */
typedef struct KeyedTable
{
	Relation	heap;
	Relation	index;
	int			nkeys;
	AttrNumber	key_attnums[2];
	RegProcedure key_procs[2];
} KeyedTable;

/*
 * Opens rerank.<name> for reads by its primary key (one or two int4/int8
 * key columns, names and types given); false, with nothing left open, when
 * the table cannot be read that way: missing or altered, not readable by
 * the current user as a whole, or under row-level security.
 */
extern bool KeyedTableOpen(const char *name, int nkeys,
						   const char *const *key_names, const Oid *key_types,
						   KeyedTable *table);

/* The attribute number of a column of the given type, or 0. */
extern AttrNumber KeyedTableColumn(const KeyedTable *table, const char *name,
								   Oid type);

/*
 * Reads the row of a key under the active snapshot into values/nulls
 * (columns by attribute number, 0: not wanted; untouched when there is no
 * row).  The slot returned holds the row's buffer: the caller drops it
 * (ExecDropSingleTupleTableSlot) once the values are copied.
 */
extern TupleTableSlot *KeyedTableFetch(KeyedTable *table, const Datum *key,
									   int ncolumns, const AttrNumber *attnums,
									   Datum *values, bool *nulls);

/* Closes a keyed table; the locks stay until the end of the transaction. */
extern void KeyedTableClose(KeyedTable *table);

/* ---- row-level writes (the real-time path) ---- */

/* The columns of rerank.user_features the real-time path reads and writes. */
typedef enum UserFeaturesColumn
{
	USER_FEATURES_USER_ID,
	USER_FEATURES_EVENT_COUNTS,
	USER_FEATURES_TOTAL_DWELL_MS,
	USER_FEATURES_FIRST_EVENT_AT,
	USER_FEATURES_LAST_EVENT_AT,
	USER_FEATURES_RECENT_ITEMS,
	USER_FEATURES_RECENT_WEIGHTS,
	USER_FEATURES_PURCHASED_ITEMS,
	USER_FEATURES_CATEGORY_WEIGHTS,
	USER_FEATURES_UPDATED_AT,
	USER_FEATURES_RECENT_COUNTS,
	USER_FEATURES_RECENT_LAST_AT,
	USER_FEATURES_RECENT_KINDS,
	USER_FEATURES_SESSION_STARTED_AT,
	USER_FEATURES_NCOLUMNS
} UserFeaturesColumn;

/* The columns of rerank.user_factors the real-time path reads and writes. */
typedef enum UserFactorsColumn
{
	USER_FACTORS_MODEL_ID,
	USER_FACTORS_USER_ID,
	USER_FACTORS_FACTORS,
	USER_FACTORS_UPDATED_AT,
	USER_FACTORS_NCOLUMNS
} UserFactorsColumn;

/* A batch's open user tables (see user_rows.c). */
typedef struct UserRows
{
	MemoryContext context;		/* where the slots live */
	Relation	features;
	Relation	features_index;
	AttrNumber	features_attnums[USER_FEATURES_NCOLUMNS];
	TupleTableSlot *features_slot;	/* the locked row */
	bool		features_locked;
	Relation	factors;		/* NULL until opened (UserRowsOpenFactors) */
	Relation	factors_index;
	AttrNumber	factors_attnums[USER_FACTORS_NCOLUMNS];
	TupleTableSlot *factors_slot;
} UserRows;

extern void UserRowsOpen(UserRows *rows);
extern void UserRowsOpenFactors(UserRows *rows);
extern void UserRowsClose(UserRows *rows);
extern bool UserFeaturesLock(UserRows *rows, int64 user_id);
extern void UserFeaturesUpdate(UserRows *rows, Datum *values, bool *nulls,
							   bool *replace);
extern void UserFeaturesRelease(UserRows *rows);
extern bool UserFactorsUpdate(UserRows *rows, int32 model_id, int64 user_id,
							  Datum factors);

/* ---- column values ---- */

/*
 * A column value to write, compressed inline (lz4) when it is large and the
 * server has lz4; else the value itself.
 */
extern Datum UserColumnCompressed(Datum value);

#endif							/* RERANK_USER_ROWS_H */
