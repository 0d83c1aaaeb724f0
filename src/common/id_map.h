/*
 * id_map.h
 *	  Hash maps from int64 ids to dense int32 indexes (id_map.c, over
 *	  lib/simplehash.h), used to number users and items for training,
 *	  evaluation and serving.
 */
#ifndef RERANK_ID_MAP_H
#define RERANK_ID_MAP_H

#include "postgres.h"

typedef struct IdMapEntry
{
	int64		id;
	int32		index;
	char		status;
} IdMapEntry;

#define SH_PREFIX idmap
#define SH_ELEMENT_TYPE IdMapEntry
#define SH_KEY_TYPE int64
#define SH_SCOPE extern
#define SH_DECLARE
#include "lib/simplehash.h"

/* Index of an id, or -1. */
extern int32 IdMapGet(idmap_hash *map, int64 id);

/* Index of an id, adding it with the next index when new. */
extern int32 IdMapAdd(idmap_hash *map, int64 id, int32 *count);

/* A map of ids[0..n) to their positions. */
extern idmap_hash *IdMapFromArray(MemoryContext cxt, const int64 *ids, int n);

/*
 * The ids of a map in ascending order (count of them, palloc'd), and in
 * *perm (palloc'd) each id's old index → its place in that order: numbering
 * ids in order makes results independent of the order they came in.
 */
extern int64 *IdMapSortedIds(idmap_hash *map, int32 count, int32 **perm);

#endif							/* RERANK_ID_MAP_H */
