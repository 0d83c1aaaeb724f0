/*
 * vector_funcs.c
 *	  SQL-callable similarity functions over real[]: dot, cosine similarity,
 *	  Euclidean distance, Pearson correlation, L2 norm and normalization.
 *
 * Each function validates its arrays (one-dimensional, no NULLs, equal
 * lengths), computes in the pure-C core and checks the result: since a
 * non-finite result can only come from a non-finite input, NaN and infinity
 * are caught without a separate pass over finite data.
 */
#include "postgres.h"

#include <math.h>

#include "common/vector_arg.h"
#include "core/vec.h"
#include "fmgr.h"

/* Validates both arguments and returns their common length. */
static int
VectorPairLength(ArrayType *a, ArrayType *b)
{
	int			length_a = VectorArgLength(a, "vector");
	int			length_b = VectorArgLength(b, "vector");

	CheckVectorsSameLength(length_a, length_b);
	return length_a;
}

/* Reports the non-finite element behind a non-finite result. */
static void
ReportNonFinitePair(ArrayType *a, ArrayType *b, int length)
{
	CheckVectorFinite(VECTOR_DATA(a), length, "vector");
	CheckVectorFinite(VECTOR_DATA(b), length, "vector");
	elog(ERROR, "non-finite result from finite vectors");
}

/* A function of two vectors of the core (core/vec.h). */
typedef double (*VecPairFn) (const float *a, const float *b, size_t n);

/*
 * The body of every function of two vectors: both arguments validated, the
 * core's result checked (inlined per caller, so fn is a direct call).
 */
static inline double
VectorPairResult(FunctionCallInfo fcinfo, VecPairFn fn)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *b = PG_GETARG_ARRAYTYPE_P(1);
	int			length = VectorPairLength(a, b);
	double		result = fn(VECTOR_DATA(a), VECTOR_DATA(b), length);

	if (unlikely(!isfinite(result)))
		ReportNonFinitePair(a, b, length);
	return result;
}

PG_FUNCTION_INFO_V1(dot);

/* Inner product of two vectors. */
Datum
dot(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(VectorPairResult(fcinfo, VecDot));
}

PG_FUNCTION_INFO_V1(cosine_similarity);

/* Cosine of the angle between two vectors; 0 if either is a zero vector. */
Datum
cosine_similarity(PG_FUNCTION_ARGS)
{
	double		result = VectorPairResult(fcinfo, VecCosine);

	/* rounding can push |cos| a hair above 1 */
	PG_RETURN_FLOAT8(Max(-1.0, Min(1.0, result)));
}

PG_FUNCTION_INFO_V1(euclidean_distance);

/* Euclidean (L2) distance between two vectors. */
Datum
euclidean_distance(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(VectorPairResult(fcinfo, VecDistance));
}

PG_FUNCTION_INFO_V1(pearson_correlation);

/* Pearson correlation of the elements; 0 if either has zero variance. */
Datum
pearson_correlation(PG_FUNCTION_ARGS)
{
	double		result = VectorPairResult(fcinfo, VecPearson);

	PG_RETURN_FLOAT8(Max(-1.0, Min(1.0, result)));
}

PG_FUNCTION_INFO_V1(l2_norm);

/* Euclidean length of a vector. */
Datum
l2_norm(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	int			length = VectorArgLength(a, "vector");
	double		result = VecNorm(VECTOR_DATA(a), length);

	if (unlikely(!isfinite(result)))
	{
		CheckVectorFinite(VECTOR_DATA(a), length, "vector");
		/* finite floats whose squares overflow a double cannot exist */
		elog(ERROR, "non-finite norm of a finite vector");
	}
	PG_RETURN_FLOAT8(result);
}

PG_FUNCTION_INFO_V1(l2_normalize);

/* The vector scaled to unit length; a zero vector is returned unchanged. */
Datum
l2_normalize(PG_FUNCTION_ARGS)
{
	ArrayType  *a = PG_GETARG_ARRAYTYPE_P(0);
	int			length = VectorArgLength(a, "vector");
	float	   *out;
	ArrayType  *result;
	double		norm;

	CheckVectorFinite(VECTOR_DATA(a), length, "vector");
	result = NewVector(length, &out);
	norm = VecNormalize(VECTOR_DATA(a), out, length);
	Assert(isfinite(norm));
	(void) norm;
	PG_RETURN_ARRAYTYPE_P(result);
}
