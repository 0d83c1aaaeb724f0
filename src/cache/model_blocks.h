/*
 * model_blocks.h
 *	  The snapshot provider of factor models (model_blocks.c): the blocks
 *	  BLOCK_MODEL_* of snapshot_blocks.h, and the two reads of a model the
 *	  model cache also needs when a model is served from its tables.
 */
#ifndef RERANK_MODEL_BLOCKS_H
#define RERANK_MODEL_BLOCKS_H

#include "postgres.h"

/* Registers the provider; called by ModelCacheInit. */
extern void ModelBlocksInit(void);

/* The number of item vectors of a model.  Called inside SPI. */
extern int64 ModelItemCount(int32 model_id);

/*
 * YᵀY of a model (k×k floats into gram): the registry's copy, else computed
 * by the gram_matrix aggregate (what activation stores); false when the
 * model has no item vectors.  Called inside SPI.
 */
extern bool ModelReadGram(int32 model_id, int k, const char *name, float *gram);

#endif							/* RERANK_MODEL_BLOCKS_H */
