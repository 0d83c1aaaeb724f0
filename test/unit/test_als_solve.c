/*
 * test_als_solve.c
 *	  Unit tests of src/core/als_solve.c against a naive dense solve, and of
 *	  the training's conjugate gradient (als_train.c) against the fold-in.
 */
#include "core/als_solve.h"
#include "core/als_train.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* Deterministic pseudo-random floats in [-1, 1). */
static float
Noise(unsigned *state)
{
	*state = *state * 1103515245u + 12345u;
	return ((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Gaussian elimination with partial pivoting on a dense copy (the oracle). */
static void
NaiveSolve(double *A, double *b, int k)
{
	for (int c = 0; c < k; c++)
	{
		int			pivot = c;

		for (int r = c + 1; r < k; r++)
			if (fabs(A[r * k + c]) > fabs(A[pivot * k + c]))
				pivot = r;
		for (int j = 0; j < k; j++)
		{
			double		t = A[c * k + j];

			A[c * k + j] = A[pivot * k + j];
			A[pivot * k + j] = t;
		}
		{
			double		t = b[c];

			b[c] = b[pivot];
			b[pivot] = t;
		}
		for (int r = c + 1; r < k; r++)
		{
			double		f = A[r * k + c] / A[c * k + c];

			for (int j = c; j < k; j++)
				A[r * k + j] -= f * A[c * k + j];
			b[r] -= f * b[c];
		}
	}
	for (int r = k - 1; r >= 0; r--)
	{
		double		s = b[r];

		for (int j = r + 1; j < k; j++)
			s -= A[r * k + j] * b[j];
		b[r] = s / A[r * k + r];
	}
}

/* A random model: items × k factors, its Gram matrix, and one history. */
typedef struct Fixture
{
	int			k,
				items,
				n;
	float	   *Y;
	float	   *gram;
	const float **vectors;
	double	   *conf;
} Fixture;

static Fixture
MakeFixture(int k, int items, int n, unsigned seed)
{
	Fixture		f = {0};

	f.k = k;
	f.items = items;
	f.n = n;

	f.Y = malloc(sizeof(float) * items * k);
	f.gram = calloc((size_t) k * k, sizeof(float));
	f.vectors = malloc(sizeof(float *) * (n > 0 ? n : 1));
	f.conf = malloc(sizeof(double) * (n > 0 ? n : 1));
	for (int i = 0; i < items * k; i++)
		f.Y[i] = 0.3f * Noise(&seed);
	for (int a = 0; a < k; a++)
		for (int b = 0; b < k; b++)
		{
			double		s = 0;

			for (int i = 0; i < items; i++)
				s += (double) f.Y[i * k + a] * f.Y[i * k + b];
			f.gram[a * k + b] = (float) s;
		}
	for (int j = 0; j < n; j++)
	{
		f.vectors[j] = f.Y + (size_t) ((j * 7) % items) * k;
		f.conf[j] = 1.0 + (j % 4) * 1.5;
	}
	return f;
}

static void
FreeFixture(Fixture *f)
{
	free(f->Y);
	free(f->gram);
	free(f->vectors);
	free(f->conf);
}

/* The oracle x for the fixture, built element by element. */
static void
OracleFoldIn(const Fixture *f, double reg, double *x)
{
	int			k = f->k;
	double	   *A = malloc(sizeof(double) * k * k);

	for (int a = 0; a < k; a++)
	{
		x[a] = 0;
		for (int b = 0; b < k; b++)
			A[a * k + b] = f->gram[a * k + b] + (a == b ? reg : 0);
	}
	for (int j = 0; j < f->n; j++)
		for (int a = 0; a < k; a++)
		{
			x[a] += f->conf[j] * f->vectors[j][a];
			for (int b = 0; b < k; b++)
				A[a * k + b] += (f->conf[j] - 1) * f->vectors[j][a] * f->vectors[j][b];
		}
	NaiveSolve(A, x, k);
	free(A);
}

UNIT_TEST(als_fold_in_matches_dense_solve)
{
	int			ks[] = {1, 3, 16, 64};

	for (int t = 0; t < 4; t++)
	{
		int			k = ks[t];
		Fixture		f = MakeFixture(k, 200, 37, 17u + t);
		AlsHistory	h = {f.n, f.vectors, f.conf};
		double	   *work = malloc(sizeof(double) * AlsFoldInWorkspace(k, f.n));
		double	   *expected = malloc(sizeof(double) * k);
		float	   *x = malloc(sizeof(float) * k);

		CHECK(AlsFoldIn(f.gram, k, 0.05, &h, x, work));
		OracleFoldIn(&f, 0.05, expected);
		for (int i = 0; i < k; i++)
			CHECK_NEAR(x[i], expected[i], 1e-4 * (1 + fabs(expected[i])));
		free(work);
		free(expected);
		free(x);
		FreeFixture(&f);
	}
}

UNIT_TEST(als_fold_in_empty_history_is_zero)
{
	Fixture		f = MakeFixture(8, 20, 0, 3u);
	AlsHistory	h = {0, f.vectors, f.conf};
	double		work[8 * 8 + 8 + 8];
	float		x[8] = {1, 1, 1, 1, 1, 1, 1, 1};

	CHECK(AlsFoldInWorkspace(8, 0) <= sizeof(work) / sizeof(work[0]));
	CHECK(AlsFoldIn(f.gram, 8, 0.1, &h, x, work));
	for (int i = 0; i < 8; i++)
		CHECK(x[i] == 0.0f);
	FreeFixture(&f);
}

UNIT_TEST(als_cholesky_rejects_indefinite)
{
	double		A[4] = {1, 2, 2, 1};	/* eigenvalues 3 and -1 */
	double		Z[4] = {0, 0, 0, 0};
	double		ok[4] = {4, 2, 2, 3};
	double		b[2] = {2, 1};

	CHECK(!CholeskyFactor(A, 2));
	CHECK(!CholeskyFactor(Z, 2));
	CHECK(CholeskyFactor(ok, 2));
	/* [4 2; 2 3] x = [2 1] gives x = [0.5, 0] */
	CholeskySolve(ok, 2, b);
	CHECK_NEAR(b[0], 0.5, 1e-12);
	CHECK_NEAR(b[1], 0.0, 1e-12);
}

UNIT_TEST(als_zero_regularization_singular)
{
	/* one item in two dimensions: YᵀY is rank one, λ = 0 cannot be solved */
	float		gram[4] = {1, 0, 0, 0};
	float		y[2] = {1, 0};
	const float *vectors[1] = {y};
	double		conf[1] = {2};
	AlsHistory	h = {1, vectors, conf};
	double		work[16];
	float		x[2];

	CHECK(!AlsFoldIn(gram, 2, 0.0, &h, x, work));
	CHECK(AlsFoldIn(gram, 2, 0.01, &h, x, work));
}

UNIT_TEST(als_cg_converges_to_cholesky)
{
	int			k = 32;
	Fixture		f = MakeFixture(k, 300, 50, 99u);
	AlsHistory	h = {f.n, f.vectors, f.conf};
	double	   *work = malloc(sizeof(double) * AlsFoldInWorkspace(k, f.n));
	float	   *cg_work = malloc(sizeof(float) * AlsCgWorkspace(k));
	float	   *exact = malloc(sizeof(float) * k);
	float	   *x = calloc(k, sizeof(float));
	float	   *gram_reg = malloc(sizeof(float) * k * k);
	int64_t		indptr[2] = {0, f.n};
	int32_t    *indices = malloc(sizeof(int32_t) * f.n);
	float	   *weights = malloc(sizeof(float) * f.n);
	AlsCsr		row = {1, f.items, f.n, indptr, indices, weights};
	double		err3 = 0,
				err_many = 0,
				norm = 0;

	/* the fixture's history as the one row of a CSR, confidence 1 + 1·w */
	for (int j = 0; j < f.n; j++)
	{
		indices[j] = (int32_t) ((f.vectors[j] - f.Y) / k);
		weights[j] = (float) (f.conf[j] - 1.0);
	}
	CHECK(AlsFoldIn(f.gram, k, 0.1, &h, exact, work));
	memcpy(gram_reg, f.gram, sizeof(float) * k * k);
	for (int i = 0; i < k; i++)
		gram_reg[i * k + i] += 0.1f;

	/* a few steps from zero get part of the way; many steps converge */
	(void) AlsCgBlock(&row, 0, 1, x, f.Y, k, gram_reg, 1.0, 3, false, cg_work);
	for (int i = 0; i < k; i++)
	{
		err3 += (x[i] - exact[i]) * (double) (x[i] - exact[i]);
		norm += exact[i] * (double) exact[i];
	}
	(void) AlsCgBlock(&row, 0, 1, x, f.Y, k, gram_reg, 1.0, 200, false, cg_work);
	for (int i = 0; i < k; i++)
		err_many += (x[i] - exact[i]) * (double) (x[i] - exact[i]);
	CHECK(err3 < norm);
	CHECK(err_many < 1e-6 * norm);
	CHECK(err_many < err3);

	free(work);
	free(cg_work);
	free(exact);
	free(x);
	free(gram_reg);
	free(indices);
	free(weights);
	FreeFixture(&f);
}

UNIT_TEST(als_contributions_add_up_to_the_fold_in_score)
{
	Fixture		f = MakeFixture(6, 40, 9, 77u);
	AlsHistory	h = {f.n, f.vectors, f.conf};
	float		x[6];
	double	   *work = malloc(sizeof(double) * AlsFoldInWorkspace(f.k, f.n));
	double	   *cwork = malloc(sizeof(double) * AlsContributionsWorkspace(f.k, f.n));
	double		contributions[9];
	const float *item = f.Y + 5 * f.k;
	double		xy = 0.0,
				sum = 0.0;

	CHECK(AlsFoldIn(f.gram, f.k, 0.1, &h, x, work));
	CHECK(AlsContributions(f.gram, f.k, 0.1, &h, item, contributions, cwork));
	for (int d = 0; d < f.k; d++)
		xy += (double) x[d] * item[d];
	for (int j = 0; j < f.n; j++)
		sum += contributions[j];
	/* x is rounded to float: the parts add up to xᵀy to float precision */
	CHECK_NEAR(sum, xy, 1e-5 * (1.0 + fabs(xy)));
	/* an indefinite system (no regularization, no Gram) is refused */
	{
		float		zero[36] = {0};
		AlsHistory	one = {1, f.vectors, f.conf};

		CHECK(!AlsContributions(zero, f.k, 0.0, &one, item, contributions, cwork));
	}
	free(work);
	free(cwork);
	FreeFixture(&f);
}
