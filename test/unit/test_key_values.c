/*
 * test_key_values.c
 *	  Unit tests of src/core/key_values.c: the key → number map of the
 *	  user's event counts and category weights.
 */
#include "core/key_values.h"
#include "unit.h"

#include <math.h>
#include <string.h>

UNIT_TEST(key_values_find_and_push)
{
	KeyValue	entries[4];
	KeyValues	map = {0, 4, entries};
	static const int stored_marker = 1;

	CHECK(KeyValuesFind(&map, "a", 1) == NULL);
	KeyValuesPush(&map, "view", 4, &stored_marker, 0);
	KeyValuesPush(&map, "viewed", 6, NULL, 2.5);
	CHECK(map.n == 2);
	/* keys compare by length and bytes: a prefix is another key */
	CHECK(KeyValuesFind(&map, "viewed", 4) == &entries[0]);
	CHECK(KeyValuesFind(&map, "viewed", 6) == &entries[1]);
	CHECK(KeyValuesFind(&map, "vie", 3) == NULL);
	CHECK(entries[0].stored == &stored_marker && entries[1].value == 2.5);
}

UNIT_TEST(key_values_output_forms)
{
	static const int stored_marker = 1;
	KeyValue	e = {"k", 1, NULL, 0};
	int64_t		i = 0;

	e.stored = &stored_marker;
	CHECK(KeyValueOutput(&e, true, &i) == KEY_VALUE_STORED);
	e.stored = NULL;
	e.value = NAN;
	CHECK(KeyValueOutput(&e, false, &i) == KEY_VALUE_SKIP);
	e.value = INFINITY;
	CHECK(KeyValueOutput(&e, true, &i) == KEY_VALUE_SKIP);
	/* counts: rounded to integers, clamped */
	e.value = 2.5;
	CHECK(KeyValueOutput(&e, true, &i) == KEY_VALUE_INTEGER && i == 2);
	e.value = 3.5;
	CHECK(KeyValueOutput(&e, true, &i) == KEY_VALUE_INTEGER && i == 4);
	e.value = 1e30;
	CHECK(KeyValueOutput(&e, true, &i) == KEY_VALUE_INTEGER && i == (int64_t) 9.0e18);
	e.value = -1e30;
	CHECK(KeyValueOutput(&e, true, &i) == KEY_VALUE_INTEGER && i == (int64_t) -9.0e18);
	/* weights: whole numbers under 1e15 as integers, else decimals */
	e.value = 42.0;
	CHECK(KeyValueOutput(&e, false, &i) == KEY_VALUE_INTEGER && i == 42);
	e.value = -7.0;
	CHECK(KeyValueOutput(&e, false, &i) == KEY_VALUE_INTEGER && i == -7);
	e.value = 0.1;
	CHECK(KeyValueOutput(&e, false, &i) == KEY_VALUE_DECIMAL);
	e.value = 1e15;
	CHECK(KeyValueOutput(&e, false, &i) == KEY_VALUE_DECIMAL);
}
