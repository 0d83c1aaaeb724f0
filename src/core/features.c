/*
 * features.c
 *	  The candidate features (see features.h for each definition).
 *
 * FeatContextInit does the per-user work once per call: maps from item id
 * to history entry, the purchased set, the co-visitation scores of every
 * neighbor of the recent items, and per category and brand the user's
 * affinities.  FeatRow then costs a few hash probes per candidate.  Every
 * map is an open-addressing table over the caller's workspace, sized for
 * at most half load.
 */
#include "core/features.h"

#include <math.h>
#include <string.h>

#include "core/id_hash.h"
#include "core/vec.h"

_Static_assert(FEATURE_COUNT <= 32, "a FeatMask holds every feature");

const double feat_pop_half_life[FEAT_POP_WINDOWS] = {3600.0, 86400.0, 604800.0};

static const char *const feature_names[FEATURE_COUNT] = {
	[FEAT_MODEL_SCORE] = "model_score",
	[FEAT_IN_MODEL] = "in_model",
	[FEAT_RECENT_SIMILARITY] = "recent_similarity",
	[FEAT_REVISIT] = "revisit",
	[FEAT_REVISIT_RECENCY] = "revisit_recency",
	[FEAT_REVISIT_LOG_COUNT] = "revisit_log_count",
	[FEAT_REVISIT_LOG_WEIGHT] = "revisit_log_weight",
	[FEAT_REVISIT_CLICKED] = "revisit_clicked",
	[FEAT_REVISIT_FAVORITED] = "revisit_favorited",
	[FEAT_REVISIT_CARTED] = "revisit_carted",
	[FEAT_REVISIT_SESSION] = "revisit_session",
	[FEAT_PURCHASED] = "purchased",
	[FEAT_COVISIT] = "covisit",
	[FEAT_COVISIT_LAST] = "covisit_last",
	[FEAT_CATEGORY_AFFINITY] = "category_affinity",
	[FEAT_CATEGORY_RECENT] = "category_recent",
	[FEAT_CATEGORY_SESSION] = "category_session",
	[FEAT_BRAND_AFFINITY] = "brand_affinity",
	[FEAT_BRAND_RECENT] = "brand_recent",
	[FEAT_POPULARITY] = "popularity",
	[FEAT_POPULARITY_WEEK] = "popularity_week",
	[FEAT_TREND] = "trend",
	[FEAT_ITEM_NEWNESS] = "item_newness",
	[FEAT_POSITION] = "position",
	[FEAT_USER_LOG_HISTORY] = "user_log_history",
	[FEAT_SESSION_ACTIVE] = "session_active",
};

static const char *const kind_names[FEAT_KIND_COUNT] = {
	"view", "click", "favorite", "cart", "purchase"
};

const char *
FeatureName(int feature)
{
	if (feature < 0 || feature >= FEATURE_COUNT)
		return NULL;
	return feature_names[feature];
}

int
FeatureByName(const char *name, size_t length)
{
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		if (strlen(feature_names[f]) == length &&
			memcmp(feature_names[f], name, length) == 0)
			return f;
	}
	return -1;
}

uint32_t
FeatKindBit(const char *name, size_t length)
{
	for (int k = 0; k < FEAT_KIND_COUNT; k++)
	{
		if (strlen(kind_names[k]) == length && memcmp(kind_names[k], name, length) == 0)
			return 1u << k;
	}
	return 0;
}

/* ---- maps over the workspace ---- */

/* Slots for up to n keys: a power of two at least 2n (and 8). */
static size_t
MapSlots(size_t n)
{
	size_t		slots = 8;

	while (slots < 2 * n)
		slots <<= 1;
	return slots;
}

static size_t Rounded(size_t bytes);

/* Takes bytes from the workspace cursor (8-byte steps). */
static void *
Take(char **cursor, size_t bytes)
{
	void	   *p = *cursor;

	*cursor += Rounded(bytes);
	return p;
}

static void
MapInit(FeatMap *map, size_t n, char **cursor)
{
	size_t		slots = MapSlots(n);

	map->keys = Take(cursor, slots * sizeof(int64_t));
	map->values = Take(cursor, slots * sizeof(int32_t));
	map->mask = slots - 1;
	for (size_t i = 0; i < slots; i++)
		map->values[i] = -1;
}

/* The value of key, or -1. */
static int32_t
MapGet(const FeatMap *map, int64_t key)
{
	size_t		slot = (size_t) IdHash(key) & map->mask;

	while (map->values[slot] >= 0)
	{
		if (map->keys[slot] == key)
			return map->values[slot];
		slot = (slot + 1) & map->mask;
	}
	return -1;
}

/*
 * The value of key, inserting value when absent (the map is sized for
 * every key it gets).
 */
static int32_t
MapPut(FeatMap *map, int64_t key, int32_t value)
{
	size_t		slot = (size_t) IdHash(key) & map->mask;

	while (map->values[slot] >= 0)
	{
		if (map->keys[slot] == key)
			return map->values[slot];
		slot = (slot + 1) & map->mask;
	}
	map->keys[slot] = key;
	map->values[slot] = value;
	return value;
}

/* ---- per user ---- */

/* The recent items considered: min(nrecent, nhistory), at least 0. */
static int
RecentCount(const FeatUser *user)
{
	int			n = user->nrecent < user->nhistory ? user->nrecent : user->nhistory;

	return n > 0 ? n : 0;
}

/* Total length of the co-visitation lists of the recent items. */
static size_t
RecentListLength(const FeatUser *user, const FeatCatalog *catalog)
{
	size_t		total = 0;
	int			nrecent = RecentCount(user);

	if (catalog == NULL || catalog->list == NULL)
		return 0;
	for (int j = 0; j < nrecent; j++)
	{
		FeatList	list;

		if (catalog->list(catalog->list_arg, user->history[j].item_id, &list) && list.n > 0)
			total += (size_t) list.n;
	}
	return total;
}

/* Bytes Take hands out for a request of bytes. */
static size_t
Rounded(size_t bytes)
{
	return (bytes + 7) & ~(size_t) 7;
}

/* Bytes of a map for n keys, as MapInit takes them. */
static size_t
MapBytes(size_t n)
{
	size_t		slots = MapSlots(n);

	return Rounded(slots * sizeof(int64_t)) + Rounded(slots * sizeof(int32_t));
}

size_t
FeatContextWorkspace(const FeatUser *user, const FeatCatalog *catalog)
{
	size_t		nhistory = user->nhistory > 0 ? (size_t) user->nhistory : 0;
	size_t		npurchased = user->npurchased > 0 ? (size_t) user->npurchased : 0;
	size_t		ncat = nhistory + (user->ncategory_weights > 0 ? (size_t) user->ncategory_weights : 0);
	size_t		nlinks = RecentListLength(user, catalog);
	size_t		bytes = 0;

	/* mirrors the Take calls of FeatContextInit and its helpers */
	bytes += MapBytes(nhistory) + MapBytes(npurchased);
	bytes += MapBytes(nlinks) + Rounded((nlinks + 1) * sizeof(double)) +
		Rounded((nlinks + 1) * sizeof(float));
	bytes += MapBytes(ncat) + 2 * Rounded((ncat + 1) * sizeof(double)) + Rounded(ncat + 1);
	bytes += MapBytes(nhistory) + 2 * Rounded((nhistory + 1) * sizeof(double));
	return bytes;
}

/* 2^(−age / half_life) with age = max(now − t, 0). */
static double
Decay(double now, double t, double half_life)
{
	double		age = now - t;

	if (!(age > 0.0))
		return 1.0;
	return exp2(-age / half_life);
}

/* Whether history entry hist was touched in the current session. */
static bool
InSession(const FeatContext *context, const FeatHistoryItem *hist)
{
	return context->session_current &&
		!isnan(hist->last_at) && hist->last_at >= context->user->session_start;
}

/* The co-visitation scores of the neighbors of the recent items. */
static void
InitCovisit(FeatContext *context, char **cursor)
{
	const FeatUser *user = context->user;
	const FeatCatalog *catalog = context->catalog;
	size_t		nlinks = RecentListLength(user, catalog);
	int			nrecent = RecentCount(user);
	double		weight = 1.0;
	int32_t		next = 0;

	MapInit(&context->covisit, nlinks, cursor);
	context->covis_sum = Take(cursor, (nlinks + 1) * sizeof(double));
	context->covis_last = Take(cursor, (nlinks + 1) * sizeof(float));
	context->covis_total = 0.0;
	context->covis_has_last = false;
	if (nlinks == 0)
		return;
	for (int j = 0; j < nrecent; j++, weight *= user->recent_decay)
	{
		FeatList	list;

		if (!catalog->list(catalog->list_arg, user->history[j].item_id, &list) ||
			list.n <= 0)
			continue;
		context->covis_total += weight;
		if (j == 0)
			context->covis_has_last = true;
		for (int e = 0; e < list.n; e++)
		{
			int32_t		index = MapPut(&context->covisit, list.ids[e], next);
			double		w = list.weights[e];

			if (!isfinite(w))
				continue;
			if (index == next)
			{
				context->covis_sum[index] = 0.0;
				context->covis_last[index] = 0.0f;
				next++;
			}
			context->covis_sum[index] += weight * w;
			if (j == 0)
				context->covis_last[index] = (float) w;
		}
	}
}

/* Long-term, decayed and session affinities per category. */
static void
InitCategories(FeatContext *context, char **cursor)
{
	const FeatUser *user = context->user;
	size_t		ncat = (size_t) (user->nhistory > 0 ? user->nhistory : 0) +
		(size_t) (user->ncategory_weights > 0 ? user->ncategory_weights : 0);
	double		max = 0.0;
	double		total_recent = 0.0;
	int32_t		next = 0;

	MapInit(&context->categories, ncat, cursor);
	context->category_affinity = Take(cursor, (ncat + 1) * sizeof(double));
	context->category_recent = Take(cursor, (ncat + 1) * sizeof(double));
	context->category_session = Take(cursor, ncat + 1);

#define CATEGORY_INDEX(key) \
	do { \
		index = MapPut(&context->categories, (key), next); \
		if (index == next) \
		{ \
			context->category_affinity[index] = 0.0; \
			context->category_recent[index] = 0.0; \
			context->category_session[index] = 0; \
			next++; \
		} \
	} while (0)

	for (int c = 0; c < user->ncategory_weights; c++)
	{
		double		w = user->category_weights[c].weight;

		if (isfinite(w) && w > max)
			max = w;
	}
	for (int c = 0; c < user->ncategory_weights; c++)
	{
		double		w = user->category_weights[c].weight;
		int32_t		index;

		if (user->category_weights[c].key < 0 || !isfinite(w) || !(w > 0.0))
			continue;
		CATEGORY_INDEX(user->category_weights[c].key);
		context->category_affinity[index] = w / max < 1.0 ? w / max : 1.0;
	}
	for (int j = 0; j < user->nhistory; j++)
	{
		const FeatHistoryItem *hist = &user->history[j];
		double		r = hist->weight;
		double		decayed;
		int32_t		index;

		if (isnan(hist->last_at) || !isfinite(r) || !(r > 0.0))
			decayed = 0.0;
		else
			decayed = r * Decay(user->now, hist->last_at, FEAT_AFFINITY_HALF_LIFE);
		total_recent += decayed;
		if (hist->category < 0)
			continue;
		CATEGORY_INDEX(hist->category);
		context->category_recent[index] += decayed;
		if (InSession(context, hist))
			context->category_session[index] = 1;
	}
#undef CATEGORY_INDEX
	for (int32_t i = 0; i < next; i++)
		context->category_recent[i] = total_recent > 0.0 ?
			context->category_recent[i] / total_recent : 0.0;
}

/* Plain and decayed shares of the history's weight per brand. */
static void
InitBrands(FeatContext *context, char **cursor)
{
	const FeatUser *user = context->user;
	size_t		nhistory = user->nhistory > 0 ? (size_t) user->nhistory : 0;
	double		total = 0.0;
	double		total_recent = 0.0;
	int32_t		next = 0;

	MapInit(&context->brands, nhistory, cursor);
	context->brand_affinity = Take(cursor, (nhistory + 1) * sizeof(double));
	context->brand_recent = Take(cursor, (nhistory + 1) * sizeof(double));
	for (int j = 0; j < user->nhistory; j++)
	{
		const FeatHistoryItem *hist = &user->history[j];
		double		r = hist->weight;
		double		decayed = 0.0;
		int32_t		index;

		if (!isfinite(r) || !(r > 0.0))
			r = 0.0;
		if (r > 0.0 && !isnan(hist->last_at))
			decayed = r * Decay(user->now, hist->last_at, FEAT_AFFINITY_HALF_LIFE);
		total += r;
		total_recent += decayed;
		if (hist->brand < 0)
			continue;
		index = MapPut(&context->brands, hist->brand, next);
		if (index == next)
		{
			context->brand_affinity[index] = 0.0;
			context->brand_recent[index] = 0.0;
			next++;
		}
		context->brand_affinity[index] += r;
		context->brand_recent[index] += decayed;
	}
	for (int32_t i = 0; i < next; i++)
	{
		context->brand_affinity[i] = total > 0.0 ? context->brand_affinity[i] / total : 0.0;
		context->brand_recent[i] = total_recent > 0.0 ?
			context->brand_recent[i] / total_recent : 0.0;
	}
}

void
FeatContextInit(FeatContext *context, const FeatUser *user,
				const FeatCatalog *catalog, void *workspace)
{
	char	   *cursor = workspace;

	memset(context, 0, sizeof(FeatContext));
	context->user = user;
	context->catalog = catalog;
	context->session_current = !isnan(user->last_event_at) &&
		!isnan(user->session_start) &&
		user->now - user->last_event_at <= FEAT_SESSION_GAP;
	for (int w = 0; w < FEAT_POP_WINDOWS; w++)
	{
		double		max = catalog != NULL ? catalog->max_popularity[w] : 0.0;

		context->pop_decay[w] = catalog != NULL && catalog->has_stats ?
			Decay(user->now, catalog->stats_at, feat_pop_half_life[w]) : 0.0;
		/* the catalog's maximum, as FeatPopularity compares with it */
		context->pop_max[w] = isfinite(max) && max > 0.0 ? max * context->pop_decay[w] : 0.0;
		context->pop_log_max[w] = log1p(context->pop_max[w]);
	}

	MapInit(&context->history, user->nhistory > 0 ? user->nhistory : 0, &cursor);
	for (int j = 0; j < user->nhistory; j++)
		MapPut(&context->history, user->history[j].item_id, j);	/* first wins */
	MapInit(&context->purchased, user->npurchased > 0 ? user->npurchased : 0, &cursor);
	for (int j = 0; j < user->npurchased; j++)
		MapPut(&context->purchased, user->purchased[j], 0);
	InitCovisit(context, &cursor);
	InitCategories(context, &cursor);
	InitBrands(context, &cursor);
}

/* ---- one function per feature ---- */

const FeatHistoryItem *
FeatHistoryEntry(const FeatContext *context, int64_t item_id)
{
	int32_t		j = MapGet(&context->history, item_id);

	return j >= 0 ? &context->user->history[j] : NULL;
}

double
FeatModelScore(const FeatContext *context, const FeatItem *item)
{
	const FeatUser *user = context->user;

	if (item->scores_given)
		return item->model_given;
	if (user->vector == NULL || item->vector == NULL)
		return NAN;
	return VecDot(user->vector, item->vector, user->dims) + item->bias;
}

double
FeatInModel(const FeatContext *context, const FeatItem *item)
{
	(void) context;
	return item->in_model || item->vector != NULL ? 1.0 : 0.0;
}

double
FeatRecentSimilarity(const FeatContext *context, const FeatItem *item)
{
	const FeatUser *user = context->user;
	double		norm;

	if (item->scores_given)
		return item->recent_given;
	if (user->profile == NULL || item->vector == NULL)
		return NAN;
	norm = item->norm >= 0.0 ? item->norm : VecNorm(item->vector, user->dims);
	if (!(norm > 0.0))
		return NAN;
	return VecDot(user->profile, item->vector, user->dims) / norm;
}

double
FeatRevisit(const FeatHistoryItem *hist)
{
	return hist != NULL ? 1.0 : 0.0;
}

double
FeatRevisitRecency(const FeatContext *context, const FeatHistoryItem *hist)
{
	double		age;

	if (hist == NULL)
		return 0.0;
	if (isnan(hist->last_at))
		return NAN;
	age = context->user->now - hist->last_at;
	if (!(age > 0.0))
		age = 0.0;
	return 1.0 / (1.0 + age / FEAT_REVISIT_SCALE);
}

double
FeatRevisitLogCount(const FeatHistoryItem *hist)
{
	if (hist == NULL || hist->count <= 0)
		return 0.0;
	return log2(1.0 + hist->count);
}

double
FeatRevisitLogWeight(const FeatHistoryItem *hist)
{
	if (hist == NULL || !isfinite(hist->weight) || !(hist->weight > 0.0f))
		return 0.0;
	return log2(1.0 + hist->weight);
}

double
FeatRevisitKind(const FeatHistoryItem *hist, uint32_t kind)
{
	return hist != NULL && (hist->kinds & kind) != 0 ? 1.0 : 0.0;
}

double
FeatRevisitSession(const FeatContext *context, const FeatHistoryItem *hist)
{
	if (isnan(context->user->session_start) && !isnan(context->user->last_event_at))
		return NAN;
	if (hist == NULL)
		return 0.0;
	return InSession(context, hist) ? 1.0 : 0.0;
}

double
FeatPurchased(const FeatContext *context, const FeatItem *item)
{
	return MapGet(&context->purchased, item->item_id) >= 0 ? 1.0 : 0.0;
}

/*
 * The lookups several features share, each done once per candidate by
 * FeatRowMasked: the index of the item in the co-visitation sums, of its
 * category and of its brand in the per-user arrays (-1: none).
 */
static int32_t
CovisitIndex(const FeatContext *context, const FeatItem *item)
{
	if (!(context->covis_total > 0.0) && !context->covis_has_last)
		return -1;
	return MapGet(&context->covisit, item->item_id);
}

static int32_t
CategoryIndex(const FeatContext *context, const FeatItem *item)
{
	return item->category >= 0 ? MapGet(&context->categories, item->category) : -1;
}

static int32_t
BrandIndex(const FeatContext *context, const FeatItem *item)
{
	return item->brand >= 0 ? MapGet(&context->brands, item->brand) : -1;
}

static double
CovisitAt(const FeatContext *context, int32_t index)
{
	if (!(context->covis_total > 0.0))
		return NAN;
	return index >= 0 ? context->covis_sum[index] / context->covis_total : 0.0;
}

static double
CovisitLastAt(const FeatContext *context, int32_t index)
{
	if (!context->covis_has_last)
		return NAN;
	return index >= 0 ? context->covis_last[index] : 0.0;
}

static double
CategoryAffinityAt(const FeatContext *context, const FeatItem *item, int32_t index)
{
	if (item->category < 0)
		return NAN;
	return index >= 0 ? context->category_affinity[index] : 0.0;
}

static double
CategoryRecentAt(const FeatContext *context, const FeatItem *item, int32_t index)
{
	if (item->category < 0)
		return NAN;
	return index >= 0 ? context->category_recent[index] : 0.0;
}

static double
CategorySessionAt(const FeatContext *context, const FeatItem *item, int32_t index)
{
	if (item->category < 0)
		return NAN;
	if (isnan(context->user->session_start) && !isnan(context->user->last_event_at))
		return NAN;
	return index >= 0 ? (double) context->category_session[index] : 0.0;
}

static double
BrandAffinityAt(const FeatContext *context, const FeatItem *item, int32_t index)
{
	if (item->brand < 0)
		return NAN;
	return index >= 0 ? context->brand_affinity[index] : 0.0;
}

static double
BrandRecentAt(const FeatContext *context, const FeatItem *item, int32_t index)
{
	if (item->brand < 0)
		return NAN;
	return index >= 0 ? context->brand_recent[index] : 0.0;
}

double
FeatCovisit(const FeatContext *context, const FeatItem *item)
{
	return CovisitAt(context, CovisitIndex(context, item));
}

double
FeatCovisitLast(const FeatContext *context, const FeatItem *item)
{
	return CovisitLastAt(context, CovisitIndex(context, item));
}

double
FeatCategoryAffinity(const FeatContext *context, const FeatItem *item)
{
	return CategoryAffinityAt(context, item, CategoryIndex(context, item));
}

double
FeatCategoryRecent(const FeatContext *context, const FeatItem *item)
{
	return CategoryRecentAt(context, item, CategoryIndex(context, item));
}

double
FeatCategorySession(const FeatContext *context, const FeatItem *item)
{
	return CategorySessionAt(context, item, CategoryIndex(context, item));
}

double
FeatBrandAffinity(const FeatContext *context, const FeatItem *item)
{
	return BrandAffinityAt(context, item, BrandIndex(context, item));
}

double
FeatBrandRecent(const FeatContext *context, const FeatItem *item)
{
	return BrandRecentAt(context, item, BrandIndex(context, item));
}

/* The decayed count of window w at now, or NaN without statistics. */
static double
PopAtNow(const FeatContext *context, const FeatItem *item, int w)
{
	double		count = item->popularity[w];

	if (context->catalog == NULL || !context->catalog->has_stats)
		return NAN;
	if (!isfinite(count) || !(count > 0.0))
		return 0.0;
	return count * context->pop_decay[w];
}

double
FeatPopularity(const FeatContext *context, const FeatItem *item, FeatPopWindow window)
{
	double		count = PopAtNow(context, item, window);
	double		max = context->pop_max[window];

	if (isnan(count))
		return NAN;
	if (!(max > 0.0))
		return 0.0;
	if (count >= max)
		return 1.0;
	if (count == 0.0)
		return 0.0;
	return log1p(count) / context->pop_log_max[window];
}

double
FeatTrend(const FeatContext *context, const FeatItem *item)
{
	double		hour = PopAtNow(context, item, FEAT_POP_HOUR);
	double		day = PopAtNow(context, item, FEAT_POP_DAY);

	if (isnan(hour) || isnan(day))
		return NAN;
	return log2((24.0 * hour + 1.0) / (day + 1.0));
}

double
FeatItemNewness(const FeatContext *context, const FeatItem *item)
{
	double		age;

	if (isnan(item->first_seen) || item->first_seen > context->user->now)
		return NAN;
	age = context->user->now - item->first_seen;
	return 1.0 / (1.0 + age / FEAT_NEWNESS_SCALE);
}

double
FeatPosition(const FeatItem *item)
{
	if (item->position < 1)
		return NAN;
	return 1.0 / log2(1.0 + item->position);
}

double
FeatUserLogHistory(const FeatContext *context)
{
	return log2(1.0 + (context->user->nhistory > 0 ? context->user->nhistory : 0));
}

double
FeatSessionActive(const FeatContext *context)
{
	const FeatUser *user = context->user;

	return !isnan(user->last_event_at) && user->now - user->last_event_at <= FEAT_SESSION_GAP ?
		1.0 : 0.0;
}

/* The features of a row that need the item's history entry, … */
#define MASK_HISTORY (FEAT_BIT(FEAT_REVISIT) | FEAT_BIT(FEAT_REVISIT_RECENCY) | \
					  FEAT_BIT(FEAT_REVISIT_LOG_COUNT) | FEAT_BIT(FEAT_REVISIT_LOG_WEIGHT) | \
					  FEAT_BIT(FEAT_REVISIT_CLICKED) | FEAT_BIT(FEAT_REVISIT_FAVORITED) | \
					  FEAT_BIT(FEAT_REVISIT_CARTED) | FEAT_BIT(FEAT_REVISIT_SESSION))
#define MASK_COVISIT (FEAT_BIT(FEAT_COVISIT) | FEAT_BIT(FEAT_COVISIT_LAST))
#define MASK_CATEGORY (FEAT_BIT(FEAT_CATEGORY_AFFINITY) | FEAT_BIT(FEAT_CATEGORY_RECENT) | \
					   FEAT_BIT(FEAT_CATEGORY_SESSION))
#define MASK_BRAND (FEAT_BIT(FEAT_BRAND_AFFINITY) | FEAT_BIT(FEAT_BRAND_RECENT))

void
FeatRow(const FeatContext *context, const FeatItem *item, double *row)
{
	FeatRowMasked(context, item, FEAT_MASK_ALL, row);
}

FeatMask
FeatMaskOfWeights(const double *weights)
{
	FeatMask	mask = 0;

	for (int f = 0; f < FEATURE_COUNT; f++)
		if (weights[f] != 0.0)
			mask |= FEAT_BIT(f);
	return mask;
}

void
FeatRowMasked(const FeatContext *context, const FeatItem *item, FeatMask mask,
			  double *row)
{
	const FeatHistoryItem *hist = NULL;
	int32_t		covisit = -1;
	int32_t		category = -1;
	int32_t		brand = -1;

	/* each map is probed once, and only when a wanted feature reads it */
	if (mask & MASK_HISTORY)
		hist = FeatHistoryEntry(context, item->item_id);
	if (mask & MASK_COVISIT)
		covisit = CovisitIndex(context, item);
	if (mask & MASK_CATEGORY)
		category = CategoryIndex(context, item);
	if (mask & MASK_BRAND)
		brand = BrandIndex(context, item);

#define SET(f, value) (row[f] = (mask & FEAT_BIT(f)) ? (value) : NAN)
	SET(FEAT_MODEL_SCORE, FeatModelScore(context, item));
	SET(FEAT_IN_MODEL, FeatInModel(context, item));
	SET(FEAT_RECENT_SIMILARITY, FeatRecentSimilarity(context, item));
	SET(FEAT_REVISIT, FeatRevisit(hist));
	SET(FEAT_REVISIT_RECENCY, FeatRevisitRecency(context, hist));
	SET(FEAT_REVISIT_LOG_COUNT, FeatRevisitLogCount(hist));
	SET(FEAT_REVISIT_LOG_WEIGHT, FeatRevisitLogWeight(hist));
	SET(FEAT_REVISIT_CLICKED, FeatRevisitKind(hist, FEAT_KIND_CLICK));
	SET(FEAT_REVISIT_FAVORITED, FeatRevisitKind(hist, FEAT_KIND_FAVORITE));
	SET(FEAT_REVISIT_CARTED, FeatRevisitKind(hist, FEAT_KIND_CART));
	SET(FEAT_REVISIT_SESSION, FeatRevisitSession(context, hist));
	SET(FEAT_PURCHASED, FeatPurchased(context, item));
	SET(FEAT_COVISIT, CovisitAt(context, covisit));
	SET(FEAT_COVISIT_LAST, CovisitLastAt(context, covisit));
	SET(FEAT_CATEGORY_AFFINITY, CategoryAffinityAt(context, item, category));
	SET(FEAT_CATEGORY_RECENT, CategoryRecentAt(context, item, category));
	SET(FEAT_CATEGORY_SESSION, CategorySessionAt(context, item, category));
	SET(FEAT_BRAND_AFFINITY, BrandAffinityAt(context, item, brand));
	SET(FEAT_BRAND_RECENT, BrandRecentAt(context, item, brand));
	SET(FEAT_POPULARITY, FeatPopularity(context, item, FEAT_POP_DAY));
	SET(FEAT_POPULARITY_WEEK, FeatPopularity(context, item, FEAT_POP_WEEK));
	SET(FEAT_TREND, FeatTrend(context, item));
	SET(FEAT_ITEM_NEWNESS, FeatItemNewness(context, item));
	SET(FEAT_POSITION, FeatPosition(item));
	SET(FEAT_USER_LOG_HISTORY, FeatUserLogHistory(context));
	SET(FEAT_SESSION_ACTIVE, FeatSessionActive(context));
#undef SET
}

double
FeatBlend(const double *row, const double *weights, double *terms)
{
	double		score = 0.0;

	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		double		term = 0.0;

		if (weights[f] != 0.0 && !isnan(row[f]))
			term = weights[f] * row[f];
		if (terms != NULL)
			terms[f] = term;
		score += term;
	}
	return score;
}
