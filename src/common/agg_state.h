/*
 * agg_state.h
 *	  float8[] transition states of the rerank aggregates.
 *
 * The aggregates keep their state in a plain float8[] rather than
 * "internal", so PostgreSQL's parallel query can combine partial states
 * without serial/deserial functions and distributed engines can ship them.
 * A state is '{}' before the first row; afterwards it is a header of
 * AGG_STATE_HEADER values followed by the payload (core/agg_layout.h).
 * Because the state functions are callable from SQL, every state is
 * validated before use: here the array itself, in the core its values.
 */
#ifndef RERANK_AGG_STATE_H
#define RERANK_AGG_STATE_H

#include "postgres.h"

#include "core/agg_layout.h"
#include "fmgr.h"
#include "utils/array.h"

extern int	AggStatePayloadLength(ArrayType *state, const char *aggname,
								  bool scan_values);
extern ArrayType *AggStateForUpdate(FunctionCallInfo fcinfo, ArrayType *state,
									int payload_length);
extern void AggStateError(const char *aggname, AggCheck check);
extern ArrayType *AggStateCombine(FunctionCallInfo fcinfo, ArrayType *state1,
								  ArrayType *state2, const char *aggname,
								  int nkeys, const char *keyname);

#define AGG_STATE_VALUES(state) ((double *) ARR_DATA_PTR(state))

#endif							/* RERANK_AGG_STATE_H */
