/*
 * ranker_replay.h
 *	  The learned ranker's training examples, built by a point-in-time
 *	  replay of the shop's event log in memory (ranker_replay.c).
 *
 * The events are read through the column mapping attach() recorded (or
 * one given), in time order, and replayed through the same code as the
 * real-time path and serving:
 *	- each user's state as the trigger keeps it (core/recent_history.h:
 *	  HistoryRecord, HistoryTouch, SessionTouch; the category weights), and
 *	  the user's vector as the trigger would fold it in against the active
 *	  factor model (model/fold_in.h), computed when a group needs it;
 *	- the item statistics as refresh_item_stats computes them
 *	  (core/item_signals.h: ItemStatsAdd, ItemStatsDecay), published every
 *	  stats_every, and the co-visitation lists as build_covisitation builds
 *	  them (CovisBuild), rebuilt every covisit_every, both from the events
 *	  before that moment, into the block serving reads (ItemSignalsBuild);
 *	- the features of each candidate (core/features.h: FeatContextInit,
 *	  FeatRow) with the structs filled as scoring.c fills them.
 * A ranking group is emitted before the event (or impression) it is about
 * is applied: its features are the state just before it, never after.
 *
 * Groups: without impressions, one per positive event (weight > 0 in
 * rerank.event_weights) of a sampled user after the warm-up, the touched
 * item (label 1) among sampled negatives (core/ranker_examples.h:
 * RankerNegativesMixed, in the shares of negative_mix, by default all
 * uniform: by popularity as of the last statistics, from the item's
 * category and uniformly, among the items seen before the event);
 * with impressions, one per page shown (the impressions of one user with
 * the same page id, or the same time), the items clicked within the
 * attribution window after it label 1, the others 0.  max_groups bounds
 * the groups (a deterministic sample), users the users.
 */
#ifndef RERANK_RANKER_REPLAY_H
#define RERANK_RANKER_REPLAY_H

#include "postgres.h"

#include "core/features.h"
#include "core/item_signals.h"
#include "core/ranker_examples.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/jsonb.h"

/* Where the examples come from, and how they are sampled. */
typedef struct ReplayOptions
{
	const char *caller;			/* "train_ranker", "ranker_examples" */
	Oid			events;			/* InvalidOid: every tracked table */
	const char *user_column;	/* NULL: the mapping's (or user_id) */
	const char *item_column;
	const char *type_column;
	const char *time_column;
	bool		has_since;
	TimestampTz since;			/* events before are not read */
	bool		has_until;
	TimestampTz until;			/* events at or after are not read */
	Oid			impressions;	/* InvalidOid: sampled negatives */
	int			negatives;
	int			max_groups;
	double		users;			/* fraction of users sampled */
	uint64		seed;
	double		warm_up;		/* seconds after the first event without
								 * groups */
	bool		has_groups_since;
	TimestampTz groups_since;	/* groups from then on (instead of warm_up) */
	const char *factor_model;	/* the model of model_score and
								 * recent_similarity; NULL: the active one */
	double		stats_every;	/* seconds between statistics refreshes */
	double		covisit_every;	/* seconds between list rebuilds */
	double		attribution;	/* seconds after an impression a click
								 * counts */
	CovisParams covis;
	double		session_gap;	/* of the co-visitation sessions */
	RankerMixShares negative_mix;	/* the negatives' sources, normalized */
	double		uniform_holdout;	/* share of the latest sampled events that
									 * also get a group of uniform candidates
									 * (0: none; train_ranker's holdout) */
	bool		holdout_all_lists;	/* those events also get groups of the
									 * popularity and category generators
									 * (option holdout_lists = "all") */
} ReplayOptions;

/* Where a row of the examples comes from. */
typedef enum ReplaySource
{
	SOURCE_EVENT = 0,			/* the item the event touched */
	SOURCE_POPULAR,				/* negative drawn by popularity */
	SOURCE_CATEGORY,			/* negative from the item's category */
	SOURCE_UNIFORM,				/* negative drawn uniformly */
	SOURCE_SHOWN,				/* an impression */
	SOURCE_COUNT
} ReplaySource;

extern const char *const replay_source_names[SOURCE_COUNT];

/* The examples, in time order of their groups. */
typedef struct ReplayExamples
{
	int64		rows;
	int			groups;
	float	   *x;				/* rows × FEATURE_COUNT, NaN = missing */
	float	   *labels;			/* rows */
	uint32	   *group_sizes;	/* groups */
	double	   *group_time;		/* groups: the event's time (feature clock) */
	int64	   *group_user;		/* groups */
	int64	   *row_item;		/* rows */
	uint8	   *row_source;		/* rows: ReplaySource */
	/* what the replay read and did, for the NOTICEs and the metrics */
	int64		events;
	int64		users;
	int64		sampled_users;
	int64		items;
	int64		positives;		/* candidate groups before the sample */
	int64		impressions;
	int			stats_refreshes;
	int			covisit_builds;
	double		first_time;		/* feature clock; NaN: no event */
	double		last_time;
	double		read_seconds;
	double		replay_seconds;
	int32		factor_model_id;	/* 0: no active factor model */
	char		factor_model[NAMEDATALEN];
	int			recent_items;	/* the serving settings the features used */
	double		recent_decay;
	int			history_size;
	int			purchase_history_size;
	char	   *sources;		/* the tables read, as a JSON array */
	/*
	 * With uniform_holdout: the groups of the latest sampled events with
	 * their positive among UNIFORM_HOLDOUT_NEGATIVES items drawn uniformly
	 * from the catalog as of the event (a seed of their own: the same
	 * whatever the mix), for a held-out metric the mix does not shape; NULL
	 * otherwise.
	 */
	struct ReplayExamples *uniform;
	/*
	 * With uniform_holdout, the same events' groups among candidates drawn
	 * as the replay's other two generators draw them (docs/ranker.md, "The
	 * held-out metrics"): by popularity (with the probability q of a first
	 * touch so far, an item no event touched yet, otherwise the item of a
	 * uniformly drawn earlier event) and from the positive's category (a
	 * category page; events without a category have none).  Seeds of their
	 * own, the same whatever the mix.  NULL otherwise.
	 */
	struct ReplayExamples *popularity;
	struct ReplayExamples *category;
} ReplayExamples;

/* Negatives of the uniform held-out groups: 100 candidates, as the replay's lists. */
#define UNIFORM_HOLDOUT_NEGATIVES 99

/*
 * Reads the options from a call's arguments: events, user_column,
 * item_column, event_type_column, time_column, since, until,
 * impressions, negatives, max_groups, users at first_arg …, and the seed
 * at seed_arg; the rest take their defaults.  Bad values are errors
 * (22023, 22004).
 */
extern void ReplayOptionsFromArgs(FunctionCallInfo fcinfo, const char *caller,
								  int first_arg, int seed_arg, ReplayOptions *opts);

/*
 * Sets one member of the options object (warm_up, groups_since,
 * factor_model, stats_every, covisit_every, attribution, session_gap,
 * covisit_window, covisit_neighbors, covisit_min_count, negative_mix);
 * false when the key is not one of them.
 */
extern bool ReplayOptionSet(ReplayOptions *opts, const char *key,
							const JsonbValue *value);

/* A caller's own options (the booster's): false when the key is unknown. */
typedef bool (*ReplayExtraOptionFn) (void *arg, const char *key,
									 const JsonbValue *value);

/*
 * Reads an options object (NULL: none): each member through
 * ReplayOptionSet, else extra (may be NULL); an unknown key is an error.
 */
extern void ReplayOptionsParse(ReplayOptions *opts, Jsonb *options,
							   ReplayExtraOptionFn extra, void *extra_arg);

/* Appends the options as JSON members (", \"negatives\": 20, …"). */
extern void ReplayOptionsJson(StringInfo buf, const ReplayOptions *opts);

/*
 * Replays the log and returns the examples, allocated in the current
 * memory context (huge allocations for the rows).  Errors (no events, one
 * user, no positive event, a mapping to a missing column, …) leave nothing
 * behind.  Checks for interrupts throughout.
 */
extern void RankerReplay(const ReplayOptions *opts, ReplayExamples *out);

#endif							/* RERANK_RANKER_REPLAY_H */
