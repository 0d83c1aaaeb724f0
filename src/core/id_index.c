/*
 * id_index.c
 *	  Maps from ids to indexes over caller-provided slots (see id_index.h).
 */
#include "core/id_index.h"

#include "core/id_hash.h"

/* Slots for up to n ids: a power of two at least 2n (and 16). */
size_t
IdIndexSlots(size_t n)
{
	size_t		slots = 16;

	while (slots < 2 * n)
		slots <<= 1;
	return slots;
}

/* Empties the index. */
void
IdIndexInit(IdIndex *index, int64_t *keys, int32_t *values, size_t slots)
{
	index->keys = keys;
	index->values = values;
	index->mask = slots - 1;
	for (size_t s = 0; s < slots; s++)
		values[s] = -1;
}

/* Maps id to value unless it is mapped; true when it was new. */
bool
IdIndexAdd(IdIndex *index, int64_t id, int32_t value)
{
	size_t		slot = (size_t) IdHash(id) & index->mask;

	while (index->values[slot] >= 0)
	{
		if (index->keys[slot] == id)
			return false;
		slot = (slot + 1) & index->mask;
	}
	index->keys[slot] = id;
	index->values[slot] = value;
	return true;
}

/* The value of id, or -1. */
int32_t
IdIndexGet(const IdIndex *index, int64_t id)
{
	size_t		slot = (size_t) IdHash(id) & index->mask;

	while (index->values[slot] >= 0)
	{
		if (index->keys[slot] == id)
			return index->values[slot];
		slot = (slot + 1) & index->mask;
	}
	return -1;
}
