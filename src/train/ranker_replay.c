/*
 * ranker_replay.c
 *	  The learned ranker's training examples: a point-in-time replay of the
 *	  event log in memory (see ranker_replay.h).
 *
 * Reading.  One query per event table (its mapping: the trigger's
 * arguments that attach() recorded, or columns given) joins each event to
 * its row of rerank.event_weights (weight, kind, purchase), in the order
 * (time, user, item, weight, kind); the union is read through a cursor
 * into a log of 24-byte events held in chunks of a million (no copy when
 * it grows).  Users and items get dense numbers in order of appearance, so
 * the items seen before an event are the numbers below a counter.  The
 * categories and brands of the items come from rerank.items, numbered by
 * name.  With impressions, the pages are read the same way.
 *
 * Replaying.  The log is walked once; before each event (or page) the
 * statistics and the lists are refreshed when due, a group is built when
 * the event was sampled, then the event is applied.  Users that are not
 * sampled keep no state (their events still count for the item
 * statistics and the lists, as they do in serving).
 *
 * Differences from serving, documented in the README: the item vectors are
 * those of the factor model active now (trained on the whole history, so
 * model_score knows some of the future); a user's vector is the fold-in of
 * the replayed history, or none (never the vector training stored); the
 * statistics count every event read (refresh_item_stats looks back 28
 * days by default); users start empty at the first event read.
 */
#include "postgres.h"

#include <math.h>

#include "access/relation.h"
#include "model/event_columns.h"
#include "cache/model_cache.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/feat_time.h"
#include "common/id_map.h"
#include "common/spi_util.h"
#include "core/als_solve.h"
#include "core/features.h"
#include "core/item_signals.h"
#include "core/rank.h"
#include "core/ranker_examples.h"
#include "core/recent_history.h"
#include "core/vec.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "model/fold_in.h"
#include "portability/instr_time.h"
#include "train/ranker_replay.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

const char *const replay_source_names[SOURCE_COUNT] = {
	"event", "popular", "category", "uniform", "shown"
};

/* Limits of the options. */
#define MAX_NEGATIVES 1000
#define MAX_GROUPS 10000000
#define MAX_PAGE_ITEMS 1000
#define MAX_EVENTS ((int64) PG_INT32_MAX - 1)

/* Arrays that may exceed 1 GB. */
#define HugeArray(type, n) \
	((type *) palloc_extended(mul_size(sizeof(type), (Size) (n)), MCXT_ALLOC_HUGE))
#define HugeArrayZero(type, n) \
	((type *) palloc_extended(mul_size(sizeof(type), (Size) (n)), MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO))

/* Tries per negative before a slot is given up. */
#define DRAW_TRIES 8

/* Seeds of the independent samples, mixed with the caller's seed. */
#define SEED_USERS 0x5553455253ULL	/* "USERS" */
#define SEED_GROUPS 0x47524f555053ULL	/* "GROUPS" */
#define SEED_NEGATIVES 0x4e454753ULL	/* "NEGS" */
#define SEED_UNIFORM 0x554e49464fULL	/* "UNIFO" */
#define SEED_POPULARITY 0x504f50554cULL	/* "POPUL" */
#define SEED_CATEGORY 0x4341544547ULL	/* "CATEG" */

/* ---- options ---- */

/* Seconds of an interval (months as 30 days, as the rest of PostgreSQL). */
static double
IntervalSeconds(const Interval *span)
{
	return (double) span->time / USECS_PER_SEC +
		((double) span->day + (double) span->month * DAYS_PER_MONTH) * SECS_PER_DAY;
}

/* An option's number; error naming it otherwise. */
static double
OptionNumber(const char *caller, const char *key, const JsonbValue *value)
{
	if (value->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: option \"%s\" must be a number", caller, key)));
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(value->val.numeric)));
}

/* An option's integer in [lo, hi]. */
static int
OptionInt(const char *caller, const char *key, const JsonbValue *value, int lo, int hi)
{
	double		v = OptionNumber(caller, key, value);

	if (!(v >= lo && v <= hi) || v != floor(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: option \"%s\" must be an integer between %d and %d",
						caller, key, lo, hi)));
	return (int) v;
}

/* An option's duration: an interval as text ('1 hour') or seconds. */
static double
OptionSeconds(const char *caller, const char *key, const JsonbValue *value)
{
	double		seconds;

	if (value->type == jbvString)
	{
		char	   *text = pnstrdup(value->val.string.val, value->val.string.len);
		Interval   *span = DatumGetIntervalP(DirectFunctionCall3(interval_in,
																 CStringGetDatum(text),
																 ObjectIdGetDatum(InvalidOid),
																 Int32GetDatum(-1)));

		seconds = IntervalSeconds(span);
	}
	else
		seconds = OptionNumber(caller, key, value);
	if (!(seconds >= 0.0) || !isfinite(seconds))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: option \"%s\" must be a finite duration of at least 0",
						caller, key)));
	return seconds;
}

/* The defaults of the options (README, "The learned ranker"). */
static void
ReplayOptionsDefaults(ReplayOptions *opts, const char *caller)
{
	memset(opts, 0, sizeof(ReplayOptions));
	opts->caller = caller;
	opts->negatives = 20;
	opts->max_groups = 100000;
	opts->users = 1.0;
	opts->seed = 42;
	opts->warm_up = 86400.0;
	opts->stats_every = 3600.0;
	opts->covisit_every = 86400.0;
	opts->attribution = FEAT_SESSION_GAP;
	opts->covis.window = 10;
	opts->covis.neighbors = 20;
	opts->covis.min_count = 1;
	opts->session_gap = FEAT_SESSION_GAP;
	opts->negative_mix = RankerMixDefault();
	opts->uniform_holdout = 0.0;
}

/*
 * The negative_mix option: an object of shares {"popular": p, "category":
 * c, "uniform": u} (missing keys 0), each a finite number ≥ 0, not all 0;
 * normalized.
 */
static RankerMixShares
OptionMix(const char *caller, const JsonbValue *value)
{
	RankerMixShares shares = {0.0, 0.0, 0.0};
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	char	   *key = NULL;

	if (value->type != jbvBinary || !JsonContainerIsObject(value->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: option \"negative_mix\" must be an object of shares", caller),
				 errhint("For example {\"popular\": 0.25, \"category\": 0.25, \"uniform\": 0.5}.")));
	it = JsonbIteratorInit(value->val.binary.data);
	while ((token = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (token == WJB_VALUE && key != NULL)
		{
			double	   *share = strcmp(key, "popular") == 0 ? &shares.popular :
				strcmp(key, "category") == 0 ? &shares.category :
				strcmp(key, "uniform") == 0 ? &shares.uniform : NULL;

			if (share == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: unknown source \"%s\" in option \"negative_mix\"", caller, key),
						 errhint("The sources are popular, category and uniform.")));
			if (v.type != jbvNumeric)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: share \"%s\" of option \"negative_mix\" must be a number",
								caller, key)));
			/* through the text: a number beyond double's range is infinite */
			*share = strtod(DatumGetCString(DirectFunctionCall1(numeric_out,
																NumericGetDatum(v.val.numeric))),
							NULL);
			key = NULL;
		}
	}
	if (!RankerMixNormalize(&shares))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: the shares of option \"negative_mix\" must be finite, at least 0 and not all 0",
						caller)));
	return shares;
}

bool
ReplayOptionSet(ReplayOptions *opts, const char *key, const JsonbValue *value)
{
	const char *caller = opts->caller;

	if (strcmp(key, "warm_up") == 0)
		opts->warm_up = OptionSeconds(caller, key, value);
	else if (strcmp(key, "stats_every") == 0)
		opts->stats_every = OptionSeconds(caller, key, value);
	else if (strcmp(key, "covisit_every") == 0)
		opts->covisit_every = OptionSeconds(caller, key, value);
	else if (strcmp(key, "attribution") == 0)
		opts->attribution = OptionSeconds(caller, key, value);
	else if (strcmp(key, "session_gap") == 0)
	{
		opts->session_gap = OptionSeconds(caller, key, value);
		if (!(opts->session_gap > 0.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: option \"session_gap\" must be positive", caller)));
	}
	else if (strcmp(key, "factor_model") == 0)
	{
		if (value->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: option \"factor_model\" must be a model's name", caller)));
		opts->factor_model = pnstrdup(value->val.string.val, value->val.string.len);
	}
	else if (strcmp(key, "groups_since") == 0)
	{
		char	   *text;

		if (value->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: option \"groups_since\" must be a time", caller)));
		text = pnstrdup(value->val.string.val, value->val.string.len);
		opts->groups_since = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
																	 CStringGetDatum(text),
																	 ObjectIdGetDatum(InvalidOid),
																	 Int32GetDatum(-1)));
		if (TIMESTAMP_NOT_FINITE(opts->groups_since))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: option \"groups_since\" must be a finite time", caller)));
		opts->has_groups_since = true;
	}
	else if (strcmp(key, "covisit_window") == 0)
		opts->covis.window = OptionInt(caller, key, value, 1, 1000);
	else if (strcmp(key, "covisit_neighbors") == 0)
		opts->covis.neighbors = OptionInt(caller, key, value, 1, 1000);
	else if (strcmp(key, "covisit_min_count") == 0)
		opts->covis.min_count = OptionInt(caller, key, value, 1, PG_INT32_MAX);
	else if (strcmp(key, "negative_mix") == 0)
		opts->negative_mix = OptionMix(caller, value);
	else if (strcmp(key, "holdout_lists") == 0)
	{
		/* "uniform" (the default) or "all": see docs/ranker.md */
		if (value->type != jbvString ||
			!((value->val.string.len == 7 && strncmp(value->val.string.val, "uniform", 7) == 0) ||
			  (value->val.string.len == 3 && strncmp(value->val.string.val, "all", 3) == 0)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s: option \"holdout_lists\" must be \"uniform\" or \"all\"", caller)));
		opts->holdout_all_lists = value->val.string.len == 3;
	}
	else
		return false;
	return true;
}

void
ReplayOptionsParse(ReplayOptions *opts, Jsonb *options, ReplayExtraOptionFn extra,
				   void *extra_arg)
{
	JsonbIterator *it;
	JsonbValue	value;
	JsonbIteratorToken token;
	char	   *key = NULL;

	if (options == NULL)
		return;
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: options must be a JSON object", opts->caller)));
	it = JsonbIteratorInit(&options->root);
	while ((token = JsonbIteratorNext(&it, &value, true)) != WJB_DONE)
	{
		if (token == WJB_KEY)
			key = pnstrdup(value.val.string.val, value.val.string.len);
		else if (token == WJB_VALUE && key != NULL)
		{
			if (!ReplayOptionSet(opts, key, &value) &&
				(extra == NULL || !extra(extra_arg, key, &value)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s: unknown option \"%s\"", opts->caller, key),
						 errhint("See the README, \"The learned ranker\", for the options.")));
			key = NULL;
		}
	}
}

/* A text argument, or NULL. */
static const char *
TextArg(FunctionCallInfo fcinfo, int arg)
{
	return PG_ARGISNULL(arg) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(arg));
}

void
ReplayOptionsFromArgs(FunctionCallInfo fcinfo, const char *caller, int first_arg,
					  int seed_arg, ReplayOptions *opts)
{
	int			a = first_arg;

	ReplayOptionsDefaults(opts, caller);
	opts->events = PG_ARGISNULL(a) ? InvalidOid : PG_GETARG_OID(a);
	opts->user_column = TextArg(fcinfo, a + 1);
	opts->item_column = TextArg(fcinfo, a + 2);
	opts->type_column = TextArg(fcinfo, a + 3);
	opts->time_column = TextArg(fcinfo, a + 4);
	opts->has_since = !PG_ARGISNULL(a + 5);
	if (opts->has_since)
		opts->since = PG_GETARG_TIMESTAMPTZ(a + 5);
	opts->has_until = !PG_ARGISNULL(a + 6);
	if (opts->has_until)
		opts->until = PG_GETARG_TIMESTAMPTZ(a + 6);
	opts->impressions = PG_ARGISNULL(a + 7) ? InvalidOid : PG_GETARG_OID(a + 7);
	for (int i = a + 8; i <= a + 10; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s: negatives, max_groups and users must not be NULL", caller)));
	opts->negatives = PG_GETARG_INT32(a + 8);
	opts->max_groups = PG_GETARG_INT32(a + 9);
	opts->users = PG_GETARG_FLOAT8(a + 10);
	if (!PG_ARGISNULL(seed_arg))
		opts->seed = (uint64) PG_GETARG_INT64(seed_arg);

	if ((opts->has_since && TIMESTAMP_NOT_FINITE(opts->since)) ||
		(opts->has_until && TIMESTAMP_NOT_FINITE(opts->until)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: since and until must be finite times", caller)));
	if (opts->has_since && opts->has_until && opts->since >= opts->until)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: since must be before until", caller)));
	if (opts->negatives < 1 || opts->negatives > MAX_NEGATIVES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: negatives must be between 1 and %d, not %d",
						caller, MAX_NEGATIVES, opts->negatives)));
	if (opts->max_groups < 1 || opts->max_groups > MAX_GROUPS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: max_groups must be between 1 and %d, not %d",
						caller, MAX_GROUPS, opts->max_groups)));
	if (!(opts->users > 0.0 && opts->users <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: users must be a fraction in (0, 1], not %g", caller, opts->users)));
	if (opts->events == InvalidOid &&
		(opts->user_column || opts->item_column || opts->type_column || opts->time_column))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: column names need an event table", caller),
				 errhint("Pass events => the table, or no columns to read every tracked table.")));
}

/* The qualified, quoted name of a relation. */
static char *
RelationQualifiedName(Oid relid)
{
	char	   *name = get_rel_name(relid);

	if (name == NULL)
		elog(ERROR, "cache lookup failed for relation %u", relid);
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), name);
}

/* Appends ", "key": "interval"" for a duration in seconds. */
static void
AppendSeconds(StringInfo buf, const char *key, double seconds)
{
	appendStringInfo(buf, ", \"%s\": \"%.17g seconds\"", key, seconds);
}

void
ReplayOptionsJson(StringInfo buf, const ReplayOptions *opts)
{
	appendStringInfo(buf, ", \"negatives\": %d, \"max_groups\": %d, \"users\": %.17g",
					 opts->negatives, opts->max_groups, opts->users);
	appendStringInfo(buf, ", \"seed\": " INT64_FORMAT, (int64) opts->seed);
	appendStringInfoString(buf, ", \"since\": ");
	if (opts->has_since)
		escape_json(buf, timestamptz_to_str(opts->since));
	else
		appendStringInfoString(buf, "null");
	appendStringInfoString(buf, ", \"until\": ");
	if (opts->has_until)
		escape_json(buf, timestamptz_to_str(opts->until));
	else
		appendStringInfoString(buf, "null");
	AppendSeconds(buf, "warm_up", opts->warm_up);
	appendStringInfoString(buf, ", \"groups_since\": ");
	if (opts->has_groups_since)
		escape_json(buf, timestamptz_to_str(opts->groups_since));
	else
		appendStringInfoString(buf, "null");
	AppendSeconds(buf, "stats_every", opts->stats_every);
	AppendSeconds(buf, "covisit_every", opts->covisit_every);
	AppendSeconds(buf, "session_gap", opts->session_gap);
	appendStringInfo(buf, ", \"covisit_window\": %d, \"covisit_neighbors\": %d, \"covisit_min_count\": %d",
					 opts->covis.window, opts->covis.neighbors, opts->covis.min_count);
	appendStringInfo(buf, ", \"holdout_lists\": \"%s\"", opts->holdout_all_lists ? "all" : "uniform");
	if (!OidIsValid(opts->impressions))
		appendStringInfo(buf, ", \"negative_mix\": {\"popular\": %.17g, \"category\": %.17g, \"uniform\": %.17g}",
						 opts->negative_mix.popular, opts->negative_mix.category,
						 opts->negative_mix.uniform);
	if (OidIsValid(opts->impressions))
	{
		appendStringInfoString(buf, ", \"impressions\": ");
		escape_json(buf, RelationQualifiedName(opts->impressions));
		AppendSeconds(buf, "attribution", opts->attribution);
	}
}

/* ---- the log in memory ---- */

/* One event of the log (24 bytes). */
typedef struct ReplayEvent
{
	double		at;				/* feature clock seconds */
	int32		user;			/* dense user number */
	int32		item;			/* dense item number, -1: none */
	float		weight;			/* event_weights.weight (0 when unknown) */
	uint8		kind;			/* FEAT_KIND_* bit */
	uint8		flags;			/* EVENT_* */
} ReplayEvent;

#define EVENT_KNOWN		0x01	/* the type has a row in event_weights */
#define EVENT_PURCHASE	0x02	/* is_purchase */
#define EVENT_GROUP		0x04	/* a group is built before it */
#define EVENT_UNIFORM	0x08	/* and a uniform held-out group */

#define CHUNK_BITS 20
#define CHUNK_EVENTS (1 << CHUNK_BITS)

/* A page of impressions: one user, one moment, the items shown. */
typedef struct ReplayPage
{
	double		at;
	int32		user;
	int32		n;				/* items shown */
	int64		first;			/* in page_items / page_positions */
	bool		selected;
} ReplayPage;

/* What the trigger keeps of a sampled user, in memory. */
typedef struct UserState
{
	RecentHistory recent;		/* with counts, times and kinds */
	RecentHistory purchased;
	double		session_start;
	double		last_event_at;
	int			ncategories;
	int			category_capacity;
	int32	   *category_keys;
	double	   *category_weights;
} UserState;

/* One replay's everything (in the replay's memory context). */
typedef struct Replay
{
	const ReplayOptions *opts;
	MemoryContext cxt;
	/* the log */
	ReplayEvent **chunks;
	int			nchunks;
	int			chunk_capacity;
	int64		nevents;
	int64		item_events;	/* events with an item */
	/* users */
	idmap_hash *user_map;
	int32		nusers;
	int32		user_capacity;
	int64	   *user_ids;
	bool	   *user_sampled;
	UserState **user_state;
	/* items: event items first, in order of appearance */
	idmap_hash *item_map;
	int32		nitems;
	int32		item_capacity;
	int32		event_items;	/* items with an event: the first numbers */
	int64	   *item_ids;
	int32	   *item_category;
	int32	   *item_brand;
	int32		ncategories;
	int64	   *category_start; /* CSR of the items of each category */
	int32	   *category_items;
	int32	   *category_seen;	/* how many of its event items were seen so
								 * far (they come first, the catalog's
								 * other items after) */
	int32	   *category_events;	/* its event items */
	/* impressions */
	ReplayPage *pages;
	int64		npages;
	int64		page_capacity;
	int32	   *page_items;
	int32	   *page_positions;
	int64		page_rows;
	int64		page_row_capacity;
	int64		last_page_id;	/* of the row read before */
	bool		last_page_null;
	/* the factor model */
	const CachedModel *model;
	int			dims;
	const float **item_vector;	/* per item, NULL: none */
	float	   *item_bias;
	double	   *item_norm;
	/* item statistics, running (as of stats_at[i]) and as published */
	ItemStats  *stats;
	double	   *stats_at;
	float	   *published_pop;	/* items changed since the last publication:
								 * their counts then, at published_at */
	double	   *published_at;
	int32	   *published_stamp;
	int32		epoch;
	float		max_pop[FEAT_POP_WINDOWS];	/* the largest counts, at max_at */
	double		max_at;
	bool		has_stats;
	double		stats_time;		/* the last publication's time */
	float		stats_max[FEAT_POP_WINDOWS];
	int32		stats_seen;		/* items seen by then */
	int32		nseen;			/* event items seen so far */
	int64	   *item_event_index;	/* events with an item so far, for the
									 * popularity draw */
	int64		nitem_events;
	/* the co-visitation lists, in a block as serving reads them */
	int32	   *block_row;		/* item → row of the block (id order) */
	int64	   *block_ids;		/* row → item id */
	int32	   *row_item;		/* row → item */
	void	   *block_memory;
	const ItemSignals *block;
	MemoryContext block_cxt;
	/* settings of the features */
	int			history_size;
	int			purchase_size;
	int			recent_items;
	double		recent_decay;
	/* per group scratch */
	MemoryContext group_cxt;
	int64		uniform_groups; /* events marked EVENT_UNIFORM */
	double	   *fold_work;
	double		fold_regularization;
	double		fold_alpha;
	bool		fold_in;
} Replay;

/* The event number i of the log. */
static inline ReplayEvent *
EventAt(Replay *r, int64 i)
{
	return &r->chunks[i >> CHUNK_BITS][i & (CHUNK_EVENTS - 1)];
}

/* Room for one more event at the end of the log. */
static ReplayEvent *
AppendEvent(Replay *r)
{
	int			chunk = (int) (r->nevents >> CHUNK_BITS);

	if (r->nevents >= MAX_EVENTS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s: more than " INT64_FORMAT " events", r->opts->caller, MAX_EVENTS),
				 errhint("Read a shorter window (since => …, until => …).")));
	if (chunk >= r->nchunks)
	{
		if (r->nchunks == r->chunk_capacity)
		{
			r->chunk_capacity = Max(16, r->chunk_capacity * 2);
			r->chunks = repalloc(r->chunks, sizeof(ReplayEvent *) * r->chunk_capacity);
		}
		r->chunks[r->nchunks++] = MemoryContextAllocHuge(r->cxt,
														 sizeof(ReplayEvent) * CHUNK_EVENTS);
	}
	return EventAt(r, r->nevents++);
}

/* The dense number of a user, added (and sampled or not) when new. */
static int32
UserNumber(Replay *r, int64 user_id)
{
	int32		before = r->nusers;
	int32		u = IdMapAdd(r->user_map, user_id, &r->nusers);

	if (r->nusers > before)
	{
		if (r->nusers > r->user_capacity)
		{
			r->user_capacity = Max(1024, r->user_capacity * 2);
			r->user_ids = repalloc_huge(r->user_ids, sizeof(int64) * r->user_capacity);
			r->user_sampled = repalloc_huge(r->user_sampled, sizeof(bool) * r->user_capacity);
		}
		r->user_ids[u] = user_id;
		r->user_sampled[u] = RankerSampled(r->opts->seed ^ SEED_USERS, (uint64) user_id,
										   r->opts->users);
	}
	return u;
}

/* The dense number of an item, added when new. */
static int32
ItemNumber(Replay *r, int64 item_id)
{
	int32		before = r->nitems;
	int32		i = IdMapAdd(r->item_map, item_id, &r->nitems);

	if (r->nitems > before)
	{
		if (r->nitems > r->item_capacity)
		{
			r->item_capacity = Max(1024, r->item_capacity * 2);
			r->item_ids = repalloc_huge(r->item_ids, sizeof(int64) * r->item_capacity);
			r->item_category = repalloc_huge(r->item_category, sizeof(int32) * r->item_capacity);
			r->item_brand = repalloc_huge(r->item_brand, sizeof(int32) * r->item_capacity);
		}
		r->item_ids[i] = item_id;
		r->item_category[i] = -1;
		r->item_brand[i] = -1;
	}
	return i;
}

/* ---- reading ---- */

/* A table's mapping of the roles the replay reads, for its query. */
typedef struct ReplaySourceMap
{
	Oid			relid;
	char	   *from;			/* qualified, quoted */
	const char *user;
	const char *item;
	const char *type;			/* NULL with a constant type */
	const char *constant_type;
	const char *time;
} ReplaySourceMap;

/*
 * The event tables and their mappings: every tracked table (attach()'s
 * mapping), the one given with its trigger's mapping, or the one given
 * with the columns given (defaults user_id, item_id, event_type; the time
 * column is required).  Columns are checked against the table (a missing
 * one is an error naming it).  Called inside SPI.
 */
static int
ResolveSources(const ReplayOptions *opts, ReplaySourceMap **maps)
{
	EventSource *tracked = NULL;
	int			ntracked = TrackedEventSources(&tracked);
	bool		columns_given = opts->user_column || opts->item_column ||
		opts->type_column || opts->time_column;
	int			n = 0;

	*maps = palloc0(sizeof(ReplaySourceMap) * Max(ntracked, 1));
	if (!OidIsValid(opts->events))
	{
		if (ntracked == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s: no event table is tracked", opts->caller),
					 errhint("Attach one with rerank.attach(), or pass events => the table and its columns.")));
		for (int s = 0; s < ntracked; s++)
		{
			EventColumns *c = &tracked[s].columns;
			ReplaySourceMap *m = &(*maps)[n++];

			m->relid = tracked[s].relid;
			m->from = tracked[s].from;
			m->user = c->names[EVENT_USER];
			m->item = c->names[EVENT_ITEM];
			m->type = c->names[EVENT_TYPE];
			m->constant_type = c->constant_type;
			m->time = c->names[EVENT_TIME];
		}
	}
	else
	{
		ReplaySourceMap *m = &(*maps)[n++];
		EventColumns columns;
		Relation	rel;
		int			found = -1;

		for (int s = 0; s < ntracked; s++)
			if (tracked[s].relid == opts->events)
				found = s;
		m->relid = opts->events;
		if (found >= 0 && !columns_given)
		{
			EventColumns *c = &tracked[found].columns;

			m->from = tracked[found].from;
			m->user = c->names[EVENT_USER];
			m->item = c->names[EVENT_ITEM];
			m->type = c->names[EVENT_TYPE];
			m->constant_type = c->constant_type;
			m->time = c->names[EVENT_TIME];
		}
		else
		{
			char	   *args[4];

			args[EVENT_USER] = (char *) (opts->user_column ? opts->user_column : "user_id");
			args[EVENT_ITEM] = (char *) (opts->item_column ? opts->item_column : "item_id");
			args[EVENT_TYPE] = (char *) (opts->type_column ? opts->type_column : "event_type");
			args[EVENT_TIME] = (char *) (opts->time_column ? opts->time_column : "");
			EventColumnsFromArgs(&columns, 4, args, opts->caller);
			rel = relation_open(opts->events, AccessShareLock);
			CheckEventRelationKind(rel, opts->caller);
			EventColumnsByName(&columns, RelationGetDescr(rel), RelationGetRelationName(rel));
			m->from = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												 RelationGetRelationName(rel));
			relation_close(rel, NoLock);
			m->user = columns.names[EVENT_USER];
			m->item = columns.names[EVENT_ITEM];
			m->type = columns.names[EVENT_TYPE];
			m->constant_type = columns.constant_type;
			m->time = columns.names[EVENT_TIME];
		}
	}
	for (int s = 0; s < n; s++)
		if ((*maps)[s].time == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("%s: event table %s has no time column", opts->caller, (*maps)[s].from),
					 errhint("The replay needs the events in time order: attach the table with time_column => …, or pass time_column => its time column.")));
	return n;
}

/*
 * The query over every source: user, item, time, weight, kind, purchase;
 * rows without a user or a finite time left out; times in [$1, $2) (NULL:
 * open); in log order.
 */
static char *
EventsQuery(const ReplaySourceMap *maps, int n)
{
	StringInfoData sql;

	initStringInfo(&sql);
	for (int s = 0; s < n; s++)
	{
		const ReplaySourceMap *m = &maps[s];
		const char *time = quote_identifier(m->time);
		const char *user = quote_identifier(m->user);
		char	   *type = m->type != NULL ?
			psprintf("e.%s::pg_catalog.text", quote_identifier(m->type)) :
			quote_literal_cstr(m->constant_type);

		if (s > 0)
			appendStringInfoString(&sql, " UNION ALL ");
		appendStringInfo(&sql,
						 "SELECT e.%s::pg_catalog.int8, e.%s::pg_catalog.int8, e.%s::pg_catalog.timestamptz,"
						 " w.weight, w.kind, w.is_purchase"
						 " FROM %s e LEFT JOIN rerank.event_weights w"
						 " ON w.event_type OPERATOR(pg_catalog.=) %s"
						 " WHERE e.%s IS NOT NULL AND e.%s IS NOT NULL AND pg_catalog.isfinite(e.%s)"
						 " AND ($1 IS NULL OR e.%s::pg_catalog.timestamptz OPERATOR(pg_catalog.>=) $1)"
						 " AND ($2 IS NULL OR e.%s::pg_catalog.timestamptz OPERATOR(pg_catalog.<) $2)",
						 user, quote_identifier(m->item), time, m->from, type,
						 user, time, time, time, time);
	}
	appendStringInfoString(&sql, " ORDER BY 3, 1, 2, 4, 5");
	return sql.data;
}

/* Reads one row of EventsQuery into the log. */
static void
ReadEventRow(Replay *r, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	ReplayEvent *ev;
	Datum		value;
	int64		user = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));

	ev = AppendEvent(r);
	ev->user = UserNumber(r, user);
	value = SPI_getbinval(tuple, desc, 2, &isnull);
	ev->item = isnull ? -1 : ItemNumber(r, DatumGetInt64(value));
	ev->at = FeatTimeFromTimestamp(DatumGetTimestampTz(SPI_getbinval(tuple, desc, 3, &isnull)));
	ev->weight = 0.0f;
	ev->kind = 0;
	ev->flags = 0;
	value = SPI_getbinval(tuple, desc, 4, &isnull);
	if (!isnull)
	{
		float		w = DatumGetFloat4(value);

		/* as the trigger reads it: no negative, NaN or infinite weight */
		ev->weight = w >= 0.0f && !isinf(w) ? w : 0.0f;
		ev->flags |= EVENT_KNOWN;
		value = SPI_getbinval(tuple, desc, 5, &isnull);
		if (!isnull)
		{
			text	   *kind = DatumGetTextPP(value);

			ev->kind = (uint8) FeatKindBit(VARDATA_ANY(kind), VARSIZE_ANY_EXHDR(kind));
		}
		value = SPI_getbinval(tuple, desc, 6, &isnull);
		if (!isnull && DatumGetBool(value))
			ev->flags |= EVENT_PURCHASE;
	}
	if (ev->item >= 0)
		r->item_events++;
}

/* Runs a query through a cursor, calling fn on each row in the replay's memory. */
static void
ReadRows(Replay *r, const char *sql, int nargs, Oid *types, Datum *args, const char *nulls,
		 void (*fn) (Replay *r, HeapTuple tuple, TupleDesc desc))
{
	Portal		portal = SPI_cursor_open_with_args(NULL, sql, nargs, types, args, nulls,
												   true, 0);

	if (portal == NULL)
		elog(ERROR, "could not open a cursor: %s", SPI_result_code_string(SPI_result));
	for (;;)
	{
		MemoryContext old;

		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		old = MemoryContextSwitchTo(r->cxt);
		for (uint64 i = 0; i < SPI_processed; i++)
			fn(r, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		MemoryContextSwitchTo(old);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
}

/*
 * One row of rerank.items: the category and brand numbers of an item (one
 * without events is numbered after the items read: the catalog's).
 */
static void
ReadItemRow(Replay *r, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	int32		i = ItemNumber(r, DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull)));
	int32		category = DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull));
	int32		brand = DatumGetInt32(SPI_getbinval(tuple, desc, 3, &isnull));

	r->item_category[i] = category;
	r->item_brand[i] = brand;
	if (category >= r->ncategories)
		r->ncategories = category + 1;
}

/*
 * The catalog (rerank.items): the categories and brands of the items read,
 * numbered by name (only equality matters to the features), and the items
 * never touched, numbered after the others; then the items of each
 * category, those with events first in order of appearance.
 */
static void
ReadItems(Replay *r)
{
	int32		n;

	ReadRows(r, "SELECT i.item_id,"
			 " CASE WHEN i.category IS NULL THEN -1"
			 " ELSE (pg_catalog.dense_rank() OVER (ORDER BY i.category))::pg_catalog.int4 OPERATOR(pg_catalog.-) 1 END,"
			 " CASE WHEN i.brand IS NULL THEN -1"
			 " ELSE (pg_catalog.dense_rank() OVER (ORDER BY i.brand))::pg_catalog.int4 OPERATOR(pg_catalog.-) 1 END"
			 " FROM rerank.items i",
			 0, NULL, NULL, NULL, ReadItemRow);

	/* the items of each category: event items in order of appearance, then the others */
	n = Max(r->nitems, 1);
	r->category_start = MemoryContextAllocZero(r->cxt, sizeof(int64) * (r->ncategories + 1));
	r->category_seen = MemoryContextAllocZero(r->cxt, sizeof(int32) * Max(r->ncategories, 1));
	r->category_events = MemoryContextAllocZero(r->cxt, sizeof(int32) * Max(r->ncategories, 1));
	r->category_items = MemoryContextAllocHuge(r->cxt, sizeof(int32) * n);
	for (int32 i = 0; i < r->nitems; i++)
		if (r->item_category[i] >= 0)
		{
			r->category_start[r->item_category[i] + 1]++;
			if (i < r->event_items)
				r->category_events[r->item_category[i]]++;
		}
	for (int32 c = 0; c < r->ncategories; c++)
		r->category_start[c + 1] += r->category_start[c];
	{
		int64	   *fill = palloc0(sizeof(int64) * Max(r->ncategories, 1));

		for (int32 i = 0; i < r->nitems; i++)
		{
			int32		c = r->item_category[i];

			if (c >= 0)
				r->category_items[r->category_start[c] + fill[c]++] = i;
		}
		pfree(fill);
	}
}

/* The columns of an impressions table: what attach_impressions() recorded. */
typedef struct ImpressionMap
{
	char	   *from;
	char	   *user;
	char	   *item;
	char	   *time;
	char	   *position;
	char	   *page;			/* NULL: pages are the impressions of one
								 * user at one time */
} ImpressionMap;

/*
 * The mapping of the impressions table: its row of
 * rerank.impression_sources, else the columns of rerank.impressions'
 * layout (user_id, item_id, shown_at, position, page_id when present),
 * each checked against the table.  Called inside SPI.
 */
static void
ResolveImpressions(const ReplayOptions *opts, ImpressionMap *map)
{
	Oid			types[1] = {OIDOID};
	Datum		args[1] = {ObjectIdGetDatum(opts->impressions)};
	Relation	rel;
	TupleDesc	desc;
	int			ret;
	const char *roles[5] = {"user id", "item id", "time", "position", "page id"};
	char	  **names[5];

	memset(map, 0, sizeof(ImpressionMap));
	names[0] = &map->user;
	names[1] = &map->item;
	names[2] = &map->time;
	names[3] = &map->position;
	names[4] = &map->page;
	ret = SPI_execute_with_args("SELECT user_column, item_column, time_column, position_column, page_column"
								" FROM rerank.impression_sources WHERE relid OPERATOR(pg_catalog.=) $1",
								1, types, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read rerank.impression_sources: %s", SPI_result_code_string(ret));
	rel = relation_open(opts->impressions, AccessShareLock);
	desc = RelationGetDescr(rel);
	if (SPI_processed == 1)
	{
		for (int c = 0; c < 5; c++)
			*names[c] = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, c + 1);
	}
	else
	{
		map->user = "user_id";
		map->item = "item_id";
		map->time = "shown_at";
		map->position = "position";
		map->page = SPI_fnumber(desc, "page_id") > 0 ? "page_id" : NULL;
	}
	for (int c = 0; c < 5; c++)
	{
		int			attnum;
		Oid			type;

		if (*names[c] == NULL)
			continue;
		attnum = SPI_fnumber(desc, *names[c]);
		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of \"%s\" does not exist", *names[c],
							RelationGetRelationName(rel)),
					 errdetail("It is the impressions' %s column.", roles[c]),
					 errhint("Map the columns with rerank.attach_impressions().")));
		type = getBaseType(TupleDescAttr(desc, attnum - 1)->atttypid);
		if (c == 2 ? (type != TIMESTAMPTZOID && type != TIMESTAMPOID) :
			(type != INT2OID && type != INT4OID && type != INT8OID))
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of \"%s\" has type %s, but the impressions' %s must be %s",
							*names[c], RelationGetRelationName(rel),
							format_type_be(TupleDescAttr(desc, attnum - 1)->atttypid), roles[c],
							c == 2 ? "a timestamp" : "an integer")));
	}
	map->from = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										   RelationGetRelationName(rel));
	relation_close(rel, NoLock);
}

/* Reads one impression (user, item, time, position, page) into the pages. */
static void
ReadImpressionRow(Replay *r, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	int64		user_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	int64		item_id = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
	double		at = FeatTimeFromTimestamp(DatumGetTimestampTz(SPI_getbinval(tuple, desc, 3, &isnull)));
	int32		position = DatumGetInt32(SPI_getbinval(tuple, desc, 4, &isnull));
	bool		page_null;
	int64		page_id = DatumGetInt64(SPI_getbinval(tuple, desc, 5, &page_null));
	int32		user = UserNumber(r, user_id);
	ReplayPage *page = r->npages > 0 ? &r->pages[r->npages - 1] : NULL;

	if (page == NULL || page->user != user ||
		(page_null ? !(r->last_page_null && page->at == at) :
		 (r->last_page_null || page_id != r->last_page_id)))
	{
		if (r->npages == r->page_capacity)
		{
			r->page_capacity = Max(1024, r->page_capacity * 2);
			r->pages = repalloc_huge(r->pages, sizeof(ReplayPage) * r->page_capacity);
		}
		page = &r->pages[r->npages++];
		page->at = at;
		page->user = user;
		page->n = 0;
		page->first = r->page_rows;
		page->selected = false;
	}
	r->last_page_id = page_id;
	r->last_page_null = page_null;
	if (page->n >= MAX_PAGE_ITEMS)
		return;
	for (int32 k = 0; k < page->n; k++)
		if (r->item_ids[r->page_items[page->first + k]] == item_id)
			return;				/* shown twice: the first place counts */
	if (r->page_rows == r->page_row_capacity)
	{
		r->page_row_capacity = Max(4096, r->page_row_capacity * 2);
		r->page_items = repalloc_huge(r->page_items, sizeof(int32) * r->page_row_capacity);
		r->page_positions = repalloc_huge(r->page_positions, sizeof(int32) * r->page_row_capacity);
	}
	r->page_items[r->page_rows] = ItemNumber(r, item_id);
	r->page_positions[r->page_rows] = isnull || position < 1 ? 0 : position;
	r->page_rows++;
	page->n++;
}

/* Reads the impressions in the window into pages, in time order. */
static void
ReadImpressions(Replay *r, Datum *bounds, const char *bound_nulls)
{
	ImpressionMap map;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	char	   *sql;
	const char *time;

	ResolveImpressions(r->opts, &map);
	time = quote_identifier(map.time);
	sql = psprintf("SELECT i.%s::pg_catalog.int8, i.%s::pg_catalog.int8, i.%s::pg_catalog.timestamptz,"
				   " i.%s::pg_catalog.int4, %s FROM %s i"
				   " WHERE i.%s IS NOT NULL AND i.%s IS NOT NULL AND i.%s IS NOT NULL"
				   " AND pg_catalog.isfinite(i.%s)"
				   " AND ($1 IS NULL OR i.%s::pg_catalog.timestamptz OPERATOR(pg_catalog.>=) $1)"
				   " AND ($2 IS NULL OR i.%s::pg_catalog.timestamptz OPERATOR(pg_catalog.<) $2)"
				   " ORDER BY 3, 1, 5, 4, 2",
				   quote_identifier(map.user), quote_identifier(map.item), time,
				   quote_identifier(map.position),
				   map.page ? psprintf("i.%s::pg_catalog.int8", quote_identifier(map.page)) :
				   "NULL::pg_catalog.int8",
				   map.from, quote_identifier(map.user), quote_identifier(map.item), time, time,
				   time, time);
	r->page_items = MemoryContextAllocHuge(r->cxt, sizeof(int32));
	r->page_positions = MemoryContextAllocHuge(r->cxt, sizeof(int32));
	r->pages = MemoryContextAllocHuge(r->cxt, sizeof(ReplayPage));
	ReadRows(r, sql, 2, types, bounds, bound_nulls, ReadImpressionRow);
}

/* ---- what the groups are ---- */

/*
 * Per page, which of its items were clicked: a positive event of the user
 * on the item within the attribution window after the page.
 */
static uint8 *
PageLabels(Replay *r)
{
	uint8	   *labels = MemoryContextAllocHuge(r->cxt, Max(r->page_rows, 1));
	int64	   *start = MemoryContextAllocZero(r->cxt, sizeof(int64) * ((Size) r->nusers + 1));
	int32	   *events = MemoryContextAllocHuge(r->cxt, sizeof(int32) * Max(r->nevents, 1));
	int64	   *fill = MemoryContextAllocZero(r->cxt, sizeof(int64) * Max(r->nusers, 1));

	memset(labels, 0, Max(r->page_rows, 1));
	/* each user's events, in log order */
	for (int64 e = 0; e < r->nevents; e++)
		start[EventAt(r, e)->user + 1]++;
	for (int32 u = 0; u < r->nusers; u++)
		start[u + 1] += start[u];
	for (int64 e = 0; e < r->nevents; e++)
	{
		int32		u = EventAt(r, e)->user;

		events[start[u] + fill[u]++] = (int32) e;
	}
	for (int64 p = 0; p < r->npages; p++)
	{
		ReplayPage *page = &r->pages[p];
		int64		lo = start[page->user],
					hi = start[page->user + 1];

		/* the user's first event after the page */
		while (lo < hi)
		{
			int64		mid = lo + (hi - lo) / 2;

			if (EventAt(r, events[mid])->at > page->at)
				hi = mid;
			else
				lo = mid + 1;
		}
		for (int64 k = lo; k < start[page->user + 1]; k++)
		{
			ReplayEvent *ev = EventAt(r, events[k]);

			if (ev->at > page->at + r->opts->attribution)
				break;
			if (!(ev->flags & EVENT_KNOWN) || !(ev->weight > 0.0f) || ev->item < 0)
				continue;
			for (int32 j = 0; j < page->n; j++)
				if (r->page_items[page->first + j] == ev->item)
					labels[page->first + j] = 1;
		}
		if ((p & 4095) == 4095)
			CHECK_FOR_INTERRUPTS();
	}
	pfree(start);
	pfree(events);
	pfree(fill);
	return labels;
}

/*
 * Marks the groups: every candidate (a positive event, or a page with a
 * click and an item not clicked) of a sampled user after the warm-up, in a
 * deterministic sample of about max_groups of them.  Returns the number of
 * rows the marked groups hold at most.
 */
static int64
SelectGroups(Replay *r, const uint8 *page_labels, ReplayExamples *out)
{
	const ReplayOptions *opts = r->opts;
	double		start = r->nevents > 0 ? EventAt(r, 0)->at : 0.0;
	int64		candidates = 0;
	int64		marked = 0;
	int64		rows = 0;
	double		fraction;

	if (r->npages > 0 && r->pages[0].at < start)
		start = r->pages[0].at;
	if (opts->has_since)
		start = Max(start, FeatTimeFromTimestamp(opts->since));
	start += opts->warm_up;
	if (opts->has_groups_since)
		start = FeatTimeFromTimestamp(opts->groups_since);

	if (!OidIsValid(opts->impressions))
	{
		for (int64 e = 0; e < r->nevents; e++)
		{
			ReplayEvent *ev = EventAt(r, e);

			if ((ev->flags & EVENT_KNOWN) && ev->weight > 0.0f && ev->item >= 0 &&
				r->user_sampled[ev->user] && ev->at >= start)
				candidates++;
		}
		fraction = candidates > 0 ? (double) opts->max_groups / candidates : 1.0;
		for (int64 e = 0; e < r->nevents && marked < opts->max_groups; e++)
		{
			ReplayEvent *ev = EventAt(r, e);

			if ((ev->flags & EVENT_KNOWN) && ev->weight > 0.0f && ev->item >= 0 &&
				r->user_sampled[ev->user] && ev->at >= start &&
				RankerSampled(opts->seed ^ SEED_GROUPS, (uint64) e, fraction))
			{
				ev->flags |= EVENT_GROUP;
				marked++;
			}
		}
		rows = marked * (1 + opts->negatives);
		/* the latest share of them also get a uniform held-out group */
		if (opts->uniform_holdout > 0.0)
		{
			int64		wanted = (int64) ceil(opts->uniform_holdout * marked);

			for (int64 e = r->nevents - 1; e >= 0 && r->uniform_groups < wanted; e--)
			{
				ReplayEvent *ev = EventAt(r, e);

				if (ev->flags & EVENT_GROUP)
				{
					ev->flags |= EVENT_UNIFORM;
					r->uniform_groups++;
				}
			}
		}
	}
	else
	{
		for (int pass = 0; pass < 2; pass++)
		{
			fraction = candidates > 0 ? (double) opts->max_groups / candidates : 1.0;
			for (int64 p = 0; p < r->npages; p++)
			{
				ReplayPage *page = &r->pages[p];
				int			clicked = 0;

				if (!r->user_sampled[page->user] || page->at < start)
					continue;
				for (int32 j = 0; j < page->n; j++)
					clicked += page_labels[page->first + j];
				if (clicked == 0 || clicked == page->n)
					continue;
				if (pass == 0)
					candidates++;
				else if (marked < opts->max_groups &&
						 RankerSampled(opts->seed ^ SEED_GROUPS, (uint64) p, fraction))
				{
					page->selected = true;
					marked++;
					rows += page->n;
				}
			}
		}
	}
	out->positives = candidates;
	return rows;
}

/* ---- the factor model ---- */

/*
 * The active factor model's vector, bias and norm of every item read (as
 * the model cache gives them), and what the fold-in needs.
 */
static void
PrepareModel(Replay *r, ReplayExamples *out)
{
	ItemMatrix	matrix;

	r->model = r->opts->factor_model != NULL ? ModelByName(r->opts->factor_model) : ActiveModel();
	if (r->model != NULL && strcmp(r->model->algorithm, "ranker") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("%s: model \"%s\" is a ranker, not a factor model", r->opts->caller,
						r->model->name)));
	r->dims = r->model != NULL && !ModelHasNeighbors(r->model) ? r->model->dimensions : 0;
	if (r->model != NULL)
	{
		out->factor_model_id = r->model->model_id;
		strlcpy(out->factor_model, r->model->name, NAMEDATALEN);
	}
	r->item_vector = MemoryContextAllocHuge(r->cxt, sizeof(float *) * Max(r->nitems, 1));
	r->item_bias = MemoryContextAllocHuge(r->cxt, sizeof(float) * Max(r->nitems, 1));
	r->item_norm = MemoryContextAllocHuge(r->cxt, sizeof(double) * Max(r->nitems, 1));
	for (int32 i = 0; i < r->nitems; i++)
	{
		r->item_vector[i] = NULL;
		r->item_bias[i] = 0.0f;
		r->item_norm[i] = -1.0;
	}
	if (r->dims == 0)
		return;
	ModelItemMatrix(r->model, &matrix);
	for (int32 i = 0; i < r->nitems; i++)
	{
		int32		row = ItemMatrixRow(&matrix, r->item_ids[i]);

		if (row < 0)
			continue;
		r->item_vector[i] = matrix.vectors + (Size) row * r->dims;
		r->item_bias[i] = matrix.biases[row];
		r->item_norm[i] = VecNorm(r->item_vector[i], (size_t) r->dims);
		if ((i & 65535) == 65535)
			CHECK_FOR_INTERRUPTS();
	}
	/* the fold-in as the trigger does it: a model with YᵀY and valid params */
	r->fold_in = r->model->gram != NULL && FoldInParamsValid(r->model);
	if (r->fold_in)
		r->fold_work = MemoryContextAllocHuge(r->cxt,
											  mul_size(AlsFoldInWorkspace(r->dims,
																		  Max(r->history_size, 1)),
													   sizeof(double)));
}

/* ---- item statistics ---- */

/*
 * Counts an event into the running statistics of its item and the running
 * maxima (ItemStatsDecay, ItemStatsAdd: refresh_item_stats' arithmetic);
 * an item changed for the first time since the last publication keeps its
 * published counts first.
 */
static void
CountEvent(Replay *r, int32 item, double at)
{
	ItemStats  *stats = &r->stats[item];

	if (r->published_stamp[item] != r->epoch)
	{
		memcpy(&r->published_pop[(Size) item * FEAT_POP_WINDOWS], stats->popularity,
			   sizeof(stats->popularity));
		r->published_at[item] = r->stats_at[item];
		r->published_stamp[item] = r->epoch;
	}
	if (isnan(stats->first_seen))
	{
		/* items are numbered in order of appearance */
		Assert(item == r->nseen);
		r->nseen++;
		if (r->item_category[item] >= 0)
			r->category_seen[r->item_category[item]]++;
	}
	if (!isnan(r->stats_at[item]))
		ItemStatsDecay(stats->popularity, r->stats_at[item], at);
	ItemStatsAdd(stats, at, at);
	r->stats_at[item] = at;
	if (isnan(r->max_at))
		r->max_at = at;
	ItemStatsDecay(r->max_pop, r->max_at, at);
	r->max_at = Max(r->max_at, at);
	for (int w = 0; w < FEAT_POP_WINDOWS; w++)
		if (stats->popularity[w] > r->max_pop[w])
			r->max_pop[w] = stats->popularity[w];
	if (r->nitem_events < r->item_events)
		r->item_event_index[r->nitem_events++] = item;
}

/* Publishes the statistics as of at (what refresh_item_stats(as_of) gives). */
static void
PublishStats(Replay *r, double at)
{
	r->epoch++;
	r->has_stats = true;
	r->stats_time = at;
	memcpy(r->stats_max, r->max_pop, sizeof(r->stats_max));
	if (!isnan(r->max_at))
		ItemStatsDecay(r->stats_max, r->max_at, at);
	r->stats_seen = r->nseen;
}

/* An item's published counts (at the publication's time) and first time. */
static void
PublishedItem(Replay *r, int32 item, FeatItem *feat)
{
	const float *pop;
	double		at;

	feat->first_seen = item < r->stats_seen ? r->stats[item].first_seen : NAN;
	if (item >= r->stats_seen || !r->has_stats)
	{
		for (int w = 0; w < FEAT_POP_WINDOWS; w++)
			feat->popularity[w] = 0.0f;
		return;
	}
	if (r->published_stamp[item] == r->epoch)
	{
		pop = &r->published_pop[(Size) item * FEAT_POP_WINDOWS];
		at = r->published_at[item];
	}
	else
	{
		pop = r->stats[item].popularity;
		at = r->stats_at[item];
	}
	memcpy(feat->popularity, pop, sizeof(feat->popularity));
	if (!isnan(at))
		ItemStatsDecay(feat->popularity, at, r->stats_time);
}

/* ---- co-visitation lists ---- */

/* qsort comparator of item numbers by their ids. */
static const int64 *sort_ids;

static int
CompareItemIds(const void *a, const void *b)
{
	int64		x = sort_ids[*(const int32 *) a];
	int64		y = sort_ids[*(const int32 *) b];

	return x < y ? -1 : x > y;
}

/* The rows of the block: every item, in ascending id order. */
static void
PrepareBlockRows(Replay *r)
{
	int32		n = r->nitems;

	r->row_item = MemoryContextAllocHuge(r->cxt, sizeof(int32) * Max(n, 1));
	r->block_row = MemoryContextAllocHuge(r->cxt, sizeof(int32) * Max(n, 1));
	r->block_ids = MemoryContextAllocHuge(r->cxt, sizeof(int64) * Max(n, 1));
	for (int32 i = 0; i < n; i++)
		r->row_item[i] = i;
	sort_ids = r->item_ids;
	qsort(r->row_item, n, sizeof(int32), CompareItemIds);
	sort_ids = NULL;
	for (int32 row = 0; row < n; row++)
	{
		r->block_row[r->row_item[row]] = row;
		r->block_ids[row] = r->item_ids[r->row_item[row]];
	}
	r->block_cxt = AllocSetContextCreate(r->cxt, "rerank replay lists", ALLOCSET_DEFAULT_SIZES);
}

/* The interrupt check handed to CovisBuild. */
static void
CovisCheck(void)
{
	CHECK_FOR_INTERRUPTS();
}

/*
 * Rebuilds the co-visitation lists from the events before event number
 * end, as build_covisitation(until => then) does (each user's events in
 * time order cut into sessions, items numbered by id), into a new block.
 */
static void
BuildLists(Replay *r, int64 end)
{
	const ReplayOptions *opts = r->opts;
	MemoryContext old;
	int64	   *user_start;
	int64	   *fill;
	int32	   *order;
	int32	   *items;
	int64	   *starts;
	int64		nsessions = 0;
	int64		n = 0;
	int64	   *offsets;
	int32	   *neighbors;
	float	   *weights;
	int64		total;
	int64	   *list_ids;
	ItemSignalsInput input;
	Size		size;

	MemoryContextReset(r->block_cxt);
	r->block = NULL;
	old = MemoryContextSwitchTo(r->block_cxt);

	/* the events with an item, by user in log order */
	user_start = HugeArrayZero(int64, (Size) r->nusers + 1);
	fill = HugeArrayZero(int64, Max(r->nusers, 1));
	for (int64 e = 0; e < end; e++)
	{
		ReplayEvent *ev = EventAt(r, e);

		if (ev->item >= 0)
		{
			user_start[ev->user + 1]++;
			n++;
		}
	}
	for (int32 u = 0; u < r->nusers; u++)
		user_start[u + 1] += user_start[u];
	order = HugeArray(int32, Max(n, 1));
	for (int64 e = 0; e < end; e++)
	{
		ReplayEvent *ev = EventAt(r, e);

		if (ev->item >= 0)
			order[user_start[ev->user] + fill[ev->user]++] = (int32) e;
	}
	CHECK_FOR_INTERRUPTS();

	/* sessions: cut where a user's gap exceeds session_gap */
	items = HugeArray(int32, Max(n, 1));
	starts = HugeArray(int64, n + 1);
	for (int32 u = 0; u < r->nusers; u++)
	{
		double		previous = NAN;

		for (int64 k = user_start[u]; k < user_start[u + 1]; k++)
		{
			ReplayEvent *ev = EventAt(r, order[k]);

			if (k == user_start[u] || CovisNewSession(previous, ev->at, opts->session_gap))
				starts[nsessions++] = k;
			items[k] = r->block_row[ev->item];
			previous = ev->at;
		}
	}
	starts[nsessions] = n;
	pfree(order);
	pfree(fill);
	pfree(user_start);

	offsets = HugeArray(int64, (Size) r->nitems + 1);
	neighbors = palloc_extended(mul_size(Max(r->nitems, 1), sizeof(int32) * opts->covis.neighbors),
								MCXT_ALLOC_HUGE);
	weights = palloc_extended(mul_size(Max(r->nitems, 1), sizeof(float) * opts->covis.neighbors),
							  MCXT_ALLOC_HUGE);
	offsets[0] = 0;
	total = CovisBuild(r->nitems, nsessions, starts, items, &opts->covis, offsets, neighbors,
					   weights, NULL,
					   palloc_extended(CovisWorkspace(r->nitems, n, nsessions, opts->covis.neighbors),
									   MCXT_ALLOC_HUGE),
					   CovisCheck);
	list_ids = HugeArray(int64, Max(total, 1));
	for (int64 k = 0; k < total; k++)
		list_ids[k] = r->block_ids[neighbors[k]];

	memset(&input, 0, sizeof(input));
	input.nitems = r->nitems;
	input.ids = r->block_ids;
	input.list_offsets = offsets;
	input.list_ids = list_ids;
	input.list_weights = weights;
	size = ItemSignalsSize(&input);
	r->block_memory = palloc_extended(size, MCXT_ALLOC_HUGE);
	if (!ItemSignalsBuild(r->block_memory, size, &input))
		elog(ERROR, "could not build the replay's co-visitation block");
	r->block = ItemSignalsOpen(r->block_memory, size);
	if (r->block == NULL)
		elog(ERROR, "the replay's co-visitation block does not check");
	/* only the block stays */
	pfree(items);
	pfree(starts);
	pfree(neighbors);
	pfree(list_ids);
	MemoryContextSwitchTo(old);
}

/* ---- users ---- */

/* Grows a history's arrays so that one more item fits under limit. */
static void
GrowHistory(RecentHistory *h, int limit, bool full)
{
	int			capacity;

	if (h->n < h->capacity || h->capacity >= limit)
		return;
	capacity = Min(Max(8, h->capacity * 2), Max(limit, 1));
	h->items = h->items ? repalloc(h->items, sizeof(int64) * capacity) :
		palloc(sizeof(int64) * capacity);
	if (full)
	{
		h->weights = h->weights ? repalloc(h->weights, sizeof(float) * capacity) :
			palloc(sizeof(float) * capacity);
		h->counts = h->counts ? repalloc(h->counts, sizeof(int32) * capacity) :
			palloc(sizeof(int32) * capacity);
		h->last_at = h->last_at ? repalloc(h->last_at, sizeof(double) * capacity) :
			palloc(sizeof(double) * capacity);
		h->kinds = h->kinds ? repalloc(h->kinds, sizeof(uint32) * capacity) :
			palloc(sizeof(uint32) * capacity);
	}
	h->capacity = capacity;
}

/* A sampled user's state, empty at the first event. */
static UserState *
GetUserState(Replay *r, int32 user)
{
	UserState  *s = r->user_state[user];

	if (s == NULL)
	{
		s = MemoryContextAllocZero(r->cxt, sizeof(UserState));
		s->session_start = NAN;
		s->last_event_at = NAN;
		r->user_state[user] = s;
	}
	return s;
}

/* Adds weight to the user's long-term weight of a category. */
static void
AddCategoryWeight(UserState *s, int32 category, double weight)
{
	for (int c = 0; c < s->ncategories; c++)
		if (s->category_keys[c] == category)
		{
			s->category_weights[c] += weight;
			return;
		}
	if (s->ncategories == s->category_capacity)
	{
		s->category_capacity = Max(4, s->category_capacity * 2);
		s->category_keys = s->category_keys ?
			repalloc(s->category_keys, sizeof(int32) * s->category_capacity) :
			palloc(sizeof(int32) * s->category_capacity);
		s->category_weights = s->category_weights ?
			repalloc(s->category_weights, sizeof(double) * s->category_capacity) :
			palloc(sizeof(double) * s->category_capacity);
	}
	s->category_keys[s->ncategories] = category;
	s->category_weights[s->ncategories] = weight;
	s->ncategories++;
}

/*
 * Applies an event: to the item statistics (every event with an item), and
 * to a sampled user's state exactly as the trigger's UserStateApply does
 * (the session, the history with counts, times and kinds for a positive
 * weight, the category weights, the purchases).
 */
static void
ApplyEvent(Replay *r, const ReplayEvent *ev)
{
	UserState  *s;
	MemoryContext old;

	if (ev->item >= 0)
		CountEvent(r, ev->item, ev->at);
	if (!r->user_sampled[ev->user])
		return;
	old = MemoryContextSwitchTo(r->cxt);
	s = GetUserState(r, ev->user);
	SessionTouch(&s->session_start, &s->last_event_at, ev->at, FEAT_SESSION_GAP);
	if ((ev->flags & EVENT_KNOWN) && ev->item >= 0)
	{
		int64		item_id = r->item_ids[ev->item];

		if (ev->weight > 0.0f)
		{
			GrowHistory(&s->recent, r->history_size, true);
			HistoryRecord(&s->recent, r->history_size, item_id, ev->weight, ev->at, ev->kind);
			if (r->item_category[ev->item] >= 0)
				AddCategoryWeight(s, r->item_category[ev->item], ev->weight);
		}
		if (ev->flags & EVENT_PURCHASE)
		{
			GrowHistory(&s->purchased, r->purchase_size, false);
			HistoryTouch(&s->purchased, r->purchase_size, item_id, 0);
		}
	}
	MemoryContextSwitchTo(old);
}

/* ---- groups ---- */

/*
 * The user's vector as the trigger would have stored it: the fold-in of
 * the history against the model (HistoryFoldInInput, AlsFoldIn, as
 * FoldInHistoryVector does); NULL when no item of it has a vector.
 */
static float *
FoldIn(Replay *r, const UserState *s, const float **vectors)
{
	const float **kept = palloc(sizeof(float *) * Max(s->recent.n, 1));
	double	   *confidence = palloc(sizeof(double) * Max(s->recent.n, 1));
	float	   *x = palloc(sizeof(float) * r->dims);
	AlsHistory	history;

	history.n = HistoryFoldInInput(s->recent.weights, vectors, s->recent.n,
								   r->model->alpha, kept, confidence);
	if (history.n == 0)
		return NULL;
	history.vectors = kept;
	history.confidence = confidence;
	if (!AlsFoldIn(r->model->gram, r->dims, r->model->regularization, &history, x,
				   r->fold_work) ||
		VecFindNonFinite(x, r->dims) < (size_t) r->dims)
		return NULL;
	return x;
}

/*
 * Computes the rows of one group (the user as of now, the candidates at
 * their positions, NULL: unknown) with the feature code serving uses, and
 * appends them to the examples.
 */
static void
GroupRows(Replay *r, int32 user, double now, const int32 *items, const int32 *positions,
		  int n, const float *labels, const uint8 *sources, ReplayExamples *out)
{
	MemoryContext old = MemoryContextSwitchTo(r->group_cxt);
	UserState  *s = r->user_state[user];
	FeatUser	fu;
	FeatCatalog catalog;
	FeatItem   *fi = palloc0(sizeof(FeatItem) * n);
	FeatContext context;
	double		row[FEATURE_COUNT];

	memset(&fu, 0, sizeof(fu));
	fu.now = now;
	fu.dims = r->dims;
	fu.nrecent = r->recent_items;
	fu.recent_decay = r->recent_decay;
	fu.session_start = NAN;
	fu.last_event_at = NAN;
	if (s != NULL)
	{
		int			nh = s->recent.n;
		FeatHistoryItem *hist = palloc(sizeof(FeatHistoryItem) * Max(nh, 1));
		FeatKeyWeight *cw = palloc(sizeof(FeatKeyWeight) * Max(s->ncategories, 1));
		const float **vectors = palloc(sizeof(float *) * Max(nh, 1));

		for (int j = 0; j < nh; j++)
		{
			int32		d = IdMapGet(r->item_map, s->recent.items[j]);

			hist[j].item_id = s->recent.items[j];
			hist[j].weight = s->recent.weights[j];
			hist[j].count = s->recent.counts[j];
			hist[j].kinds = s->recent.kinds[j];
			hist[j].last_at = s->recent.last_at[j];
			hist[j].category = d >= 0 ? r->item_category[d] : -1;
			hist[j].brand = d >= 0 ? r->item_brand[d] : -1;
			vectors[j] = d >= 0 ? r->item_vector[d] : NULL;
		}
		for (int c = 0; c < s->ncategories; c++)
		{
			cw[c].key = s->category_keys[c];
			cw[c].weight = s->category_weights[c];
		}
		fu.history = hist;
		fu.nhistory = nh;
		fu.purchased = s->purchased.items;
		fu.npurchased = s->purchased.n;
		fu.session_start = s->session_start;
		fu.last_event_at = s->last_event_at;
		fu.category_weights = cw;
		fu.ncategory_weights = s->ncategories;
		if (r->dims > 0 && nh > 0)
		{
			if (r->fold_in)
				fu.vector = FoldIn(r, s, vectors);
			if (r->recent_items > 0)
			{
				float	   *profile = palloc(sizeof(float) * r->dims);

				if (RankProfile(vectors, Min(nh, r->recent_items), r->recent_decay, r->dims,
								profile, palloc(sizeof(double) * r->dims)))
					fu.profile = profile;
			}
		}
	}

	/* the catalog: the lists' block, the statistics as last published */
	memset(&catalog, 0, sizeof(catalog));
	if (r->block != NULL)
		ItemSignalsCatalog(r->block, &catalog);
	catalog.has_stats = r->has_stats;
	catalog.stats_at = r->stats_time;
	memcpy(catalog.max_popularity, r->stats_max, sizeof(catalog.max_popularity));

	for (int k = 0; k < n; k++)
	{
		int32		d = items[k];
		FeatItem   *item = &fi[k];

		item->item_id = r->item_ids[d];
		item->position = positions != NULL ? positions[k] : 0;
		item->vector = r->item_vector[d];
		item->in_model = item->vector != NULL;
		item->bias = r->item_bias[d];
		item->norm = item->vector != NULL ? r->item_norm[d] : -1.0;
		item->model_given = NAN;
		item->recent_given = NAN;
		item->category = r->item_category[d];
		item->brand = r->item_brand[d];
		PublishedItem(r, d, item);
	}
	FeatContextInit(&context, &fu, &catalog,
					palloc_extended(FeatContextWorkspace(&fu, &catalog), MCXT_ALLOC_HUGE));
	for (int k = 0; k < n; k++)
	{
		int64		at = out->rows + k;
		float	   *x = out->x + at * FEATURE_COUNT;

		FeatRow(&context, &fi[k], row);
		for (int f = 0; f < FEATURE_COUNT; f++)
			x[f] = (float) row[f];
		out->labels[at] = labels[k];
		out->row_item[at] = r->item_ids[items[k]];
		out->row_source[at] = sources[k];
	}
	out->group_sizes[out->groups] = n;
	out->group_time[out->groups] = now;
	out->group_user[out->groups] = r->user_ids[user];
	out->groups++;
	out->rows += n;
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->group_cxt);
}

/*
 * A group being drawn: the positive first, then distinct negatives, each
 * with its label and source; n of size filled.
 */
typedef struct GroupDraft
{
	int32	   *items;
	float	   *labels;
	uint8	   *sources;
	int			n;
	int			size;
} GroupDraft;

/* Starts a group of up to size candidates with the event's item. */
static void
DraftBegin(GroupDraft *g, int size, int32 positive)
{
	g->items = palloc(sizeof(int32) * size);
	g->labels = palloc(sizeof(float) * size);
	g->sources = palloc(sizeof(uint8) * size);
	g->size = size;
	g->items[0] = positive;
	g->labels[0] = 1.0f;
	g->sources[0] = SOURCE_EVENT;
	g->n = 1;
}

/* Adds a negative unless the group holds it already or is full. */
static bool
DraftAdd(GroupDraft *g, int32 item, ReplaySource source)
{
	if (g->n >= g->size)
		return false;
	for (int k = 0; k < g->n; k++)
		if (g->items[k] == item)
			return false;
	g->items[g->n] = item;
	g->labels[g->n] = 0.0f;
	g->sources[g->n] = source;
	g->n++;
	return true;
}

/* The group's rows (when it has a negative), then its arrays freed. */
static void
DraftEnd(Replay *r, GroupDraft *g, const ReplayEvent *ev, ReplayExamples *out)
{
	if (g->n >= 2)
		GroupRows(r, ev->user, ev->at, g->items, NULL, g->n, g->labels, g->sources, out);
	pfree(g->items);
	pfree(g->labels);
	pfree(g->sources);
}

/*
 * An item drawn uniformly (u in [0, 1)) from the catalog as of the event:
 * the event items seen, then the items without events; -1 when empty.
 */
static int32
UniformItem(Replay *r, double u)
{
	int64		pool = (int64) r->nseen + (r->nitems - r->event_items);
	int64		k2;

	if (pool == 0)
		return -1;
	k2 = (int64) (u * pool);
	return (int32) (k2 < r->nseen ? k2 : r->event_items + (k2 - r->nseen));
}

/* The items of a category in the catalog as of the event (0: none). */
static int64
CategoryPool(Replay *r, int32 category)
{
	if (category < 0)
		return 0;
	return r->category_seen[category] +
		(r->category_start[category + 1] - r->category_start[category] -
		 r->category_events[category]);
}

/*
 * An item of a category drawn (u in [0, 1)) from its items in the catalog
 * as of the event: its event items seen, then its items without events;
 * -1 when none.
 */
static int32
CategoryItem(Replay *r, int32 category, double u)
{
	int64		pool = CategoryPool(r, category);
	int64		k2;

	if (pool == 0)
		return -1;
	k2 = (int64) (u * pool);
	if (k2 >= r->category_seen[category])
		k2 += r->category_events[category] - r->category_seen[category];
	return r->category_items[r->category_start[category] + k2];
}

/*
 * A negative of the popularity held-out group, as the replay's popularity
 * generator draws it: with the probability q of a first touch so far (event
 * items seen / events so far), an item no event touches (u2 picks it);
 * otherwise the item of a uniformly drawn earlier event.  -1: none.
 */
static int32
PopularityHoldoutItem(Replay *r, double u1, double u2)
{
	int64		untouched = r->nitems - r->event_items;
	double		q = r->nitem_events > 0 ? (double) r->nseen / r->nitem_events : 1.0;

	if (untouched > 0 && (u1 < q || r->nitem_events == 0))
		return (int32) (r->event_items + Min((int64) (u2 * untouched), untouched - 1));
	if (r->nitem_events == 0)
		return -1;
	return (int32) r->item_event_index[(int64) (u2 * r->nitem_events)];
}

/*
 * Draws up to wanted negatives of one source into the group, each from up
 * to DRAW_TRIES draws of the stream (seed, event e, *counter), the first
 * one not in the group kept; a source with nothing to draw from stops the
 * slot.  By popularity: the item of a uniformly drawn earlier event (the
 * training mix), or as the replay's popularity generator draws
 * (holdout_popularity, PopularityHoldoutItem, two draws); from the
 * category: uniformly among its items; otherwise uniformly from the
 * catalog.
 */
static void
DrawNegatives(Replay *r, GroupDraft *g, ReplaySource source, bool holdout,
			  int32 category, int wanted, uint64 seed, int64 e, uint64 *counter)
{
	for (int k = 0; k < wanted; k++)
		for (int attempt = 0; attempt < DRAW_TRIES; attempt++)
		{
			double		u = RankerUnit(RankerHash(seed, (uint64) e * 65536 + (*counter)++));
			int32		d;

			if (source == SOURCE_POPULAR && holdout)
				d = PopularityHoldoutItem(r, u,
										  RankerUnit(RankerHash(seed, (uint64) e * 65536 + (*counter)++)));
			else if (source == SOURCE_POPULAR)
				d = r->nitem_events > 0 ?
					(int32) r->item_event_index[(int64) (u * r->nitem_events)] : -1;
			else if (source == SOURCE_CATEGORY)
				d = CategoryItem(r, category, u);
			else
				d = UniformItem(r, u);
			if (d < 0)
				break;
			if (DraftAdd(g, d, source))
				break;
		}
}

/*
 * A held-out group of a positive event (uniform_holdout): its item among
 * UNIFORM_HOLDOUT_NEGATIVES items drawn from the catalog as of the event as
 * the replay's generator of that kind draws them (SOURCE_UNIFORM: uniformly;
 * SOURCE_POPULAR: PopularityHoldoutItem; SOURCE_CATEGORY: uniformly among
 * the positive's category, all of them when it has no more), from a seed of
 * its own per kind (the same whatever the mix), into out.
 */
static void
HoldoutGroup(Replay *r, int64 e, ReplaySource kind, ReplayExamples *out)
{
	ReplayEvent *ev = EventAt(r, e);
	uint64		seed = r->opts->seed ^ (kind == SOURCE_UNIFORM ? SEED_UNIFORM :
										kind == SOURCE_POPULAR ? SEED_POPULARITY :
										SEED_CATEGORY);
	int32		category = r->item_category[ev->item];
	int64		pool = CategoryPool(r, category);
	uint64		counter = 0;
	GroupDraft	g;

	DraftBegin(&g, 1 + UNIFORM_HOLDOUT_NEGATIVES, ev->item);
	if (kind == SOURCE_CATEGORY && category >= 0 && pool <= UNIFORM_HOLDOUT_NEGATIVES + 1)
	{
		/* a small category: all of its items */
		for (int64 k = 0; k < pool; k++)
		{
			int32		d = CategoryItem(r, category, ((double) k + 0.5) / pool);

			if (d >= 0)
				(void) DraftAdd(&g, d, SOURCE_CATEGORY);
		}
	}
	else
		DrawNegatives(r, &g, kind, true, category, UNIFORM_HOLDOUT_NEGATIVES,
					  seed, e, &counter);
	DraftEnd(r, &g, ev, out);
}

/*
 * The group of a positive event: its item, then negatives drawn from the
 * catalog as of the event (core/ranker_examples.h, RankerNegativesMixed, the
 * shares of the negative_mix option): by
 * popularity (the item of a uniformly drawn earlier event), from the
 * item's category and uniformly among the items seen before it and the
 * catalog's items that no event touches (in rerank.items, so listed all
 * along, as far as the replay knows); slots the category cannot fill are
 * drawn uniformly.  A group without a negative is left out.
 */
static void
EventGroup(Replay *r, int64 e, ReplayExamples *out)
{
	const ReplayOptions *opts = r->opts;
	ReplayEvent *ev = EventAt(r, e);
	int			size = 1 + opts->negatives;
	RankerNegativeMix mix = RankerNegativesMixed(opts->negatives, &opts->negative_mix);
	int32		category = r->item_category[ev->item];
	uint64		counter = 0;
	uint64		seed = opts->seed ^ SEED_NEGATIVES;
	GroupDraft	g;

	DraftBegin(&g, size, ev->item);
	DrawNegatives(r, &g, SOURCE_POPULAR, false, category, mix.popular, seed, e, &counter);
	DrawNegatives(r, &g, SOURCE_CATEGORY, false, category, mix.category, seed, e, &counter);
	/* after the category: uniform takes what the category could not fill */
	DrawNegatives(r, &g, SOURCE_UNIFORM, false, category, size - g.n, seed, e, &counter);
	DraftEnd(r, &g, ev, out);
}

/* The group of a page of impressions: the items shown, the clicked ones 1. */
static void
PageGroup(Replay *r, const ReplayPage *page, const uint8 *page_labels, ReplayExamples *out)
{
	float	   *labels = palloc(sizeof(float) * page->n);
	uint8	   *sources = palloc(sizeof(uint8) * page->n);

	for (int32 k = 0; k < page->n; k++)
	{
		labels[k] = page_labels[page->first + k];
		sources[k] = SOURCE_SHOWN;
	}
	GroupRows(r, page->user, page->at, r->page_items + page->first,
			  r->page_positions + page->first, page->n, labels, sources, out);
	pfree(labels);
	pfree(sources);
}

/* ---- the replay ---- */

/*
 * Walks the log (and the pages, each before the events of its time or
 * later): refreshes what is due, builds the marked groups, applies the
 * events.
 */
static void
ReplayRun(Replay *r, const uint8 *page_labels, ReplayExamples *out)
{
	const ReplayOptions *opts = r->opts;
	int64		e = 0;
	int64		p = 0;
	double		next_stats = -INFINITY;
	double		next_lists = -INFINITY;
	int64		lists_end = -1;

	while (e < r->nevents || p < r->npages)
	{
		bool		is_page = p < r->npages &&
			(e >= r->nevents || r->pages[p].at <= EventAt(r, e)->at);
		double		t = is_page ? r->pages[p].at : EventAt(r, e)->at;
		bool		group = is_page ? r->pages[p].selected :
			(EventAt(r, e)->flags & EVENT_GROUP) != 0;

		/* the schedule of the refreshes, from the events before this one */
		if (t >= next_stats)
		{
			PublishStats(r, t);
			out->stats_refreshes++;
			next_stats = t + opts->stats_every;
		}
		if (t >= next_lists)
		{
			lists_end = e;
			next_lists = t + opts->covisit_every;
		}
		if (group && lists_end >= 0)
		{
			BuildLists(r, lists_end);
			out->covisit_builds++;
			lists_end = -1;
		}
		if (is_page)
		{
			if (group)
				PageGroup(r, &r->pages[p], page_labels, out);
			p++;
			continue;
		}
		if (group)
			EventGroup(r, e, out);
		if (group && (EventAt(r, e)->flags & EVENT_UNIFORM))
		{
			HoldoutGroup(r, e, SOURCE_UNIFORM, out->uniform);
			if (out->popularity != NULL)
				HoldoutGroup(r, e, SOURCE_POPULAR, out->popularity);
			if (out->category != NULL)
				HoldoutGroup(r, e, SOURCE_CATEGORY, out->category);
		}
		ApplyEvent(r, EventAt(r, e));
		e++;
		if ((e & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
	}
}

/* The arrays of held-out groups of up to 1 + UNIFORM_HOLDOUT_NEGATIVES rows. */
static ReplayExamples *
HoldoutExamples(MemoryContext cxt, int64 groups)
{
	ReplayExamples *u = MemoryContextAllocZero(cxt, sizeof(ReplayExamples));
	int64		urows = groups * (1 + UNIFORM_HOLDOUT_NEGATIVES);

	u->x = MemoryContextAllocHuge(cxt, mul_size(urows, sizeof(float) * FEATURE_COUNT));
	u->labels = MemoryContextAllocHuge(cxt, mul_size(urows, sizeof(float)));
	u->row_item = MemoryContextAllocHuge(cxt, mul_size(urows, sizeof(int64)));
	u->row_source = MemoryContextAllocHuge(cxt, urows);
	u->group_sizes = MemoryContextAllocHuge(cxt, sizeof(uint32) * groups);
	u->group_time = MemoryContextAllocHuge(cxt, sizeof(double) * groups);
	u->group_user = MemoryContextAllocHuge(cxt, sizeof(int64) * groups);
	return u;
}

/* An integer or real setting, read by name (the serving layer owns them). */
static double
SettingValue(const char *name)
{
	return strtod(GetConfigOption(name, false, false), NULL);
}

/* The sources read, as a JSON array of their names. */
static char *
SourcesJson(const ReplaySourceMap *maps, int n, const ReplayOptions *opts)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	for (int s = 0; s < n; s++)
	{
		if (s > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, maps[s].from);
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

void
RankerReplay(const ReplayOptions *opts, ReplayExamples *out)
{
	MemoryContext caller = CurrentMemoryContext;
	Replay		r;
	ReplaySourceMap *maps;
	int			nsources;
	Oid			types[2] = {TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		bounds[2];
	char		bound_nulls[2];
	uint8	   *page_labels = NULL;
	int64		capacity;
	int64		positives = 0;
	instr_time	start,
				now;

	INSTR_TIME_SET_CURRENT(start);
	memset(out, 0, sizeof(ReplayExamples));
	memset(&r, 0, sizeof(r));
	out->first_time = out->last_time = NAN;
	r.opts = opts;
	r.cxt = AllocSetContextCreate(caller, "rerank ranker replay", ALLOCSET_DEFAULT_SIZES);
	r.history_size = (int) SettingValue("rerank.history_size");
	r.purchase_size = (int) SettingValue("rerank.purchase_history_size");
	r.recent_items = (int) SettingValue("rerank.recent_items");
	r.recent_decay = SettingValue("rerank.recent_decay");
	out->history_size = r.history_size;
	out->purchase_history_size = r.purchase_size;
	out->recent_items = r.recent_items;
	out->recent_decay = r.recent_decay;

	MemoryContextSwitchTo(r.cxt);
	r.user_map = idmap_create(r.cxt, 1024, NULL);
	r.item_map = idmap_create(r.cxt, 1024, NULL);
	r.user_ids = MemoryContextAllocHuge(r.cxt, sizeof(int64));
	r.user_sampled = MemoryContextAllocHuge(r.cxt, sizeof(bool));
	r.item_ids = MemoryContextAllocHuge(r.cxt, sizeof(int64));
	r.item_category = MemoryContextAllocHuge(r.cxt, sizeof(int32));
	r.item_brand = MemoryContextAllocHuge(r.cxt, sizeof(int32));
	r.chunks = palloc(sizeof(ReplayEvent *));
	r.chunk_capacity = 1;

	/* read the log, the impressions and the items' attributes */
	SpiConnect();
	/* what is read outlives SPI: in the replay's memory */
	MemoryContextSwitchTo(r.cxt);
	nsources = ResolveSources(opts, &maps);
	bounds[0] = opts->has_since ? TimestampTzGetDatum(opts->since) : (Datum) 0;
	bounds[1] = opts->has_until ? TimestampTzGetDatum(opts->until) : (Datum) 0;
	bound_nulls[0] = opts->has_since ? ' ' : 'n';
	bound_nulls[1] = opts->has_until ? ' ' : 'n';
	ReadRows(&r, EventsQuery(maps, nsources), 2, types, bounds, bound_nulls, ReadEventRow);
	r.event_items = r.nitems;
	if (OidIsValid(opts->impressions))
		ReadImpressions(&r, bounds, bound_nulls);
	ReadItems(&r);
	out->sources = MemoryContextStrdup(caller, SourcesJson(maps, nsources, opts));
	SPI_finish();
	MemoryContextSwitchTo(r.cxt);

	/* what there is to learn from */
	for (int64 e = 0; e < r.nevents; e++)
	{
		ReplayEvent *ev = EventAt(&r, e);

		if ((ev->flags & EVENT_KNOWN) && ev->weight > 0.0f && ev->item >= 0)
			positives++;
	}
	if (r.nevents == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: no events to learn from", opts->caller),
				 errdetail("The event tables hold no row with a user and a finite time%s.",
						   opts->has_since || opts->has_until ? " in the window given" : ""),
				 errhint("Check the events, since and until.")));
	if (r.nusers < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: the events are of one user only", opts->caller),
				 errdetail("A ranker learns what users in general touch next: it needs the events of at least two users.")));
	if (positives == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: no event has a positive weight", opts->caller),
				 errdetail("Every group is built around an event with an item whose type has a weight above 0 in rerank.event_weights."),
				 errhint("Map the shop's event types in rerank.event_weights.")));
	if (OidIsValid(opts->impressions) && r.npages == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: no impressions in the window", opts->caller)));
	out->events = r.nevents;
	out->users = r.nusers;
	out->items = r.nitems;
	out->impressions = r.page_rows;
	out->first_time = EventAt(&r, 0)->at;
	out->last_time = EventAt(&r, r.nevents - 1)->at;
	for (int32 u = 0; u < r.nusers; u++)
		out->sampled_users += r.user_sampled[u];

	if (OidIsValid(opts->impressions))
		page_labels = PageLabels(&r);
	capacity = SelectGroups(&r, page_labels, out);
	if (capacity == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: no ranking group to learn from", opts->caller),
				 errdetail(OidIsValid(opts->impressions) ?
						   "No page of impressions of a sampled user after the warm-up has an item clicked and one not clicked." :
						   "No positive event of a sampled user comes after the warm-up of %g seconds.",
						   opts->warm_up),
				 errhint("Read a longer window, sample more users, or shorten the warm-up (options => '{\"warm_up\": \"1 hour\"}').")));
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	out->read_seconds = INSTR_TIME_GET_DOUBLE(now);

	/* the examples, in the caller's memory */
	out->x = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(float) * FEATURE_COUNT));
	out->labels = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(float)));
	out->row_item = MemoryContextAllocHuge(caller, mul_size(capacity, sizeof(int64)));
	out->row_source = MemoryContextAllocHuge(caller, capacity);
	{
		int64		groups = Max(Min(capacity, (int64) opts->max_groups), 1);

		out->group_sizes = MemoryContextAllocHuge(caller, sizeof(uint32) * groups);
		out->group_time = MemoryContextAllocHuge(caller, sizeof(double) * groups);
		out->group_user = MemoryContextAllocHuge(caller, sizeof(int64) * groups);
	}

	if (r.uniform_groups > 0)
	{
		out->uniform = HoldoutExamples(caller, r.uniform_groups);
		/* the other generators' groups only when asked: 3 × the memory */
		if (opts->holdout_all_lists)
		{
			out->popularity = HoldoutExamples(caller, r.uniform_groups);
			out->category = HoldoutExamples(caller, r.uniform_groups);
		}
	}

	/* the state of the replay */
	PrepareModel(&r, out);
	r.stats = MemoryContextAllocHuge(r.cxt, sizeof(ItemStats) * Max(r.nitems, 1));
	r.stats_at = MemoryContextAllocHuge(r.cxt, sizeof(double) * Max(r.nitems, 1));
	r.published_pop = MemoryContextAllocHuge(r.cxt,
											 sizeof(float) * FEAT_POP_WINDOWS * Max(r.nitems, 1));
	r.published_at = MemoryContextAllocHuge(r.cxt, sizeof(double) * Max(r.nitems, 1));
	r.published_stamp = MemoryContextAllocZero(r.cxt, sizeof(int32) * Max(r.nitems, 1));
	for (int32 i = 0; i < r.nitems; i++)
	{
		ItemStatsInit(&r.stats[i]);
		r.stats_at[i] = NAN;
	}
	for (int w = 0; w < FEAT_POP_WINDOWS; w++)
		r.max_pop[w] = 0.0f;
	r.max_at = NAN;
	r.item_event_index = MemoryContextAllocHuge(r.cxt, sizeof(int64) * Max(r.item_events, 1));
	r.user_state = MemoryContextAllocZero(r.cxt, sizeof(UserState *) * Max(r.nusers, 1));
	PrepareBlockRows(&r);
	r.group_cxt = AllocSetContextCreate(r.cxt, "rerank replay group", ALLOCSET_DEFAULT_SIZES);

	INSTR_TIME_SET_CURRENT(start);
	ReplayRun(&r, page_labels, out);
	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	out->replay_seconds = INSTR_TIME_GET_DOUBLE(now);

	MemoryContextSwitchTo(caller);
	MemoryContextDelete(r.cxt);
}
