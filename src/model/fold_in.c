/*
 * fold_in.c
 *	  The fold-in of a history against a model (see fold_in.h), shared by the
 *	  real-time trigger, recommend(), evaluate() and
 *	  rerank.fold_in_history(item_ids, weights, model): the vector the
 *	  real-time trigger would store for a history, computed without storing
 *	  it (on-the-fly vectors for users without one, what-if histories, and
 *	  the tests' check that stored vectors match their histories).
 */
#include "postgres.h"

#include <math.h>

#include "cache/model_cache.h"
#include "common/vector_arg.h"
#include "core/als_solve.h"
#include "core/recent_history.h"
#include "core/vec.h"
#include "fmgr.h"
#include "model/fold_in.h"
#include "model/model_access.h"
#include "utils/array.h"
#include "utils/builtins.h"

/* Whether a model's fold-in parameters (regularization, alpha) are finite and >= 0. */
bool
FoldInParamsValid(const CachedModel *model)
{
	return model->regularization >= 0 && !isinf(model->regularization) &&
		model->alpha >= 0 && !isinf(model->alpha);
}

/*
 * Allocates the buffers of FoldInHistoryVector for k dimensions and
 * histories of up to capacity (>= 1) items.
 */
void
FoldInBuffersAlloc(FoldInBuffers *buffers, MemoryContext context, int k,
				   int capacity)
{
	buffers->vectors = MemoryContextAlloc(context, sizeof(float *) * capacity);
	buffers->kept = MemoryContextAlloc(context, sizeof(float *) * capacity);
	buffers->confidence = MemoryContextAlloc(context, sizeof(double) * capacity);
	buffers->workspace = MemoryContextAllocExtended(context,
													mul_size(AlsFoldInWorkspace(k, capacity),
															 sizeof(double)),
													MCXT_ALLOC_HUGE);
}

/*
 * The fold-in of one history against a model: the vector x of the items
 * that have one (weights > 0), confidences 1 + alpha·weight.  Returns how
 * many items were used (0: none known, x untouched) or -1 when the system
 * is not positive definite.  The buffers hold at least n entries.  Shared
 * by the triggers and rerank.fold_in_history(), which therefore agree to
 * the bit.
 */
int
FoldInHistoryVector(const CachedModel *model, const int64 *items,
					const float *weights, int n, FoldInBuffers *buffers,
					float *x)
{
	int			used;
	AlsHistory	history;

	ModelItemVectors(model, items, n, buffers->vectors, NULL);
	used = HistoryFoldInInput(weights, buffers->vectors, n, model->alpha,
							  buffers->kept, buffers->confidence);
	if (used == 0)
		return 0;
	history.n = used;
	history.vectors = buffers->kept;
	history.confidence = buffers->confidence;
	if (!AlsFoldIn(model->gram, model->dimensions, model->regularization,
				   &history, x, buffers->workspace) ||
		VecFindNonFinite(x, model->dimensions) < (size_t) model->dimensions)
		return -1;
	return used;
}

/* Longest history accepted: the solve costs n·k² flops. */
#define MAX_FOLD_IN_HISTORY 100000

PG_FUNCTION_INFO_V1(fold_in_history);

/*
 * fold_in_history(item_ids bigint[], weights real[], model text DEFAULT
 * NULL): the fold-in of the history against the model (NULL: the active
 * one); NULL when no model is active or no item has a vector.
 */
Datum
fold_in_history(PG_FUNCTION_ARGS)
{
	ArrayType  *ids_array;
	ArrayType  *weights_array;
	const CachedModel *model;
	int			n;
	int64	   *items;
	const float *weights;
	float	   *merged_weights;
	FoldInBuffers buffers;
	ArrayType  *result;
	float	   *x;
	int			used;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	ids_array = PG_GETARG_ARRAYTYPE_P(0);
	weights_array = PG_GETARG_ARRAYTYPE_P(1);
	n = IdArrayArgLength(ids_array, "item ids", MAX_FOLD_IN_HISTORY, false);
	if (VectorArgLength(weights_array, "weights") != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("item ids and weights have different lengths %d and %d",
						n, VectorArgLength(weights_array, "weights"))));
	weights = VECTOR_DATA(weights_array);
	for (int i = 0; i < n; i++)
		if (!(weights[i] >= 0) || isinf(weights[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("weights must be finite and >= 0"),
					 errdetail("Element %d is %g.", i + 1, weights[i])));

	model = ModelByName(PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2)));
	if (model == NULL || model->dimensions == 0 || model->gram == NULL || n == 0)
		PG_RETURN_NULL();
	if (!FoldInParamsValid(model))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model \"%s\" has an invalid regularization or alpha", model->name)));

	/* a repeated item counts once, at its first position, weights added */
	items = palloc(sizeof(int64) * n);
	merged_weights = palloc(sizeof(float) * n);
	(void) IdArrayValues(ids_array, n, items);
	memcpy(merged_weights, weights, sizeof(float) * n);
	n = HistoryMerge(items, merged_weights, n, palloc(sizeof(HistoryMergeEntry) * n));
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("the weights of a repeated item add up beyond the range of real")));
	weights = merged_weights;
	for (int i = 0; i < n; i++)
		if (!AlsConfidenceInRange(model->alpha, weights[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("weight %g of item " INT64_FORMAT " is too large for model \"%s\" (alpha %g)",
							weights[i], items[i], model->name, model->alpha),
					 errdetail("The confidence 1 + alpha * weight must be at most %g.",
							   ALS_MAX_CONFIDENCE)));
	FoldInBuffersAlloc(&buffers, CurrentMemoryContext, model->dimensions, n);
	result = NewVector(model->dimensions, &x);
	used = FoldInHistoryVector(model, items, weights, n, &buffers, x);
	if (used == 0)
		PG_RETURN_NULL();
	if (used < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("the fold-in system of model \"%s\" is not positive definite",
						model->name),
				 errhint("Give the model a regularization > 0.")));
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * The vector of a user without a stored one, folded in from the history
 * rerank keeps (the model's training interactions and the user's recent
 * items) with the model's YᵀY, λ and α, as the real-time trigger would;
 * false when the model has no YᵀY or no history item has a vector.  What
 * recommend() and evaluate() use for such users.
 */
bool
FoldInStoredHistory(const CachedModel *model, int64 user_id, float *x)
{
	int64	   *hist_ids;
	float	   *hist_w;
	int			n;
	FoldInBuffers buffers;

	if (model->gram == NULL)
		return false;
	n = LoadUserHistory(model, user_id, NULL, &hist_ids, &hist_w);
	if (n == 0)
		return false;
	FoldInBuffersAlloc(&buffers, CurrentMemoryContext, model->dimensions, n);
	return FoldInHistoryVector(model, hist_ids, hist_w, n, &buffers, x) > 0;
}
