/*
 * id_table.c
 *	  Flat id → value hash tables (see id_table.h).
 */
#include "core/id_table.h"

#include <string.h>

/* Slots for n ids, at most 70 % full; see id_table.h. */
uint64_t
IdTableCapacity(uint64_t n)
{
	uint64_t	capacity = 16;

	if (n > ID_TABLE_MAX_IDS)
		return 0;
	/* n <= 0.7 capacity, in integers: 10 n <= 7 capacity */
	while (capacity * 7 < n * 10)
		capacity <<= 1;
	return capacity;
}

/* Marks every slot free; see id_table.h. */
void
IdTableClearSized(void *slots, uint64_t capacity, size_t slot_size)
{
	char	   *p = slots;

	for (uint64_t i = 0; i < capacity; i++, p += slot_size)
	{
		IdTableSlot *slot = (IdTableSlot *) p;

		memset(p, 0, slot_size);
		slot->value = ID_TABLE_EMPTY;
	}
}

/* Adds an id to a table of slots of any size; see id_table.h. */
IdTableSlot *
IdTableInsertSized(void *slots, uint64_t capacity, size_t slot_size,
				   int64_t id, uint32_t value, uint32_t aux)
{
	uint64_t	mask = capacity - 1;
	uint64_t	i = IdHash(id) & mask;

	if (value == ID_TABLE_EMPTY)
		return NULL;
	for (uint64_t probes = 0; probes < capacity; probes++, i = (i + 1) & mask)
	{
		IdTableSlot *slot = (IdTableSlot *) ((char *) slots + i * slot_size);

		if (slot->value == ID_TABLE_EMPTY)
		{
			slot->id = id;
			slot->value = value;
			slot->aux = aux;
			return slot;
		}
		if (slot->id == id)
			return NULL;
	}
	return NULL;
}

/* Adds an id; see id_table.h. */
int
IdTableInsert(IdTableSlot *slots, uint64_t capacity, int64_t id,
			  uint32_t value, uint32_t aux)
{
	uint64_t	mask = capacity - 1;
	uint64_t	i = IdHash(id) & mask;

	if (value == ID_TABLE_EMPTY)
		return -1;
	for (uint64_t probes = 0; probes < capacity; probes++, i = (i + 1) & mask)
	{
		IdTableSlot *slot = &slots[i];

		if (slot->value == ID_TABLE_EMPTY)
		{
			slot->id = id;
			slot->value = value;
			slot->aux = aux;
			return 1;
		}
		if (slot->id == id)
			return 0;
	}
	return -1;
}
