/*
 * als_train.h
 *	  Training of implicit-feedback ALS (Hu, Koren, Volinsky 2008) on a sparse
 *	  interaction matrix held once in CSR form.  Pure C with BLAS: no
 *	  PostgreSQL headers, no allocation (callers pass every buffer).
 *
 * Confidence c = 1 + alpha·r for the summed weight r > 0 of a (user, item)
 * cell, preference 1; every other cell has confidence 1, preference 0.  A
 * half-step solves every row of X against fixed Y:
 *
 *		(YᵀY + λI + Σ (c_j − 1) y_j y_jᵀ) x = Σ c_j y_j
 *
 * either by a few conjugate-gradient steps warm-started from the current x
 * (the implicit library's default solver) or exactly by Cholesky.  λ is not
 * scaled by the number of interactions (as in implicit).
 *
 * The CG half-step runs blocks of rows in lockstep so that the products with
 * YᵀY + λI are one sgemm per step for the whole block; only the sparse
 * corrections are per row.  The caller splits the rows into blocks and may
 * check for interrupts between them; inside a single long row (a history
 * of many thousands of items) the core checks itself (core/interrupt.h).
 */
#ifndef RERANK_ALS_TRAIN_H
#define RERANK_ALS_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rows solved together by AlsCgBlock (the m of its sgemm). */
#define ALS_BLOCK_ROWS 128

/* Rows of gathered history per dsyrk in the exact solve. */
#define ALS_GATHER_ROWS 256

/*
 * A sparse matrix in compressed sparse row form: row r has the columns
 * indices[indptr[r] .. indptr[r+1]) with their weights (all > 0), sorted by
 * column, without duplicates.
 */
typedef struct AlsCsr
{
	int			rows;
	int			cols;
	int64_t		nnz;
	const int64_t *indptr;		/* rows + 1 */
	const int32_t *indices;		/* nnz */
	const float *weights;		/* nnz */
} AlsCsr;

/*
 * Counting sort of coordinates (row[e], col[e], weight[e]), e < n, into CSR
 * arrays: indptr (rows + 1), indices and weights (n each).  Within a row the
 * input order is kept, so rows are neither sorted nor free of duplicates.
 */
extern void AlsCsrFromCoo(int rows, int64_t n, const int32_t *row,
						  const int32_t *col, const float *weight,
						  int64_t *indptr, int32_t *indices, float *weights);

/*
 * The first stored cell whose (summed) weight r is not finite or, with
 * alpha >= 0, whose confidence 1 + alpha·r exceeds ALS_MAX_CONFIDENCE
 * (core/als_solve.h); -1 when every cell is in range.
 */
extern int64_t AlsCsrFindOutOfRange(const AlsCsr *m, double alpha);

/* The row of stored cell e < m->nnz: indptr[row] <= e < indptr[row + 1]. */
extern int	AlsCsrRowOf(const AlsCsr *m, int64_t e);

/*
 * Sums adjacent duplicates of each row and drops cells whose weight is not
 * positive, compacting in place; returns the new nnz.  A transpose of the
 * output of AlsCsrFromCoo has sorted rows with adjacent duplicates, so
 * COO → CSR by item → transpose → compact → transpose gives both
 * orientations sorted and without duplicates in linear time.
 */
extern int64_t AlsCsrCompact(int rows, int64_t *indptr, int32_t *indices,
							 float *weights);

/* The transpose of a CSR (indptr cols + 1, indices and weights nnz). */
extern void AlsTransposeCsr(const AlsCsr *a, int64_t *indptr,
							int32_t *indices, float *weights);

/* Fills n floats uniform in [0, 1)·scale from a 64-bit seed (splitmix64). */
extern void AlsRandomFill(float *out, size_t n, uint64_t seed, float scale);

/*
 * Accumulates rows [begin, end) of Y (row-major, k columns) into the upper
 * triangle of the k×k double matrix G: G += Y_bᵀY_b (dsyrk).  work holds
 * ALS_GATHER_ROWS·k doubles.
 */
extern void AlsGramAccumulate(const float *Y, int begin, int end, int k,
							  double *G, double *work);

/* A full symmetric float matrix from an upper triangle, plus λ on the diagonal. */
extern void AlsGramToFloat(const double *G, int k, double regularization,
						   float *out);

/* Floats of workspace AlsCgBlock needs. */
extern size_t AlsCgWorkspace(int k);

/*
 * Conjugate-gradient solve of rows [begin, end) of X (end − begin ≤
 * ALS_BLOCK_ROWS) against Y, cg_steps steps from the current rows of X.
 * gram_reg: YᵀY + λI, full k×k.  With with_objective, returns Σ (xᵀAx −
 * 2bᵀx) over the rows, for the training loss (one more pass over the rows'
 * histories); else 0.
 */
extern double AlsCgBlock(const AlsCsr *m, int begin, int end, float *X,
						 const float *Y, int k, const float *gram_reg,
						 double alpha, int cg_steps, bool with_objective,
						 float *work);

/* Doubles of workspace AlsExactRow needs. */
extern size_t AlsExactWorkspace(int k);

/*
 * The sums a user's history contributes to the normal equations, given
 * one (vector, weight) row at a time: S += w·y yᵀ (upper triangle), s_pref
 * += y, s_weight += w·y.  The rerank.als_fold_in aggregate keeps these.
 */
extern void AlsSumsAdd(int k, const float *y, double w, double *S,
					   double *s_pref, double *s_weight);

/*
 * Solves (gram + λI + α·S) x = s_pref + α·s_weight by Cholesky, with gram
 * the float YᵀY (full, row-major) and S's upper triangle.  work holds k² + k
 * doubles.  False when the system is not positive definite.  The exact
 * solve of training and rerank.als_fold_in both end here, so they agree.
 */
extern bool AlsSolveSums(const float *gram, int k, double regularization,
						 double alpha, const double *S, const double *s_pref,
						 const double *s_weight, float *x, double *work);

/*
 * Exact solve of one row of X against Y with YᵀY = gram (float, full):
 * builds the sums of the row's history (dsyrk over gathered rows) and calls
 * AlsSolveSums.  Returns xᵀAx − 2bᵀx = −bᵀx, or NAN when the system is not
 * positive definite.  work: AlsExactWorkspace(k) doubles.
 */
extern double AlsExactRow(const AlsCsr *m, int row, float *X, const float *Y,
						  int k, const float *gram, double regularization,
						  double alpha, double *work);

/* Σ of the confidences over the stored cells: Σ (1 + α·r). */
extern double AlsTotalConfidence(const AlsCsr *m, double alpha);

/* Σ of the squared norms of n rows of k floats. */
extern double AlsSquaredNorms(const float *X, int64_t n, int k);

/*
 * The implicit library's training loss from the half-step objective of the
 * last half-step (solving for one side) and the squared norm of the other
 * side: (objective + Σc + λ‖other‖²) / (Σc + rows·cols − nnz).
 */
extern double AlsLoss(const AlsCsr *m, double objective, double other_norms,
					  double regularization, double total_confidence);

#endif							/* RERANK_ALS_TRAIN_H */
