/*
 * test_recent_history.c
 *	  Unit tests of src/core/recent_history.c.
 */
#include "core/recent_history.h"
#include "unit.h"

#include <stddef.h>

UNIT_TEST(history_touch_moves_to_front_and_accumulates)
{
	int64_t		items[4];
	float		weights[4];
	RecentHistory h = {0, 4, items, weights, NULL, NULL, NULL};

	HistoryTouch(&h, 4, 10, 1);
	HistoryTouch(&h, 4, 20, 2);
	HistoryTouch(&h, 4, 30, 4);
	CHECK(h.n == 3);
	CHECK(items[0] == 30 && items[1] == 20 && items[2] == 10);
	/* touching an older item moves it to the front with its sum */
	HistoryTouch(&h, 4, 10, 8);
	CHECK(h.n == 3);
	CHECK(items[0] == 10 && items[1] == 30 && items[2] == 20);
	CHECK_NEAR(weights[0], 9, 0);
	CHECK_NEAR(weights[1], 4, 0);
	CHECK_NEAR(weights[2], 2, 0);
	/* touching the front item keeps the order */
	HistoryTouch(&h, 4, 10, 1);
	CHECK(items[0] == 10 && h.n == 3);
	CHECK_NEAR(weights[0], 10, 0);
}

UNIT_TEST(history_touch_drops_the_oldest_when_full)
{
	int64_t		items[3];
	float		weights[3];
	RecentHistory h = {0, 3, items, weights, NULL, NULL, NULL};

	for (int64_t i = 1; i <= 5; i++)
		HistoryTouch(&h, 3, i, (float) i);
	CHECK(h.n == 3);
	CHECK(items[0] == 5 && items[1] == 4 && items[2] == 3);
	CHECK_NEAR(weights[2], 3, 0);
	/* a lower limit truncates at once; a limit above capacity is clamped */
	HistoryTouch(&h, 2, 4, 1);
	CHECK(h.n == 2 && items[0] == 4 && items[1] == 5);
	CHECK_NEAR(weights[0], 5, 0);
	HistoryTouch(&h, 100, 9, 1);
	CHECK(h.n == 3 && items[0] == 9 && items[2] == 5);
	/* limit 0 keeps nothing */
	HistoryTruncate(&h, 0);
	HistoryTouch(&h, 0, 1, 1);
	CHECK(h.n == 0);
}

UNIT_TEST(history_touch_without_weights)
{
	int64_t		items[2];
	RecentHistory h = {0, 2, items, NULL, NULL, NULL, NULL};

	HistoryTouch(&h, 2, 1, 0);
	HistoryTouch(&h, 2, 2, 0);
	HistoryTouch(&h, 2, 1, 0);
	CHECK(h.n == 2 && items[0] == 1 && items[1] == 2);
	HistoryTouch(&h, 2, 3, 0);
	CHECK(h.n == 2 && items[0] == 3 && items[1] == 1);
}

UNIT_TEST(history_fold_in_input_skips_unknown_and_weightless)
{
	float		a[2] = {1, 2},
				b[2] = {3, 4};
	const float *vectors[5] = {a, NULL, b, a, b};
	float		weights[5] = {2, 5, 0, 1, NAN};
	const float *kept[5];
	double		confidence[5];
	int			n = HistoryFoldInInput(weights, vectors, 5, 0.5, kept, confidence);

	CHECK(n == 2);
	CHECK(kept[0] == a && kept[1] == a);
	CHECK_NEAR(confidence[0], 2.0, 1e-12);
	CHECK_NEAR(confidence[1], 1.5, 1e-12);
}

UNIT_TEST(history_merge_repeats)
{
	int64_t		items[7] = {5, 3, 5, 9, 3, 5, 1};
	float		weights[7] = {1, 2, 4, 8, 16, 32, 64};
	HistoryMergeEntry work[7];
	int			n = HistoryMerge(items, weights, 7, work);

	/* each item once, at its first position, weights added */
	CHECK(n == 4);
	CHECK(items[0] == 5 && items[1] == 3 && items[2] == 9 && items[3] == 1);
	CHECK_NEAR(weights[0], 37, 0);
	CHECK_NEAR(weights[1], 18, 0);
	CHECK_NEAR(weights[2], 8, 0);
	CHECK_NEAR(weights[3], 64, 0);
}

UNIT_TEST(history_merge_without_repeats_keeps_everything)
{
	int64_t		items[4] = {4, -2, 7, 0};
	float		weights[4] = {0.5f, 1, 0, 3};
	HistoryMergeEntry work[4];

	CHECK(HistoryMerge(items, weights, 4, work) == 4);
	CHECK(items[0] == 4 && items[1] == -2 && items[2] == 7 && items[3] == 0);
	CHECK_NEAR(weights[0], 0.5, 0);
	CHECK_NEAR(weights[2], 0, 0);
	CHECK(HistoryMerge(items, weights, 1, work) == 1);
	CHECK(HistoryMerge(items, weights, 0, work) == 0);
}

UNIT_TEST(history_merge_overflow_changes_nothing)
{
	int64_t		items[3] = {1, 2, 1};
	float		weights[3] = {3e38f, 1, 3e38f};
	HistoryMergeEntry work[3];

	CHECK(HistoryMerge(items, weights, 3, work) == -1);
	CHECK(items[2] == 1);
	CHECK_NEAR(weights[0], 3e38f, 0);
	CHECK_NEAR(weights[2], 3e38f, 0);
}
