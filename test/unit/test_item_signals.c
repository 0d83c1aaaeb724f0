/*
 * test_item_signals.c
 *	  Unit tests of src/core/item_signals.c: co-visitation lists and the
 *	  flat block of item signals.
 */
#include "core/item_signals.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* n(i) of the last Build. */
static int32_t last_sessions[16];

/* Runs CovisBuild over sessions; lists in offsets/neighbors/weights. */
static int64_t
Build(int32_t nitems, int64_t nsessions, const int64_t *starts, int32_t *items,
	  int window, int neighbors, int min_count, int64_t *offsets,
	  int32_t *out_neighbors, float *out_weights)
{
	CovisParams params = {window, neighbors, min_count};
	size_t		bytes = CovisWorkspace(nitems, starts[nsessions], nsessions, neighbors);
	void	   *work = malloc(bytes);
	int64_t		total;

	memset(work, 0x5a, bytes);
	total = CovisBuild(nitems, nsessions, starts, items, &params, offsets,
					   out_neighbors, out_weights, last_sessions, work, NULL);
	free(work);
	return total;
}

UNIT_TEST(covis_counts_sessions_not_events)
{
	/*
	 * sessions: [0 1 0 2], [1 0], [3], [0 2 2]: item 0 is in 3 sessions,
	 * with 1 in two of them and with 2 in two.
	 */
	int64_t		starts[5] = {0, 4, 6, 7, 10};
	int32_t		items[10] = {0, 1, 0, 2, 1, 0, 3, 0, 2, 2};
	int64_t		offsets[5];
	int32_t		neighbors[4 * 3];
	float		weights[4 * 3];
	int64_t		total = Build(4, 4, starts, items, 10, 3, 1, offsets, neighbors, weights);

	CHECK(total == 6);
	CHECK(last_sessions[0] == 3 && last_sessions[1] == 2 && last_sessions[2] == 2 &&
		  last_sessions[3] == 1);
	CHECK(offsets[0] == 0 && offsets[1] == 2 && offsets[2] == 4 && offsets[3] == 6 &&
		  offsets[4] == 6);
	/* item 0: 1 and 2 both in 2 of its 3 sessions; ties by index */
	CHECK(neighbors[0] == 1 && neighbors[1] == 2);
	CHECK_NEAR(weights[0], 2.0 / 3.0, 1e-7);
	CHECK_NEAR(weights[1], 2.0 / 3.0, 1e-7);
	/* item 1: with 0 in both of its sessions, with 2 in one */
	CHECK(neighbors[2] == 0 && neighbors[3] == 2);
	CHECK_NEAR(weights[2], 1.0, 0);
	CHECK_NEAR(weights[3], 0.5, 0);
	/* item 2: with 0 in both, with 1 in one; item 3 alone: no list */
	CHECK(neighbors[4] == 0 && neighbors[5] == 1);
	CHECK_NEAR(weights[4], 1.0, 0);
}

UNIT_TEST(covis_window_neighbors_and_min_count)
{
	/* one session 0 1 2 3 4, a second 0 1 */
	int64_t		starts[3] = {0, 5, 7};
	int32_t		items[7] = {0, 1, 2, 3, 4, 0, 1};
	int32_t		copy[7];
	int64_t		offsets[6];
	int32_t		neighbors[5 * 4];
	float		weights[5 * 4];
	int64_t		total;

	/* window 1: only adjacent places pair */
	memcpy(copy, items, sizeof(items));
	total = Build(5, 2, starts, copy, 1, 4, 1, offsets, neighbors, weights);
	CHECK(total == 8);			/* 0-1, 1-2, 2-3, 3-4 both ways */
	CHECK(offsets[1] - offsets[0] == 1 && neighbors[0] == 1);
	CHECK_NEAR(weights[0], 1.0, 0);
	/* item 2: 1 and 3, each in its one session */
	CHECK(offsets[3] - offsets[2] == 2);
	CHECK(neighbors[offsets[2]] == 1 && neighbors[offsets[2] + 1] == 3);

	/* min_count 2: only 0-1 co-occur twice */
	memcpy(copy, items, sizeof(items));
	total = Build(5, 2, starts, copy, 4, 4, 2, offsets, neighbors, weights);
	CHECK(total == 2);
	CHECK(neighbors[0] == 1 && neighbors[1] == 0);

	/* neighbors 2: the best two, more sessions first */
	memcpy(copy, items, sizeof(items));
	total = Build(5, 2, starts, copy, 4, 2, 1, offsets, neighbors, weights);
	CHECK(offsets[1] == 2 && neighbors[0] == 1 && neighbors[1] == 2);
	CHECK_NEAR(weights[0], 1.0, 0);
	CHECK_NEAR(weights[1], 0.5, 0);
	CHECK(total == 10);
}

UNIT_TEST(covis_sessions_are_cut_at_the_gap)
{
	CHECK(CovisNewSession(NAN, 5.0, 1800.0));
	CHECK(!CovisNewSession(0.0, 1800.0, 1800.0));
	CHECK(CovisNewSession(0.0, 1800.5, 1800.0));
	CHECK(!CovisNewSession(10.0, 5.0, 1800.0));
}

UNIT_TEST(item_signals_block_round_trip)
{
	int64_t		ids[4] = {100, -7, 300, 1LL << 40};
	int32_t		brands[4] = {2, -1, 2, 0};
	double		first_seen[4] = {10.0, NAN, 30.0, 40.0};
	float		popularity[4 * FEAT_POP_WINDOWS] = {
		1, 2, 3,
		0, 0, 0,
		4, 8, 9,
		NAN, -1, 5
	};
	int64_t		list_offsets[5] = {0, 2, 2, 3, 3};
	int64_t		list_ids[3] = {300, 1LL << 40, 100};
	float		list_weights[3] = {0.5f, 0.25f, 1.0f};
	ItemSignalsInput input;
	size_t		size;
	void	   *memory;
	const ItemSignals *block;
	FeatItem	item;
	FeatList	list;
	FeatCatalog catalog;

	memset(&input, 0, sizeof(input));
	input.nitems = 4;
	input.ids = ids;
	input.brands = brands;
	input.first_seen = first_seen;
	input.popularity = popularity;
	input.has_stats = true;
	input.stats_at = 1000.0;
	input.list_offsets = list_offsets;
	input.list_ids = list_ids;
	input.list_weights = list_weights;
	size = ItemSignalsSize(&input);
	CHECK(size % 8 == 0);
	memory = malloc(size);
	CHECK(ItemSignalsBuild(memory, size, &input));
	CHECK(!ItemSignalsBuild(memory, size - 8, &input));
	CHECK(ItemSignalsBuild(memory, size, &input));

	/* position-independent: a byte copy elsewhere reads the same */
	{
		void	   *copy = malloc(size);

		memcpy(copy, memory, size);
		memset(memory, 0, size);
		free(memory);
		memory = copy;
	}
	block = ItemSignalsOpen(memory, size);
	CHECK(block != NULL);
	CHECK(ItemSignalsOpen(memory, size + 8) == NULL);
	if (block == NULL)
		return;
	CHECK(ItemSignalsFind(block, 300) == 2 && ItemSignalsFind(block, -7) == 1);
	CHECK(ItemSignalsFind(block, 1LL << 40) == 3 && ItemSignalsFind(block, 5) == -1);

	memset(&item, 0, sizeof(item));
	ItemSignalsFillItem(block, ItemSignalsFind(block, 300), &item);
	CHECK(item.brand == 2 && item.first_seen == 30.0);
	CHECK(item.popularity[FEAT_POP_DAY] == 8.0f);
	ItemSignalsFillItem(block, ItemSignalsFind(block, 1LL << 40), &item);
	/* non-finite and negative counts are stored as 0 */
	CHECK(item.popularity[FEAT_POP_HOUR] == 0.0f && item.popularity[FEAT_POP_DAY] == 0.0f);
	ItemSignalsFillItem(block, -1, &item);
	CHECK(item.brand == -1 && isnan(item.first_seen) && item.popularity[FEAT_POP_WEEK] == 0.0f);

	/* the pipelined batch gives what the look-ups one by one give */
	{
		FeatItem	batch[40];
		FeatItem	one;
		bool		same = true;

		for (int i = 0; i < 40; i++)
		{
			memset(&batch[i], 0, sizeof(FeatItem));
			batch[i].item_id = i % 5 == 0 ? 300 : (i % 5 == 1 ? -7 : (i % 5 == 2 ? 100 : i));
		}
		ItemSignalsFillItems(block, batch, 40);
		for (int i = 0; i < 40; i++)
		{
			memset(&one, 0, sizeof(FeatItem));
			ItemSignalsFillItem(block, ItemSignalsFind(block, batch[i].item_id), &one);
			same = same && one.brand == batch[i].brand &&
				memcmp(one.popularity, batch[i].popularity, sizeof(one.popularity)) == 0 &&
				(one.first_seen == batch[i].first_seen ||
				 (isnan(one.first_seen) && isnan(batch[i].first_seen)));
		}
		CHECK(same);
		CHECK(batch[0].brand == 2 && batch[1].brand == -1 && batch[3].brand == -1);
		ItemSignalsFillItems(block, batch, 0);
		ItemSignalsFillItems(block, batch, 3);
		CHECK(batch[2].first_seen == 10.0);
	}

	ItemSignalsCatalog(block, &catalog);
	CHECK(catalog.has_stats && catalog.stats_at == 1000.0);
	CHECK(catalog.max_popularity[FEAT_POP_HOUR] == 4.0f);
	CHECK(catalog.max_popularity[FEAT_POP_WEEK] == 9.0f);
	CHECK(catalog.list != NULL);
	CHECK(catalog.list(catalog.list_arg, 100, &list) && list.n == 2);
	CHECK(list.ids[0] == 300 && list.weights[1] == 0.25f);
	CHECK(!catalog.list(catalog.list_arg, -7, &list) && list.n == 0);
	CHECK(catalog.list(catalog.list_arg, 300, &list) && list.n == 1 && list.ids[0] == 100);
	CHECK(!catalog.list(catalog.list_arg, 12345, &list));
	free(memory);

	/* duplicate ids and decreasing offsets are refused */
	ids[1] = 100;
	size = ItemSignalsSize(&input);
	memory = malloc(size);
	CHECK(!ItemSignalsBuild(memory, size, &input));
	ids[1] = -7;
	list_offsets[2] = 1;
	CHECK(!ItemSignalsBuild(memory, size, &input));
	free(memory);
}

UNIT_TEST(item_signals_empty_block)
{
	ItemSignalsInput input;
	size_t		size;
	void	   *memory;
	const ItemSignals *block;
	FeatCatalog catalog;

	memset(&input, 0, sizeof(input));
	size = ItemSignalsSize(&input);
	memory = malloc(size);
	CHECK(ItemSignalsBuild(memory, size, &input));
	block = ItemSignalsOpen(memory, size);
	CHECK(block != NULL);
	if (block != NULL)
	{
		CHECK(ItemSignalsFind(block, 1) == -1);
		ItemSignalsCatalog(block, &catalog);
		CHECK(!catalog.has_stats && catalog.list == NULL);
	}
	free(memory);
}
