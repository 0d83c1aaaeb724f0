/*
 * blas_info.c
 *	  rerank.blas_info(): which OpenBLAS build the backend runs, and how many
 *	  threads the backend process has.
 *
 * A backend is a single-threaded process: OpenBLAS must be the serial build,
 * which starts no thread pool.  The regression suite calls this after a BLAS
 * call and checks that the backend still has exactly one thread.
 */
#include "postgres.h"

#include <cblas.h>

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"

/* Threads of this process from /proc/self/status, or -1 where unknown. */
static int
ProcessThreadCount(void)
{
	FILE	   *file = AllocateFile("/proc/self/status", "r");
	char		line[256];
	int			threads = -1;

	if (file == NULL)
		return -1;
	while (fgets(line, sizeof(line), file) != NULL)
	{
		if (sscanf(line, "Threads: %d", &threads) == 1)
			break;
	}
	FreeFile(file);
	return threads;
}

PG_FUNCTION_INFO_V1(blas_info);

/*
 * Returns (config, core, parallel, blas_threads, backend_threads) after a
 * small BLAS call, so any lazily started thread pool would be running.
 */
Datum
blas_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	float		x[4] = {1, 2, 3, 4};
	int			threads;
	const char *parallel;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	(void) cblas_sdot(4, x, 1, x, 1);

	switch (openblas_get_parallel())
	{
		case 0:
			parallel = "sequential";
			break;
		case 1:
			parallel = "pthreads";
			break;
		case 2:
			parallel = "openmp";
			break;
		default:
			parallel = "unknown";
			break;
	}
	threads = ProcessThreadCount();

	values[0] = CStringGetTextDatum(openblas_get_config());
	values[1] = CStringGetTextDatum(openblas_get_corename());
	values[2] = CStringGetTextDatum(parallel);
	values[3] = Int32GetDatum(openblas_get_num_threads());
	values[4] = Int32GetDatum(threads);
	nulls[4] = threads < 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
