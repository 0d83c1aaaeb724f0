/*
 * als_solve.h
 *	  The ALS user solve of implicit-feedback matrix factorization (Hu, Koren,
 *	  Volinsky 2008), shared by training, fold-in, the real-time trigger and
 *	  explanations.  Pure C with BLAS: no PostgreSQL headers.
 *
 * For a user with history items j (vectors y_j, confidences c_j >= 1, all
 * with preference 1), against fixed item factors Y whose Gram matrix YᵀY is
 * given, the user vector x solves
 *
 *		(YᵀY + Σ (c_j - 1) y_j y_jᵀ + λI) x = Σ c_j y_j
 *
 * The confidence is c = 1 + α·r for an accumulated weight r > 0, so YᵀY
 * accounts for every unobserved item at confidence 1 and the history adds
 * only its excess.  No function here allocates: callers pass workspaces
 * (palloc'd in the backend, malloc'd in tests), so an error longjmp never
 * leaks.
 */
#ifndef RERANK_ALS_SOLVE_H
#define RERANK_ALS_SOLVE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The largest confidence 1 + α·r of a (user, item) pair that training and
 * fold-in accept, and the largest α and λ (regularization).  Beyond, the
 * float factors cannot hold the normal equations: the pair's term
 * (c − 1)·y yᵀ drowns λ and the other items' terms in rounding, so the
 * Cholesky factorization fails ("not positive definite") or, with conjugate
 * gradients, the loss turns negative (measured on a small model: both
 * solvers fine up to c = 1e12, failing from 1e15); a λ this large leaves
 * every vector at zero.  Inputs beyond are errors that name them.
 */
#define ALS_MAX_CONFIDENCE 1e9
#define ALS_MAX_ALPHA ALS_MAX_CONFIDENCE
#define ALS_MAX_REGULARIZATION 1e9

/* Whether 1 + alpha·r is finite and at most ALS_MAX_CONFIDENCE. */
extern bool AlsConfidenceInRange(double alpha, double r);

/* One user's history: n item vectors of k floats and their confidences. */
typedef struct AlsHistory
{
	int			n;
	const float *const *vectors;	/* n pointers to k floats */
	const double *confidence;	/* n confidences, each >= 1 */
} AlsHistory;

/* Doubles of workspace AlsFoldIn needs for k dimensions and n items. */
extern size_t AlsFoldInWorkspace(int k, int n);

/*
 * Builds the normal equations: A (k×k, row-major, upper triangle and
 * diagonal filled) = YᵀY + λI + Σ (c_j − 1) y_j y_jᵀ, and b = Σ c_j y_j.
 * A and b are double; the history's rank-n part is summed in single
 * precision (see als_solve.c).  work holds AlsNormalEquationsWorkspace(k, n)
 * doubles.
 */
extern size_t AlsNormalEquationsWorkspace(int k, int n);
extern void AlsNormalEquations(const float *gram, int k, double regularization,
							   const AlsHistory *history, double *A, double *b,
							   double *work);

/*
 * Cholesky factorization in place of a symmetric positive definite k×k
 * matrix given by its upper triangle (row-major): afterwards the upper
 * triangle holds U with A = UᵀU.  False when A is not positive definite.
 */
extern bool CholeskyFactor(double *A, int k);

/* Solves UᵀU x = b in place (b becomes x) with U from CholeskyFactor. */
extern void CholeskySolve(const double *U, int k, double *b);

/*
 * Solves A x = b for a symmetric positive definite A (upper triangle;
 * overwritten by its factor, b by the solution) into the float vector x:
 * the last step of every fold-in.  False when A is not positive definite.
 */
extern bool CholeskySolveFloat(double *A, int k, double *b, float *x);

/*
 * The exact fold-in: x = A⁻¹ b with A, b as above, by Cholesky.  An empty
 * history gives the zero vector.  Returns false when the system is not
 * positive definite (only possible with λ = 0).  work: AlsFoldInWorkspace
 * doubles.
 */
extern bool AlsFoldIn(const float *gram, int k, double regularization,
					  const AlsHistory *history, float *x, double *work);

/*
 * The decomposition of a fold-in score over the history (the implicit
 * library's explain()): with x = A⁻¹ Σ_j c_j y_j the fold-in of the
 * history, xᵀy = Σ_j c_j · y_jᵀ A⁻¹ y, and contributions[j] is the j-th
 * summand, for the item vector y.  One Cholesky factorization and one
 * solve give them all.  False when the system is not positive definite.
 * work: AlsContributionsWorkspace(k, n) doubles.
 */
extern size_t AlsContributionsWorkspace(int k, int n);
extern bool AlsContributions(const float *gram, int k, double regularization,
							 const AlsHistory *history, const float *item,
							 double *contributions, double *work);

#endif							/* RERANK_ALS_SOLVE_H */
