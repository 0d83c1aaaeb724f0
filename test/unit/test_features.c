/*
 * test_features.c
 *	  Unit tests of src/core/features.c and the history and session updates
 *	  of src/core/recent_history.c that feed it.
 */
#include "core/features.h"
#include "core/item_signals.h"
#include "core/recent_history.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HOUR 3600.0
#define DAY 86400.0

/* A context over a fresh workspace (freed by FreeContext). */
static void *
MakeContext(FeatContext *context, const FeatUser *user, const FeatCatalog *catalog)
{
	size_t		bytes = FeatContextWorkspace(user, catalog);
	void	   *work = malloc(bytes + 8);

	/* poison: the context must initialize what it reads */
	memset(work, 0xa5, bytes + 8);
	FeatContextInit(context, user, catalog, work);
	return work;
}

static void
EmptyUser(FeatUser *user, double now)
{
	memset(user, 0, sizeof(FeatUser));
	user->now = now;
	user->recent_decay = 0.5;
	user->nrecent = 20;
	user->session_start = NAN;
	user->last_event_at = NAN;
}

static void
EmptyItem(FeatItem *item, int64_t id, int32_t position)
{
	memset(item, 0, sizeof(FeatItem));
	item->item_id = id;
	item->position = position;
	item->category = -1;
	item->brand = -1;
	item->first_seen = NAN;
	item->norm = -1.0;
	item->model_given = NAN;
	item->recent_given = NAN;
}

static bool
Same(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/*
 * FeatRow, checked against the per-feature functions and against
 * FeatRowMasked under several masks (same values, NaN outside the mask).
 */
static void
Row(const FeatContext *context, const FeatItem *item, double *row)
{
	const FeatHistoryItem *hist = FeatHistoryEntry(context, item->item_id);
	double		each[FEATURE_COUNT];
	double		masked[FEATURE_COUNT];
	FeatMask	masks[] = {0, FEAT_MASK_ALL, 0x2aaaaaa, 0x1555555, FEAT_BIT(FEAT_COVISIT),
	FEAT_BIT(FEAT_CATEGORY_SESSION) | FEAT_BIT(FEAT_BRAND_RECENT) | FEAT_BIT(FEAT_REVISIT)};

	FeatRow(context, item, row);
	each[FEAT_MODEL_SCORE] = FeatModelScore(context, item);
	each[FEAT_IN_MODEL] = FeatInModel(context, item);
	each[FEAT_RECENT_SIMILARITY] = FeatRecentSimilarity(context, item);
	each[FEAT_REVISIT] = FeatRevisit(hist);
	each[FEAT_REVISIT_RECENCY] = FeatRevisitRecency(context, hist);
	each[FEAT_REVISIT_LOG_COUNT] = FeatRevisitLogCount(hist);
	each[FEAT_REVISIT_LOG_WEIGHT] = FeatRevisitLogWeight(hist);
	each[FEAT_REVISIT_CLICKED] = FeatRevisitKind(hist, FEAT_KIND_CLICK);
	each[FEAT_REVISIT_FAVORITED] = FeatRevisitKind(hist, FEAT_KIND_FAVORITE);
	each[FEAT_REVISIT_CARTED] = FeatRevisitKind(hist, FEAT_KIND_CART);
	each[FEAT_REVISIT_SESSION] = FeatRevisitSession(context, hist);
	each[FEAT_PURCHASED] = FeatPurchased(context, item);
	each[FEAT_COVISIT] = FeatCovisit(context, item);
	each[FEAT_COVISIT_LAST] = FeatCovisitLast(context, item);
	each[FEAT_CATEGORY_AFFINITY] = FeatCategoryAffinity(context, item);
	each[FEAT_CATEGORY_RECENT] = FeatCategoryRecent(context, item);
	each[FEAT_CATEGORY_SESSION] = FeatCategorySession(context, item);
	each[FEAT_BRAND_AFFINITY] = FeatBrandAffinity(context, item);
	each[FEAT_BRAND_RECENT] = FeatBrandRecent(context, item);
	each[FEAT_POPULARITY] = FeatPopularity(context, item, FEAT_POP_DAY);
	each[FEAT_POPULARITY_WEEK] = FeatPopularity(context, item, FEAT_POP_WEEK);
	each[FEAT_TREND] = FeatTrend(context, item);
	each[FEAT_ITEM_NEWNESS] = FeatItemNewness(context, item);
	each[FEAT_POSITION] = FeatPosition(item);
	each[FEAT_USER_LOG_HISTORY] = FeatUserLogHistory(context);
	each[FEAT_SESSION_ACTIVE] = FeatSessionActive(context);
	for (int f = 0; f < FEATURE_COUNT; f++)
		CHECK(Same(row[f], each[f]));
	for (size_t m = 0; m < sizeof(masks) / sizeof(masks[0]); m++)
	{
		FeatRowMasked(context, item, masks[m], masked);
		for (int f = 0; f < FEATURE_COUNT; f++)
			CHECK(Same(masked[f], (masks[m] & FEAT_BIT(f)) ? row[f] : NAN));
	}
}

UNIT_TEST(features_names_are_unique_and_complete)
{
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		const char *name = FeatureName(f);

		CHECK(name != NULL);
		if (name == NULL)
			continue;
		CHECK(FeatureByName(name, strlen(name)) == f);
	}
	CHECK(FeatureName(FEATURE_COUNT) == NULL && FeatureName(-1) == NULL);
	CHECK(FeatureByName("model", 5) == -1);
	CHECK(FeatKindBit("cart", 4) == FEAT_KIND_CART);
	CHECK(FeatKindBit("carts", 5) == 0);
	CHECK(FEATURE_COUNT == 26);
}

UNIT_TEST(features_of_a_cold_user_and_a_bare_item)
{
	FeatUser	user;
	FeatCatalog catalog;
	FeatContext context;
	FeatItem	item;
	double		row[FEATURE_COUNT];
	void	   *work;

	EmptyUser(&user, 1000.0);
	memset(&catalog, 0, sizeof(catalog));
	work = MakeContext(&context, &user, &catalog);
	EmptyItem(&item, 7, 3);
	Row(&context, &item, row);
	CHECK(isnan(row[FEAT_MODEL_SCORE]));
	CHECK(row[FEAT_IN_MODEL] == 0.0);
	CHECK(isnan(row[FEAT_RECENT_SIMILARITY]));
	CHECK(row[FEAT_REVISIT] == 0.0 && row[FEAT_REVISIT_RECENCY] == 0.0);
	CHECK(row[FEAT_REVISIT_LOG_COUNT] == 0.0 && row[FEAT_REVISIT_LOG_WEIGHT] == 0.0);
	CHECK(row[FEAT_REVISIT_SESSION] == 0.0);	/* no events: no session */
	CHECK(row[FEAT_PURCHASED] == 0.0);
	CHECK(isnan(row[FEAT_COVISIT]) && isnan(row[FEAT_COVISIT_LAST]));
	CHECK(isnan(row[FEAT_CATEGORY_AFFINITY]) && isnan(row[FEAT_CATEGORY_RECENT]));
	CHECK(isnan(row[FEAT_CATEGORY_SESSION]));
	CHECK(isnan(row[FEAT_BRAND_AFFINITY]) && isnan(row[FEAT_BRAND_RECENT]));
	CHECK(isnan(row[FEAT_POPULARITY]) && isnan(row[FEAT_TREND]));
	CHECK(isnan(row[FEAT_ITEM_NEWNESS]));
	CHECK_NEAR(row[FEAT_POSITION], 0.5, 1e-15);
	CHECK(row[FEAT_USER_LOG_HISTORY] == 0.0 && row[FEAT_SESSION_ACTIVE] == 0.0);
	/* the blend leaves missing terms out */
	{
		double		weights[FEATURE_COUNT] = {0};
		double		terms[FEATURE_COUNT];

		weights[FEAT_MODEL_SCORE] = 1.0;
		weights[FEAT_POSITION] = 0.2;
		CHECK_NEAR(FeatBlend(row, weights, terms), 0.1, 1e-15);
		CHECK(terms[FEAT_MODEL_SCORE] == 0.0);
		CHECK_NEAR(terms[FEAT_POSITION], 0.1, 1e-15);
	}
	free(work);
}

UNIT_TEST(features_model_and_recent_terms)
{
	float		x[2] = {1.0f, 2.0f};
	float		p[2] = {0.6f, 0.8f};
	float		y[2] = {3.0f, 4.0f};
	FeatUser	user;
	FeatCatalog catalog;
	FeatContext context;
	FeatItem	item;
	void	   *work;

	EmptyUser(&user, 0.0);
	user.dims = 2;
	user.vector = x;
	user.profile = p;
	memset(&catalog, 0, sizeof(catalog));
	work = MakeContext(&context, &user, &catalog);
	EmptyItem(&item, 1, 1);
	item.vector = y;
	item.bias = 0.5f;
	CHECK_NEAR(FeatModelScore(&context, &item), 11.5, 1e-12);
	CHECK(FeatInModel(&context, &item) == 1.0);
	/* (0.6·3 + 0.8·4) / 5 */
	CHECK_NEAR(FeatRecentSimilarity(&context, &item), 1.0, 1e-6);
	item.norm = 10.0;			/* a given norm is used as is */
	CHECK_NEAR(FeatRecentSimilarity(&context, &item), 0.5, 1e-6);
	/* given scores (item-kNN) replace the vector terms */
	item.scores_given = true;
	item.model_given = 0.25;
	item.recent_given = NAN;
	CHECK_NEAR(FeatModelScore(&context, &item), 0.25, 0);
	CHECK(isnan(FeatRecentSimilarity(&context, &item)));
	/* a zero vector has no direction */
	{
		float		zero[2] = {0, 0};

		EmptyItem(&item, 2, 1);
		item.vector = zero;
		CHECK(isnan(FeatRecentSimilarity(&context, &item)));
		CHECK_NEAR(FeatModelScore(&context, &item), 0.0, 0);
	}
	free(work);
}

/* A catalog whose only list is given by these arrays. */
static const int64_t list_a_ids[3] = {20, 30, 40};
static const float list_a_weights[3] = {0.5f, 0.25f, 1.0f};
static const int64_t list_b_ids[2] = {30, 50};
static const float list_b_weights[2] = {1.0f, 0.5f};

static bool
TestLists(const void *arg, int64_t item_id, FeatList *list)
{
	(void) arg;
	if (item_id == 1)
	{
		list->n = 3;
		list->ids = list_a_ids;
		list->weights = list_a_weights;
		return true;
	}
	if (item_id == 2)
	{
		list->n = 2;
		list->ids = list_b_ids;
		list->weights = list_b_weights;
		return true;
	}
	return false;
}

UNIT_TEST(features_revisit_session_and_covisit)
{
	FeatHistoryItem history[3];
	int64_t		purchased[2] = {99, 2};
	FeatUser	user;
	FeatCatalog catalog;
	FeatContext context;
	FeatItem	item;
	double		row[FEATURE_COUNT];
	double		now = 10 * DAY;
	void	   *work;

	memset(history, 0, sizeof(history));
	/* most recent first: item 1 ten minutes ago, 3 (no list) an hour ago, 2 a day ago */
	history[0] = (FeatHistoryItem) {1, 3.0f, 2, FEAT_KIND_VIEW | FEAT_KIND_CART, now - 600, 5, 8};
	history[1] = (FeatHistoryItem) {3, 1.0f, 1, FEAT_KIND_VIEW, now - HOUR, 6, -1};
	history[2] = (FeatHistoryItem) {2, 7.0f, 4, FEAT_KIND_CLICK | FEAT_KIND_FAVORITE, now - DAY, 5, 9};
	EmptyUser(&user, now);
	user.history = history;
	user.nhistory = 3;
	user.nrecent = 3;
	user.recent_decay = 0.5;
	user.session_start = now - 2 * HOUR + 60;	/* items 1 and 3 are in the session */
	user.last_event_at = now - 600;
	user.purchased = purchased;
	user.npurchased = 2;
	memset(&catalog, 0, sizeof(catalog));
	catalog.list = TestLists;
	work = MakeContext(&context, &user, &catalog);

	/* the item last touched ten minutes ago */
	EmptyItem(&item, 1, 1);
	Row(&context, &item, row);
	CHECK(row[FEAT_REVISIT] == 1.0);
	CHECK_NEAR(row[FEAT_REVISIT_RECENCY], 1.0 / (1.0 + 600.0 / HOUR), 1e-12);
	CHECK_NEAR(row[FEAT_REVISIT_LOG_COUNT], log2(3.0), 1e-12);
	CHECK_NEAR(row[FEAT_REVISIT_LOG_WEIGHT], 2.0, 1e-12);
	CHECK(row[FEAT_REVISIT_CARTED] == 1.0 && row[FEAT_REVISIT_CLICKED] == 0.0);
	CHECK(row[FEAT_REVISIT_FAVORITED] == 0.0);
	CHECK(row[FEAT_REVISIT_SESSION] == 1.0);
	CHECK(row[FEAT_PURCHASED] == 0.0);
	CHECK(row[FEAT_SESSION_ACTIVE] == 1.0);
	CHECK_NEAR(row[FEAT_USER_LOG_HISTORY], 2.0, 1e-12);

	/* item 2: touched a day ago (not in this session), bought */
	EmptyItem(&item, 2, 1);
	Row(&context, &item, row);
	CHECK(row[FEAT_REVISIT_SESSION] == 0.0);
	CHECK(row[FEAT_REVISIT_CLICKED] == 1.0 && row[FEAT_REVISIT_FAVORITED] == 1.0);
	CHECK(row[FEAT_PURCHASED] == 1.0);
	CHECK_NEAR(row[FEAT_REVISIT_RECENCY], 1.0 / 25.0, 1e-12);

	/*
	 * co-visitation: recent items 1 (weight 1, list a), 3 (0.5, no list), 2
	 * (0.25, list b): the total counts 1 + 0.25.  Item 30 is in both lists.
	 */
	EmptyItem(&item, 30, 4);
	CHECK_NEAR(FeatCovisit(&context, &item), (1.0 * 0.25 + 0.25 * 1.0) / 1.25, 1e-6);
	CHECK_NEAR(FeatCovisitLast(&context, &item), 0.25, 1e-7);
	EmptyItem(&item, 50, 4);
	CHECK_NEAR(FeatCovisit(&context, &item), 0.25 * 0.5 / 1.25, 1e-6);
	CHECK(FeatCovisitLast(&context, &item) == 0.0);
	EmptyItem(&item, 77, 4);
	CHECK(FeatCovisit(&context, &item) == 0.0 && FeatCovisitLast(&context, &item) == 0.0);
	free(work);

	/* only the first recent item counts: nrecent 1 */
	user.nrecent = 1;
	work = MakeContext(&context, &user, &catalog);
	EmptyItem(&item, 30, 4);
	CHECK_NEAR(FeatCovisit(&context, &item), 0.25, 1e-7);
	EmptyItem(&item, 50, 4);
	CHECK(FeatCovisit(&context, &item) == 0.0);
	free(work);

	/* two hours later the session is over */
	user.nrecent = 3;
	user.now = now + 2 * HOUR;
	work = MakeContext(&context, &user, &catalog);
	EmptyItem(&item, 1, 1);
	Row(&context, &item, row);
	CHECK(row[FEAT_REVISIT_SESSION] == 0.0 && row[FEAT_SESSION_ACTIVE] == 0.0);
	free(work);

	/* a known last event without a session start: unknown */
	user.now = now;
	user.session_start = NAN;
	work = MakeContext(&context, &user, &catalog);
	Row(&context, &item, row);
	CHECK(isnan(row[FEAT_REVISIT_SESSION]));
	item.category = 5;
	CHECK(isnan(FeatCategorySession(&context, &item)));
	free(work);
}

UNIT_TEST(features_category_and_brand_affinities)
{
	FeatHistoryItem history[4];
	FeatKeyWeight weights[4] = {{5, 8.0}, {6, 2.0}, {-1, 16.0}, {7, -3.0}};
	FeatUser	user;
	FeatContext context;
	FeatItem	item;
	double		now = 100 * DAY;
	double		d1 = exp2(-1.0);	/* one half-life */
	double		total;
	void	   *work;

	memset(history, 0, sizeof(history));
	history[0] = (FeatHistoryItem) {1, 2.0f, 1, 0, now, 5, 8};
	history[1] = (FeatHistoryItem) {2, 4.0f, 1, 0, now - DAY, 6, 8};
	history[2] = (FeatHistoryItem) {3, 2.0f, 1, 0, now - 2 * DAY, 5, 9};
	history[3] = (FeatHistoryItem) {4, 8.0f, 1, 0, NAN, 5, -1};
	EmptyUser(&user, now);
	user.history = history;
	user.nhistory = 4;
	user.session_start = now - 60;
	user.last_event_at = now;
	user.category_weights = weights;
	user.ncategory_weights = 4;
	work = MakeContext(&context, &user, NULL);

	EmptyItem(&item, 10, 1);
	item.category = 5;
	item.brand = 8;
	/* long-term: 8 over the largest weight 16 (of a category no item has) */
	CHECK_NEAR(FeatCategoryAffinity(&context, &item), 0.5, 1e-12);
	/* decayed: items 1 (2·1) and 3 (2·1/4) of category 5; item 4 has no time */
	total = 2.0 + 4.0 * d1 + 2.0 * d1 * d1;
	CHECK_NEAR(FeatCategoryRecent(&context, &item), (2.0 + 0.5) / total, 1e-12);
	CHECK(FeatCategorySession(&context, &item) == 1.0);
	/* brand 8: items 1 and 2 of total weight 16 */
	CHECK_NEAR(FeatBrandAffinity(&context, &item), 6.0 / 16.0, 1e-12);
	CHECK_NEAR(FeatBrandRecent(&context, &item), (2.0 + 4.0 * d1) / total, 1e-12);
	{
		double		row[FEATURE_COUNT];

		Row(&context, &item, row);
		CHECK_NEAR(row[FEAT_CATEGORY_RECENT], (2.0 + 0.5) / total, 1e-12);
		CHECK(row[FEAT_CATEGORY_SESSION] == 1.0);
	}

	item.category = 6;
	item.brand = 9;
	CHECK_NEAR(FeatCategoryAffinity(&context, &item), 2.0 / 16.0, 1e-12);
	CHECK(FeatCategorySession(&context, &item) == 0.0);	/* a day ago */
	CHECK_NEAR(FeatBrandAffinity(&context, &item), 2.0 / 16.0, 1e-12);
	/* a category of negative weight and an unknown one */
	item.category = 7;
	item.brand = 3;
	CHECK(FeatCategoryAffinity(&context, &item) == 0.0);
	CHECK(FeatCategoryRecent(&context, &item) == 0.0);
	CHECK(FeatBrandAffinity(&context, &item) == 0.0);
	item.category = -1;
	item.brand = -1;
	CHECK(isnan(FeatCategoryAffinity(&context, &item)));
	CHECK(isnan(FeatBrandRecent(&context, &item)));
	free(work);
}

UNIT_TEST(features_popularity_trend_and_newness)
{
	FeatUser	user;
	FeatCatalog catalog;
	FeatContext context;
	FeatItem	item;
	ItemStats	stats;
	double		now = 50 * DAY;
	void	   *work;

	EmptyUser(&user, now);
	memset(&catalog, 0, sizeof(catalog));
	catalog.has_stats = true;
	catalog.stats_at = now - DAY;	/* statistics one day old */
	catalog.max_popularity[FEAT_POP_HOUR] = 10.0f;
	catalog.max_popularity[FEAT_POP_DAY] = 100.0f;
	catalog.max_popularity[FEAT_POP_WEEK] = 300.0f;
	work = MakeContext(&context, &user, &catalog);

	EmptyItem(&item, 1, 1);
	item.popularity[FEAT_POP_HOUR] = 2.0f;
	item.popularity[FEAT_POP_DAY] = 20.0f;
	item.popularity[FEAT_POP_WEEK] = 300.0f;
	/* both decayed by one day: halved */
	CHECK_NEAR(FeatPopularity(&context, &item, FEAT_POP_DAY), log1p(10.0) / log1p(50.0), 1e-6);
	CHECK_NEAR(FeatPopularity(&context, &item, FEAT_POP_WEEK), 1.0, 0);
	CHECK_NEAR(FeatTrend(&context, &item),
			   log2((24.0 * 2.0 * exp2(-24.0) + 1.0) / (10.0 + 1.0)), 1e-6);
	item.first_seen = now - 3 * DAY;
	CHECK_NEAR(FeatItemNewness(&context, &item), 0.25, 1e-12);
	{
		double		row[FEATURE_COUNT];

		Row(&context, &item, row);
		CHECK_NEAR(row[FEAT_ITEM_NEWNESS], 0.25, 1e-12);
		CHECK(row[FEAT_POPULARITY_WEEK] == 1.0);
	}
	item.first_seen = now;
	CHECK_NEAR(FeatItemNewness(&context, &item), 1.0, 0);
	item.first_seen = now + DAY;	/* not seen yet at now */
	CHECK(isnan(FeatItemNewness(&context, &item)));
	/* an item without events */
	EmptyItem(&item, 2, 1);
	CHECK(FeatPopularity(&context, &item, FEAT_POP_DAY) == 0.0);
	CHECK(FeatTrend(&context, &item) == 0.0);
	free(work);

	/* ItemStatsAdd: an event one half-life old counts 1/2 */
	ItemStatsInit(&stats);
	CHECK(isnan(stats.first_seen));
	ItemStatsAdd(&stats, 10 * DAY, 9 * DAY);
	ItemStatsAdd(&stats, 10 * DAY, 10 * DAY);
	ItemStatsAdd(&stats, 10 * DAY, 11 * DAY);	/* after "at": counts 1 */
	CHECK(stats.events == 3 && stats.first_seen == 9 * DAY);
	CHECK_NEAR(stats.popularity[FEAT_POP_DAY], 2.5, 1e-6);
	CHECK_NEAR(stats.popularity[FEAT_POP_HOUR], 2.0 + exp2(-24.0), 1e-6);
	CHECK_NEAR(stats.popularity[FEAT_POP_WEEK], 2.0 + exp2(-1.0 / 7.0), 1e-6);
	ItemStatsDecay(stats.popularity, 10 * DAY, 17 * DAY);
	CHECK_NEAR(stats.popularity[FEAT_POP_WEEK], (2.0 + exp2(-1.0 / 7.0)) / 2.0, 1e-6);
	ItemStatsDecay(stats.popularity, 17 * DAY, 16 * DAY);	/* backwards: nothing */
	CHECK_NEAR(stats.popularity[FEAT_POP_WEEK], (2.0 + exp2(-1.0 / 7.0)) / 2.0, 1e-6);
}

UNIT_TEST(history_record_keeps_counts_times_and_kinds)
{
	int64_t		items[3];
	float		weights[3];
	int32_t		counts[3];
	double		last_at[3];
	uint32_t	kinds[3];
	RecentHistory h = {0, 3, items, weights, counts, last_at, kinds};

	HistoryRecord(&h, 3, 10, 1.0f, 100.0, FEAT_KIND_VIEW);
	HistoryRecord(&h, 3, 20, 2.0f, 200.0, FEAT_KIND_CLICK);
	HistoryRecord(&h, 3, 10, 4.0f, 300.0, FEAT_KIND_CART);
	CHECK(h.n == 2 && items[0] == 10 && items[1] == 20);
	CHECK(counts[0] == 2 && counts[1] == 1);
	CHECK(last_at[0] == 300.0 && last_at[1] == 200.0);
	CHECK(kinds[0] == (FEAT_KIND_VIEW | FEAT_KIND_CART) && kinds[1] == FEAT_KIND_CLICK);
	CHECK_NEAR(weights[0], 5.0, 0);
	/* an event that arrives late keeps the later time */
	HistoryRecord(&h, 3, 20, 1.0f, 150.0, 0);
	CHECK(items[0] == 20 && last_at[0] == 200.0 && counts[0] == 2);
	/* a full history drops the oldest; the new item starts afresh */
	HistoryRecord(&h, 3, 30, 1.0f, 400.0, 0);
	HistoryRecord(&h, 3, 40, 1.0f, 500.0, FEAT_KIND_FAVORITE);
	CHECK(h.n == 3 && items[0] == 40 && items[2] == 20);
	CHECK(counts[0] == 1 && last_at[0] == 500.0 && kinds[0] == FEAT_KIND_FAVORITE);
	CHECK(counts[2] == 2 && last_at[2] == 200.0);
	/* an unknown time stays unknown until a known one arrives */
	HistoryRecord(&h, 3, 50, 1.0f, NAN, 0);
	CHECK(isnan(last_at[0]));
	HistoryRecord(&h, 3, 50, 1.0f, 600.0, 0);
	CHECK(last_at[0] == 600.0 && counts[0] == 2);
}

UNIT_TEST(session_touch_cuts_at_the_gap)
{
	double		start = NAN,
				last = NAN;

	SessionTouch(&start, &last, 1000.0, FEAT_SESSION_GAP);
	CHECK(start == 1000.0 && last == 1000.0);
	SessionTouch(&start, &last, 1000.0 + FEAT_SESSION_GAP, FEAT_SESSION_GAP);
	CHECK(start == 1000.0);		/* a gap of exactly the limit continues */
	SessionTouch(&start, &last, 1000.0 + 2 * FEAT_SESSION_GAP + 1, FEAT_SESSION_GAP);
	CHECK(start == 1000.0 + 2 * FEAT_SESSION_GAP + 1 && last == start);
	/* a late event inside the gap before the start moves the start back */
	SessionTouch(&start, &last, start - 100, FEAT_SESSION_GAP);
	CHECK(start == 1000.0 + 2 * FEAT_SESSION_GAP + 1 - 100);
	CHECK(last == 1000.0 + 2 * FEAT_SESSION_GAP + 1);
	/* a late event long before changes nothing */
	SessionTouch(&start, &last, 0.0, FEAT_SESSION_GAP);
	CHECK(start == 1000.0 + 2 * FEAT_SESSION_GAP + 1 - 100);
	SessionTouch(&start, &last, NAN, FEAT_SESSION_GAP);
	CHECK(last == 1000.0 + 2 * FEAT_SESSION_GAP + 1);
}

UNIT_TEST(features_mask_of_weights)
{
	double		weights[FEATURE_COUNT] = {0};

	CHECK(FeatMaskOfWeights(weights) == 0);
	weights[FEAT_MODEL_SCORE] = 1.0;
	weights[FEAT_SESSION_ACTIVE] = -0.5;
	CHECK(FeatMaskOfWeights(weights) ==
		  (FEAT_BIT(FEAT_MODEL_SCORE) | FEAT_BIT(FEAT_SESSION_ACTIVE)));
	for (int f = 0; f < FEATURE_COUNT; f++)
		weights[f] = 1.0;
	CHECK(FeatMaskOfWeights(weights) == FEAT_MASK_ALL);
	CHECK((FEAT_MASK_ALL >> (FEATURE_COUNT - 1)) == 1);
}
