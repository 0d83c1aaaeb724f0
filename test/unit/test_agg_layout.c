/*
 * test_agg_layout.c
 *	  Unit tests of src/core/agg_layout.c: the checks of aggregate states and
 *	  their updates.
 */
#include "core/agg_layout.h"
#include "unit.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

UNIT_TEST(agg_header_checks)
{
	double		ok[4] = {2, 3, 1, 2};
	double		nan_payload[3] = {1, 1, NAN};

	CHECK(AggHeaderCheck(ok, 4, true) == AGG_OK);
	CHECK(AggHeaderCheck(ok, 2, true) == AGG_OK);	/* header only */
	CHECK(AggHeaderCheck(ok, 1, true) == AGG_SHORT);
	CHECK(AggHeaderCheck(ok, 0, true) == AGG_SHORT);
	CHECK(AggHeaderCheck(nan_payload, 3, true) == AGG_NOT_FINITE);
	CHECK(AggHeaderCheck(nan_payload, 3, false) == AGG_OK);	/* not scanned */
	{
		double		v[3][2] = {{0, 1}, {1.5, 1}, {-1, 1}};

		for (int i = 0; i < 3; i++)
			CHECK(AggHeaderCheck(v[i], 2, true) == AGG_BAD_COUNT);
	}
	{
		double		v[2] = {1, -0.5};
		double		w[2] = {INFINITY, 1};
		double		big[2] = {1e300, 1};

		CHECK(AggHeaderCheck(v, 2, true) == AGG_BAD_WEIGHT);
		CHECK(AggHeaderCheck(w, 2, false) == AGG_NOT_FINITE);
		CHECK(AggHeaderCheck(big, 2, false) == AGG_BAD_COUNT);
	}
	for (int c = AGG_OK; c <= AGG_OVERFLOW; c++)
		CHECK(AggCheckDetail((AggCheck) c) != NULL);
}

UNIT_TEST(agg_gram_layout)
{
	int			k = -1;

	CHECK(AggGramLayout(0, &k) == AGG_OK && k == 0);
	CHECK(AggGramLayout(64, &k) == AGG_OK && k == 8);
	CHECK(AggGramLayout(63, &k) == AGG_BAD_LAYOUT);
	CHECK(AggGramLayout((size_t) 2048 * 2048, &k) == AGG_OK && k == 2048);
	CHECK(AggGramLayout((size_t) 2049 * 2049, &k) == AGG_BAD_LAYOUT);
}

/* A fold-in payload of k dimensions with the given keys. */
static double *
FoldInPayload(double model_id, double k, size_t n)
{
	double	   *p = calloc(n, sizeof(double));

	p[0] = model_id;
	if (n > 1)
		p[1] = k;
	return p;
}

UNIT_TEST(agg_fold_in_layout_and_model)
{
	int32_t		model_id = 0;
	int			k = 0;
	size_t		n8 = AggFoldInPayload(8);
	double	   *p = FoldInPayload(7, 8, n8);

	CHECK(n8 == 2 + 64 + 16);
	CHECK(AggFoldInLayout(p, n8, &model_id, &k) == AGG_OK);
	CHECK(model_id == 7 && k == 8);
	CHECK(AggFoldInCheck(p, n8, 7, 8) == AGG_OK);
	CHECK(AggFoldInCheck(p, n8, 8, 8) == AGG_OTHER_MODEL);
	/* the crash of issue 10: a consistent k = 2 state, a model of 64 */
	free(p);
	p = FoldInPayload(7, 2, AggFoldInPayload(2));
	CHECK(AggFoldInCheck(p, AggFoldInPayload(2), 7, 64) == AGG_OTHER_DIMENSIONS);
	/* lengths that do not fit k */
	CHECK(AggFoldInLayout(p, AggFoldInPayload(2) + 1, &model_id, &k) == AGG_BAD_LAYOUT);
	CHECK(AggFoldInLayout(p, n8, &model_id, &k) == AGG_BAD_LAYOUT);
	CHECK(AggFoldInLayout(p, 1, &model_id, &k) == AGG_BAD_LAYOUT);
	CHECK(AggFoldInLayout(p, 0, &model_id, &k) == AGG_BAD_LAYOUT);
	free(p);
	/* keys out of range or not integers */
	{
		double		keys[][2] = {{0, 2}, {-1, 2}, {0.5, 2}, {3e9, 2}, {NAN, 2},
		{1, 0}, {1, -2}, {1, 2.5}, {1, 2049}, {1, 1e10}, {1, NAN}};

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		{
			size_t		n = AggFoldInPayload(8);

			p = FoldInPayload(keys[i][0], keys[i][1], n);
			CHECK(AggFoldInLayout(p, n, &model_id, &k) == AGG_BAD_LAYOUT);
			free(p);
		}
	}
}

UNIT_TEST(agg_vector_add_and_overflow)
{
	double		s[5] = {0, 0, 0, 0, 0};
	float		x[3] = {1, 2, 3};
	float		big[3] = {1, 1e30f, 1};
	int			element = 0;

	CHECK(AggVectorAdd(s, 5, x, 2, &element) == AGG_OK);
	CHECK(s[0] == 1 && s[1] == 2 && s[2] == 2 && s[3] == 4 && s[4] == 6);
	CHECK(AggVectorAdd(s, 5, big, 1e300, &element) == AGG_OVERFLOW);
	CHECK(element == 1);
	s[1] = 0;
	CHECK(AggVectorAdd(s, 5, x, DBL_MAX, &element) == AGG_OVERFLOW);
	{
		double		w[3] = {1, DBL_MAX, 0};
		float		one[1] = {0};

		CHECK(AggVectorAdd(w, 3, one, DBL_MAX, &element) == AGG_OVERFLOW);
		CHECK(element == -1);
	}
}

UNIT_TEST(agg_gram_and_fold_in_add)
{
	double		g[2 + 4] = {0};
	float		x[2] = {1, 2};
	double		work[2];
	size_t		n = AggFoldInPayload(2) + AGG_HEADER;
	double	   *f = calloc(n, sizeof(double));

	CHECK(AggGramAdd(g, 5, x, work) == AGG_BAD_LAYOUT);
	CHECK(g[0] == 0);
	CHECK(AggGramAdd(g, 6, x, work) == AGG_OK);
	CHECK(g[0] == 1 && g[1] == 1);
	CHECK(g[2] == 1 && g[3] == 2 && g[5] == 4);	/* upper triangle */
	CHECK(AggFoldInAdd(f, n, x, 0.5) == AGG_BAD_LAYOUT);	/* no keys yet */
	AggFoldInInit(f + AGG_HEADER, 3, 2);
	CHECK(AggFoldInAdd(f, n - 1, x, 0.5) == AGG_BAD_LAYOUT);
	CHECK(AggFoldInAdd(f, n, x, 0.5) == AGG_OK);
	CHECK(f[0] == 1 && f[1] == 0.5 && f[2] == 3 && f[3] == 2);
	/* S = 0.5·x xᵀ, Σ y = x, Σ r·y = 0.5·x */
	CHECK(f[4] == 0.5 && f[5] == 1 && f[7] == 2);
	CHECK(f[8] == 1 && f[9] == 2 && f[10] == 0.5 && f[11] == 1);
	free(f);
}

UNIT_TEST(agg_combine_keys_lengths_overflow)
{
	double		a[6] = {1, 1, 7, 2, 1, 1};
	double		b[6] = {2, 3, 7, 2, 2, 2};
	double		other[6] = {1, 1, 8, 2, 1, 1};
	double		big[6] = {1, 1, 7, 2, DBL_MAX, 1};
	double		before[6];

	CHECK(AggCombine(a, 6, b, 5, 2) == AGG_OTHER_LENGTH);
	CHECK(AggCombine(a, 6, other, 6, 2) == AGG_OTHER_MODEL);
	CHECK(AggCombine(a, 3, b, 3, 2) == AGG_BAD_LAYOUT);
	CHECK(AggCombine(a, 6, b, 6, 2) == AGG_OK);
	CHECK(a[0] == 3 && a[1] == 4 && a[2] == 7 && a[3] == 2 && a[4] == 3 && a[5] == 3);
	/* an overflow leaves the state as it was */
	big[4] = DBL_MAX;
	a[4] = DBL_MAX;
	memcpy(before, a, sizeof(a));
	CHECK(AggCombine(a, 6, big, 6, 2) == AGG_OVERFLOW);
	CHECK(memcmp(before, a, sizeof(a)) == 0);
	/* without keys every value adds */
	{
		double		c[3] = {1, 1, 5};
		double		d[3] = {1, 1, 6};

		CHECK(AggCombine(c, 3, d, 3, 0) == AGG_OK && c[2] == 11);
	}
}
