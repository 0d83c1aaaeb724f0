/*
 * snapshot_blocks.h
 *	  The ids of the blocks of served snapshots (see snapshot.h), each with
 *	  its element type.  A block is a flat array in a snapshot: no pointer
 *	  inside, positions as element numbers or offsets into other blocks.
 *
 * Ids are stable numbers grouped by the module that writes them, so that
 * modules add blocks without touching each other's lines: take the next id
 * of your range.  Readers must treat a missing block as "no such data".
 */
#ifndef RERANK_SNAPSHOT_BLOCKS_H
#define RERANK_SNAPSHOT_BLOCKS_H

typedef uint32 SnapshotBlockId;

/*
 * SNAPSHOT_MODEL, factor models (model_blocks.c).  n = items, k = dimensions;
 * rows in ascending item id order.
 */
#define BLOCK_MODEL_IDS				1	/* int64[n]: the item id of each row */
#define BLOCK_MODEL_VECTORS			2	/* float[n * k], row-major */
#define BLOCK_MODEL_BIASES			3	/* float[n] */
/* 4: unused (the norms are in the item table's slots) */
#define BLOCK_MODEL_ITEM_TABLE		5	/* ItemTableSlot[] (core/id_table.h):
										 * item id → row, bias, norm */
#define BLOCK_MODEL_GRAM			6	/* float[k * k]: YᵀY, row-major */

/* SNAPSHOT_MODEL, item-kNN neighbor lists (neighbor_lists.c). */
#define BLOCK_NEIGHBOR_TABLE		20	/* IdTableSlot[]: item id → list
										 * number, payload its length */
#define BLOCK_NEIGHBOR_STARTS		21	/* uint64[lists]: first entry of
										 * each list in the two below */
#define BLOCK_NEIGHBOR_IDS			22	/* int64[entries] */
#define BLOCK_NEIGHBOR_SIMILARITIES 23	/* float[entries] */

/* SNAPSHOT_CATALOG, item categories (category_cache.c). */
#define BLOCK_CATEGORY_TABLE		40	/* IdTableSlot[]: item id → category
										 * number */
#define BLOCK_CATEGORY_NAME_STARTS	41	/* uint64[categories + 1]: offsets of
										 * the names, in byte order */
#define BLOCK_CATEGORY_NAMES		42	/* char[]: the names, end to end */

/*
 * SNAPSHOT_SIGNALS, the item signals (signals_cache.c): the flat block of
 * core/item_signals.h (hash slots, per-item records, co-visitation lists),
 * offsets inside, one block.
 */
#define BLOCK_ITEM_SIGNALS			100 /* char[]: an ItemSignals block */

/*
 * SNAPSHOT_MODEL, user-kNN models (user_knn_cache.c): the flat index of
 * core/user_knn.h (users, items, histories, the item → users index, stats
 * and the trained neighbor lists), offsets inside, one block.
 */
#define BLOCK_USER_KNN_INDEX		300 /* char[]: a UserKnnIndex */

/*
 * SNAPSHOT_MODEL, learned rankers (ranker_cache.c): the forest of the
 * ranker's booster (core/gbdt_forest.h), position-independent, one block.
 */
#define BLOCK_RANKER_FOREST			200 /* char[]: a GbdtForest */

/*
 * Reserved for the modules being written: more item signals 101-199; more
 * of the ranker 201-299; more of user-kNN 301-399.
 */

#endif							/* RERANK_SNAPSHOT_BLOCKS_H */
