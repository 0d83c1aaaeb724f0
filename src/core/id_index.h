/*
 * id_index.h
 *	  A map from 64-bit ids to int32 indexes (an id's position in a list,
 *	  say), or a set of ids (every value 0), for the pure-C core: open
 *	  addressing over slots the caller provides, so nothing here allocates.
 *	  No PostgreSQL headers.
 */
#ifndef RERANK_ID_INDEX_H
#define RERANK_ID_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct IdIndex
{
	int64_t    *keys;
	int32_t    *values;			/* -1: empty slot */
	size_t		mask;			/* slots - 1; slots is a power of two */
} IdIndex;

/* Slots needed for up to n ids (a power of two, load <= 1/2, at least 16). */
extern size_t IdIndexSlots(size_t n);

/* Empties the index over keys[slots] and values[slots]. */
extern void IdIndexInit(IdIndex *index, int64_t *keys, int32_t *values,
						size_t slots);

/*
 * Maps id to value (>= 0) unless id is mapped already (the first value
 * stays); true when id was new.  The caller sized the index.
 */
extern bool IdIndexAdd(IdIndex *index, int64_t id, int32_t value);

/* The value of id, or -1 when it is not in the index. */
extern int32_t IdIndexGet(const IdIndex *index, int64_t id);

#endif							/* RERANK_ID_INDEX_H */
