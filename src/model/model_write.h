/*
 * model_write.h
 *	  Registering trained models (model_write.c): the model row, its
 *	  vectors, training interactions and neighbor lists, and activation.
 */
#ifndef RERANK_MODEL_WRITE_H
#define RERANK_MODEL_WRITE_H

#include "postgres.h"

#include "core/als_train.h"

/*
 * Checks before training that a model name may be used: an existing model
 * without replace is an error (42710), as is replacing the active model by
 * one of other dimensions (55006).
 */
extern void CheckModelName(const char *name, bool replace, int dimensions);

/*
 * Starts a model's write phase: takes the write phase's table locks first
 * (docs/locking.md), then creates the model row, or with replace
 * empties the existing one (keeping its id, activation state and history
 * when the dimensions agree; else deleting and re-creating it).  Returns the
 * model_id.
 */
extern int32 PrepareModelRow(const char *name, const char *algorithm,
							 int dimensions, bool replace,
							 const char *params_json, const char *description);

/* Writes n vectors of k floats for the given ids (item or user table). */
extern void WriteFactors(int32 model_id, bool items, const int64 *ids,
						 const float *vectors, int n, int k);

/*
 * Writes the training interactions, one row per user: row u of by_user
 * (users rows) is user user_ids[u]'s, its columns index item_ids.
 */
extern void WriteInteractions(int32 model_id, const int64 *user_ids,
							  const AlsCsr *by_user, const int64 *item_ids);

/*
 * Writes the neighbor lists of items (rerank.item_neighbors) or, of_users,
 * of users (rerank.user_neighbors): row r (ids[r]) has the neighbors
 * ids[neighbors[e]], e in [offsets[r], offsets[r+1]); a row without
 * neighbors is not written.
 */
extern void WriteNeighbors(int32 model_id, bool of_users, const int64 *ids,
						   int n, const int64 *offsets, const int32 *neighbors,
						   const float *similarities);

/* Sets gram (may be NULL), metrics, trained_at and training_seconds. */
extern void FinishModelRow(int32 model_id, const float *gram, int k,
						   const char *metrics_json, double seconds);

/* Activates a model through rerank.activate_model(). */
extern void ActivateModelByName(const char *name);

#endif							/* RERANK_MODEL_WRITE_H */
