/*
 * spi_util.h
 *	  SPI helpers of the glue (spi_util.c): connecting, plans prepared once
 *	  per backend and kept, and large query results read in batches through
 *	  a cursor.
 */
#ifndef RERANK_SPI_UTIL_H
#define RERANK_SPI_UTIL_H

#include "postgres.h"

#include "executor/spi.h"

/*
 * SPI_connect, with the error every caller raised when it fails.  The
 * caller ends with SPI_finish (an error ends the connection with the
 * transaction or subtransaction).
 */
extern void SpiConnect(void);

/*
 * The plan of a query, prepared and kept (SPI_keepplan) on first use into
 * *plan, a static of the caller.  Called inside SPI.
 */
extern SPIPlanPtr KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs,
						   Oid *argtypes);

/*
 * Runs a query with parameters through a plan kept in *plan (KeptPlan),
 * returning at most count rows (0: all); anything but the expected result
 * code (SPI_OK_SELECT, SPI_OK_INSERT, …) is an error naming the query.
 * Called inside SPI; the rows are in SPI_tuptable.
 */
extern void ExecuteKeptPlan(SPIPlanPtr *plan, const char *sql, int nargs,
							Oid *argtypes, Datum *args, bool read_only,
							long count, int expected);

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

#endif							/* RERANK_SPI_UTIL_H */
