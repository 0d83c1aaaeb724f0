/*
 * agg_state.h
 *	  float8[] transition states of the rerank aggregates.
 *
 * The aggregates keep their state in a plain float8[] rather than
 * "internal", so PostgreSQL's parallel query can combine partial states
 * without serial/deserial functions and distributed engines can ship them.
 * A state is '{}' before the first row; afterwards it is a header of
 * AGG_STATE_HEADER values followed by the payload.  Because the state
 * functions are callable from SQL, every state is validated before use.
 */
#ifndef RERANK_AGG_STATE_H
#define RERANK_AGG_STATE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/array.h"

/* Header: number of rows, sum of weights. */
#define AGG_STATE_HEADER 2
#define AGG_STATE_COUNT(values) ((values)[0])
#define AGG_STATE_WEIGHT(values) ((values)[1])

extern int	AggStatePayloadLength(ArrayType *state, const char *aggname,
								  bool scan_values);
extern ArrayType *AggStateForUpdate(FunctionCallInfo fcinfo, ArrayType *state,
									int payload_length);
extern ArrayType *AggStateCombine(FunctionCallInfo fcinfo, ArrayType *state1,
								  ArrayType *state2, const char *aggname,
								  int nkeys, const char *keyname);

#define AGG_STATE_VALUES(state) ((double *) ARR_DATA_PTR(state))

#endif							/* RERANK_AGG_STATE_H */
