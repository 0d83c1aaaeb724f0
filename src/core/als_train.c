/*
 * als_train.c
 *	  ALS training: CSR building, initialization, Gram matrices, the
 *	  conjugate-gradient and exact half-steps, and the training loss (see
 *	  als_train.h).
 */
#include "core/als_train.h"
#include "core/als_solve.h"
#include "core/interrupt.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void
AlsCsrFromCoo(int rows, int64_t n, const int32_t *row, const int32_t *col,
			  const float *weight, int64_t *indptr, int32_t *indices,
			  float *weights)
{
	/* counting sort by row; within a row the input order is kept */
	memset(indptr, 0, sizeof(int64_t) * ((size_t) rows + 1));
	for (int64_t e = 0; e < n; e++)
		indptr[row[e] + 1]++;
	for (int r = 0; r < rows; r++)
		indptr[r + 1] += indptr[r];
	for (int64_t e = 0; e < n; e++)
	{
		int64_t		pos = indptr[row[e]]++;

		indices[pos] = col[e];
		weights[pos] = weight[e];
	}
	/* indptr[r] was advanced to the start of r + 1: shift back */
	for (int r = rows; r > 0; r--)
		indptr[r] = indptr[r - 1];
	indptr[0] = 0;
}

int64_t
AlsCsrFindOutOfRange(const AlsCsr *m, double alpha)
{
	for (int64_t e = 0; e < m->nnz; e++)
	{
		double		r = m->weights[e];

		if (!isfinite(r) || (alpha >= 0 && !AlsConfidenceInRange(alpha, r)))
			return e;
	}
	return -1;
}

int
AlsCsrRowOf(const AlsCsr *m, int64_t e)
{
	int			low = 0;
	int			high = m->rows - 1;

	/* the last row whose start is <= e (empty rows share their start) */
	while (low < high)
	{
		int			mid = low + (high - low + 1) / 2;

		if (m->indptr[mid] <= e)
			low = mid;
		else
			high = mid - 1;
	}
	return low;
}

/* Every this many entries of one row, the core checks for interrupts. */
#define INTERRUPT_ENTRIES 16384

#define MAYBE_INTERRUPT(e) \
	do { \
		if (((e) & (INTERRUPT_ENTRIES - 1)) == 0) \
			CoreCheckInterrupts(); \
	} while (0)

int64_t
AlsCsrCompact(int rows, int64_t *indptr, int32_t *indices, float *weights)
{
	int64_t		out = 0;
	int64_t		begin = 0;

	for (int r = 0; r < rows; r++)
	{
		int64_t		end = indptr[r + 1];
		int64_t		start = out;

		for (int64_t i = begin; i < end; i++)
		{
			if (out > start && indices[out - 1] == indices[i])
				weights[out - 1] += weights[i];
			else
			{
				indices[out] = indices[i];
				weights[out] = weights[i];
				out++;
			}
		}
		/* cells whose weight sums to zero have preference 0: drop them */
		{
			int64_t		keep = start;

			for (int64_t i = start; i < out; i++)
				if (weights[i] > 0.0f)
				{
					indices[keep] = indices[i];
					weights[keep] = weights[i];
					keep++;
				}
			out = keep;
		}
		indptr[r] = start;
		begin = end;
	}
	indptr[rows] = out;
	return out;
}

void
AlsTransposeCsr(const AlsCsr *a, int64_t *indptr, int32_t *indices,
				float *weights)
{
	memset(indptr, 0, sizeof(int64_t) * ((size_t) a->cols + 1));
	for (int64_t e = 0; e < a->nnz; e++)
		indptr[a->indices[e] + 1]++;
	for (int c = 0; c < a->cols; c++)
		indptr[c + 1] += indptr[c];
	/* rows visited in order, so each transposed row comes out sorted */
	for (int r = 0; r < a->rows; r++)
		for (int64_t e = a->indptr[r]; e < a->indptr[r + 1]; e++)
		{
			int64_t		pos = indptr[a->indices[e]]++;

			indices[pos] = r;
			weights[pos] = a->weights[e];
		}
	/* shift back: indptr[c] was advanced to the start of c + 1 */
	for (int c = a->cols; c > 0; c--)
		indptr[c] = indptr[c - 1];
	indptr[0] = 0;
}

void
AlsRandomFill(float *out, size_t n, uint64_t seed, float scale)
{
	uint64_t	state = seed;

	for (size_t i = 0; i < n; i++)
	{
		uint64_t	z = (state += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		/* 24 random bits: a float in [0, 1) */
		out[i] = (float) (z >> 40) * (1.0f / 16777216.0f) * scale;
	}
}

void
AlsGramAccumulate(const float *Y, int begin, int end, int k, double *G,
				  double *work)
{
	for (int start = begin; start < end; start += ALS_GATHER_ROWS)
	{
		int			n = end - start < ALS_GATHER_ROWS ? end - start : ALS_GATHER_ROWS;
		const float *src = Y + (size_t) start * k;

		for (size_t i = 0; i < (size_t) n * k; i++)
			work[i] = src[i];
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, k, n,
					1.0, work, k, 1.0, G, k);
	}
}

void
AlsGramToFloat(const double *G, int k, double regularization, float *out)
{
	for (int i = 0; i < k; i++)
		for (int j = i; j < k; j++)
			out[(size_t) i * k + j] = out[(size_t) j * k + i] =
				(float) (G[(size_t) i * k + j] + (i == j ? regularization : 0.0));
}

size_t
AlsCgWorkspace(int k)
{
	/* R, P, AP: block × k each; rsold and active: block each */
	return (size_t) 3 * ALS_BLOCK_ROWS * k + 2 * ALS_BLOCK_ROWS;
}

/*
 * Rows of the other side are read in index order but scattered over a
 * matrix far larger than the caches (50k items × 64 floats is 12.8 MB): the
 * loops ask for the row PREFETCH_AHEAD entries ahead, so the CPU waits on
 * memory bandwidth rather than on the latency of each row.
 */
#define PREFETCH_AHEAD 8

static inline void
PrefetchRow(const float *row, int k)
{
	for (int off = 0; off < k; off += 16)
		__builtin_prefetch(row + off, 0, 3);
}

/* Prefetches the row of entry e + PREFETCH_AHEAD when it is in [.., end). */
#define PREFETCH_ENTRY(m, Y, k, e, end) \
	do { \
		if ((e) + PREFETCH_AHEAD < (end)) \
			PrefetchRow((Y) + (size_t) (m)->indices[(e) + PREFETCH_AHEAD] * (k), (k)); \
	} while (0)

static inline float
DotF(const float *a, const float *b, int k)
{
	float		s = 0.0f;

	for (int i = 0; i < k; i++)
		s += a[i] * b[i];
	return s;
}

static inline void
AxpyF(float a, const float *x, float *y, int k)
{
	for (int i = 0; i < k; i++)
		y[i] += a * x[i];
}

double
AlsCgBlock(const AlsCsr *m, int begin, int end, float *X, const float *Y,
		   int k, const float *gram_reg, double alpha, int cg_steps,
		   bool with_objective, float *work)
{
	int			B = end - begin;
	float	   *R = work;
	float	   *P = R + (size_t) ALS_BLOCK_ROWS * k;
	float	   *AP = P + (size_t) ALS_BLOCK_ROWS * k;
	float	   *rsold = AP + (size_t) ALS_BLOCK_ROWS * k;
	float	   *active = rsold + ALS_BLOCK_ROWS;
	float	   *Xb = X + (size_t) begin * k;
	float		fa = (float) alpha;
	double		objective = 0.0;
	int			remaining = 0;

	/* R = b − A·x: the dense part as one product for the block */
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, k, k,
				1.0f, Xb, k, gram_reg, k, 0.0f, AP, k);
	for (int u = 0; u < B; u++)
	{
		float	   *r = R + (size_t) u * k;
		float	   *p = P + (size_t) u * k;
		const float *x = Xb + (size_t) u * k;
		const float *ap = AP + (size_t) u * k;
		int64_t		e0 = m->indptr[begin + u],
					e1 = m->indptr[begin + u + 1];

		for (int i = 0; i < k; i++)
			r[i] = -ap[i];
		for (int64_t e = e0; e < e1; e++)
		{
			const float *y = Y + (size_t) m->indices[e] * k;
			float		excess = fa * m->weights[e];	/* c − 1 */
			float		coef = 1.0f + excess;

			PREFETCH_ENTRY(m, Y, k, e, e1);
			MAYBE_INTERRUPT(e);

			if (excess > 0.0f)
				coef -= excess * DotF(y, x, k);
			AxpyF(coef, y, r, k);
		}
		rsold[u] = DotF(r, r, k);
		if (rsold[u] < 1e-20f)
		{
			active[u] = 0.0f;
			memset(p, 0, sizeof(float) * k);
		}
		else
		{
			active[u] = 1.0f;
			memcpy(p, r, sizeof(float) * k);
			remaining++;
		}
	}

	for (int step = 0; step < cg_steps && remaining > 0; step++)
	{
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, k, k,
					1.0f, P, k, gram_reg, k, 0.0f, AP, k);
		for (int u = 0; u < B; u++)
		{
			float	   *r = R + (size_t) u * k;
			float	   *p = P + (size_t) u * k;
			float	   *ap = AP + (size_t) u * k;
			float	   *x = Xb + (size_t) u * k;
			float		pap,
						a,
						rsnew;

			if (active[u] == 0.0f)
				continue;
			if (fa > 0.0f)
			{
				int64_t		e1 = m->indptr[begin + u + 1];

				for (int64_t e = m->indptr[begin + u]; e < e1; e++)
				{
					const float *y = Y + (size_t) m->indices[e] * k;
					float		excess = fa * m->weights[e];

					PREFETCH_ENTRY(m, Y, k, e, e1);
					MAYBE_INTERRUPT(e);

					AxpyF(excess * DotF(y, p, k), y, ap, k);
				}
			}
			pap = DotF(p, ap, k);
			if (!(pap > 0.0f))
			{
				active[u] = 0.0f;
				memset(p, 0, sizeof(float) * k);
				remaining--;
				continue;
			}
			a = rsold[u] / pap;
			AxpyF(a, p, x, k);
			AxpyF(-a, ap, r, k);
			rsnew = DotF(r, r, k);
			if (rsnew < 1e-20f)
			{
				active[u] = 0.0f;
				memset(p, 0, sizeof(float) * k);
				remaining--;
				continue;
			}
			for (int i = 0; i < k; i++)
				p[i] = r[i] + (rsnew / rsold[u]) * p[i];
			rsold[u] = rsnew;
		}
	}

	if (!with_objective)
		return 0.0;

	/*
	 * xᵀAx − 2bᵀx = −xᵀr − bᵀx with r = b − Ax the residual CG keeps, and
	 * bᵀx = Σ c_j y_j·x: the half-step's share of the loss.
	 */
	for (int u = 0; u < B; u++)
	{
		const float *x = Xb + (size_t) u * k;
		double		bx = 0.0;

		int64_t		e1 = m->indptr[begin + u + 1];

		for (int64_t e = m->indptr[begin + u]; e < e1; e++)
		{
			PREFETCH_ENTRY(m, Y, k, e, e1);
			bx += (1.0 + alpha * m->weights[e]) *
				DotF(Y + (size_t) m->indices[e] * k, x, k);
		}
		objective -= DotF(x, R + (size_t) u * k, k) + bx;
	}
	return objective;
}

size_t
AlsExactWorkspace(int k)
{
	/* S, A (k² each), s_pref, s_weight, b (k each), gathered rows */
	return (size_t) 2 * k * k + 3 * (size_t) k + (size_t) ALS_GATHER_ROWS * k;
}

void
AlsSumsAdd(int k, const float *y, double w, double *S, double *s_pref,
		   double *s_weight)
{
	for (int i = 0; i < k; i++)
	{
		double		wyi = w * y[i];
		double	   *row = S + (size_t) i * k;

		s_pref[i] += y[i];
		s_weight[i] += wyi;
		for (int j = i; j < k; j++)
			row[j] += wyi * y[j];
	}
}

bool
AlsSolveSums(const float *gram, int k, double regularization, double alpha,
			 const double *S, const double *s_pref, const double *s_weight,
			 float *x, double *work)
{
	double	   *A = work;
	double	   *b = A + (size_t) k * k;

	for (int i = 0; i < k; i++)
	{
		for (int j = i; j < k; j++)
			A[(size_t) i * k + j] = (double) gram[(size_t) i * k + j] +
				alpha * S[(size_t) i * k + j];
		A[(size_t) i * k + i] += regularization;
		b[i] = s_pref[i] + alpha * s_weight[i];
	}
	return CholeskySolveFloat(A, k, b, x);
}

double
AlsExactRow(const AlsCsr *m, int row, float *X, const float *Y, int k,
			const float *gram, double regularization, double alpha,
			double *work)
{
	double	   *S = work;
	double	   *A = S + (size_t) k * k;	/* k² + k: AlsSolveSums' work */
	double	   *s_pref = A + (size_t) k * k + k;
	double	   *s_weight = s_pref + k;
	double	   *Z = s_weight + k;
	int64_t		e0 = m->indptr[row],
				e1 = m->indptr[row + 1];
	float	   *x = X + (size_t) row * k;
	double		bx = 0.0;

	/* A = (S, b) occupies the k² + k doubles after S */
	memset(S, 0, sizeof(double) * k * k);
	memset(s_pref, 0, sizeof(double) * 2 * k);
	for (int64_t start = e0; start < e1; start += ALS_GATHER_ROWS)
	{
		int			n = e1 - start < ALS_GATHER_ROWS ? (int) (e1 - start) : ALS_GATHER_ROWS;

		for (int g = 0; g < n; g++)
		{
			const float *y = Y + (size_t) m->indices[start + g] * k;
			double		w = m->weights[start + g];
			double		sw = sqrt(w);
			double	   *z = Z + (size_t) g * k;

			PREFETCH_ENTRY(m, Y, k, start + g, e1);
			for (int i = 0; i < k; i++)
			{
				s_pref[i] += y[i];
				s_weight[i] += w * y[i];
				z[i] = sw * y[i];
			}
		}
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, k, n,
					1.0, Z, k, 1.0, S, k);
		if (e1 - e0 > ALS_GATHER_ROWS)
			CoreCheckInterrupts();
	}
	if (!AlsSolveSums(gram, k, regularization, alpha, S, s_pref, s_weight,
					  x, A))
		return NAN;
	for (int i = 0; i < k; i++)
		bx += (s_pref[i] + alpha * s_weight[i]) * x[i];
	return -bx;
}

double
AlsTotalConfidence(const AlsCsr *m, double alpha)
{
	double		total = 0.0;

	for (int64_t e = 0; e < m->nnz; e++)
		total += 1.0 + alpha * m->weights[e];
	return total;
}

double
AlsSquaredNorms(const float *X, int64_t n, int k)
{
	double		total = 0.0;

	for (int64_t r = 0; r < n; r++)
		total += DotF(X + (size_t) r * k, X + (size_t) r * k, k);
	return total;
}

double
AlsLoss(const AlsCsr *m, double objective, double other_norms,
		double regularization, double total_confidence)
{
	double		cells = (double) m->rows * (double) m->cols - (double) m->nnz;

	return (objective + total_confidence + regularization * other_norms) /
		(total_confidence + cells);
}
