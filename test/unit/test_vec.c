/*
 * test_vec.c
 *	  Unit tests of src/core/vec.c.
 */
#include "core/vec.h"
#include "unit.h"

#include <stdlib.h>

UNIT_TEST(vec_dot_small)
{
	float		a[] = {1, 2, 3};
	float		b[] = {4, -5, 6};

	CHECK_NEAR(VecDot(a, b, 3), 12.0, 0);
	CHECK_NEAR(VecDot(a, b, 0), 0.0, 0);
}

UNIT_TEST(vec_dot_matches_naive_on_odd_lengths)
{
	/* lengths around the vector width exercise the remainder loops */
	for (size_t n = 1; n < 70; n++)
	{
		float	   *a = malloc(n * sizeof(float));
		float	   *b = malloc(n * sizeof(float));
		double		naive = 0;

		for (size_t i = 0; i < n; i++)
		{
			a[i] = (float) ((i * 7919) % 13) - 6.0f;
			b[i] = (float) ((i * 104729) % 11) * 0.5f;
			naive += (double) a[i] * b[i];
		}
		CHECK_NEAR(VecDot(a, b, n), naive, 1e-9);
		CHECK_NEAR(VecSquaredNorm(a, n), VecDot(a, a, n), 1e-9);
		free(a);
		free(b);
	}
}

UNIT_TEST(vec_cosine)
{
	float		a[] = {1, 0};
	float		b[] = {0, 2};
	float		c[] = {3, 0};
	float		d[] = {-2, 0};
	float		zero[] = {0, 0};

	CHECK_NEAR(VecCosine(a, b, 2), 0.0, 1e-12);
	CHECK_NEAR(VecCosine(a, c, 2), 1.0, 1e-12);
	CHECK_NEAR(VecCosine(a, d, 2), -1.0, 1e-12);
	/* zero and empty vectors: defined as 0, never NaN */
	CHECK_NEAR(VecCosine(a, zero, 2), 0.0, 0);
	CHECK_NEAR(VecCosine(zero, zero, 2), 0.0, 0);
	CHECK_NEAR(VecCosine(a, b, 0), 0.0, 0);
}

UNIT_TEST(vec_distance)
{
	float		a[] = {1, 2, 3};
	float		b[] = {4, 6, 3};

	CHECK_NEAR(VecSquaredDistance(a, b, 3), 25.0, 0);
	CHECK_NEAR(VecDistance(a, b, 3), 5.0, 1e-12);
	CHECK_NEAR(VecDistance(a, a, 3), 0.0, 0);
	CHECK_NEAR(VecNorm(b, 2), sqrt(52.0), 1e-12);
}

UNIT_TEST(vec_pearson)
{
	float		a[] = {1, 2, 3, 4};
	float		b[] = {2, 4, 6, 8};
	float		c[] = {4, 3, 2, 1};
	float		flat[] = {5, 5, 5, 5};
	/* a large common offset must not destroy precision */
	float		off_a[] = {1e6f + 1, 1e6f + 2, 1e6f + 3, 1e6f + 4};
	float		x[] = {1, 2, 3, 5};

	CHECK_NEAR(VecPearson(a, b, 4), 1.0, 1e-12);
	CHECK_NEAR(VecPearson(a, c, 4), -1.0, 1e-12);
	CHECK_NEAR(VecPearson(a, flat, 4), 0.0, 0);
	CHECK_NEAR(VecPearson(a, a, 1), 0.0, 0);
	CHECK_NEAR(VecPearson(a, a, 0), 0.0, 0);
	CHECK_NEAR(VecPearson(off_a, b, 4), 1.0, 1e-9);
	/* numpy.corrcoef([1,2,3,4],[1,2,3,5])[0,1] */
	CHECK_NEAR(VecPearson(a, x, 4), 0.9827076298239908, 1e-9);
}

UNIT_TEST(vec_normalize)
{
	float		a[] = {3, 4};
	float		out[2];
	float		zero[] = {0, 0};

	CHECK_NEAR(VecNormalize(a, out, 2), 5.0, 1e-12);
	CHECK_NEAR(out[0], 0.6, 1e-7);
	CHECK_NEAR(out[1], 0.8, 1e-7);
	/* in place */
	VecNormalize(a, a, 2);
	CHECK_NEAR(a[0], 0.6, 1e-7);
	/* zero vector unchanged */
	CHECK_NEAR(VecNormalize(zero, out, 2), 0.0, 0);
	CHECK(out[0] == 0 && out[1] == 0);
}

UNIT_TEST(vec_non_finite_propagates)
{
	float		a[] = {1, NAN, 3};
	float		inf[] = {1, INFINITY, 3};
	float		ok[] = {1, 0, 3};

	CHECK(VecFindNonFinite(ok, 3) == 3);
	CHECK(VecFindNonFinite(a, 3) == 1);
	CHECK(VecFindNonFinite(inf, 3) == 1);
	/* the lazy validation of the SQL functions relies on this */
	CHECK(!isfinite(VecDot(a, ok, 3)));
	CHECK(!isfinite(VecDot(inf, ok, 3)));
	CHECK(!isfinite(VecCosine(ok, inf, 3)));
	CHECK(!isfinite(VecDistance(inf, inf, 3)));
	CHECK(!isfinite(VecPearson(ok, a, 3)));
	CHECK(!isfinite(VecNorm(inf, 3)));
}

UNIT_TEST(vec_accumulate)
{
	double		sum[3] = {1, 1, 1};
	float		x[] = {1, 2, 3};

	VecAccumulate(sum, x, 0.5, 3);
	CHECK_NEAR(sum[0], 1.5, 0);
	CHECK_NEAR(sum[2], 2.5, 0);
}
