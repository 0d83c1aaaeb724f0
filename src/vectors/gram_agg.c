/*
 * gram_agg.c
 *	  The gram_matrix(real[]) aggregate: YᵀY of a set of factor vectors.
 *
 * ALS fold-in needs the Gram matrix of the item factors; this aggregate
 * computes it in SQL (and so in parallel, or on distributed shards).  The
 * state is {rows, rows, k*k sums} (agg_state.h); each row is a rank-1 update
 * of the upper triangle through BLAS dsyr, symmetrized by the final function,
 * which returns the k×k matrix row-major as a one-dimensional real[].
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/agg_state.h"
#include "common/vector_arg.h"
#include "fmgr.h"

/* The k of a k×k payload, or an error when the length is not a square. */
static int
GramDimensions(int payload_length)
{
	int			k;

	if (AggGramLayout((size_t) payload_length, &k) != AGG_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid transition state for gram_matrix"),
				 errdetail("The state holds %d values, not a square matrix of at most %d×%d.",
						   payload_length, RERANK_MAX_DIMENSIONS, RERANK_MAX_DIMENSIONS)));
	return k;
}

PG_FUNCTION_INFO_V1(gram_accum);

/* State function of gram_matrix: adds x xᵀ to the upper triangle. */
Datum
gram_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *vector = PG_GETARG_ARRAYTYPE_P(1);
	bool		in_aggregate = AggCheckCallContext(fcinfo, NULL) != 0;
	int			payload = AggStatePayloadLength(state, "gram_matrix", !in_aggregate);
	int			k = VectorArgLength(vector, "vector");
	const float *x = VECTOR_DATA(vector);
	double	   *work;

	if (k > RERANK_MAX_DIMENSIONS)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("gram_matrix supports at most %d dimensions, not %d",
						RERANK_MAX_DIMENSIONS, k)));
	if (payload >= 0)
		CheckVectorsSameLength(GramDimensions(payload), k);
	CheckVectorFinite(x, k, "vector");

	state = AggStateForUpdate(fcinfo, state, k * k);
	work = palloc(sizeof(double) * Max(k, 1));
	if (AggGramAdd(AGG_STATE_VALUES(state), (size_t) k * k + AGG_HEADER, x,
				   work) != AGG_OK)
		elog(ERROR, "gram_matrix state of the wrong length");
	pfree(work);
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(gram_combine);

/* Combine function of gram_matrix: both states checked, then added. */
Datum
gram_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *s1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *s2 = PG_GETARG_ARRAYTYPE_P(1);
	/* lengths only: AggStateCombine checks the values */
	int			p1 = AggStatePayloadLength(s1, "gram_matrix", false);
	int			p2 = AggStatePayloadLength(s2, "gram_matrix", false);

	if (p1 >= 0)
		(void) GramDimensions(p1);
	if (p2 >= 0)
		(void) GramDimensions(p2);
	PG_RETURN_ARRAYTYPE_P(AggStateCombine(fcinfo, s1, s2, "gram_matrix", 0, NULL));
}

PG_FUNCTION_INFO_V1(gram_final);

/* Final function of gram_matrix: the symmetric k×k matrix, NULL for no rows. */
Datum
gram_final(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			payload = AggStatePayloadLength(state, "gram_matrix", true);
	int			k;
	double	   *g;
	float	   *out;
	ArrayType  *result;

	if (payload < 0)
		PG_RETURN_NULL();
	k = GramDimensions(payload);
	g = AGG_STATE_VALUES(state) + AGG_HEADER;
	result = NewVector(k * k, &out);
	for (int i = 0; i < k; i++)
	{
		for (int j = i; j < k; j++)
		{
			double		value = g[i * k + j];

			if (fabs(value) > FLT_MAX)
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("value out of range for type real in the Gram matrix")));
			out[i * k + j] = out[j * k + i] = (float) value;
		}
	}
	PG_RETURN_ARRAYTYPE_P(result);
}
