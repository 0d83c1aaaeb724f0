/*
 * agg_layout.h
 *	  The layout of the aggregates' float8[] transition states, and the
 *	  checks every state passes before its payload is read or written.  Pure
 *	  C: no PostgreSQL headers, no allocation, so the checks are unit-tested
 *	  and fuzzed alone (test/unit, test/fuzz).
 *
 * A state is empty (no row yet: the glue passes no values) or AGG_HEADER
 * values, the row count and the sum of weights, followed by a payload whose
 * layout the aggregate fixes:
 *
 *	vector_sum, vector_avg	the weighted sums of the vectors (one per element)
 *	gram_matrix				the k×k sums of x xᵀ, k ≤ AGG_MAX_DIMENSIONS
 *	als_fold_in				keys: the model id and k; then S (k², upper
 *							triangle used), Σ y (k) and Σ r·y (k)
 *
 * States reach the state, combine and final functions from SQL, where anyone
 * can hand them any array: each function checks the header, then the layout
 * (the fold-in's also against the model it serves) before anything else.
 * Keys are what a state is about: states combine only when their keys are
 * equal, and combining keeps them rather than adding them.
 */
#ifndef RERANK_AGG_LAYOUT_H
#define RERANK_AGG_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header values: the row count, the sum of weights. */
#define AGG_HEADER 2
#define AGG_COUNT(values) ((values)[0])
#define AGG_WEIGHT(values) ((values)[1])

/* Largest number of dimensions of a Gram or fold-in state (a model's). */
#define AGG_MAX_DIMENSIONS 2048

/* The fold-in's keys: model id and k. */
#define AGG_FOLD_IN_KEYS 2

/* What a check found. */
typedef enum AggCheck
{
	AGG_OK = 0,
	AGG_SHORT,					/* shorter than its header */
	AGG_NOT_FINITE,				/* a NaN or an infinity */
	AGG_BAD_COUNT,				/* row count not a positive integer */
	AGG_BAD_WEIGHT,				/* negative sum of weights */
	AGG_BAD_LAYOUT,				/* payload not of the aggregate's layout */
	AGG_OTHER_MODEL,			/* the keys name another model */
	AGG_OTHER_DIMENSIONS,		/* another number of dimensions */
	AGG_OTHER_LENGTH,			/* another payload length */
	AGG_OVERFLOW				/* the update leaves a non-finite sum */
} AggCheck;

/* A sentence saying what a failed check found (for an error's detail). */
extern const char *AggCheckDetail(AggCheck check);

/*
 * Checks the header of a non-empty state of n values (header included):
 * long enough, finite, a positive integer row count, a sum of weights
 * >= 0; with scan, also every payload value finite.  (A state function
 * running inside an aggregate may skip the scan: its state came from its
 * own previous call.)
 */
extern AggCheck AggHeaderCheck(const double *values, size_t n, bool scan);

/* The k of a gram_matrix payload of n values: a square of k ≤ the limit. */
extern AggCheck AggGramLayout(size_t n, int *k);

/* Payload values of a fold-in state of k dimensions. */
extern size_t AggFoldInPayload(int k);

/*
 * The keys of a fold-in payload of n values: a model id in [1, INT32_MAX],
 * k in [1, AGG_MAX_DIMENSIONS], both integers, and n = AggFoldInPayload(k).
 */
extern AggCheck AggFoldInLayout(const double *payload, size_t n,
								int32_t *model_id, int *k);

/*
 * AggFoldInLayout, and the keys equal to the model's: AGG_OTHER_MODEL or
 * AGG_OTHER_DIMENSIONS when they are not.
 */
extern AggCheck AggFoldInCheck(const double *payload, size_t n,
							   int32_t model_id, int k);

/* Sets the keys of an empty fold-in payload. */
extern void AggFoldInInit(double *payload, int32_t model_id, int k);

/*
 * Adds a row to a state of n values (header included) whose checks passed:
 * count + 1, weight added to the sum of weights, and
 *	AggVectorAdd	weight·x to the sums (x has n − AGG_HEADER floats)
 *	AggGramAdd		x xᵀ to the upper triangle (k = √(n − AGG_HEADER); work
 *					holds k doubles)
 *	AggFoldInAdd	the row's sums (y has k floats, k from the keys)
 * Each returns AGG_BAD_LAYOUT, changing nothing, when n does not fit the
 * layout (the caller's checks should have said so).  AggVectorAdd returns
 * AGG_OVERFLOW when a sum is no longer finite (a huge weight), with
 * *element the first such element (−1: the sum of weights); the others
 * cannot overflow with finite float input and a weight below FLT_MAX.
 */
extern AggCheck AggVectorAdd(double *values, size_t n, const float *x,
							 double weight, int *element);
extern AggCheck AggGramAdd(double *values, size_t n, const float *x,
						   double *work);
extern AggCheck AggFoldInAdd(double *values, size_t n, const float *y,
							 double weight);

/*
 * Adds the state add (n_add values) into sum (n_sum values), both checked:
 * equal lengths (AGG_OTHER_LENGTH) and equal keys, the first nkeys payload
 * values (AGG_OTHER_MODEL), which are kept; AGG_OVERFLOW when a sum is no
 * longer finite.  sum is changed only when the result is AGG_OK.
 */
extern AggCheck AggCombine(double *sum, size_t n_sum, const double *add,
						   size_t n_add, int nkeys);

#endif							/* RERANK_AGG_LAYOUT_H */
