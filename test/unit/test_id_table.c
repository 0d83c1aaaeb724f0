/*
 * test_id_table.c
 *	  Unit tests of src/core/id_table.c: the flat id → value tables of the
 *	  served snapshots.
 */
#include "core/id_table.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

UNIT_TEST(id_table_capacity_is_a_power_of_two_at_most_70_percent_full)
{
	CHECK(IdTableCapacity(0) == 16);
	CHECK(IdTableCapacity(11) == 16);	/* 11 / 16 = 0.69 */
	CHECK(IdTableCapacity(12) == 32);	/* 12 / 16 = 0.75: too full */
	CHECK(IdTableCapacity(1000000) == (UINT64_C(1) << 21));
	CHECK(IdTableCapacity(1500000) == (UINT64_C(1) << 22));
	CHECK(IdTableCapacity(ID_TABLE_MAX_IDS + 1) == 0);
	for (uint64_t n = 1; n < 5000; n += 7)
	{
		uint64_t	c = IdTableCapacity(n);

		CHECK((c & (c - 1)) == 0);
		CHECK(n * 10 <= c * 7);
		CHECK(c == 16 || n * 10 > (c / 2) * 7);
	}
}

UNIT_TEST(id_table_finds_what_was_inserted_and_nothing_else)
{
	uint64_t	n = 50000;
	uint64_t	capacity = IdTableCapacity(n);
	IdTableSlot *slots = malloc(sizeof(IdTableSlot) * capacity);
	unsigned	seed = 7;
	int64_t    *ids = malloc(sizeof(int64_t) * n);

	IdTableClear(slots, capacity);
	for (uint64_t i = 0; i < n; i++)
	{
		/* sequential, negative, huge and random ids alike */
		seed = seed * 1103515245u + 12345u;
		ids[i] = i % 4 == 0 ? (int64_t) i :
			i % 4 == 1 ? -(int64_t) i :
			i % 4 == 2 ? INT64_MAX - (int64_t) i :
			((int64_t) seed << 20) + (int64_t) i;
		CHECK(IdTableInsert(slots, capacity, ids[i], (uint32_t) i, (uint32_t) (i * 3)) == 1);
	}
	for (uint64_t i = 0; i < n; i++)
	{
		const IdTableSlot *slot = IdTableFind(slots, capacity, ids[i]);

		CHECK(slot != NULL && slot->value == i && slot->aux == i * 3);
		CHECK(IdTableProbe(slots, capacity, ids[i], IdHash(ids[i])) == slot);
	}
	/* ids never inserted */
	CHECK(IdTableFind(slots, capacity, INT64_MIN) == NULL);
	CHECK(IdTableFind(slots, capacity, (int64_t) n * 1000 + 1) == NULL);
	/* a duplicate keeps the first value */
	CHECK(IdTableInsert(slots, capacity, ids[5], 99, 0) == 0);
	CHECK(IdTableFind(slots, capacity, ids[5])->value == 5);
	/* the empty marker is not a value */
	CHECK(IdTableInsert(slots, capacity, -12345678, ID_TABLE_EMPTY, 0) == -1);
	free(slots);
	free(ids);
}

UNIT_TEST(id_table_full_table_is_reported_not_looped)
{
	IdTableSlot slots[16];

	IdTableClear(slots, 16);
	for (int i = 0; i < 16; i++)
		CHECK(IdTableInsert(slots, 16, i * 16, (uint32_t) i, 0) == 1);
	CHECK(IdTableInsert(slots, 16, 1000, 1, 0) == -1);
	for (int i = 0; i < 16; i++)
		CHECK(IdTableFind(slots, 16, i * 16)->value == (uint32_t) i);
}

UNIT_TEST(id_table_is_position_independent)
{
	uint64_t	capacity = IdTableCapacity(100);
	IdTableSlot *a = malloc(sizeof(IdTableSlot) * capacity);
	IdTableSlot *b = malloc(sizeof(IdTableSlot) * capacity);

	IdTableClear(a, capacity);
	for (int i = 0; i < 100; i++)
		CHECK(IdTableInsert(a, capacity, 7 * i + 3, (uint32_t) i, 0) == 1);
	/* the bytes copied elsewhere are the same table */
	memcpy(b, a, sizeof(IdTableSlot) * capacity);
	free(a);
	for (int i = 0; i < 100; i++)
		CHECK(IdTableFind(b, capacity, 7 * i + 3)->value == (uint32_t) i);
	free(b);
}

UNIT_TEST(id_table_bigger_slots_carry_their_payload)
{
	uint64_t	capacity = IdTableCapacity(1000);
	ItemTableSlot *slots = malloc(sizeof(ItemTableSlot) * capacity);

	CHECK(sizeof(ItemTableSlot) == 32);
	IdTableClearSized(slots, capacity, sizeof(ItemTableSlot));
	for (int i = 0; i < 1000; i++)
	{
		IdTableSlot *slot = IdTableInsertSized(slots, capacity, sizeof(ItemTableSlot),
											   (int64_t) i * 31 - 500, (uint32_t) i, 7);

		CHECK(slot != NULL);
		((ItemTableSlot *) slot)->norm = i * 0.5;
	}
	/* a duplicate is refused, the first payload stays */
	CHECK(IdTableInsertSized(slots, capacity, sizeof(ItemTableSlot), -500, 9, 9) == NULL);
	for (int i = 0; i < 1000; i++)
	{
		int64_t		id = (int64_t) i * 31 - 500;
		const ItemTableSlot *slot = (const ItemTableSlot *)
			IdTableProbeSized(slots, capacity, sizeof(ItemTableSlot), id, IdHash(id));

		CHECK(slot != NULL && slot->base.value == (uint32_t) i &&
			  slot->base.aux == 7 && slot->norm == i * 0.5 && slot->reserved == 0);
	}
	CHECK(IdTableProbeSized(slots, capacity, sizeof(ItemTableSlot), 1, IdHash(1)) == NULL);
	free(slots);
}
