/*
 * id_hash.h
 *	  The hash of 64-bit item and user ids, shared by the core's id sets and
 *	  the hash tables of the PostgreSQL glue (model cache, category cache, id
 *	  maps).  Pure C: no PostgreSQL headers.
 */
#ifndef RERANK_ID_HASH_H
#define RERANK_ID_HASH_H

#include <stdint.h>

/*
 * splitmix64's finalizer: ids are often dense or sequential, so every bit
 * is mixed into every other.  Tables index by the low bits (a mask), so
 * folding the result to 32 bits keeps the slot.
 */
static inline uint64_t
IdHash(int64_t id)
{
	uint64_t	x = (uint64_t) id;

	x ^= x >> 30;
	x *= UINT64_C(0xbf58476d1ce4e5b9);
	x ^= x >> 27;
	x *= UINT64_C(0x94d049bb133111eb);
	x ^= x >> 31;
	return x;
}

#endif							/* RERANK_ID_HASH_H */
