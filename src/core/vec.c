/*
 * vec.c
 *	  Dense float vector math: dot product, norms, cosine, Euclidean
 *	  distance, Pearson correlation, normalization, accumulation.
 *
 * The loops are written so the compiler vectorizes them (the Makefile allows
 * reassociation of floating-point sums).  Degenerate inputs have defined
 * results rather than NaN: the cosine and the Pearson correlation of a zero
 * (or constant) vector are 0, normalizing a zero vector returns it unchanged.
 */
#include "core/vec.h"

#include <math.h>

/* Sum of a[i] * b[i], accumulated in double. */
double
VecDot(const float *a, const float *b, size_t n)
{
	double		sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += (double) a[i] * (double) b[i];
	return sum;
}

/* Sum of a[i]^2. */
double
VecSquaredNorm(const float *a, size_t n)
{
	double		sum = 0.0;

	for (size_t i = 0; i < n; i++)
		sum += (double) a[i] * (double) a[i];
	return sum;
}

/* Euclidean (L2) norm. */
double
VecNorm(const float *a, size_t n)
{
	return sqrt(VecSquaredNorm(a, n));
}

/*
 * Cosine similarity; 0 when either vector is zero (or both are empty), the
 * convention of scikit-learn, so a zero vector is "unrelated" to everything.
 */
double
VecCosine(const float *a, const float *b, size_t n)
{
	double		dot = 0.0,
				na = 0.0,
				nb = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		double		x = a[i],
					y = b[i];

		dot += x * y;
		na += x * x;
		nb += y * y;
	}
	if (na == 0.0 || nb == 0.0)
		return isfinite(dot) ? 0.0 : dot;
	return dot / (sqrt(na) * sqrt(nb));
}

/* Sum of (a[i] - b[i])^2. */
double
VecSquaredDistance(const float *a, const float *b, size_t n)
{
	double		sum = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		double		d = (double) a[i] - (double) b[i];

		sum += d * d;
	}
	return sum;
}

/* Euclidean distance. */
double
VecDistance(const float *a, const float *b, size_t n)
{
	return sqrt(VecSquaredDistance(a, b, n));
}

/*
 * Pearson correlation of the elements of a and b; 0 when either has zero
 * variance (constant, single-element or empty vectors).  Two passes (mean,
 * then centered sums) so large offsets do not cancel catastrophically.
 */
double
VecPearson(const float *a, const float *b, size_t n)
{
	double		mean_a = 0.0,
				mean_b = 0.0,
				cov = 0.0,
				var_a = 0.0,
				var_b = 0.0;

	if (n == 0)
		return 0.0;
	for (size_t i = 0; i < n; i++)
	{
		mean_a += a[i];
		mean_b += b[i];
	}
	mean_a /= (double) n;
	mean_b /= (double) n;
	if (!isfinite(mean_a) || !isfinite(mean_b))
		return mean_a + mean_b;	/* non-finite input: let the caller report */

	for (size_t i = 0; i < n; i++)
	{
		double		x = a[i] - mean_a,
					y = b[i] - mean_b;

		cov += x * y;
		var_a += x * x;
		var_b += y * y;
	}
	if (var_a == 0.0 || var_b == 0.0)
		return 0.0;
	return cov / (sqrt(var_a) * sqrt(var_b));
}

/*
 * Writes in / ||in|| to out (which may alias in) and returns the norm.  A
 * zero vector is copied unchanged, as scikit-learn's normalize() does.
 */
double
VecNormalize(const float *in, float *out, size_t n)
{
	double		norm = VecNorm(in, n);

	if (norm == 0.0 || !isfinite(norm))
	{
		for (size_t i = 0; i < n; i++)
			out[i] = in[i];
		return norm;
	}
	for (size_t i = 0; i < n; i++)
		out[i] = (float) (in[i] / norm);
	return norm;
}

/* Index of the first NaN or infinite element, or n when all are finite. */
size_t
VecFindNonFinite(const float *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(a[i]))
			return i;
	return n;
}

/* The index of the first NaN or infinite double, or n when all are finite. */
size_t
VecFindNonFiniteDouble(const double *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(a[i]))
			return i;
	return n;
}

/* sum[i] += weight * x[i]: the state update of the vector aggregates. */
void
VecAccumulate(double *sum, const float *x, double weight, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sum[i] += weight * (double) x[i];
}
