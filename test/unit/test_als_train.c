/*
 * test_als_train.c
 *	  Unit tests of src/core/als_train.c: CSR building, the half-steps, the
 *	  loss, and a small training run.
 */
#include "core/als_solve.h"
#include "core/als_train.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* A random sparse matrix in CSR form, both orientations, malloc'd. */
typedef struct TestMatrix
{
	AlsCsr		by_row;
	AlsCsr		by_col;
	int64_t    *p[2];
	int32_t    *i[2];
	float	   *w[2];
} TestMatrix;

static TestMatrix
MakeMatrix(int rows, int cols, int64_t n, unsigned seed)
{
	TestMatrix	t;
	int32_t    *r = malloc(sizeof(int32_t) * n);
	int32_t    *c = malloc(sizeof(int32_t) * n);
	float	   *w = malloc(sizeof(float) * n);
	int64_t		nnz;

	for (int64_t e = 0; e < n; e++)
	{
		seed = seed * 1103515245u + 12345u;
		r[e] = (seed >> 8) % rows;
		seed = seed * 1103515245u + 12345u;
		c[e] = (seed >> 8) % cols;
		w[e] = 1.0f + (e % 3);
	}
	for (int s = 0; s < 2; s++)
	{
		t.p[s] = malloc(sizeof(int64_t) * ((rows > cols ? rows : cols) + 1));
		t.i[s] = malloc(sizeof(int32_t) * n);
		t.w[s] = malloc(sizeof(float) * n);
	}
	/* COO → by column (unsorted) → by row (sorted) → compact → by column */
	AlsCsrFromCoo(cols, n, c, r, w, t.p[1], t.i[1], t.w[1]);
	t.by_col = (AlsCsr) {cols, rows, n, t.p[1], t.i[1], t.w[1]};
	AlsTransposeCsr(&t.by_col, t.p[0], t.i[0], t.w[0]);
	nnz = AlsCsrCompact(rows, t.p[0], t.i[0], t.w[0]);
	t.by_row = (AlsCsr) {rows, cols, nnz, t.p[0], t.i[0], t.w[0]};
	AlsTransposeCsr(&t.by_row, t.p[1], t.i[1], t.w[1]);
	t.by_col.nnz = nnz;
	free(r);
	free(c);
	free(w);
	return t;
}

static void
FreeMatrix(TestMatrix *t)
{
	for (int s = 0; s < 2; s++)
	{
		free(t->p[s]);
		free(t->i[s]);
		free(t->w[s]);
	}
}

UNIT_TEST(als_csr_sums_duplicates_and_sorts)
{
	/* (row, col, weight) with a duplicate, a zero sum and unsorted input */
	int32_t		r[] = {1, 0, 1, 0, 1, 2, 2};
	int32_t		c[] = {2, 1, 0, 1, 2, 0, 0};
	float		w[] = {1, 2, 3, 4, 5, 0, 0};
	int64_t		p1[4],
				p0[4];
	int32_t		i1[7],
				i0[7];
	float		w1[7],
				w0[7];
	AlsCsr		by_col,
				by_row;
	int64_t		nnz;

	AlsCsrFromCoo(3, 7, c, r, w, p1, i1, w1);
	by_col = (AlsCsr) {3, 3, 7, p1, i1, w1};
	AlsTransposeCsr(&by_col, p0, i0, w0);
	nnz = AlsCsrCompact(3, p0, i0, w0);
	CHECK(nnz == 3);
	/* row 0: (1, 6); row 1: (0, 3), (2, 6); row 2: nothing */
	CHECK(p0[0] == 0 && p0[1] == 1 && p0[2] == 3 && p0[3] == 3);
	CHECK(i0[0] == 1 && w0[0] == 6.0f);
	CHECK(i0[1] == 0 && w0[1] == 3.0f);
	CHECK(i0[2] == 2 && w0[2] == 6.0f);
	by_row = (AlsCsr) {3, 3, nnz, p0, i0, w0};
	AlsTransposeCsr(&by_row, p1, i1, w1);
	/* column 0: row 1; column 1: row 0; column 2: row 1 */
	CHECK(p1[0] == 0 && p1[1] == 1 && p1[2] == 2 && p1[3] == 3);
	CHECK(i1[0] == 1 && i1[1] == 0 && i1[2] == 1);
	CHECK(w1[0] == 3.0f && w1[1] == 6.0f && w1[2] == 6.0f);
}

UNIT_TEST(als_random_fill_deterministic)
{
	float		a[100],
				b[100],
				c[100];

	AlsRandomFill(a, 100, 7, 0.01f);
	AlsRandomFill(b, 100, 7, 0.01f);
	AlsRandomFill(c, 100, 8, 0.01f);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(memcmp(a, c, sizeof(a)) != 0);
	for (int i = 0; i < 100; i++)
		CHECK(a[i] >= 0.0f && a[i] < 0.01f);
}

/* YᵀY + λI as floats, from the double accumulation. */
static void
GramOf(const float *Y, int n, int k, double reg, float *out)
{
	double	   *G = calloc((size_t) k * k, sizeof(double));
	double	   *work = malloc(sizeof(double) * ALS_GATHER_ROWS * k);

	AlsGramAccumulate(Y, 0, n, k, G, work);
	AlsGramToFloat(G, k, reg, out);
	free(G);
	free(work);
}

UNIT_TEST(als_cg_block_converges_to_exact)
{
	int			k = 16,
				users = 200,
				items = 60;
	TestMatrix	t = MakeMatrix(users, items, 3000, 5u);
	float	   *X = malloc(sizeof(float) * users * k);
	float	   *Xe = malloc(sizeof(float) * users * k);
	float	   *Y = malloc(sizeof(float) * items * k);
	float	   *gram = malloc(sizeof(float) * k * k);
	float	   *gram_reg = malloc(sizeof(float) * k * k);
	float	   *cgw = malloc(sizeof(float) * AlsCgWorkspace(k));
	double	   *exw = malloc(sizeof(double) * AlsExactWorkspace(k));
	double		reg = 0.5,
				alpha = 2.0,
				obj_cg = 0,
				obj_exact = 0,
				err = 0,
				norm = 0;

	AlsRandomFill(Y, (size_t) items * k, 1, 1.0f);
	AlsRandomFill(X, (size_t) users * k, 2, 0.01f);
	GramOf(Y, items, k, 0.0, gram);
	GramOf(Y, items, k, reg, gram_reg);
	/* many CG steps, block by block (the last block is partial) */
	for (int b = 0; b < users; b += ALS_BLOCK_ROWS)
	{
		int			e = b + ALS_BLOCK_ROWS < users ? b + ALS_BLOCK_ROWS : users;

		obj_cg += AlsCgBlock(&t.by_row, b, e, X, Y, k, gram_reg, alpha, 60, true, cgw);
	}
	for (int u = 0; u < users; u++)
		obj_exact += AlsExactRow(&t.by_row, u, Xe, Y, k, gram, reg, alpha, exw);
	for (int i = 0; i < users * k; i++)
	{
		err += (X[i] - Xe[i]) * (double) (X[i] - Xe[i]);
		norm += Xe[i] * (double) Xe[i];
	}
	CHECK(err < 1e-6 * norm);
	CHECK_NEAR(obj_cg, obj_exact, 1e-3 * fabs(obj_exact));

	/* the exact solve agrees with the fold-in solver of als_solve.c */
	for (int u = 0; u < 5; u++)
	{
		int64_t		e0 = t.by_row.indptr[u],
					n = t.by_row.indptr[u + 1] - e0;
		const float *vectors[64];
		double		conf[64];
		float		x[16];
		double	   *work = malloc(sizeof(double) * AlsFoldInWorkspace(k, (int) n));
		AlsHistory	h = {(int) n, vectors, conf};

		CHECK(n <= 64);
		for (int64_t e = 0; e < n; e++)
		{
			vectors[e] = Y + (size_t) t.by_row.indices[e0 + e] * k;
			conf[e] = 1 + alpha * t.by_row.weights[e0 + e];
		}
		CHECK(AlsFoldIn(gram, k, reg, &h, x, work));
		for (int i = 0; i < k; i++)
			CHECK_NEAR(x[i], Xe[u * k + i], 1e-4 * (1 + fabs(x[i])));
		free(work);
	}
	free(X);
	free(Xe);
	free(Y);
	free(gram);
	free(gram_reg);
	free(cgw);
	free(exw);
	FreeMatrix(&t);
}

/* The implicit library's loss, computed naively over every cell. */
static double
NaiveLoss(const AlsCsr *m, const float *X, const float *Y, int k, double reg,
		  double alpha)
{
	double		loss = 0,
				conf_total = 0;

	for (int u = 0; u < m->rows; u++)
		for (int i = 0; i < m->cols; i++)
		{
			double		c = 1,
						p = 0,
						d = 0;

			for (int64_t e = m->indptr[u]; e < m->indptr[u + 1]; e++)
				if (m->indices[e] == i)
				{
					c = 1 + alpha * m->weights[e];
					p = 1;
				}
			for (int f = 0; f < k; f++)
				d += X[u * k + f] * (double) Y[i * k + f];
			loss += c * (p - d) * (p - d);
			if (p > 0)
				conf_total += c;
		}
	for (int u = 0; u < m->rows * k; u++)
		loss += reg * X[u] * X[u];
	for (int i = 0; i < m->cols * k; i++)
		loss += reg * Y[i] * Y[i];
	return loss / (conf_total + (double) m->rows * m->cols - m->nnz);
}

UNIT_TEST(als_training_loss_decreases_and_matches_naive)
{
	int			k = 8,
				users = 50,
				items = 30;
	TestMatrix	t = MakeMatrix(users, items, 400, 11u);
	float	   *X = malloc(sizeof(float) * users * k);
	float	   *Y = malloc(sizeof(float) * items * k);
	float	   *gram_reg = malloc(sizeof(float) * k * k);
	float	   *cgw = malloc(sizeof(float) * AlsCgWorkspace(k));
	double		reg = 0.1,
				alpha = 1.5,
				previous = INFINITY;
	double		total_conf = AlsTotalConfidence(&t.by_row, alpha);

	AlsRandomFill(X, (size_t) users * k, 3, 0.01f);
	AlsRandomFill(Y, (size_t) items * k, 4, 0.01f);
	for (int it = 0; it < 8; it++)
	{
		double		objective;
		double		loss;

		GramOf(Y, items, k, reg, gram_reg);
		(void) AlsCgBlock(&t.by_row, 0, users, X, Y, k, gram_reg, alpha, 3, false, cgw);
		GramOf(X, users, k, reg, gram_reg);
		objective = 0;
		for (int b = 0; b < items; b += ALS_BLOCK_ROWS)
			objective += AlsCgBlock(&t.by_col, b, b + ALS_BLOCK_ROWS < items ? b + ALS_BLOCK_ROWS : items,
									Y, X, k, gram_reg, alpha, 3, true, cgw);
		loss = AlsLoss(&t.by_col, objective, AlsSquaredNorms(X, users, k), reg, total_conf);
		CHECK_NEAR(loss, NaiveLoss(&t.by_row, X, Y, k, reg, alpha), 1e-4);
		CHECK(loss <= previous + 1e-6);
		previous = loss;
	}
	free(X);
	free(Y);
	free(gram_reg);
	free(cgw);
	FreeMatrix(&t);
}

UNIT_TEST(als_sums_match_exact_row)
{
	int			k = 12,
				users = 10,
				items = 40;
	TestMatrix	t = MakeMatrix(users, items, 150, 23u);
	float	   *Y = malloc(sizeof(float) * items * k);
	float	   *gram = malloc(sizeof(float) * k * k);
	float	   *X = malloc(sizeof(float) * users * k);
	double	   *exw = malloc(sizeof(double) * AlsExactWorkspace(k));
	double	   *S = malloc(sizeof(double) * k * k);
	double		sp[12],
				sw[12],
				work[12 * 12 + 12];
	float		x[12];

	AlsRandomFill(Y, (size_t) items * k, 9, 1.0f);
	GramOf(Y, items, k, 0.0, gram);
	for (int u = 0; u < users; u++)
	{
		(void) AlsExactRow(&t.by_row, u, X, Y, k, gram, 0.3, 4.0, exw);
		memset(S, 0, sizeof(double) * k * k);
		memset(sp, 0, sizeof(sp));
		memset(sw, 0, sizeof(sw));
		/* rows in reverse order: the sums do not depend on it */
		for (int64_t e = t.by_row.indptr[u + 1] - 1; e >= t.by_row.indptr[u]; e--)
			AlsSumsAdd(k, Y + (size_t) t.by_row.indices[e] * k, t.by_row.weights[e], S, sp, sw);
		CHECK(AlsSolveSums(gram, k, 0.3, 4.0, S, sp, sw, x, work));
		for (int i = 0; i < k; i++)
			CHECK_NEAR(x[i], X[u * k + i], 1e-5 * (1 + fabs(x[i])));
	}
	free(Y);
	free(gram);
	free(X);
	free(exw);
	free(S);
	FreeMatrix(&t);
}

UNIT_TEST(als_csr_out_of_range_and_row_of)
{
	/* rows: 0 → {0: 1, 2: 5e8}, 1 → {}, 2 → {1: 2e9} */
	int64_t		indptr[4] = {0, 2, 2, 3};
	int32_t		indices[3] = {0, 2, 1};
	float		weights[3] = {1, 5e8f, 2e9f};
	AlsCsr		m = {3, 3, 3, indptr, indices, weights};

	CHECK(AlsCsrFindOutOfRange(&m, 0) == -1);	/* finite: any size */
	CHECK(AlsCsrFindOutOfRange(&m, -1) == -1);	/* finiteness only */
	CHECK(AlsCsrFindOutOfRange(&m, 1) == 2);	/* 1 + 2e9 > 1e9 */
	CHECK(AlsCsrFindOutOfRange(&m, 2) == 1);	/* 1 + 1e9 > 1e9 */
	weights[0] = INFINITY;
	CHECK(AlsCsrFindOutOfRange(&m, 0) == 0);
	CHECK(AlsCsrFindOutOfRange(&m, -1) == 0);
	CHECK(AlsCsrRowOf(&m, 0) == 0 && AlsCsrRowOf(&m, 1) == 0);
	CHECK(AlsCsrRowOf(&m, 2) == 2);
	CHECK(AlsConfidenceInRange(1e9 - 1, 1) && !AlsConfidenceInRange(1e9, 1));
	CHECK(!AlsConfidenceInRange(0, INFINITY) && !AlsConfidenceInRange(1e308, 1e308));
}
