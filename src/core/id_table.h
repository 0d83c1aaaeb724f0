/*
 * id_table.h
 *	  A hash table from 64-bit ids to 32-bit values laid out in one flat
 *	  array of slots, with no pointer inside: built once, then only read, it
 *	  can live in shared memory mapped at a different address in every
 *	  process (the served snapshots of src/cache/snapshot.h).  Pure C: no
 *	  PostgreSQL headers.
 *
 * Open addressing with linear probing over a power-of-two number of slots,
 * at most 70 % full (IdTableCapacity), so a look-up that hits reads one
 * 16-byte slot in nearly every case and four slots share a cache line.  A
 * slot holds the id, a value (a row number, a list number, a category
 * number) and 32 bits of payload of the caller's choosing (a float bias,
 * ...).  An empty slot has the value ID_TABLE_EMPTY, so values are below it.
 * A table may use bigger slots that start with an IdTableSlot and carry more
 * payload after it (the *Sized functions take the slot size, a power of
 * two; ItemTableSlot is the model snapshot's 32-byte one).
 */
#ifndef RERANK_ID_TABLE_H
#define RERANK_ID_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/id_hash.h"

typedef struct IdTableSlot
{
	int64_t		id;
	uint32_t	value;			/* ID_TABLE_EMPTY: the slot is free */
	uint32_t	aux;			/* payload */
} IdTableSlot;

#define ID_TABLE_EMPTY UINT32_MAX

/*
 * The slot of a model's item table: the row of the item's vector, its bias
 * (in aux, as float bits) and the vector's norm, so one slot gives all a
 * candidate needs before its vector.  32 bytes: two per cache line.
 */
typedef struct ItemTableSlot
{
	IdTableSlot base;			/* id, row, bias bits */
	double		norm;
	int64_t		reserved;		/* 0 */
} ItemTableSlot;

/* The largest number of ids a table holds (slots are counted in 64 bits). */
#define ID_TABLE_MAX_IDS (UINT64_C(1) << 40)

/*
 * The number of slots for n ids: a power of two, at least 16, with n at
 * most 70 % of it.  0 when n is over ID_TABLE_MAX_IDS.
 */
extern uint64_t IdTableCapacity(uint64_t n);

/* Marks every slot of a table of capacity slots of slot_size bytes free. */
extern void IdTableClearSized(void *slots, uint64_t capacity, size_t slot_size);

/*
 * Adds id with its value (below ID_TABLE_EMPTY) and payload to a table of
 * slots of slot_size bytes.  Returns the new slot (whose further payload
 * the caller fills), or NULL when the id was there already (the first
 * value stays), the table is full or the value is ID_TABLE_EMPTY.
 */
extern IdTableSlot *IdTableInsertSized(void *slots, uint64_t capacity,
									   size_t slot_size, int64_t id,
									   uint32_t value, uint32_t aux);

/* Marks every slot of a table of capacity slots free. */
static inline void
IdTableClear(IdTableSlot *slots, uint64_t capacity)
{
	IdTableClearSized(slots, capacity, sizeof(IdTableSlot));
}

/*
 * Adds id with its value (below ID_TABLE_EMPTY) and payload.  Returns 1 when
 * added, 0 when the id was there already (the first value stays), -1 when
 * the table is full or the value is ID_TABLE_EMPTY.
 */
extern int	IdTableInsert(IdTableSlot *slots, uint64_t capacity, int64_t id,
						  uint32_t value, uint32_t aux);

/* Slot i of a table of slots of slot_size bytes. */
static inline const IdTableSlot *
IdTableSlotAt(const void *slots, uint64_t i, size_t slot_size)
{
	return (const IdTableSlot *) ((const char *) slots + i * slot_size);
}

/* The slot where the probe for a hash starts: what to prefetch. */
static inline const void *
IdTableHomeSized(const void *slots, uint64_t capacity, size_t slot_size,
				 uint64_t hash)
{
	return IdTableSlotAt(slots, hash & (capacity - 1), slot_size);
}

static inline const IdTableSlot *
IdTableHome(const IdTableSlot *slots, uint64_t capacity, uint64_t hash)
{
	return &slots[hash & (capacity - 1)];
}

/*
 * The slot of id, whose IdHash is hash, in a table of slots of slot_size
 * bytes, or NULL when the id is absent.
 */
static inline const IdTableSlot *
IdTableProbeSized(const void *slots, uint64_t capacity, size_t slot_size,
				  int64_t id, uint64_t hash)
{
	uint64_t	mask = capacity - 1;

	for (uint64_t i = hash & mask;; i = (i + 1) & mask)
	{
		const IdTableSlot *slot = IdTableSlotAt(slots, i, slot_size);

		if (slot->value == ID_TABLE_EMPTY)
			return NULL;
		if (slot->id == id)
			return slot;
	}
}

/* The slot of id, whose IdHash is hash, or NULL when the id is absent. */
static inline const IdTableSlot *
IdTableProbe(const IdTableSlot *slots, uint64_t capacity, int64_t id,
			 uint64_t hash)
{
	return IdTableProbeSized(slots, capacity, sizeof(IdTableSlot), id, hash);
}

/* The slot of id, or NULL. */
static inline const IdTableSlot *
IdTableFind(const IdTableSlot *slots, uint64_t capacity, int64_t id)
{
	return IdTableProbe(slots, capacity, id, IdHash(id));
}

#endif							/* RERANK_ID_TABLE_H */
