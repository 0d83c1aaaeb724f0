/*
 * behavior.h
 *	  The real-time behavior path: events read from the shop's own tables
 *	  (behavior_columns.c), the per-user features and fold-in they update
 *	  (user_state.c) in rows read and written at the row level
 *	  (user_rows.c), and the trigger and batch entry points
 *	  (behavior_trigger.c).
 */
#ifndef RERANK_BEHAVIOR_H
#define RERANK_BEHAVIOR_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "model_cache.h"
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

/* behavior_columns.c */
extern void EventColumnsFromArgs(EventColumns *columns, int nargs, char **args,
								 const char *caller);
extern void EventColumnsByName(EventColumns *columns, TupleDesc desc,
							   const char *relname);
extern void EventColumnsByPosition(EventColumns *columns, TupleDesc desc);
extern char *EventColumnsQuery(const EventColumns *columns, const char *from,
							   bool order_by_time, bool categories);
extern bool EventFromTuple(const EventColumns *columns, HeapTuple tuple,
						   TupleDesc desc, BehaviorEvent *event);

/* user_rows.c */

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

/* user_state.c */
typedef struct UserState UserState;

/* What FoldInHistoryVector works in, for histories of up to a capacity. */
typedef struct FoldInBuffers
{
	const float **vectors;		/* each entry's item vector, or NULL */
	const float **kept;			/* the vectors the solve uses */
	double	   *confidence;		/* and their confidences */
	double	   *workspace;		/* AlsFoldInWorkspace(k, capacity) doubles */
} FoldInBuffers;

/* What a batch of users shares: the model, workspaces, memory. */
typedef struct BehaviorBatch
{
	const CachedModel *model;	/* active model, NULL: features only */
	bool		replace;		/* start from empty features (rebuild) */
	bool		force_fold_in;	/* fold in even when the history did not change */
	int			history_limit;	/* rerank.history_size at the start */
	int			purchase_limit; /* rerank.purchase_history_size at the start */
	UserRows	rows;			/* user_features, user_factors */
	MemoryContext user_context; /* reset per user */
	bool		owns_kept_memory;	/* uses the backend's kept buffers */
	FoldInBuffers buffers;		/* for history_limit items */
	float	   *vector;			/* the solved user vector */
	int64		users;			/* users written */
	int64		folded;			/* user vectors written */
} BehaviorBatch;

extern int	behavior_history_size;
extern int	behavior_purchase_history_size;
extern bool behavior_fold_in;

extern void BehaviorInit(void);
extern void BehaviorBatchBegin(BehaviorBatch *batch, bool replace, bool fold_in);
extern void BehaviorBatchEnd(BehaviorBatch *batch);
extern UserState *UserStateLock(BehaviorBatch *batch, int64 user_id,
								bool create);
extern void UserStateApply(BehaviorBatch *batch, UserState *state,
						   const BehaviorEvent *event);
extern void UserStateFinish(BehaviorBatch *batch, UserState *state);
extern bool FoldInParamsValid(const CachedModel *model);
extern void FoldInBuffersAlloc(FoldInBuffers *buffers, MemoryContext context,
							   int k, int capacity);
extern int	FoldInHistoryVector(const CachedModel *model, const int64 *items,
								const float *weights, int n,
								FoldInBuffers *buffers, float *x);

#endif							/* RERANK_BEHAVIOR_H */
