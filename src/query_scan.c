/*
 * query_scan.c
 *	  Reading a large query result in batches through a cursor, for the
 *	  loads of the backend caches and the scans of evaluate().
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "rerank.h"

/* Rows fetched per batch. */
#define QUERY_SCAN_BATCH 10000

/* Runs a read-only query, calling fn for each row; see rerank.h. */
void
ScanQueryRows(const char *sql, int nargs, Oid *argtypes, Datum *args,
			  QueryRowFn fn, void *arg)
{
	Portal		portal = SPI_cursor_open_with_args(NULL, sql, nargs, argtypes,
												   args, NULL, true, 0);

	for (;;)
	{
		SPI_cursor_fetch(portal, true, QUERY_SCAN_BATCH);
		if (SPI_processed == 0)
			break;
		for (uint64 r = 0; r < SPI_processed; r++)
			fn(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, arg);
		SPI_freetuptable(SPI_tuptable);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
}
