/*
 * neighbor_lists.h
 *	  The neighbor lists of an item-kNN model held in memory by the model
 *	  cache: every list of rerank.item_neighbors in two flat arrays, with a
 *	  hash from item id to its list.
 */
#ifndef RERANK_NEIGHBOR_LISTS_H
#define RERANK_NEIGHBOR_LISTS_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "cache/model_cache.h"

typedef struct NeighborLists NeighborLists;

/* How many lists a model has, and neighbors in all. */
typedef struct NeighborListsSize
{
	int64		lists;
	int64		neighbors;
} NeighborListsSize;

/*
 * The memory the lists of a model would take, with their size (one
 * query).  Called inside SPI.
 */
extern Size NeighborListsBytes(int32 model_id, NeighborListsSize *size);

/*
 * Reads every list of the model (of the size NeighborListsBytes gave) into
 * context.  Malformed rows (NULLs, lengths that differ) are left out, as
 * serving from the table leaves them out.  Called inside SPI.
 */
extern NeighborLists *NeighborListsLoad(MemoryContext context, int32 model_id,
										const NeighborListsSize *size);

/*
 * Reads a row (item_id, neighbor_ids, similarities) of rerank.item_neighbors:
 * the list points into the row.  False for a malformed row (NULLs, other
 * element types, lengths that differ), which serving leaves out.
 */
extern bool NeighborRow(HeapTuple tuple, TupleDesc desc, int64 *item_id,
						NeighborList *list);

/* The list of an item; false when it has none. */
extern bool NeighborListsFind(const NeighborLists *lists, int64 item_id,
							  NeighborList *list);

#endif							/* RERANK_NEIGHBOR_LISTS_H */
