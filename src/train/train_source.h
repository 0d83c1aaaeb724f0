/*
 * train_source.h
 *	  Reading interaction sources for training and evaluation
 *	  (train_source.c): a table or view of (user_id, item_id[, weight]) rows,
 *	  validated, into both CSR orientations.
 */
#ifndef RERANK_TRAIN_SOURCE_H
#define RERANK_TRAIN_SOURCE_H

#include "postgres.h"

#include "core/als_train.h"

/* Called for each row of a source: ids and weight (1 without a weight column). */
typedef void (*SourceRowFn) (void *arg, int64 user_id, int64 item_id, double weight);

/*
 * Reads the user_id, item_id and weight columns of a table or view,
 * validating types and values (NULL ids or weights, NaN, infinite or
 * negative weights are errors naming the row).  weight_column NULL means
 * the column "weight" when the source has one, else weight 1; "what" names
 * the argument in messages ("source", "test").  Returns the row count.
 */
extern int64 ReadSourceRows(Oid source, const char *weight_column,
							const char *what, SourceRowFn fn, void *arg);

/* The interactions of a training source, ids mapped to dense indexes. */
typedef struct Interactions
{
	int			users;
	int			items;
	int64		rows;			/* rows read */
	double		scan_seconds;	/* of reading the rows (before the CSR) */
	int64	   *user_ids;		/* users, ascending: index → id */
	int64	   *item_ids;		/* items, ascending */
	AlsCsr		by_user;		/* users × items, rows sorted, no duplicates */
	AlsCsr		by_item;		/* its transpose */
	char	   *source_name;	/* qualified name, for params */
	char	   *weight_name;	/* weight column used, or NULL */
} Interactions;

/*
 * Reads a source into both CSR orientations (duplicates summed, zero
 * weights dropped), ids numbered in ascending order so that training does
 * not depend on the row order.  Errors when no row has a positive weight.
 */
extern void ReadInteractions(Oid source, const char *weight_column,
							 Interactions *out);

/*
 * Checks the summed weight r of every (user, item) pair: finite (rows of a
 * pair add up, in float) and, for alpha >= 0, with a confidence 1 + alpha·r
 * that ALS can hold (core/als_solve.h); the error names the pair.
 * ReadInteractions checks finiteness; train_als the confidence.
 */
extern void CheckInteractionWeights(const Interactions *data, double alpha);

/* The qualified, quoted name of a relation (error 42P01 when it is gone). */
extern char *QualifiedRelationName(Oid relid);

#endif							/* RERANK_TRAIN_SOURCE_H */
