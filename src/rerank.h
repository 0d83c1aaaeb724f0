/*
 * rerank.h
 *	  Declarations shared by the PostgreSQL glue of the rerank extension.
 */
#ifndef RERANK_H
#define RERANK_H

#include "postgres.h"

#include "executor/spi.h"
#include "utils/array.h"

/* Largest number of dimensions a model may have (YᵀY is dims² floats). */
#define RERANK_MAX_DIMENSIONS 2048

/* vector_arg.c: reading and building real[] vectors */
extern int	VectorArgLength(ArrayType *array, const char *what);
extern void CheckVectorFinite(const float *data, int length, const char *what);
extern void CheckVectorsSameLength(int length_a, int length_b);
extern ArrayType *BuildVector(const float *data, int length);
extern ArrayType *NewFlatArray(Oid elemtype, Size elemsize, int length,
							   const char *what);
extern ArrayType *NewVector(int length, float **data);

/* A bigint[] of n ids (the empty array for 0), to pass as a parameter. */
extern ArrayType *BuildInt64Array(const int64 *values, int n);

/* Floats of an array that VectorArgLength accepted. */
#define VECTOR_DATA(array) ((float *) ARR_DATA_PTR(array))

/* spi_util.c: kept plans and large results */

/*
 * The plan of a query, prepared and kept (SPI_keepplan) on first use into
 * *plan, a static of the caller.  Called inside SPI.
 */
extern SPIPlanPtr KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs,
						   Oid *argtypes);

/* Called by ScanQueryRows for each row of the result. */
typedef void (*QueryRowFn) (HeapTuple tuple, TupleDesc desc, void *arg);

/*
 * Runs a read-only query with parameters through a cursor, calling fn for
 * each row, so that a result of millions of rows is never held at once;
 * interrupts are checked between batches.  Called inside SPI; fn allocates
 * what must outlive the scan in a context of its own.
 */
extern void ScanQueryRows(const char *sql, int nargs, Oid *argtypes,
						  Datum *args, QueryRowFn fn, void *arg);

/* ScanQueryRows for a prepared (e.g. kept) plan without NULL arguments. */
extern void ScanPlanRows(SPIPlanPtr plan, Datum *args, QueryRowFn fn,
						 void *arg);

#endif							/* RERANK_H */
