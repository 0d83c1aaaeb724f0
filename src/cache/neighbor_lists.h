/*
 * neighbor_lists.h
 *	  The neighbor lists of an item-kNN model in its served snapshot: every
 *	  list of rerank.item_neighbors end to end in two flat arrays, with a
 *	  flat id table from item id to its list (the BLOCK_NEIGHBOR_* blocks of
 *	  snapshot_blocks.h).
 */
#ifndef RERANK_NEIGHBOR_LISTS_H
#define RERANK_NEIGHBOR_LISTS_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "cache/model_cache.h"
#include "cache/snapshot.h"
#include "core/id_table.h"

/* A model's lists as one backend reads them: pointers into its snapshot. */
typedef struct NeighborLists
{
	const IdTableSlot *table;	/* item id → list number, payload length */
	uint64		capacity;
	const uint64 *starts;		/* first entry of each list */
	const int64 *ids;			/* every list's neighbor ids, end to end */
	const float *similarities;	/* in the same order */
} NeighborLists;

/* Registers the snapshot provider of the lists; called by ModelCacheInit. */
extern void NeighborListsInit(void);

/*
 * The lists in a model snapshot; false when it holds none (not an item-kNN
 * model, or a model without lists).
 */
extern bool NeighborListsOf(const ServingSnapshot *snapshot, NeighborLists *lists);

/*
 * Reads a row (item_id, neighbor_ids, similarities) of rerank.item_neighbors:
 * the list points into the row.  False for a malformed row (NULLs, other
 * element types, lengths that differ), which serving leaves out.
 */
extern bool NeighborRow(HeapTuple tuple, TupleDesc desc, int64 *item_id,
						NeighborList *list);

/*
 * The list of an item (pointers into the snapshot, never to be written);
 * false when it has none.
 */
extern bool NeighborListsFind(const NeighborLists *lists, int64 item_id,
							  NeighborList *list);

#endif							/* RERANK_NEIGHBOR_LISTS_H */
