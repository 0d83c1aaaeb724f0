/*
 * test_id_index.c
 *	  Unit tests of src/core/id_index.c: maps from ids to indexes, and sets
 *	  of ids.
 */
#include "core/id_index.h"
#include "unit.h"

#include <stdlib.h>

UNIT_TEST(id_index_as_a_set)
{
	size_t		slots = IdIndexSlots(1000);
	int64_t    *keys = malloc(slots * sizeof(int64_t));
	int32_t    *values = malloc(slots * sizeof(int32_t));
	IdIndex		set;

	CHECK(slots >= 2000 && (slots & (slots - 1)) == 0);
	CHECK(IdIndexSlots(0) == 16);
	IdIndexInit(&set, keys, values, slots);
	for (int64_t i = 0; i < 1000; i++)
		CHECK(IdIndexAdd(&set, i * 4096 - 500, 0));
	for (int64_t i = 0; i < 1000; i++)
		CHECK(!IdIndexAdd(&set, i * 4096 - 500, 0));
	CHECK(IdIndexGet(&set, -500) == 0);
	CHECK(IdIndexGet(&set, -499) == -1);
	CHECK(IdIndexGet(&set, INT64_MIN) == -1);
	CHECK(IdIndexAdd(&set, INT64_MIN, 0));
	CHECK(IdIndexGet(&set, INT64_MIN) == 0);
	free(keys);
	free(values);
}

UNIT_TEST(id_index_maps_first_position)
{
	int64_t		ids[] = {7, -3, INT64_MIN, 7, 4096 * 16, 0};
	size_t		slots = IdIndexSlots(6);
	int64_t    *keys = malloc(slots * sizeof(int64_t));
	int32_t    *values = malloc(slots * sizeof(int32_t));
	IdIndex		index;

	CHECK(IdIndexSlots(9) == 32);
	IdIndexInit(&index, keys, values, slots);
	for (int i = 0; i < 6; i++)
		CHECK(IdIndexAdd(&index, ids[i], i) == (i != 3));
	CHECK(IdIndexGet(&index, 7) == 0);	/* a repeated id keeps its first */
	CHECK(IdIndexGet(&index, -3) == 1);
	CHECK(IdIndexGet(&index, INT64_MIN) == 2);
	CHECK(IdIndexGet(&index, 4096 * 16) == 4);
	CHECK(IdIndexGet(&index, 0) == 5);
	CHECK(IdIndexGet(&index, 1) == -1);
	free(keys);
	free(values);
}
