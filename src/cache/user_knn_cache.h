/*
 * user_knn_cache.h
 *	  The index of a user-kNN model (core/user_knn.h) read from the registry
 *	  (user_knn_cache.c): its params, its training interactions (the
 *	  users' histories, and by item the inverted index the real-time
 *	  neighbor search walks) and its neighbor lists.  It is a block of the
 *	  model's served snapshot (snapshot.h) like an item-kNN model's lists; a
 *	  model over its budget is read into a temporary copy per call.
 */
#ifndef RERANK_USER_KNN_CACHE_H
#define RERANK_USER_KNN_CACHE_H

#include "postgres.h"

#include "core/user_knn.h"

/* What an index is built from, as read (in a memory context of its own). */
typedef struct UserKnnRows UserKnnRows;

/*
 * Reads the params, rerank.model_interactions and rerank.user_neighbors of
 * a user-kNN model, in a new context under the current one.  What serving
 * could not use is left out, as for item-kNN lists: a row with NULL
 * elements, entries whose weight or similarity is not a positive finite
 * number, neighbors without interactions; a repeated item keeps its
 * largest weight.  Params a model does not have take the defaults of
 * train_user_knn; one that is not valid is an error (22000) naming the
 * model.  Called inside SPI.
 */
extern UserKnnRows *UserKnnReadRows(int32 model_id, const char *model_name);

/* The bytes of the index the rows make. */
extern Size UserKnnRowsBytes(const UserKnnRows *rows);

/* Frees rows that no index is built from. */
extern void UserKnnFreeRows(UserKnnRows *rows);

/*
 * Builds the index of the rows into memory allocated in context (on huge
 * pages when big, cache_memory.c), then frees the rows.
 */
extern const UserKnnIndex *UserKnnBuild(MemoryContext context,
										UserKnnRows *rows);

/*
 * Builds the index of the rows into memory of bytes = UserKnnRowsBytes
 * (8-byte aligned), then frees the rows.
 */
extern const UserKnnIndex *UserKnnBuildInto(void *memory, Size bytes,
											UserKnnRows *rows);

/*
 * Registers the snapshot provider of user-kNN models (BLOCK_USER_KNN_INDEX:
 * the index, position-independent, held once per server with the preload);
 * called by ModelCacheInit.
 */
extern void UserKnnCacheInit(void);

#endif							/* RERANK_USER_KNN_CACHE_H */
