/*
 * id_map.c
 *	  Hash maps from int64 ids to dense int32 indexes (lib/simplehash.h),
 *	  used to number users and items for training, evaluation and serving.
 */
#include "postgres.h"

#include "common/id_map.h"
#include "core/id_hash.h"

#define SH_PREFIX idmap
#define SH_ELEMENT_TYPE IdMapEntry
#define SH_KEY_TYPE int64
#define SH_KEY id
#define SH_HASH_KEY(tb, key) ((uint32) IdHash(key))
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE extern
#define SH_DEFINE
#include "lib/simplehash.h"

int32
IdMapGet(idmap_hash *map, int64 id)
{
	IdMapEntry *entry = idmap_lookup(map, id);

	return entry ? entry->index : -1;
}

int32
IdMapAdd(idmap_hash *map, int64 id, int32 *count)
{
	bool		found;
	IdMapEntry *entry = idmap_insert(map, id, &found);

	if (!found)
	{
		if (*count == PG_INT32_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct ids")));
		entry->index = (*count)++;
	}
	return entry->index;
}

idmap_hash *
IdMapFromArray(MemoryContext cxt, const int64 *ids, int n)
{
	idmap_hash *map = idmap_create(cxt, n > 16 ? n : 16, NULL);

	for (int i = 0; i < n; i++)
	{
		bool		found;

		idmap_insert(map, ids[i], &found)->index = i;
	}
	return map;
}

/* (id, first-seen index) pairs, sorted by id to number ids in order. */
typedef struct IdIndex
{
	int64		id;
	int32		index;
} IdIndex;

static int
CompareIdIndex(const void *a, const void *b)
{
	int64		x = ((const IdIndex *) a)->id;
	int64		y = ((const IdIndex *) b)->id;

	return x < y ? -1 : x > y;
}

/* Ascending ids of a map, and old index → new index in *perm. */
int64 *
IdMapSortedIds(idmap_hash *map, int32 count, int32 **perm)
{
	Size		slots = Max(count, 1);
	IdIndex    *pairs = palloc_extended(mul_size(slots, sizeof(IdIndex)), MCXT_ALLOC_HUGE);
	int64	   *ids = palloc_extended(mul_size(slots, sizeof(int64)), MCXT_ALLOC_HUGE);
	idmap_iterator it;
	IdMapEntry *entry;
	int			n = 0;

	*perm = palloc_extended(mul_size(slots, sizeof(int32)), MCXT_ALLOC_HUGE);
	idmap_start_iterate(map, &it);
	while ((entry = idmap_iterate(map, &it)) != NULL)
	{
		pairs[n].id = entry->id;
		pairs[n].index = entry->index;
		n++;
	}
	qsort(pairs, n, sizeof(IdIndex), CompareIdIndex);
	for (int i = 0; i < n; i++)
	{
		ids[i] = pairs[i].id;
		(*perm)[pairs[i].index] = i;
	}
	pfree(pairs);
	return ids;
}
