/*
 * user_state.c
 *	  The per-user features kept in rerank.user_features and the real-time
 *	  fold-in of the user's vector into rerank.user_factors.
 *
 * A batch (one trigger call, one statement's transition table, or a
 * rebuild) handles users one at a time: UserStateLock locks the user's row
 * (as SELECT … FOR UPDATE would, inserting an empty row first for a new
 * user) and reads it, UserStateApply adds events in memory, UserStateFinish
 * writes the row back once and, with an active model, re-solves the user's
 * vector by AlsFoldIn over the capped recent history against the model's
 * item vectors and YᵀY (the backend's model cache, no query while nothing
 * changes).  Existing rows are locked, read and replaced at the row level
 * (user_rows.c), without a statement per step.
 *
 * The row lock serializes concurrent events of one user, so counts are
 * exact and the stored vector always belongs to the stored history; locks
 * are taken one user at a time (in user id order by the statement form), so
 * two batches cannot deadlock on each other's users.
 *
 * Event weights come from rerank.event_weights, cached per backend and
 * reloaded after a relcache invalidation of that table (a statement trigger
 * sends one at every change).  Item categories come with the event (the
 * statement form's query joins them when they do not fit in the category
 * cache) or from the backend's category cache, else from a kept plan per
 * event.  Every query runs with a pinned search_path (the SQL functions that
 * enter here are declared with SET search_path).
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "model/event_columns.h"
#include "behavior/user_state.h"
#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "common/feat_time.h"
#include "common/shortest_dec.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "core/features.h"
#include "core/key_values.h"
#include "core/recent_history.h"
#include "executor/spi.h"
#include "model/fold_in.h"
#include "model/user_features.h"
#include "model/user_rows.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

/* GUCs */
int			behavior_history_size = 100;
int			behavior_purchase_history_size = 100;
bool		behavior_fold_in = true;

#define MAX_HISTORY_SIZE 10000

/* Key of unknown (or NULL) event types in event_counts. */
#define OTHER_EVENT_TYPE "other"

/* event_weights.event_type has at most 63 characters: 252 bytes in UTF-8. */
#define EVENT_TYPE_KEYSIZE 256

struct UserFeatureState
{
	int64		user_id;
	KeyValues	counts;			/* event_counts */
	KeyValues	categories;		/* category_weights */
	int64		total_dwell_ms;
	bool		has_times;
	TimestampTz first_event_at;
	TimestampTz last_event_at;
	bool		has_session;
	TimestampTz session_started_at;
	RecentHistory recent;		/* with counts, times and kinds */
	RecentHistory purchased;
	bool		history_changed;
	int			events;
};

/* A row of rerank.event_weights. */
typedef struct EventWeight
{
	char		event_type[EVENT_TYPE_KEYSIZE];
	float		weight;
	bool		is_purchase;
	uint32		kind;			/* FEAT_KIND_* bit, or 0 */
} EventWeight;

static MemoryContext WeightsContext = NULL;
static HTAB *event_weights = NULL;
static Oid	event_weights_relid = InvalidOid;
static uint64 weights_invalidations = 0;
static uint64 weights_loaded_at = 0;

/* Kept plans. */
static SPIPlanPtr create_plan = NULL;
static SPIPlanPtr category_plan = NULL;
static SPIPlanPtr factors_plan = NULL;

static void BehaviorXactCallback(XactEvent event, void *arg);
static void BehaviorSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
									SubTransactionId parentSubid, void *arg);

/* Relcache callback: a change of rerank.event_weights drops the cached copy. */
static void
EventWeightsRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == event_weights_relid)
		weights_invalidations++;
}

/* Registers the GUCs and the invalidation callback; called by _PG_init. */
void
BehaviorInit(void)
{
	DefineCustomIntVariable("rerank.history_size",
							"Items kept in each user's recent history (what the fold-in reads).",
							"The most recently touched distinct items; older ones fall off.",
							&behavior_history_size,
							100, 0, MAX_HISTORY_SIZE,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("rerank.purchase_history_size",
							"Items kept in each user's list of purchased items.",
							NULL,
							&behavior_purchase_history_size,
							100, 0, MAX_HISTORY_SIZE,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("rerank.realtime_fold_in",
							 "Re-solves the user's vector for the active model on every tracked event.",
							 "Off: the triggers keep only the features (rerank.fold_in_users() catches up later).",
							 &behavior_fold_in,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(EventWeightsRelcacheCallback, (Datum) 0);
	RegisterXactCallback(BehaviorXactCallback, NULL);
	RegisterSubXactCallback(BehaviorSubXactCallback, NULL);
}

/* (Re)loads rerank.event_weights when it changed since the last load. */
static void
LoadEventWeights(void)
{
	uint64		generation = weights_invalidations;
	MemoryContext context;
	HTAB	   *hash;
	HASHCTL		ctl;
	int			ret;

	if (event_weights != NULL && weights_loaded_at == generation)
		return;

	/* built under the transaction and adopted when complete */
	context = AllocSetContextCreate(CurTransactionContext, "rerank event weights",
									ALLOCSET_SMALL_SIZES);
	ctl.keysize = EVENT_TYPE_KEYSIZE;
	ctl.entrysize = sizeof(EventWeight);
	ctl.hcxt = context;
	hash = hash_create("rerank event weights", 16, &ctl,
					   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	/*
	 * kind through to_jsonb: the column is 0.2.0's, and this library also
	 * serves a 0.1.0 table until ALTER EXTENSION rerank UPDATE.
	 */
	ret = SPI_execute("SELECT w.event_type, w.weight, w.is_purchase,"
					  " pg_catalog.to_jsonb(w) OPERATOR(pg_catalog.->>) 'kind'"
					  " FROM rerank.event_weights w",
					  true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read rerank.event_weights: %s",
			 SPI_result_code_string(ret));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *type = SPI_getvalue(tuple, desc, 1);
		EventWeight *entry;

		if (type == NULL || strlen(type) >= EVENT_TYPE_KEYSIZE)
			continue;
		entry = hash_search(hash, type, HASH_ENTER, NULL);
		entry->weight = DatumGetFloat4(SPI_getbinval(tuple, desc, 2, &isnull));
		if (isnull || !(entry->weight >= 0) || isinf(entry->weight))
			entry->weight = 0;
		entry->is_purchase = DatumGetBool(SPI_getbinval(tuple, desc, 3, &isnull)) && !isnull;
		{
			char	   *kind = SPI_getvalue(tuple, desc, 4);

			entry->kind = kind != NULL ? FeatKindBit(kind, strlen(kind)) : 0;
		}
	}
	SPI_freetuptable(SPI_tuptable);
	event_weights_relid = get_relname_relid("event_weights",
											get_namespace_oid("rerank", false));

	if (WeightsContext == NULL)
		WeightsContext = AllocSetContextCreate(TopMemoryContext, "rerank event weights cache",
											   ALLOCSET_SMALL_SIZES);
	MemoryContextReset(WeightsContext);
	MemoryContextSetParent(context, WeightsContext);
	event_weights = hash;
	weights_loaded_at = generation;
}

/* The weight row of an event type, or NULL when it is not in the table. */
static const EventWeight *
LookupEventWeight(const char *event_type)
{
	if (event_type == NULL || strlen(event_type) >= EVENT_TYPE_KEYSIZE)
		return NULL;
	return hash_search(event_weights, event_type, HASH_FIND, NULL);
}

/*
 * Appends an entry to a map (core/key_values.h: the keys and stored
 * numerics point into the user's private copy of the jsonb, or into
 * memory of the user's context); the map grows by doubling.
 */
static void
KeyValuesAppend(KeyValues *map, const char *key, int length, Numeric stored,
				double value)
{
	if (map->n == map->capacity)
	{
		map->capacity = Max(8, map->capacity * 2);
		map->entries = map->entries == NULL
			? palloc(sizeof(KeyValue) * map->capacity)
			: repalloc(map->entries, sizeof(KeyValue) * map->capacity);
	}
	KeyValuesPush(map, key, length, stored, value);
}

/* Adds delta to the value of key, inserting it when new. */
static void
KeyValuesAdd(KeyValues *map, const char *key, double delta)
{
	int			length = strlen(key);
	KeyValue   *entry = KeyValuesFind(map, key, length);

	if (entry == NULL)
	{
		KeyValuesAppend(map, pstrdup(key), length, NULL, delta);
		return;
	}
	if (entry->stored != NULL)
	{
		entry->value = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
														  NumericGetDatum((Numeric) entry->stored)));
		entry->stored = NULL;
	}
	entry->value += delta;
}

/*
 * Reads a jsonb object of numbers (a copy that lives as long as the map);
 * anything else in it (a value edited by hand into a string, say) is
 * dropped rather than failing the event.
 */
static void
KeyValuesFromJsonb(KeyValues *map, Jsonb *jsonb)
{
	JsonbIterator *it;
	JsonbValue	value;
	JsonbIteratorToken token;
	const char *key = NULL;
	int			length = 0;

	if (!JB_ROOT_IS_OBJECT(jsonb))
		return;
	it = JsonbIteratorInit(&jsonb->root);
	while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
		{
			key = value.val.string.val;
			length = value.val.string.len;
		}
		else if (token == WJB_VALUE && key != NULL)
		{
			/* NaN and infinities cannot be in jsonb: a number is a number */
			if (value.type == jbvNumeric)
				KeyValuesAppend(map, key, length, value.val.numeric, 0);
			key = NULL;
		}
	}
}

/*
 * A jsonb object of the map: each entry in the form KeyValueOutput says,
 * unchanged entries as stored, changed ones as integers (counts, and
 * weights that are whole numbers) or doubles in their shortest exact
 * decimal form, so reading them back gives the same doubles (the row and
 * statement forms must agree to the bit).
 */
static Jsonb *
KeyValuesToJsonb(const KeyValues *map, bool integers)
{
	JsonbParseState *parse = NULL;
	JsonbValue *result;

	pushJsonbValue(&parse, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < map->n; i++)
	{
		const KeyValue *entry = &map->entries[i];
		JsonbValue	key;
		JsonbValue	value;
		int64		integer;

		value.type = jbvNumeric;
		switch (KeyValueOutput(entry, integers, &integer))
		{
			case KEY_VALUE_STORED:
				value.val.numeric = (Numeric) entry->stored;
				break;
			case KEY_VALUE_SKIP:
				continue;
			case KEY_VALUE_INTEGER:
				value.val.numeric = int64_to_numeric(integer);
				break;
			case KEY_VALUE_DECIMAL:
				{
					char		buf[DOUBLE_SHORTEST_DECIMAL_LEN];

					double_to_shortest_decimal_buf(entry->value, buf);
					value.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
																			CStringGetDatum(buf),
																			ObjectIdGetDatum(InvalidOid),
																			Int32GetDatum(-1)));
				}
				break;
		}
		key.type = jbvString;
		key.val.string.val = (char *) entry->key;
		key.val.string.len = entry->length;
		pushJsonbValue(&parse, WJB_KEY, &key);
		pushJsonbValue(&parse, WJB_VALUE, &value);
	}
	result = pushJsonbValue(&parse, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(result);
}

/*
 * The memory of a batch is kept for the backend's life: a fold-in workspace
 * is ~80 kB at k = 64, and allocating it per event made the kernel fault in
 * fresh pages on every insert.  A nested batch (a shop trigger inserting
 * events from inside another one's statement) gets its own.
 */
static MemoryContext BatchContext = NULL;
static bool batch_memory_in_use = false;
static SubTransactionId batch_memory_subxact = InvalidSubTransactionId;
static MemoryContext KeptBuffersContext = NULL;
static FoldInBuffers kept_buffers;
static float *kept_vector;
static int	kept_dimensions = 0;
static int	kept_capacity = 0;

/*
 * A failed batch leaves its memory to the next one: at the abort of the
 * transaction or of the subtransaction the batch began in, not of one that
 * began and failed inside the batch (in a function its event query calls),
 * whose nested batches must not take the memory the batch still uses.
 */
static void
BehaviorXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		batch_memory_in_use = false;
}

static void
BehaviorSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB && mySubid == batch_memory_subxact)
		batch_memory_in_use = false;
}

/* Grows the kept fold-in buffers to k dimensions and capacity items. */
static void
KeptBuffers(int k, int capacity)
{
	if (k <= kept_dimensions && capacity <= kept_capacity)
		return;
	k = Max(k, kept_dimensions);
	capacity = Max(capacity, kept_capacity);
	if (KeptBuffersContext == NULL)
		KeptBuffersContext = AllocSetContextCreate(TopMemoryContext, "rerank fold-in buffers",
												   ALLOCSET_DEFAULT_SIZES);
	/* nothing is kept until the new buffers are complete */
	kept_dimensions = kept_capacity = 0;
	MemoryContextReset(KeptBuffersContext);
	FoldInBuffersAlloc(&kept_buffers, KeptBuffersContext, k, capacity);
	kept_vector = MemoryContextAlloc(KeptBuffersContext, sizeof(float) * k);
	kept_dimensions = k;
	kept_capacity = capacity;
}

/* Starts a batch: reads the settings and the active model, sizes workspaces. */
void
BehaviorBatchBegin(BehaviorBatch *batch, bool replace, bool fold_in)
{
	int			capacity = Max(behavior_history_size, 1);
	int			k;

	memset(batch, 0, sizeof(BehaviorBatch));
	batch->history_limit = behavior_history_size;
	batch->purchase_limit = behavior_purchase_history_size;
	batch->replace = replace;
	batch->owns_kept_memory = !batch_memory_in_use;
	if (batch->owns_kept_memory)
	{
		if (BatchContext == NULL)
			/* a large first block is kept across resets: no page faults */
			BatchContext = AllocSetContextCreate(TopMemoryContext, "rerank user state",
												 0, 256 * 1024, ALLOCSET_DEFAULT_MAXSIZE);
		batch_memory_in_use = true;
		batch_memory_subxact = GetCurrentSubTransactionId();
		batch->user_context = BatchContext;
	}
	else
		batch->user_context = AllocSetContextCreate(CurrentMemoryContext, "rerank user state",
													ALLOCSET_DEFAULT_SIZES);
	LoadEventWeights();
	UserRowsOpen(&batch->rows);
	if (!fold_in)
		return;
	batch->model = ActiveModel();
	if (batch->model == NULL || batch->model->dimensions == 0 ||
		batch->model->gram == NULL)
	{
		/* no model to fold into: the features alone are kept */
		batch->model = NULL;
		return;
	}
	if (!FoldInParamsValid(batch->model))
	{
		ereport(WARNING,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" has an invalid regularization or alpha; user vectors are not updated",
						batch->model->name),
				 errhint("Set params regularization and alpha to numbers >= 0.")));
		batch->model = NULL;
		return;
	}
	/* both table locks before any row lock (docs/locking.md) */
	UserRowsOpenFactors(&batch->rows);
	k = batch->model->dimensions;
	if (batch->owns_kept_memory)
	{
		KeptBuffers(k, capacity);
		batch->buffers = kept_buffers;
		batch->vector = kept_vector;
	}
	else
	{
		FoldInBuffersAlloc(&batch->buffers, CurrentMemoryContext, k, capacity);
		batch->vector = palloc(sizeof(float) * k);
	}
}

void
BehaviorBatchEnd(BehaviorBatch *batch)
{
	UserRowsClose(&batch->rows);
	if (batch->owns_kept_memory)
	{
		MemoryContextReset(batch->user_context);
		batch_memory_in_use = false;
	}
	else
		MemoryContextDelete(batch->user_context);
	batch->user_context = NULL;
}

/*
 * Copies up to history->capacity entries of a user's recent history (or
 * of an id list, when the other arrays are NULL) into a history: the
 * weights, counts, last event times and kinds that it keeps.
 */
static void
HistoryFill(RecentHistory *history, const int64 *items, const float *weights,
			const int32 *counts, const double *last_at, const uint32 *kinds, int n)
{
	history->n = Min(n, history->capacity);
	if (history->n == 0)
		return;
	memcpy(history->items, items, sizeof(int64) * history->n);
	if (history->weights != NULL && weights != NULL)
		memcpy(history->weights, weights, sizeof(float) * history->n);
	if (history->counts != NULL && counts != NULL)
		memcpy(history->counts, counts, sizeof(int32) * history->n);
	if (history->last_at != NULL && last_at != NULL)
		memcpy(history->last_at, last_at, sizeof(double) * history->n);
	if (history->kinds != NULL && kinds != NULL)
		memcpy(history->kinds, kinds, sizeof(uint32) * history->n);
}

/*
 * Reads the locked row of user_features (in the batch's slot) into state,
 * through the one reader of such rows (model/user_features.h).
 */
static void
UserStateRead(UserFeatureState *state, UserRows *rows)
{
	TupleTableSlot *slot = rows->features_slot;
	Datum		values[USER_FEATURES_NCOLUMNS];
	bool		nulls[USER_FEATURES_NCOLUMNS];
	UserFeatures row;

	for (int c = 0; c < USER_FEATURES_NCOLUMNS; c++)
	{
		/* a column this table does not have (yet): NULL */
		if (rows->features_attnums[c] == 0)
		{
			values[c] = (Datum) 0;
			nulls[c] = true;
			continue;
		}
		values[c] = slot_getattr(slot, rows->features_attnums[c], &nulls[c]);
	}
	UserFeaturesRead(values, nulls, &row);
	if (row.event_counts != NULL)
		KeyValuesFromJsonb(&state->counts, row.event_counts);
	state->total_dwell_ms = row.total_dwell_ms;
	state->has_times = row.has_times;
	state->first_event_at = row.first_event_at;
	state->last_event_at = row.last_event_at;
	state->has_session = row.has_session;
	state->session_started_at = row.session_started_at;
	HistoryFill(&state->recent, row.recent_items, row.recent_weights, row.recent_counts,
				row.recent_last_at, row.recent_kinds, row.nrecent);
	HistoryFill(&state->purchased, row.purchased_items, NULL, NULL, NULL, NULL,
				row.npurchased);
	if (row.category_weights != NULL)
		KeyValuesFromJsonb(&state->categories, row.category_weights);
}

/*
 * Locks the user's row of rerank.user_features (creating it when new, if
 * create; else NULL) and reads it into a fresh state, in the batch's
 * per-user memory.  The row stays in the batch's slot until
 * UserStateFinish.  With batch->replace the stored features are ignored (a
 * rebuild).
 */
UserFeatureState *
UserStateLock(BehaviorBatch *batch, int64 user_id, bool create)
{
	MemoryContext old;
	UserFeatureState *state;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(user_id)};
	int			history_capacity = Max(batch->history_limit, 1);
	int			purchase_capacity = Max(batch->purchase_limit, 1);

	MemoryContextReset(batch->user_context);
	old = MemoryContextSwitchTo(batch->user_context);
	state = palloc0(sizeof(UserFeatureState));
	state->user_id = user_id;
	state->recent.capacity = history_capacity;
	state->recent.items = palloc(sizeof(int64) * history_capacity);
	state->recent.weights = palloc(sizeof(float) * history_capacity);
	state->recent.counts = palloc(sizeof(int32) * history_capacity);
	state->recent.last_at = palloc(sizeof(double) * history_capacity);
	state->recent.kinds = palloc(sizeof(uint32) * history_capacity);
	state->purchased.capacity = purchase_capacity;
	state->purchased.items = palloc(sizeof(int64) * purchase_capacity);

	for (int attempt = 0;; attempt++)
	{
		if (UserFeaturesLock(&batch->rows, user_id))
		{
			if (!batch->replace)
				UserStateRead(state, &batch->rows);
			break;
		}
		if (!create)
		{
			MemoryContextSwitchTo(old);
			return NULL;
		}
		if (attempt > 0)
			elog(ERROR, "the features row of user " INT64_FORMAT " vanished", user_id);

		/*
		 * A new user: insert the empty row, then lock it like any other.  A
		 * concurrent insert of the same user makes this one do nothing once
		 * the other commits; then the loop locks that row.
		 */
		ExecuteKeptPlan(&create_plan,
						"INSERT INTO rerank.user_features (user_id) VALUES ($1) "
						"ON CONFLICT (user_id) DO NOTHING",
						1, argtypes, args, false, 0, SPI_OK_INSERT);
	}

	/* a lowered rerank.history_size applies at the next event */
	if (batch->history_limit < state->recent.n)
	{
		HistoryTruncate(&state->recent, batch->history_limit);
		state->history_changed = true;
	}
	HistoryTruncate(&state->purchased, batch->purchase_limit);
	MemoryContextSwitchTo(old);
	return state;
}

/*
 * The category of an item, or NULL: from the backend's category cache
 * (category_cache.c, shared with rerank()), or by a query when the catalog
 * does not fit in its budget.
 */
static const char *
ItemCategory(int64 item_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1] = {Int64GetDatum(item_id)};
	char	   *category = NULL;

	if (CategoryCacheEnsure())
	{
		int32		number = CategoryCacheLookupOne(item_id);
		const char *name;
		int			length;

		if (number < 0)
			return NULL;
		name = CategoryName(number, &length);
		return pnstrdup(name, length);
	}

	ExecuteKeptPlan(&category_plan,
					"SELECT category FROM rerank.items WHERE item_id = $1",
					1, argtypes, args, true, 1, SPI_OK_SELECT);
	if (SPI_processed == 1)
		category = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	SPI_freetuptable(SPI_tuptable);
	return category;
}

/* Adds one event to the user's state (in memory). */
void
UserStateApply(BehaviorBatch *batch, UserFeatureState *state, const BehaviorEvent *event)
{
	MemoryContext old = MemoryContextSwitchTo(batch->user_context);
	const EventWeight *weight = LookupEventWeight(event->event_type);

	/* unknown and NULL event types are counted, but never learned from */
	KeyValuesAdd(&state->counts, weight ? event->event_type : OTHER_EVENT_TYPE, 1);
	if (pg_add_s64_overflow(state->total_dwell_ms, event->dwell_ms,
							&state->total_dwell_ms))
		state->total_dwell_ms = PG_INT64_MAX;
	/* the session: cut where the gap since the last event exceeds 30 minutes */
	{
		double		start = state->has_session ?
			FeatTimeFromTimestamp(state->session_started_at) : NAN;
		double		last = state->has_times ?
			FeatTimeFromTimestamp(state->last_event_at) : NAN;
		double		before = start;

		SessionTouch(&start, &last, FeatTimeFromTimestamp(event->occurred_at),
					 FEAT_SESSION_GAP);
		if (!state->has_session || start != before)
		{
			state->has_session = true;
			state->session_started_at = start == FeatTimeFromTimestamp(event->occurred_at) ?
				event->occurred_at : FeatTimeToTimestamp(start);
		}
	}
	if (!state->has_times)
	{
		state->has_times = true;
		state->first_event_at = state->last_event_at = event->occurred_at;
	}
	else
	{
		state->first_event_at = Min(state->first_event_at, event->occurred_at);
		state->last_event_at = Max(state->last_event_at, event->occurred_at);
	}

	if (weight != NULL && event->has_item)
	{
		if (weight->weight > 0)
		{
			const char *category;

			HistoryRecord(&state->recent, batch->history_limit, event->item_id,
						  weight->weight, FeatTimeFromTimestamp(event->occurred_at),
						  weight->kind);
			state->history_changed = true;
			if (event->category_known)
				category = event->category;
			else
				category = ItemCategory(event->item_id);
			if (category != NULL)
				KeyValuesAdd(&state->categories, category, weight->weight);
		}
		if (weight->is_purchase)
			HistoryTouch(&state->purchased, batch->purchase_limit,
						 event->item_id, 0);
	}
	state->events++;
	MemoryContextSwitchTo(old);
}

/*
 * One of the history's per-item columns as an array: counts (int4[]), last
 * event times (timestamptz[]; an unknown time is written as the item's
 * oldest possible, -infinity, and read back as unknown) or kinds (int2[]).
 */
static ArrayType *
HistoryColumnArray(const RecentHistory *history, UserFeaturesColumn column)
{
	int			n = history->n;
	Datum	   *values = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
	{
		switch (column)
		{
			case USER_FEATURES_RECENT_COUNTS:
				values[i] = Int32GetDatum(history->counts[i]);
				break;
			case USER_FEATURES_RECENT_LAST_AT:
				if (isnan(history->last_at[i]))
				{
					TimestampTz unknown;

					TIMESTAMP_NOBEGIN(unknown);
					values[i] = TimestampTzGetDatum(unknown);
				}
				else
					values[i] = TimestampTzGetDatum(FeatTimeToTimestamp(history->last_at[i]));
				break;
			default:
				values[i] = Int16GetDatum((int16) history->kinds[i]);
				break;
		}
	}
	switch (column)
	{
		case USER_FEATURES_RECENT_COUNTS:
			return construct_array(values, n, INT4OID, 4, true, TYPALIGN_INT);
		case USER_FEATURES_RECENT_LAST_AT:
			return construct_array(values, n, TIMESTAMPTZOID, 8, FLOAT8PASSBYVAL,
								   TYPALIGN_DOUBLE);
		default:
			return construct_array(values, n, INT2OID, 2, true, TYPALIGN_SHORT);
	}
}

/* Writes the user's features row back (the other columns are kept). */
static void
UserStateWrite(UserRows *rows, UserFeatureState *state)
{
	int			natts = RelationGetDescr(rows->features)->natts;
	Datum	   *values = palloc0(sizeof(Datum) * natts);
	bool	   *nulls = palloc0(sizeof(bool) * natts);
	bool	   *replace = palloc0(sizeof(bool) * natts);

#define SET_COLUMN(column, value) \
	do { \
		int		i_ = rows->features_attnums[column] - 1; \
		if (i_ >= 0) \
		{ \
			values[i_] = (value); \
			replace[i_] = true; \
		} \
	} while (0)

	SET_COLUMN(USER_FEATURES_EVENT_COUNTS,
			   JsonbPGetDatum(KeyValuesToJsonb(&state->counts, true)));
	SET_COLUMN(USER_FEATURES_TOTAL_DWELL_MS, Int64GetDatum(state->total_dwell_ms));
	SET_COLUMN(USER_FEATURES_FIRST_EVENT_AT, TimestampTzGetDatum(state->first_event_at));
	SET_COLUMN(USER_FEATURES_LAST_EVENT_AT, TimestampTzGetDatum(state->last_event_at));
	if (!state->has_times)
	{
		nulls[rows->features_attnums[USER_FEATURES_FIRST_EVENT_AT] - 1] = true;
		nulls[rows->features_attnums[USER_FEATURES_LAST_EVENT_AT] - 1] = true;
	}
	SET_COLUMN(USER_FEATURES_RECENT_ITEMS,
			   UserColumnCompressed(PointerGetDatum(BuildInt64Array(state->recent.items,
																state->recent.n))));
	SET_COLUMN(USER_FEATURES_RECENT_WEIGHTS,
			   UserColumnCompressed(PointerGetDatum(BuildVector(state->recent.weights,
															state->recent.n))));
	SET_COLUMN(USER_FEATURES_RECENT_COUNTS,
			   UserColumnCompressed(PointerGetDatum(HistoryColumnArray(&state->recent,
																   USER_FEATURES_RECENT_COUNTS))));
	SET_COLUMN(USER_FEATURES_RECENT_LAST_AT,
			   UserColumnCompressed(PointerGetDatum(HistoryColumnArray(&state->recent,
																   USER_FEATURES_RECENT_LAST_AT))));
	SET_COLUMN(USER_FEATURES_RECENT_KINDS,
			   UserColumnCompressed(PointerGetDatum(HistoryColumnArray(&state->recent,
																   USER_FEATURES_RECENT_KINDS))));
	if (state->has_session)
		SET_COLUMN(USER_FEATURES_SESSION_STARTED_AT,
				   TimestampTzGetDatum(state->session_started_at));
	SET_COLUMN(USER_FEATURES_PURCHASED_ITEMS,
			   UserColumnCompressed(PointerGetDatum(BuildInt64Array(state->purchased.items,
																state->purchased.n))));
	SET_COLUMN(USER_FEATURES_CATEGORY_WEIGHTS,
			   UserColumnCompressed(JsonbPGetDatum(KeyValuesToJsonb(&state->categories, false))));
	SET_COLUMN(USER_FEATURES_UPDATED_AT,
			   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()));
#undef SET_COLUMN
	UserFeaturesUpdate(rows, values, nulls, replace);
}

/*
 * Re-solves the user's vector for the batch's model from the recent history
 * and writes it.  A history without any item the model knows leaves the
 * stored vector (from training or import) as it is.
 */
static void
UserStateFoldIn(BehaviorBatch *batch, UserFeatureState *state)
{
	const CachedModel *model = batch->model;
	int			k = model->dimensions;
	int			used;
	Oid			argtypes[3] = {INT4OID, INT8OID, FLOAT4ARRAYOID};
	Datum		args[3];

	used = FoldInHistoryVector(model, state->recent.items, state->recent.weights,
							   state->recent.n, &batch->buffers, batch->vector);
	if (used == 0)
		return;
	if (used < 0)
	{
		ereport(WARNING,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("could not fold in user " INT64_FORMAT " for model \"%s\"",
						state->user_id, model->name),
				 errdetail("The normal equations are not positive definite (regularization %g).",
						   model->regularization)));
		return;
	}

	args[0] = Int32GetDatum(model->model_id);
	args[1] = Int64GetDatum(state->user_id);
	args[2] = PointerGetDatum(BuildVector(batch->vector, k));

	/* the common case: the user has a vector for the model already */
	if (UserFactorsUpdate(&batch->rows, model->model_id, state->user_id, args[2]))
	{
		batch->folded++;
		return;
	}

	/*
	 * A new vector.  The model row is locked against deletion (as the
	 * foreign key check would) by the statement itself: a model dropped by
	 * a transaction that committed meanwhile gives no row to write, instead
	 * of failing the shop's insert with a foreign key violation.  (An
	 * update above that met a vector deleted with its model found no row
	 * and came here too.)
	 */
	ExecuteKeptPlan(&factors_plan,
					"INSERT INTO rerank.user_factors AS u (model_id, user_id, factors, updated_at) "
					"SELECT m.model_id, $2, $3, now() FROM rerank.models m "
					"WHERE m.model_id = $1 FOR KEY SHARE "
					"ON CONFLICT (model_id, user_id) "
					"DO UPDATE SET factors = excluded.factors, updated_at = excluded.updated_at",
					3, argtypes, args, false, 0, SPI_OK_INSERT);
	if (SPI_processed == 0)
		return;
	batch->folded++;
}

/*
 * Writes the user's features once and, with an active model and a changed
 * history (or batch->force_fold_in), the re-solved vector.
 */
void
UserStateFinish(BehaviorBatch *batch, UserFeatureState *state)
{
	MemoryContext old = MemoryContextSwitchTo(batch->user_context);

	if (state->events > 0 || state->history_changed)
	{
		UserStateWrite(&batch->rows, state);
		batch->users++;
	}
	else
		UserFeaturesRelease(&batch->rows);
	if (batch->model != NULL && (state->history_changed || batch->force_fold_in))
		UserStateFoldIn(batch, state);
	MemoryContextSwitchTo(old);
}
