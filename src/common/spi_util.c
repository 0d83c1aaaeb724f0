/*
 * spi_util.c
 *	  SPI helpers of the glue: connecting, plans prepared once per backend
 *	  and kept, and large query results read in batches through a cursor
 *	  (the loads of the backend caches, the scans of evaluate()).
 */
#include "postgres.h"

#include "common/spi_util.h"
#include "executor/spi.h"
#include "miscadmin.h"

/* Connects to SPI; see spi_util.h. */
void
SpiConnect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

/* Prepares and keeps a plan once per backend; see spi_util.h. */
SPIPlanPtr
KeptPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	prepared = SPI_prepare(sql, nargs, argtypes);

		if (prepared == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(prepared) != 0)
			elog(ERROR, "could not keep the plan of \"%s\"", sql);
		*plan = prepared;
	}
	return *plan;
}

/* Runs a query through a kept plan, checking its result; see spi_util.h. */
void
ExecuteKeptPlan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes,
				Datum *args, bool read_only, long count, int expected)
{
	int			ret = SPI_execute_plan(KeptPlan(plan, sql, nargs, argtypes), args,
									   NULL, read_only, count);

	if (ret != expected)
		elog(ERROR, "query failed (%s): %s", SPI_result_code_string(ret), sql);
}

/* Rows fetched per batch. */
#define QUERY_SCAN_BATCH 10000

/* Fetches a cursor's rows in batches, calling fn for each, and closes it. */
static void
ScanPortalRows(Portal portal, QueryRowFn fn, void *arg)
{
	for (;;)
	{
		SPITupleTable *batch;
		uint64		rows;

		SPI_cursor_fetch(portal, true, QUERY_SCAN_BATCH);
		/* kept locally: a callback that runs SPI itself replaces the globals */
		batch = SPI_tuptable;
		rows = SPI_processed;
		if (rows == 0)
			break;
		for (uint64 r = 0; r < rows; r++)
			fn(batch->vals[r], batch->tupdesc, arg);
		SPI_freetuptable(batch);
		CHECK_FOR_INTERRUPTS();
	}
	SPI_cursor_close(portal);
}

/* Runs a read-only query, calling fn for each row; see spi_util.h. */
void
ScanQueryRows(const char *sql, int nargs, Oid *argtypes, Datum *args,
			  QueryRowFn fn, void *arg)
{
	ScanPortalRows(SPI_cursor_open_with_args(NULL, sql, nargs, argtypes, args,
											 NULL, true, 0),
				   fn, arg);
}

/* ScanQueryRows for a prepared plan; see spi_util.h. */
void
ScanPlanRows(SPIPlanPtr plan, Datum *args, QueryRowFn fn, void *arg)
{
	Portal		portal = SPI_cursor_open(NULL, plan, args, NULL, true);

	if (portal == NULL)
		elog(ERROR, "could not open a cursor: %s",
			 SPI_result_code_string(SPI_result));
	ScanPortalRows(portal, fn, arg);
}
