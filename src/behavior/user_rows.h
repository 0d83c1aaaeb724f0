/*
 * user_rows.h
 *	  Row-level access to rerank.user_features and rerank.user_factors for
 *	  the real-time path (user_rows.c): find a user's row through the primary
 *	  key, lock it, replace it, without the executor.
 */
#ifndef RERANK_USER_ROWS_H
#define RERANK_USER_ROWS_H

#include "postgres.h"

#include "executor/tuptable.h"
#include "utils/relcache.h"

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
	Relation	factors;		/* NULL until the first vector is written */
	Relation	factors_index;
	AttrNumber	factors_attnums[USER_FACTORS_NCOLUMNS];
	TupleTableSlot *factors_slot;
} UserRows;

extern void UserRowsOpen(UserRows *rows);
extern void UserRowsClose(UserRows *rows);
extern bool UserFeaturesLock(UserRows *rows, int64 user_id);
extern void UserFeaturesUpdate(UserRows *rows, Datum *values, bool *nulls,
							   bool *replace);
extern void UserFeaturesRelease(UserRows *rows);
extern bool UserFactorsUpdate(UserRows *rows, int32 model_id, int64 user_id,
							  Datum factors);

#endif							/* RERANK_USER_ROWS_H */
