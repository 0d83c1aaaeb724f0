/*
 * fold_in.h
 *	  The fold-in of a history against a model's fixed item vectors and
 *	  YᵀY (fold_in.c): what the real-time trigger stores, what
 *	  rerank.fold_in_history() returns, and the vector recommend() and
 *	  evaluate() fold in for a user without a stored one.
 */
#ifndef RERANK_FOLD_IN_H
#define RERANK_FOLD_IN_H

#include "postgres.h"

#include "cache/model_cache.h"

/* What FoldInHistoryVector works in, for histories of up to a capacity. */
typedef struct FoldInBuffers
{
	const float **vectors;		/* each entry's item vector, or NULL */
	const float **kept;			/* the vectors the solve uses */
	double	   *confidence;		/* and their confidences */
	double	   *workspace;		/* AlsFoldInWorkspace(k, capacity) doubles */
} FoldInBuffers;

/* Whether a model's fold-in parameters (regularization, alpha) are finite and >= 0. */
extern bool FoldInParamsValid(const CachedModel *model);

/*
 * Allocates the buffers of FoldInHistoryVector for k dimensions and
 * histories of up to capacity (>= 1) items.
 */
extern void FoldInBuffersAlloc(FoldInBuffers *buffers, MemoryContext context,
							   int k, int capacity);

/*
 * The fold-in of one history against a model: the vector x of the items
 * that have one (weights > 0), confidences 1 + alpha·weight.  Returns how
 * many items were used (0: none known, x untouched) or -1 when the system
 * is not positive definite.  The buffers hold at least n entries.
 */
extern int	FoldInHistoryVector(const CachedModel *model, const int64 *items,
								const float *weights, int n,
								FoldInBuffers *buffers, float *x);

/*
 * A user without a stored vector, folded in from the stored history; false
 * when that gives no vector.
 */
extern bool FoldInStoredHistory(const CachedModel *model, int64 user_id,
								float *x);

#endif							/* RERANK_FOLD_IN_H */
