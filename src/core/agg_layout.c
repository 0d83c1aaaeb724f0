/*
 * agg_layout.c
 *	  Checks and updates of the aggregates' float8[] states (see
 *	  agg_layout.h).
 */
#include "core/agg_layout.h"
#include "core/als_train.h"
#include "core/vec.h"

#include <cblas.h>
#include <math.h>

/* Largest row count a double holds exactly. */
#define AGG_MAX_COUNT 9007199254740992.0

const char *
AggCheckDetail(AggCheck check)
{
	switch (check)
	{
		case AGG_OK:
			return "The state is valid.";
		case AGG_SHORT:
			return "The state is shorter than its header.";
		case AGG_NOT_FINITE:
			return "The state contains a non-finite value.";
		case AGG_BAD_COUNT:
			return "The row count must be a positive integer.";
		case AGG_BAD_WEIGHT:
			return "The sum of weights must not be negative.";
		case AGG_BAD_LAYOUT:
			return "The state's length does not fit the aggregate's layout.";
		case AGG_OTHER_MODEL:
			return "The states are about different models.";
		case AGG_OTHER_DIMENSIONS:
			return "The state has other dimensions than the model.";
		case AGG_OTHER_LENGTH:
			return "The states have different lengths.";
		case AGG_OVERFLOW:
			return "A sum is out of the range of double precision.";
	}
	return "The state is invalid.";
}

AggCheck
AggHeaderCheck(const double *values, size_t n, bool scan)
{
	double		count;

	if (n < AGG_HEADER)
		return AGG_SHORT;
	if (!isfinite(AGG_COUNT(values)) || !isfinite(AGG_WEIGHT(values)))
		return AGG_NOT_FINITE;
	if (scan && VecFindNonFiniteDouble(values + AGG_HEADER, n - AGG_HEADER) <
		n - AGG_HEADER)
		return AGG_NOT_FINITE;
	count = AGG_COUNT(values);
	if (count < 1 || count > AGG_MAX_COUNT || count != floor(count))
		return AGG_BAD_COUNT;
	if (AGG_WEIGHT(values) < 0)
		return AGG_BAD_WEIGHT;
	return AGG_OK;
}

AggCheck
AggGramLayout(size_t n, int *k)
{
	double		root = floor(sqrt((double) n) + 0.5);

	if (root > AGG_MAX_DIMENSIONS || (size_t) root * (size_t) root != n)
		return AGG_BAD_LAYOUT;
	*k = (int) root;
	return AGG_OK;
}

size_t
AggFoldInPayload(int k)
{
	return AGG_FOLD_IN_KEYS + (size_t) k * (size_t) k + 2 * (size_t) k;
}

/* Whether v is an integer in [low, high]. */
static bool
IntegerIn(double v, double low, double high)
{
	return v >= low && v <= high && v == floor(v);
}

AggCheck
AggFoldInLayout(const double *payload, size_t n, int32_t *model_id, int *k)
{
	if (n < AGG_FOLD_IN_KEYS ||
		!IntegerIn(payload[0], 1, INT32_MAX) ||
		!IntegerIn(payload[1], 1, AGG_MAX_DIMENSIONS) ||
		n != AggFoldInPayload((int) payload[1]))
		return AGG_BAD_LAYOUT;
	*model_id = (int32_t) payload[0];
	*k = (int) payload[1];
	return AGG_OK;
}

AggCheck
AggFoldInCheck(const double *payload, size_t n, int32_t model_id, int k)
{
	int32_t		state_model;
	int			state_k;
	AggCheck	check = AggFoldInLayout(payload, n, &state_model, &state_k);

	if (check != AGG_OK)
		return check;
	if (state_model != model_id)
		return AGG_OTHER_MODEL;
	if (state_k != k)
		return AGG_OTHER_DIMENSIONS;
	return AGG_OK;
}

void
AggFoldInInit(double *payload, int32_t model_id, int k)
{
	payload[0] = model_id;
	payload[1] = k;
}

AggCheck
AggVectorAdd(double *values, size_t n, const float *x, double weight,
			 int *element)
{
	double	   *sums = values + AGG_HEADER;
	size_t		length = n - AGG_HEADER;
	size_t		bad;

	*element = 0;
	if (n < AGG_HEADER)
		return AGG_BAD_LAYOUT;
	AGG_COUNT(values) += 1;
	AGG_WEIGHT(values) += weight;
	VecAccumulate(sums, x, weight, length);
	if (!isfinite(AGG_WEIGHT(values)))
	{
		*element = -1;
		return AGG_OVERFLOW;
	}
	bad = VecFindNonFiniteDouble(sums, length);
	if (bad < length)
	{
		*element = (int) bad;
		return AGG_OVERFLOW;
	}
	return AGG_OK;
}

AggCheck
AggGramAdd(double *values, size_t n, const float *x, double *work)
{
	int			k;

	if (n < AGG_HEADER || AggGramLayout(n - AGG_HEADER, &k) != AGG_OK)
		return AGG_BAD_LAYOUT;
	AGG_COUNT(values) += 1;
	AGG_WEIGHT(values) += 1;
	if (k == 0)
		return AGG_OK;
	for (int i = 0; i < k; i++)
		work[i] = x[i];
	cblas_dsyr(CblasRowMajor, CblasUpper, k, 1.0, work, 1, values + AGG_HEADER, k);
	return AGG_OK;
}

AggCheck
AggFoldInAdd(double *values, size_t n, const float *y, double weight)
{
	double	   *payload = values + AGG_HEADER;
	int32_t		model_id;
	int			k;
	double	   *S = payload + AGG_FOLD_IN_KEYS;

	if (n < AGG_HEADER ||
		AggFoldInLayout(payload, n - AGG_HEADER, &model_id, &k) != AGG_OK)
		return AGG_BAD_LAYOUT;
	AGG_COUNT(values) += 1;
	AGG_WEIGHT(values) += weight;
	AlsSumsAdd(k, y, weight, S, S + (size_t) k * k, S + (size_t) k * k + k);
	return AGG_OK;
}

AggCheck
AggCombine(double *sum, size_t n_sum, const double *add, size_t n_add,
		   int nkeys)
{
	if (n_sum != n_add)
		return AGG_OTHER_LENGTH;
	if (n_sum < AGG_HEADER + (size_t) nkeys)
		return AGG_BAD_LAYOUT;
	for (int i = 0; i < nkeys; i++)
		if (sum[AGG_HEADER + i] != add[AGG_HEADER + i])
			return AGG_OTHER_MODEL;
	/* all or nothing: check every sum before writing one */
	for (size_t i = 0; i < n_sum; i++)
	{
		if (i >= AGG_HEADER && i < AGG_HEADER + (size_t) nkeys)
			continue;
		if (!isfinite(sum[i] + add[i]))
			return AGG_OVERFLOW;
	}
	for (size_t i = 0; i < n_sum; i++)
	{
		if (i >= AGG_HEADER && i < AGG_HEADER + (size_t) nkeys)
			continue;
		sum[i] += add[i];
	}
	return AGG_OK;
}
