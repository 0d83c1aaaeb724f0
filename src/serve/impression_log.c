/*
 * impression_log.c
 *	  rerank()'s own impressions (see impression_log.h).
 *
 * A logged call costs one INSERT of at most rerank.impression_log_depth
 * rows through a kept plan (the ids as one array parameter); the others
 * cost a random number.  rerank() is STABLE for the planner's sake, and
 * the write is a log beside the result, never read by the call: a
 * transaction that cannot write (read-only, a standby, a parallel
 * operation) logs nothing rather than failing the call.  The page id is a
 * sequence's value, unique per logged call.
 */
#include "postgres.h"


#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "cache/backend_cache.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "executor/spi.h"
#include "serve/impression_log.h"
#include "utils/guc.h"

#define MAX_IMPRESSION_DEPTH 1000

static double impression_log_rate = 0.0;
static int	impression_log_depth = 20;

void
ImpressionLogInit(void)
{
	DefineCustomRealVariable("rerank.impression_log_rate",
							 "Share of rerank() calls whose result is written to rerank.impressions.",
							 "0 (the default) logs nothing; 1 logs every call. train_ranker(impressions => 'rerank.impressions') learns from them.",
							 &impression_log_rate, 0.0, 0.0, 1.0,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("rerank.impression_log_depth",
							"Places of a logged rerank() result written to rerank.impressions.",
							NULL, &impression_log_depth, 20, 1, MAX_IMPRESSION_DEPTH,
							PGC_SUSET, 0, NULL, NULL, NULL);
}

void
ImpressionLog(int64 user_id, const int64 *items, int n, TimestampTz as_of)
{
	static SPIPlanPtr plan = NULL;
	Oid			types[3] = {INT8OID, INT8ARRAYOID, TIMESTAMPTZOID};
	Datum		args[3];

	if (n <= 0 || !(impression_log_rate > 0.0) ||
		(impression_log_rate < 1.0 &&
		 pg_prng_double(&pg_global_prng_state) >= impression_log_rate))
		return;
	if (XactReadOnly || RecoveryInProgress() || IsInParallelMode())
		return;
	/* a 0.1.0 schema, not updated yet, has no table to log into */
	if (!OidIsValid(RerankTableOid("impressions")))
		return;
	args[0] = Int64GetDatum(user_id);
	args[1] = PointerGetDatum(BuildInt64Array(items, Min(n, impression_log_depth)));
	args[2] = TimestampTzGetDatum(as_of);
	SpiConnect();
	ExecuteKeptPlan(&plan,
					"WITH page AS MATERIALIZED"
					" (SELECT pg_catalog.nextval('rerank.impressions_page_id_seq') AS id)"
					" INSERT INTO rerank.impressions (user_id, item_id, shown_at, position, page_id)"
					" SELECT $1, t.item_id, $3, t.position::pg_catalog.int4, page.id"
					" FROM page, pg_catalog.unnest($2) WITH ORDINALITY AS t (item_id, position)",
					3, types, args, false, 0, SPI_OK_INSERT);
	SPI_finish();
}
