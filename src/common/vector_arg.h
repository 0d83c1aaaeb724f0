/*
 * vector_arg.h
 *	  real[] vectors and bigint[] id lists of the SQL functions: checks of
 *	  the arrays handed in, and arrays built to hand back or to pass as query
 *	  parameters (vector_arg.c).
 */
#ifndef RERANK_VECTOR_ARG_H
#define RERANK_VECTOR_ARG_H

#include "postgres.h"

#include "utils/array.h"

/* Largest number of dimensions a model may have (YᵀY is dims² floats). */
#define RERANK_MAX_DIMENSIONS 2048

extern int	VectorArgLength(ArrayType *array, const char *what);
extern void CheckVectorFinite(const float *data, int length, const char *what);
extern void CheckVectorsSameLength(int length_a, int length_b);
extern ArrayType *BuildVector(const float *data, int length);
extern ArrayType *NewFlatArray(Oid elemtype, Size elemsize, int length,
							   const char *what);
extern ArrayType *NewVector(int length, float **data);

/*
 * Checks a bigint[] argument and returns its number of elements (NULLs
 * included): of type bigint[] (42804), at most one dimension (2202E), no
 * NULL element unless nulls_allowed (22004), at most max elements (54000);
 * "what" names the argument.  The message states the argument's contract:
 * "one-dimensional array", or with NULLs not allowed "one-dimensional array
 * without NULL elements" for both defects.
 */
extern int	IdArrayArgLength(ArrayType *array, const char *what, int max,
							 bool nulls_allowed);

/*
 * The non-NULL elements of a bigint[] that IdArrayArgLength accepted (n
 * elements), copied into ids in order; returns how many.
 */
extern int	IdArrayValues(ArrayType *array, int n, int64 *ids);

/* A bigint[] of n ids (the empty array for 0), to pass as a parameter. */
extern ArrayType *BuildInt64Array(const int64 *values, int n);

/* Floats of an array that VectorArgLength accepted. */
#define VECTOR_DATA(array) ((float *) ARR_DATA_PTR(array))

#endif							/* RERANK_VECTOR_ARG_H */
