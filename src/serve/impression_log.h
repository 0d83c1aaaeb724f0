/*
 * impression_log.h
 *	  rerank()'s own impressions (impression_log.c): when the setting
 *	  rerank.impression_log_rate asks for it, a sample of the calls writes
 *	  what it returned (the first rerank.impression_log_depth places) into
 *	  rerank.impressions, for train_ranker(impressions => …).
 */
#ifndef RERANK_IMPRESSION_LOG_H
#define RERANK_IMPRESSION_LOG_H

#include "postgres.h"

#include "datatype/timestamp.h"

/*
 * Logs the n items of a call's result in their order, for user_id, shown
 * at as_of, when the call is sampled and the transaction may write (not
 * read-only, not in recovery, not in parallel mode); else nothing.
 */
extern void ImpressionLog(int64 user_id, const int64 *items, int n, TimestampTz as_of);

/* Registers the settings; called by _PG_init. */
extern void ImpressionLogInit(void);

#endif							/* RERANK_IMPRESSION_LOG_H */
