/*
 * als_solve.c
 *	  The ALS user solve: normal equations, Cholesky and fold-in (see
 *	  als_solve.h for the system solved).
 *
 * The normal equations are built in double precision from YᵀY plus a
 * rank-n update summed by BLAS ssyrk, so the cost is O(n·k² + k³) per user
 * whatever the catalog size.  The Cholesky factorization is a plain loop
 * over rows whose inner products the compiler vectorizes; at the k of
 * recommendation models (16 to 256) it beats a LAPACK call's overhead and
 * keeps the core free of the Fortran ABI.
 */
#include "core/als_solve.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Doubles of workspace AlsFoldIn needs: A, b, and AlsNormalEquations' own. */
size_t
AlsFoldInWorkspace(int k, int n)
{
	return (size_t) k * k + (size_t) k + AlsNormalEquationsWorkspace(k, n);
}

/* Factors A, solves, and rounds the solution to floats; see als_solve.h. */
bool
CholeskySolveFloat(double *A, int k, double *b, float *x)
{
	if (!CholeskyFactor(A, k))
		return false;
	CholeskySolve(A, k, b);
	for (int i = 0; i < k; i++)
		x[i] = (float) b[i];
	return true;
}

/* Doubles of workspace AlsNormalEquations needs: n·k + k² floats. */
size_t
AlsNormalEquationsWorkspace(int k, int n)
{
	if (n <= 0)
		return 0;
	return ((size_t) n * k + (size_t) k * k + 1) / 2;
}

void
AlsNormalEquations(const float *gram, int k, double regularization,
				   const AlsHistory *history, double *A, double *b,
				   double *work)
{
	int			n = 0;
	float	   *z;

	/*
	 * The history's item vectors are scattered over a catalog-sized cache
	 * and usually cold: fetching them one at a time in the loop below made
	 * it wait on memory for each.  Asking for all their cache lines first
	 * lets the loads overlap, and they arrive while YᵀY is copied.
	 */
	for (int j = 0; j < history->n; j++)
		for (int i = 0; i < k; i += 16)
			__builtin_prefetch(history->vectors[j] + i);

	for (int i = 0; i < k; i++)
	{
		double	   *row = A + (size_t) i * k;
		const float *from = gram + (size_t) i * k;

		for (int j = i; j < k; j++)
			row[j] = from[j];
		row[i] += regularization;
		b[i] = 0.0;
	}

	/*
	 * Rows sqrt(c_j - 1) · y_j, so that A += ZᵀZ is one syrk, in single
	 * precision: half the memory and twice the width of the double one,
	 * which made it a third of the fold-in.  The rounding it adds to A is of
	 * the order of the rounding already in YᵀY (stored as floats) and below
	 * that of the float vector stored as the result.
	 */
	z = (float *) work;
	for (int j = 0; j < history->n; j++)
	{
		const float *y = history->vectors[j];
		double		c = history->confidence[j];
		float		scale = c > 1.0 ? (float) sqrt(c - 1.0) : 0.0f;
		float	   *row = z + (size_t) n * k;

		for (int i = 0; i < k; i++)
		{
			b[i] += c * y[i];
			row[i] = scale * y[i];
		}
		if (scale > 0.0f)
			n++;
	}
	if (n > 0)
	{
		float	   *S = z + (size_t) history->n * k;

		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, k, n,
					1.0f, z, k, 0.0f, S, k);
		for (int i = 0; i < k; i++)
		{
			double	   *row = A + (size_t) i * k;
			const float *add = S + (size_t) i * k;

			for (int j = i; j < k; j++)
				row[j] += add[j];
		}
	}
}

bool
CholeskyFactor(double *A, int k)
{
	/*
	 * Row-oriented (Cholesky–Crout on the upper triangle): row i of U is
	 * A[i, i:] minus the contributions of the rows above, whose columns
	 * i..k-1 are contiguous, so every inner loop is a stride-1 update.  The
	 * rows above are taken four at a time, so the row being built is loaded
	 * and stored once per four rows instead of once per row: at k = 64 that
	 * halves the time of the factorization.
	 */
	for (int i = 0; i < k; i++)
	{
		double	   *row = A + (size_t) i * k;
		double		diag,
					inverse;
		int			p = 0;

		for (; p + 4 <= i; p += 4)
		{
			const double *a0 = A + (size_t) p * k;
			const double *a1 = a0 + k;
			const double *a2 = a1 + k;
			const double *a3 = a2 + k;
			double		u0 = a0[i],
						u1 = a1[i],
						u2 = a2[i],
						u3 = a3[i];

			for (int j = i; j < k; j++)
				row[j] -= u0 * a0[j] + u1 * a1[j] + u2 * a2[j] + u3 * a3[j];
		}
		for (; p < i; p++)
		{
			const double *above = A + (size_t) p * k;
			double		u = above[i];

			for (int j = i; j < k; j++)
				row[j] -= u * above[j];
		}
		diag = row[i];
		if (!(diag > 0.0) || !isfinite(diag))
			return false;
		diag = sqrt(diag);
		row[i] = diag;
		inverse = 1.0 / diag;
		for (int j = i + 1; j < k; j++)
			row[j] *= inverse;
	}
	return true;
}

void
CholeskySolve(const double *U, int k, double *b)
{
	/* forward: Uᵀ y = b, column-oriented so U is read row by row */
	for (int i = 0; i < k; i++)
	{
		const double *row = U + (size_t) i * k;
		double		y = b[i] / row[i];

		b[i] = y;
		for (int j = i + 1; j < k; j++)
			b[j] -= row[j] * y;
	}
	/* backward: U x = y */
	for (int i = k - 1; i >= 0; i--)
	{
		const double *row = U + (size_t) i * k;
		double		sum = b[i];

		for (int j = i + 1; j < k; j++)
			sum -= row[j] * b[j];
		b[i] = sum / row[i];
	}
}

bool
AlsFoldIn(const float *gram, int k, double regularization,
		  const AlsHistory *history, float *x, double *work)
{
	double	   *A = work;
	double	   *b = A + (size_t) k * k;
	double	   *z = b + k;

	if (history->n == 0)
	{
		memset(x, 0, sizeof(float) * k);
		return true;
	}
	AlsNormalEquations(gram, k, regularization, history, A, b, z);
	return CholeskySolveFloat(A, k, b, x);
}

bool
AlsConfidenceInRange(double alpha, double r)
{
	double		c = 1.0 + alpha * r;

	return c <= ALS_MAX_CONFIDENCE && isfinite(r);
}

/* Doubles of workspace AlsContributions needs: A, b, z and the equations'. */
size_t
AlsContributionsWorkspace(int k, int n)
{
	return (size_t) k * k + 2 * (size_t) k + AlsNormalEquationsWorkspace(k, n);
}

/* The history's contributions to xᵀy; see als_solve.h. */
bool
AlsContributions(const float *gram, int k, double regularization,
				 const AlsHistory *history, const float *item,
				 double *contributions, double *work)
{
	double	   *A = work;
	double	   *b = A + (size_t) k * k;
	double	   *z = b + k;

	AlsNormalEquations(gram, k, regularization, history, A, b, z + k);
	if (!CholeskyFactor(A, k))
		return false;
	for (int d = 0; d < k; d++)
		z[d] = item[d];
	CholeskySolve(A, k, z);
	for (int j = 0; j < history->n; j++)
	{
		double		dot = 0.0;

		for (int d = 0; d < k; d++)
			dot += (double) history->vectors[j][d] * z[d];
		contributions[j] = history->confidence[j] * dot;
	}
	return true;
}
