/*
 * vec.h
 *	  Dense float vector math of the pure-C core: no PostgreSQL headers.
 *
 * Inputs are float arrays (what real[] stores); results and accumulators are
 * double, so sums over hundreds of elements keep their precision.  None of
 * these functions check for NaN or infinity: a non-finite input makes a
 * non-finite result (products and sums of finite floats cannot overflow a
 * double), so callers validate lazily by testing the result.
 */
#ifndef RERANK_VEC_H
#define RERANK_VEC_H

#include <stddef.h>

extern double VecDot(const float *a, const float *b, size_t n);
extern double VecSquaredNorm(const float *a, size_t n);
extern double VecNorm(const float *a, size_t n);
extern double VecCosine(const float *a, const float *b, size_t n);
extern double VecSquaredDistance(const float *a, const float *b, size_t n);
extern double VecDistance(const float *a, const float *b, size_t n);
extern double VecPearson(const float *a, const float *b, size_t n);
extern double VecNormalize(const float *in, float *out, size_t n);
extern size_t VecFindNonFinite(const float *a, size_t n);
extern size_t VecFindNonFiniteDouble(const double *a, size_t n);
extern void VecAccumulate(double *sum, const float *x, double weight, size_t n);

#endif							/* RERANK_VEC_H */
