/*
 * vector_aggs.c
 *	  Aggregates over real[]: vector_sum, vector_avg and the weighted
 *	  vector_avg(real[], weight).
 *
 * The state (agg_state.h) is {rows, sum of weights, weighted sums...}; rows
 * whose vector or weight is NULL never reach the strict state functions, so
 * they are skipped, and an aggregate over no rows returns NULL.
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/agg_state.h"
#include "common/vector_arg.h"
#include "fmgr.h"

/*
 * Adds weight * vector to the state: the common body of the two state
 * functions.  A weight so large that a sum overflows is an error naming it.
 */
static ArrayType *
VectorAccumulate(FunctionCallInfo fcinfo, ArrayType *state, ArrayType *vector,
				 double weight, const char *aggname)
{
	bool		in_aggregate = AggCheckCallContext(fcinfo, NULL) != 0;
	int			state_length = AggStatePayloadLength(state, aggname, !in_aggregate);
	int			length = VectorArgLength(vector, "vector");
	const float *x = VECTOR_DATA(vector);
	int			element;

	if (state_length >= 0)
		CheckVectorsSameLength(state_length, length);
	CheckVectorFinite(x, length, "vector");

	state = AggStateForUpdate(fcinfo, state, length);
	if (AggVectorAdd(AGG_STATE_VALUES(state), (size_t) length + AGG_HEADER,
					 x, weight, &element) != AGG_OK)
	{
		if (element < 0)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s: the sum of weights is out of range after weight %g",
							aggname, weight)));
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s: weight %g times element %d of the vector (%g) is out of range",
						aggname, weight, element + 1, x[element]),
				 errdetail("The weighted sums are double precision.")));
	}
	return state;
}

PG_FUNCTION_INFO_V1(vector_accum);

/* State function of vector_sum(real[]) and vector_avg(real[]). */
Datum
vector_accum(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(VectorAccumulate(fcinfo, PG_GETARG_ARRAYTYPE_P(0),
										   PG_GETARG_ARRAYTYPE_P(1), 1.0,
										   "vector_sum or vector_avg"));
}

PG_FUNCTION_INFO_V1(vector_weighted_accum);

/* State function of vector_avg(real[], weight). */
Datum
vector_weighted_accum(PG_FUNCTION_ARGS)
{
	double		weight = PG_GETARG_FLOAT8(2);

	if (!isfinite(weight) || weight < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("weight must be a finite non-negative number, not %g",
						weight)));
	PG_RETURN_ARRAYTYPE_P(VectorAccumulate(fcinfo, PG_GETARG_ARRAYTYPE_P(0),
										   PG_GETARG_ARRAYTYPE_P(1), weight,
										   "vector_avg"));
}

PG_FUNCTION_INFO_V1(vector_combine);

/* Combine function of the vector aggregates: adds two partial states. */
Datum
vector_combine(PG_FUNCTION_ARGS)
{
	PG_RETURN_ARRAYTYPE_P(AggStateCombine(fcinfo, PG_GETARG_ARRAYTYPE_P(0),
										  PG_GETARG_ARRAYTYPE_P(1),
										  "vector aggregate", 0, NULL));
}

/*
 * The state's sums divided by the divisor, as real[]; raises an error when a
 * value does not fit in a float.
 */
static ArrayType *
StateToVector(ArrayType *state, int length, double divisor)
{
	double	   *sums = AGG_STATE_VALUES(state) + AGG_HEADER;
	float	   *out;
	ArrayType  *result = NewVector(length, &out);

	for (int i = 0; i < length; i++)
	{
		double		value = sums[i] / divisor;

		if (fabs(value) > FLT_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("value out of range for type real in element %d of the result",
							i + 1)));
		out[i] = (float) value;
	}
	return result;
}

PG_FUNCTION_INFO_V1(vector_sum_final);

/* Final function of vector_sum: the element-wise sum, NULL for no rows. */
Datum
vector_sum_final(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			length = AggStatePayloadLength(state, "vector_sum", true);

	if (length < 0)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(StateToVector(state, length, 1.0));
}

PG_FUNCTION_INFO_V1(vector_avg_final);

/*
 * Final function of both vector_avg aggregates: the sums divided by the sum
 * of weights (the row count when unweighted); NULL for no rows or when all
 * weights are zero.
 */
Datum
vector_avg_final(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			length = AggStatePayloadLength(state, "vector_avg", true);
	double		weight;

	if (length < 0)
		PG_RETURN_NULL();
	weight = AGG_WEIGHT(AGG_STATE_VALUES(state));
	if (weight == 0)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(StateToVector(state, length, weight));
}
