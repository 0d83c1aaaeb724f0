/*
 * user_features.h
 *	  The one reader of a row of rerank.user_features (user_features.c), used
 *	  by serving, the real-time path and the model reads, and the look-up of
 *	  a user's row (with the user's vector in a model) for serving.
 *
 * One rule for NULLs.  The triggers never write a NULL element, but a row
 * can be edited by hand (the columns are NOT NULL; their elements are
 * not):
 *	- recent_items: a NULL element drops its entry (an entry without an
 *	  item says nothing);
 *	- recent_weights: a NULL element (or one missing) reads as weight 0: the
 *	  item keeps its place in the recency order, which the recent term and
 *	  its decay use, and adds nothing where weights count (the fold-in and
 *	  item-kNN's model term take positive weights only);
 *	- recent_counts, recent_last_at, recent_kinds (parallel to
 *	  recent_items): a NULL element, a missing one (rows kept before
 *	  0.2.0 have empty arrays) or -infinity reads as unknown: one event, no
 *	  time (NaN), no kind;
 *	- purchased_items: NULL elements are skipped;
 *	- category_weights, event_counts: a value that is not a number is
 *	  skipped by whoever reads the map.
 * This is the rule rerank() has always applied, and the one the regress
 * test serve_paths pins; the real-time path dropped an entry with a NULL
 * weight, and the model reads ignored a whole array with a NULL in it.
 */
#ifndef RERANK_USER_FEATURES_H
#define RERANK_USER_FEATURES_H

#include "postgres.h"

#include "cache/model_cache.h"
#include "datatype/timestamp.h"
#include "model/user_rows.h"
#include "utils/jsonb.h"

/* A user's row of rerank.user_features, read (copied) into memory. */
typedef struct UserFeatures
{
	int			nrecent;		/* recent history, most recent first */
	int64	   *recent_items;
	float	   *recent_weights; /* 0 where NULL */
	int32	   *recent_counts;	/* events on each item; 1 where unknown */
	double	   *recent_last_at; /* each item's last event (common/feat_time.h
								 * seconds); NaN where unknown */
	uint32	   *recent_kinds;	/* FEAT_KIND_* bits; 0 where unknown */
	int			npurchased;
	int64	   *purchased_items;
	Jsonb	   *category_weights;	/* NULL when not read, or an empty map */
	Jsonb	   *event_counts;	/* NULL when not read */
	int64		total_dwell_ms;
	bool		has_times;		/* first_event_at is set */
	TimestampTz first_event_at;
	TimestampTz last_event_at;	/* first_event_at where NULL */
	bool		has_session;	/* session_started_at is set */
	TimestampTz session_started_at;
} UserFeatures;

/*
 * Reads a row given as values and nulls by UserFeaturesColumn (columns not
 * read: nulls true) into features, by the rule above, copying everything
 * into the current memory context (the datums may point into a shared
 * buffer or SPI's memory).  Without a row (every column NULL) the features
 * are empty.
 */
extern void UserFeaturesRead(const Datum *values, const bool *nulls,
							 UserFeatures *features);

/*
 * Reads the user's features (recent history with its counts, times and
 * kinds, purchases, category weights, event and session times)
 * and, when vector is not NULL and the model (not NULL) has dimensions, the
 * user's vector in it (*vector NULL when the user has none): two primary
 * key look-ups without the executor (user_rows.h), or one query with a
 * kept plan when the tables are under row-level security or not readable
 * as a whole.  A user without a row has empty features.  Results are in the
 * current memory context.
 */
extern void LoadUserFeatures(const CachedModel *model, int64 user_id,
							 UserFeatures *features, float **vector);

#endif							/* RERANK_USER_FEATURES_H */
