/*
 * agg_state.c
 *	  Validation, allocation and combination of float8[] aggregate states
 *	  (see agg_state.h; the checks of the values are core/agg_layout.c's).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/agg_state.h"
#include "common/vector_arg.h"
#include "utils/memutils.h"

StaticAssertDecl(AGG_MAX_DIMENSIONS == RERANK_MAX_DIMENSIONS,
				 "aggregate states hold models of every size");

/*
 * Raises the error of a failed check of an aggname state: states from SQL
 * are arguments, so 22023 for a state no state function could have built,
 * 22000 for one of other dimensions, 22003 for a sum out of range.
 */
void
AggStateError(const char *aggname, AggCheck check)
{
	if (check == AGG_OVERFLOW)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s: a sum is out of range for double precision", aggname)));
	if (check == AGG_OTHER_LENGTH || check == AGG_OTHER_DIMENSIONS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s: states of different dimensions", aggname),
				 errdetail("%s", AggCheckDetail(check))));
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid transition state for %s", aggname),
			 errdetail("%s", AggCheckDetail(check))));
}

/* Raises the error for an array that is no state at all. */
static void
ReportBadArray(const char *aggname, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid transition state for %s", aggname),
			 errdetail("%s", detail)));
}

/*
 * Validates a state and returns the length of its payload, or -1 for the
 * initial empty state.  The scan for non-finite values can be skipped
 * (scan_values false) by state functions running inside an aggregate, whose
 * state came from the previous call; the final functions always scan.
 */
int
AggStatePayloadLength(ArrayType *state, const char *aggname, bool scan_values)
{
	int			length;
	AggCheck	check;

	if (ARR_ELEMTYPE(state) != FLOAT8OID)
		ReportBadArray(aggname, "The state must be a double precision array.");
	if (ARR_NDIM(state) == 0)
		return -1;
	if (ARR_NDIM(state) != 1)
		ReportBadArray(aggname, "The state must be one-dimensional.");
	if (ARR_HASNULL(state) && array_contains_nulls(state))
		ReportBadArray(aggname, "The state must not contain NULL elements.");
	length = ARR_DIMS(state)[0];
	check = AggHeaderCheck(AGG_STATE_VALUES(state), (size_t) length, scan_values);
	if (check != AGG_OK)
		AggStateError(aggname, check);
	return length - AGG_HEADER;
}

/* A zeroed state with the given payload length, in the current context. */
static ArrayType *
NewAggState(int payload_length)
{
	return NewFlatArray(FLOAT8OID, sizeof(double),
						payload_length + AGG_HEADER, "aggregate state");
}

/*
 * Returns a state of payload_length the caller may update: a new zeroed one
 * for the initial empty state, the same one when called as an aggregate
 * (which owns its state, so updating in place saves a copy per row), else a
 * copy.  A non-empty state of another length is refused whatever the caller
 * checked before: this is where every update of a state gets its memory.
 */
ArrayType *
AggStateForUpdate(FunctionCallInfo fcinfo, ArrayType *state, int payload_length)
{
	ArrayType  *copy;

	if (ARR_NDIM(state) == 0)
		return NewAggState(payload_length);
	if (ARR_NDIM(state) != 1 || ARR_DIMS(state)[0] != payload_length + AGG_HEADER)
		elog(ERROR, "aggregate state of %d values where %d were expected",
			 ARR_NDIM(state) == 1 ? ARR_DIMS(state)[0] : -1,
			 payload_length + AGG_HEADER);
	if (AggCheckCallContext(fcinfo, NULL))
		return state;
	copy = (ArrayType *) palloc(VARSIZE(state));
	memcpy(copy, state, VARSIZE(state));
	return copy;
}

/*
 * Adds two validated states of the same payload length: the combine function
 * of every rerank aggregate, whose states all add up element by element.
 * The first nkeys payload values say what a state is about (the fold-in's
 * model id and dimensions): they must be equal, and are kept, not added;
 * keyname names them in the error ("models").
 */
ArrayType *
AggStateCombine(FunctionCallInfo fcinfo, ArrayType *state1, ArrayType *state2,
				const char *aggname, int nkeys, const char *keyname)
{
	int			length1 = AggStatePayloadLength(state1, aggname, true);
	int			length2 = AggStatePayloadLength(state2, aggname, true);
	ArrayType  *result;
	AggCheck	check;

	if (length2 < 0)
		return state1;
	if (length1 < 0)
		return state2;
	if (length1 != length2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot combine %s states of different lengths %d and %d",
						aggname, length1, length2)));
	result = AggStateForUpdate(fcinfo, state1, length1);
	check = AggCombine(AGG_STATE_VALUES(result), (size_t) length1 + AGG_HEADER,
					   AGG_STATE_VALUES(state2), (size_t) length2 + AGG_HEADER,
					   nkeys);
	if (check == AGG_OTHER_MODEL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine %s states of different %s",
						aggname, keyname)));
	if (check != AGG_OK)
		AggStateError(aggname, check);
	return result;
}
