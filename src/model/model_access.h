/*
 * model_access.h
 *	  Reading what trained models keep beside their item vectors
 *	  (model_access.c): user vectors, training histories and neighbor lists,
 *	  for serving and evaluation.  The registry row, YᵀY and item vectors
 *	  come from the model cache (cache/model_cache.h).
 */
#ifndef RERANK_MODEL_ACCESS_H
#define RERANK_MODEL_ACCESS_H

#include "postgres.h"

#include "cache/model_cache.h"
#include "model/user_features.h"

/* A user's vector (dimensions floats); false when the model has none. */
extern bool LoadUserVector(const CachedModel *model, int64 user_id, float *out);

/*
 * A user's history: the interactions the model was trained on merged with
 * the user's recent history and purchases (weight 0: known, not scored)
 * from features (NULL: read from rerank.user_features), each item once
 * with its largest weight, in ascending id order, as parallel arrays of
 * item ids and weights.  Returns the count.
 */
extern int	LoadUserHistory(const CachedModel *model, int64 user_id,
							const UserFeatures *features, int64 **item_ids,
							float **weights);

/*
 * LoadUserHistory's merge, for a caller that has the training interactions
 * (ntrain item ids and weights, e.g. from a user-kNN model's index):
 * features' recent history and purchases with them, by the same rule.
 */
extern int	MergeUserHistory(const UserFeatures *features, const int64 *train_ids,
							 const float *train_weights, int ntrain,
							 int64 **item_ids, float **weights);

/* Called with each neighbor list ForEachNeighborList finds. */
typedef void (*NeighborListFn) (int64 item_id, const NeighborList *list,
								void *arg);

/*
 * Calls fn once for the neighbor list of each distinct id that has one (in
 * no particular order): from the model cache, or for a model over its
 * budget from one query of rerank.item_neighbors (malformed rows left out,
 * see NeighborRow).  fn may run inside SPI: what it allocates must go to a
 * context of its own (repalloc keeps a block's context).
 */
extern void ForEachNeighborList(const CachedModel *model, const int64 *ids,
								int n, NeighborListFn fn, void *arg);

/*
 * known[i]: whether ids[i] (distinct) has a neighbor list; without the cache, one
 * index-only scan that reads no list.
 */
extern void NeighborListsKnown(const CachedModel *model, const int64 *ids,
							   int n, bool *known);

/* The neighbors of one item, copied (n = 0 when it has none). */
extern NeighborList LoadNeighbors(const CachedModel *model, int64 item_id);

#endif							/* RERANK_MODEL_ACCESS_H */
