/*
 * agg_state.c
 *	  Validation, allocation and combination of float8[] aggregate states
 *	  (see agg_state.h for the layout).
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/agg_state.h"
#include "common/vector_arg.h"
#include "utils/memutils.h"

/* Raises the error for a state that no state function could have built. */
static void
ReportBadState(const char *aggname, const char *detail)
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
	double	   *values;
	double		count;

	if (ARR_ELEMTYPE(state) != FLOAT8OID)
		ReportBadState(aggname, "The state must be a double precision array.");
	if (ARR_NDIM(state) == 0)
		return -1;
	if (ARR_NDIM(state) != 1)
		ReportBadState(aggname, "The state must be one-dimensional.");
	if (ARR_HASNULL(state) && array_contains_nulls(state))
		ReportBadState(aggname, "The state must not contain NULL elements.");
	length = ARR_DIMS(state)[0];
	if (length < AGG_STATE_HEADER)
		ReportBadState(aggname, "The state is shorter than its header.");

	values = AGG_STATE_VALUES(state);
	if (!isfinite(AGG_STATE_COUNT(values)) || !isfinite(AGG_STATE_WEIGHT(values)))
		ReportBadState(aggname, "The state contains a non-finite value.");
	if (scan_values)
	{
		for (int i = AGG_STATE_HEADER; i < length; i++)
			if (!isfinite(values[i]))
				ReportBadState(aggname, "The state contains a non-finite value.");
	}
	count = AGG_STATE_COUNT(values);
	if (count < 1 || count != floor(count))
		ReportBadState(aggname, "The row count must be a positive integer.");
	if (AGG_STATE_WEIGHT(values) < 0)
		ReportBadState(aggname, "The sum of weights must not be negative.");
	return length - AGG_STATE_HEADER;
}

/* A zeroed state with the given payload length, in the current context. */
static ArrayType *
NewAggState(int payload_length)
{
	return NewFlatArray(FLOAT8OID, sizeof(double),
						payload_length + AGG_STATE_HEADER, "aggregate state");
}

/*
 * Returns a state the caller may update: a new zeroed one for the initial
 * empty state, the same one when called as an aggregate (which owns its
 * state, so updating in place saves a copy per row), else a copy.
 */
ArrayType *
AggStateForUpdate(FunctionCallInfo fcinfo, ArrayType *state, int payload_length)
{
	ArrayType  *copy;

	if (ARR_NDIM(state) == 0)
		return NewAggState(payload_length);
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
	double	   *sum;
	double	   *add;

	if (length2 < 0)
		return state1;
	if (length1 < 0)
		return state2;
	for (int i = 0; i < nkeys; i++)
	{
		if (i >= length1 || i >= length2 ||
			AGG_STATE_VALUES(state1)[AGG_STATE_HEADER + i] !=
			AGG_STATE_VALUES(state2)[AGG_STATE_HEADER + i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cannot combine %s states of different %s",
							aggname, keyname)));
	}
	if (length1 != length2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("cannot combine %s states of different lengths %d and %d",
						aggname, length1, length2)));

	result = AggStateForUpdate(fcinfo, state1, length1);
	sum = AGG_STATE_VALUES(result);
	add = AGG_STATE_VALUES(state2);
	for (int i = 0; i < AGG_STATE_HEADER; i++)
		sum[i] += add[i];
	for (int i = AGG_STATE_HEADER + nkeys; i < length1 + AGG_STATE_HEADER; i++)
		sum[i] += add[i];
	return result;
}
