/*
 * features.h
 *	  The candidate features of rerank: what is known about a user and about
 *	  each candidate item, and one documented function per feature that
 *	  turns them into one row of FEATURE_COUNT numbers.  Pure C: no
 *	  PostgreSQL headers, no allocation (callers pass workspaces).
 *
 * ONE implementation for everyone who scores a (user, candidate) pair:
 * serving (rerank(), explain()) fills these structs from the tables and the
 * backend's caches; a trainer fills the same structs from an in-memory
 * point-in-time replay of the event log (the user's state as it was just
 * before the event, the item statistics as of then) and calls the same
 * functions, so training and serving cannot disagree.  The state updates
 * that build a user's history are in recent_history.h (HistoryRecord,
 * SessionTouch), those of the item statistics in item_signals.h
 * (ItemStatsAdd): the trigger and a replay call the same code.
 *
 * Use: fill a FeatUser and a FeatCatalog, size a workspace with
 * FeatContextWorkspace, build a FeatContext with FeatContextInit (per user
 * and call: it indexes the history, the purchases, the categories, brands
 * and co-visitation lists of the recent items), then FeatRow per candidate.
 *
 * Conventions.
 * - Times are seconds (double) on one clock for all inputs of a call; the
 *	 glue uses seconds since the Unix epoch.  "now" is when the features are
 *	 computed (serving: the call's as_of, default the transaction's start;
 *	 a replay: the event's time).  An age is now − t clamped at 0 (a time
 *	 after now counts as now).
 * - NaN means missing: the input the feature needs is unknown (no vector,
 *	 no category, no item statistics computed at all).  0 means known and
 *	 absent (the user never touched the item, the category has no weight).
 *	 The hand-weighted blend treats NaN as 0 (the term is left out); a
 *	 learned ranker sees NaN as missing.
 * - The feature order, names and definitions are fixed for a
 *	 FEATURES_VERSION: a learned ranker records the version it was trained
 *	 with, and any change of a definition, the order or a constant below
 *	 bumps it.  New features are appended.
 */
#ifndef RERANK_FEATURES_H
#define RERANK_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEATURES_VERSION 1

/* ---- constants of the definitions (part of FEATURES_VERSION) ---- */

/* A session ends after this many seconds without an event of the user. */
#define FEAT_SESSION_GAP 1800.0

/* Half-life of the decayed category and brand affinities: one day. */
#define FEAT_AFFINITY_HALF_LIFE 86400.0

/* The re-visit recency 1 / (1 + age / FEAT_REVISIT_SCALE): hours. */
#define FEAT_REVISIT_SCALE 3600.0

/* The item newness 1 / (1 + age / FEAT_NEWNESS_SCALE): days. */
#define FEAT_NEWNESS_SCALE 86400.0

/*
 * Item popularity: event counts decayed with three half-lives (an event
 * of age a counts 2^(−a / half-life)).
 */
typedef enum FeatPopWindow
{
	FEAT_POP_HOUR = 0,			/* half-life 1 hour */
	FEAT_POP_DAY,				/* half-life 1 day */
	FEAT_POP_WEEK,				/* half-life 7 days */
	FEAT_POP_WINDOWS
} FeatPopWindow;

extern const double feat_pop_half_life[FEAT_POP_WINDOWS];

/*
 * Event kinds: bits of FeatHistoryItem.kinds, one per kind of event type
 * (rerank.event_weights.kind: the shipped types view, click, favorite,
 * cart and purchase have their own name as kind; a shop maps its types,
 * e.g. Taobao's pv, fav, cart, buy, to these; a type without a kind sets
 * no bit).
 */
#define FEAT_KIND_VIEW		(1u << 0)
#define FEAT_KIND_CLICK		(1u << 1)
#define FEAT_KIND_FAVORITE	(1u << 2)
#define FEAT_KIND_CART		(1u << 3)
#define FEAT_KIND_PURCHASE	(1u << 4)
#define FEAT_KIND_COUNT		5

/* The kind bit of a kind name ("view" … "purchase"), or 0. */
extern uint32_t FeatKindBit(const char *name, size_t length);

/* ---- the features, in row order ---- */

typedef enum FeatureId
{
	/*
	 * model_score: the factor model's x_uᵀy_i + b_i (user vector x_u, item
	 * vector y_i, item bias b_i); under an item-kNN model the kNN score
	 * Σ_j r_j·sim(j, i) over the user's history j.  NaN when the user has no
	 * vector or the item is not in the model.
	 */
	FEAT_MODEL_SCORE = 0,
	/* in_model: 1 when the item has a vector (or a kNN list), else 0. */
	FEAT_IN_MODEL,

	/*
	 * recent_similarity: p_uᵀy_i / ‖y_i‖, the recency-weighted mean cosine
	 * between the item and the user's recent items (p_u = Σ_j d^j ŷ_j /
	 * Σ_j d^j over the first nrecent history items j with a vector, unit
	 * vectors ŷ_j; core/rank.h RankProfile); under item-kNN the kNN recent
	 * term.  NaN without a profile or without an item vector.
	 */
	FEAT_RECENT_SIMILARITY,

	/* revisit: 1 when the item is in the user's history, else 0. */
	FEAT_REVISIT,

	/*
	 * revisit_recency: 1 / (1 + a / 3600) with a the seconds since the
	 * user's last event on the item (1 just now, 0.5 an hour ago, 0.04 a day
	 * ago); 0 when not in the history; NaN when its time is unknown.
	 */
	FEAT_REVISIT_RECENCY,

	/* revisit_log_count: log2(1 + the user's events on the item); 0 if none. */
	FEAT_REVISIT_LOG_COUNT,

	/*
	 * revisit_log_weight: log2(1 + the accumulated event weight of the item
	 * in the history), the r of the fold-in; 0 when not in the history.
	 */
	FEAT_REVISIT_LOG_WEIGHT,

	/* revisit_clicked: 1 when the user clicked the item (kind click), else 0. */
	FEAT_REVISIT_CLICKED,
	/* revisit_favorited: 1 when the user favorited it, else 0. */
	FEAT_REVISIT_FAVORITED,
	/* revisit_carted: 1 when the user put it in the cart, else 0. */
	FEAT_REVISIT_CARTED,

	/*
	 * revisit_session: 1 when the user touched the item in the current
	 * session (its last event at or after the session's start, and the
	 * session current: its last event at most FEAT_SESSION_GAP before now),
	 * else 0; NaN when the user has events but no known session start
	 * (features kept before 0.2.0, until the user's next event).
	 */
	FEAT_REVISIT_SESSION,

	/* purchased: 1 when the item is in the user's purchased items, else 0. */
	FEAT_PURCHASED,

	/*
	 * covisit: Σ_j d^j·w(j → i) / Σ_j d^j over the first nrecent history
	 * items j that have a co-visitation list, where w(j → i) is i's weight
	 * in j's list (0 when i is not in it): the share of the sessions with j
	 * that also hold i (item_signals.h, CovisBuild).  NaN when none of those
	 * items has a list.
	 */
	FEAT_COVISIT,

	/*
	 * covisit_last: w(j → i) for the most recent history item j; NaN when
	 * the history is empty or j has no list.
	 */
	FEAT_COVISIT_LAST,

	/*
	 * category_affinity: the user's long-term weight of the item's category
	 * (rerank.user_features.category_weights: accumulated event weights)
	 * over the largest of the user's category weights, in [0, 1]; 0 when
	 * the user has none; NaN when the item has no category.
	 */
	FEAT_CATEGORY_AFFINITY,

	/*
	 * category_recent: Σ_{j in c} r_j·2^(−a_j / 1 day) / Σ_j r_j·2^(−a_j /
	 * 1 day) over the history items j (accumulated weight r_j, age a_j
	 * since their last event; items of unknown time left out), c the item's
	 * category: the decayed share of the user's recent weight in the
	 * category, in [0, 1]; 0 when the sum is 0; NaN when the item has no
	 * category.
	 */
	FEAT_CATEGORY_RECENT,

	/*
	 * category_session: 1 when a history item of the item's category was
	 * touched in the current session (see revisit_session), else 0; NaN
	 * when the item has no category or, as for revisit_session, the
	 * session start is unknown.
	 */
	FEAT_CATEGORY_SESSION,

	/*
	 * brand_affinity: Σ_{j of brand b} r_j / Σ_j r_j over the history items,
	 * b the item's brand, in [0, 1]; 0 when the sum is 0; NaN when the item
	 * has no brand.
	 */
	FEAT_BRAND_AFFINITY,

	/* brand_recent: as category_recent, for the item's brand. */
	FEAT_BRAND_RECENT,

	/*
	 * popularity: log(1 + P_day(i)) / log(1 + max_k P_day(k)) with P_day
	 * the item's event count decayed with a half-life of one day, both
	 * decayed from the statistics' time to now, the max over the catalog:
	 * in [0, 1]; 0 for an item without events; NaN when no statistics
	 * exist.
	 */
	FEAT_POPULARITY,

	/* popularity_week: as popularity, with the 7-day half-life. */
	FEAT_POPULARITY_WEEK,

	/*
	 * trend: log2((24·P_hour + 1) / (P_day + 1)): the last hour's rate of
	 * events against the last day's (each decayed count is a rate times
	 * its half-life); > 0 rising, < 0 falling, 0 for an item without
	 * events; NaN when no statistics exist.
	 */
	FEAT_TREND,

	/*
	 * item_newness: 1 / (1 + a / 1 day) with a the age since the item's
	 * first event in the log (rerank.item_stats.first_seen_at); NaN when
	 * it was never seen (or only after now).
	 */
	FEAT_ITEM_NEWNESS,

	/* position: 1 / log2(1 + p) for the upstream position p ≥ 1; NaN if unknown. */
	FEAT_POSITION,

	/* user_log_history: log2(1 + items in the user's history): per user. */
	FEAT_USER_LOG_HISTORY,

	/*
	 * session_active: 1 when the user's last event is at most
	 * FEAT_SESSION_GAP before now, else 0 (0 without events): per user.
	 */
	FEAT_SESSION_ACTIVE,

	FEATURE_COUNT
} FeatureId;

/* The name of a feature ("model_score", …), or NULL out of range. */
extern const char *FeatureName(int feature);

/* The feature of a name, or -1. */
extern int	FeatureByName(const char *name, size_t length);

/* ---- what is known about the user ---- */

/* One item of the user's history. */
typedef struct FeatHistoryItem
{
	int64_t		item_id;
	float		weight;			/* accumulated event weight (the fold-in's r) */
	int32_t		count;			/* events on the item while in the history */
	uint32_t	kinds;			/* FEAT_KIND_* bits of its events */
	double		last_at;		/* time of its last event; NaN: unknown */
	int32_t		category;		/* item's category number, -1: none */
	int32_t		brand;			/* item's brand number, -1: none */
} FeatHistoryItem;

/* A key (category number) and a weight. */
typedef struct FeatKeyWeight
{
	int32_t		key;			/* -1: a key the candidates cannot have */
	double		weight;
} FeatKeyWeight;

typedef struct FeatUser
{
	double		now;			/* when the features are computed */
	int			dims;			/* dimensions of the vectors below */
	const float *vector;		/* x_u, or NULL */
	const float *profile;		/* p_u of the recent items, or NULL */
	/* history: distinct items, most recently touched first */
	int			nhistory;
	const FeatHistoryItem *history;
	int			nrecent;		/* the first nrecent items are "recent" */
	double		recent_decay;	/* the j-th recent item weighs decay^j */
	double		session_start;	/* start of the last session; NaN: unknown */
	double		last_event_at;	/* the user's last event; NaN: none */
	/* purchased items (any order, duplicates allowed) */
	int			npurchased;
	const int64_t *purchased;
	/* long-term category weights (all of them: the max is over all) */
	int			ncategory_weights;
	const FeatKeyWeight *category_weights;
} FeatUser;

/* ---- what is known about each candidate ---- */

typedef struct FeatItem
{
	int64_t		item_id;
	int32_t		position;		/* 1-based upstream position; 0: unknown */
	/* the model: a vector, or scores given by the caller (item-kNN) */
	bool		in_model;
	const float *vector;		/* y_i (user->dims floats), or NULL */
	float		bias;
	double		norm;			/* ‖y_i‖, or < 0: computed when needed */
	bool		scores_given;	/* model_given and recent_given are used */
	double		model_given;	/* NaN: missing */
	double		recent_given;	/* NaN: missing */
	/* the catalog */
	int32_t		category;		/* -1: none */
	int32_t		brand;			/* -1: none */
	double		first_seen;		/* NaN: never seen */
	float		popularity[FEAT_POP_WINDOWS];	/* decayed counts at stats_at */
} FeatItem;

/* A co-visitation list: neighbor ids and weights, n entries. */
typedef struct FeatList
{
	int			n;
	const int64_t *ids;
	const float *weights;
} FeatList;

/*
 * Gives the co-visitation list of an item (false: none).  item_signals.h's
 * ItemSignalsListFn reads a block; a trainer may pass its own.
 */
typedef bool (*FeatListFn) (const void *arg, int64_t item_id, FeatList *list);

/* What is known about the catalog as a whole. */
typedef struct FeatCatalog
{
	bool		has_stats;		/* item statistics exist */
	double		stats_at;		/* the time FeatItem.popularity refers to */
	float		max_popularity[FEAT_POP_WINDOWS];	/* over the catalog, at stats_at */
	FeatListFn	list;			/* NULL: no co-visitation lists */
	const void *list_arg;
} FeatCatalog;

/* ---- per user and call ---- */

/* A small open-addressing map from int64 keys to an index (fields private). */
typedef struct FeatMap
{
	int64_t    *keys;
	int32_t    *values;			/* -1: empty slot */
	size_t		mask;
} FeatMap;

/* What FeatContextInit derives from the user once (fields private). */
typedef struct FeatContext
{
	const FeatUser *user;
	const FeatCatalog *catalog;
	bool		session_current;
	double		pop_decay[FEAT_POP_WINDOWS];	/* 2^(−(now − stats_at)/h) */
	double		pop_max[FEAT_POP_WINDOWS];	/* the catalog's max, decayed */
	double		pop_log_max[FEAT_POP_WINDOWS];	/* log(1 + pop_max) */
	FeatMap		history;		/* item id → history index */
	FeatMap		purchased;		/* item id → 0 */
	FeatMap		covisit;		/* item id → index into covis_* */
	double	   *covis_sum;		/* Σ_j d^j w(j → i) per neighbor */
	float	   *covis_last;		/* w(last → i) per neighbor */
	double		covis_total;	/* Σ_j d^j over recent items with a list */
	bool		covis_has_last; /* the most recent item has a list */
	FeatMap		categories;		/* category → index into the arrays below */
	double	   *category_affinity;
	double	   *category_recent;
	unsigned char *category_session;
	FeatMap		brands;			/* brand → index into brand_* */
	double	   *brand_affinity;
	double	   *brand_recent;
} FeatContext;

/*
 * Bytes of workspace FeatContextInit needs for this user and catalog
 * (it reads the lengths of the recent items' lists); 8-byte aligned.
 */
extern size_t FeatContextWorkspace(const FeatUser *user, const FeatCatalog *catalog);

/*
 * Derives the per-user state of a call.  user and catalog (and what they
 * point to) must outlive the context; workspace holds
 * FeatContextWorkspace(user, catalog) bytes.
 */
extern void FeatContextInit(FeatContext *context, const FeatUser *user,
							const FeatCatalog *catalog, void *workspace);

/* Fills row[FEATURE_COUNT] for one candidate (calls every function below). */
extern void FeatRow(const FeatContext *context, const FeatItem *item, double *row);

/*
 * A set of features: bit f for feature f.  FeatRowMasked computes only the
 * features of mask (the others are NaN), with the same values as FeatRow
 * and the functions below; serving asks for the features whose weight is
 * not 0 (FeatMaskOfWeights), explain() and a learned ranker for all.
 */
typedef uint32_t FeatMask;

#define FEAT_BIT(f) ((FeatMask) 1 << (f))
#define FEAT_MASK_ALL ((FeatMask) (((uint64_t) 1 << FEATURE_COUNT) - 1))

extern void FeatRowMasked(const FeatContext *context, const FeatItem *item,
						  FeatMask mask, double *row);
extern FeatMask FeatMaskOfWeights(const double *weights);

/*
 * One function per feature, each documented at its FeatureId above.  hist
 * is the item's history entry (NULL when not in the history); FeatRow finds
 * it once for all of them.
 */
extern const FeatHistoryItem *FeatHistoryEntry(const FeatContext *context,
											   int64_t item_id);
extern double FeatModelScore(const FeatContext *context, const FeatItem *item);
extern double FeatInModel(const FeatContext *context, const FeatItem *item);
extern double FeatRecentSimilarity(const FeatContext *context, const FeatItem *item);
extern double FeatRevisit(const FeatHistoryItem *hist);
extern double FeatRevisitRecency(const FeatContext *context, const FeatHistoryItem *hist);
extern double FeatRevisitLogCount(const FeatHistoryItem *hist);
extern double FeatRevisitLogWeight(const FeatHistoryItem *hist);
extern double FeatRevisitKind(const FeatHistoryItem *hist, uint32_t kind);
extern double FeatRevisitSession(const FeatContext *context, const FeatHistoryItem *hist);
extern double FeatPurchased(const FeatContext *context, const FeatItem *item);
extern double FeatCovisit(const FeatContext *context, const FeatItem *item);
extern double FeatCovisitLast(const FeatContext *context, const FeatItem *item);
extern double FeatCategoryAffinity(const FeatContext *context, const FeatItem *item);
extern double FeatCategoryRecent(const FeatContext *context, const FeatItem *item);
extern double FeatCategorySession(const FeatContext *context, const FeatItem *item);
extern double FeatBrandAffinity(const FeatContext *context, const FeatItem *item);
extern double FeatBrandRecent(const FeatContext *context, const FeatItem *item);
extern double FeatPopularity(const FeatContext *context, const FeatItem *item,
							 FeatPopWindow window);
extern double FeatTrend(const FeatContext *context, const FeatItem *item);
extern double FeatItemNewness(const FeatContext *context, const FeatItem *item);
extern double FeatPosition(const FeatItem *item);
extern double FeatUserLogHistory(const FeatContext *context);
extern double FeatSessionActive(const FeatContext *context);

/* ---- the hand-weighted blend ---- */

/*
 * score = Σ_f weights[f]·row[f] over the features whose value is not NaN
 * (a missing feature adds nothing); terms[f] (when not NULL) receives each
 * weighted term (0 for a missing one), so the terms add up to the score.
 */
extern double FeatBlend(const double *row, const double *weights, double *terms);

#endif							/* RERANK_FEATURES_H */
