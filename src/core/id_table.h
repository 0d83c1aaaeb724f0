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

/* The largest number of ids a table holds (slots are counted in 64 bits). */
#define ID_TABLE_MAX_IDS (UINT64_C(1) << 40)

/*
 * The number of slots for n ids: a power of two, at least 16, with n at
 * most 70 % of it.  0 when n is over ID_TABLE_MAX_IDS.
 */
extern uint64_t IdTableCapacity(uint64_t n);

/* Marks every slot of a table of capacity slots free. */
extern void IdTableClear(IdTableSlot *slots, uint64_t capacity);

/*
 * Adds id with its value (below ID_TABLE_EMPTY) and payload.  Returns 1 when
 * added, 0 when the id was there already (the first value stays), -1 when
 * the table is full or the value is ID_TABLE_EMPTY.
 */
extern int	IdTableInsert(IdTableSlot *slots, uint64_t capacity, int64_t id,
						  uint32_t value, uint32_t aux);

/* The slot where the probe for a hash starts: what to prefetch. */
static inline const IdTableSlot *
IdTableHome(const IdTableSlot *slots, uint64_t capacity, uint64_t hash)
{
	return &slots[hash & (capacity - 1)];
}

/* The slot of id, whose IdHash is hash, or NULL when the id is absent. */
static inline const IdTableSlot *
IdTableProbe(const IdTableSlot *slots, uint64_t capacity, int64_t id,
			 uint64_t hash)
{
	uint64_t	mask = capacity - 1;

	for (uint64_t i = hash & mask;; i = (i + 1) & mask)
	{
		const IdTableSlot *slot = &slots[i];

		if (slot->value == ID_TABLE_EMPTY)
			return NULL;
		if (slot->id == id)
			return slot;
	}
}

/* The slot of id, or NULL. */
static inline const IdTableSlot *
IdTableFind(const IdTableSlot *slots, uint64_t capacity, int64_t id)
{
	return IdTableProbe(slots, capacity, id, IdHash(id));
}

#endif							/* RERANK_ID_TABLE_H */
