/*
 * train_common.c
 *	  What the training procedures (train_als.c, train_item_knn.c) share:
 *	  their common arguments, reading the source in the run's memory, the
 *	  JSON of params and metrics, and the end of a run.
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "fmgr.h"
#include "model/model_write.h"
#include "train/train_common.h"
#include "train/train_source.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

/* Reads and checks the arguments every training procedure takes. */
void
TrainingArgs(FunctionCallInfo fcinfo, const char *procedure, int activate_arg,
			 int weight_arg, TrainingRun *run)
{
	for (int i = 0; i < weight_arg; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s: argument %d must not be NULL", procedure, i + 1)));
	memset(run, 0, sizeof(TrainingRun));
	run->procedure = procedure;
	run->name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	run->source = PG_GETARG_OID(1);
	run->activate = PG_GETARG_BOOL(activate_arg);
	run->replace = PG_GETARG_BOOL(activate_arg + 1);
	run->weight_column = PG_ARGISNULL(weight_arg) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(weight_arg));
	run->description = PG_ARGISNULL(weight_arg + 1) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(weight_arg + 1));
	if (strlen(run->name) < 1 || strlen(run->name) > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must have 1 to 63 characters")));
}

/* Starts the run's memory and clock, reads the source, reports it. */
double
TrainingRead(TrainingRun *run, Interactions *data)
{
	double		seconds;

	run->cxt = AllocSetContextCreate(CurrentMemoryContext, "rerank training",
									 ALLOCSET_DEFAULT_SIZES);
	run->caller_cxt = MemoryContextSwitchTo(run->cxt);
	INSTR_TIME_SET_CURRENT(run->start);
	ReadInteractions(run->source, run->weight_column, data);
	seconds = SecondsSince(run->start);
	ereport(NOTICE,
			(errmsg("%s \"%s\": read " INT64_FORMAT " rows: %d users, %d items, " INT64_FORMAT " interactions in %.3f s",
					run->procedure, run->name, data->rows, data->users,
					data->items, data->by_user.nnz, seconds)));
	return seconds;
}

/* Seconds since start. */
double
SecondsSince(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
}

/* CPU seconds of this process; see train_common.h. */
double
CpuSeconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return 0.0;
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Frees the run's memory and activates the model when asked to. */
void
TrainingEnd(TrainingRun *run)
{
	MemoryContextSwitchTo(run->caller_cxt);
	MemoryContextDelete(run->cxt);
	if (run->activate)
		ActivateModelByName(run->name);
}

/* Ends the params: the source and weight column, then the closing brace. */
void
AppendSourceParams(StringInfo buf, const Interactions *data)
{
	appendStringInfoString(buf, "\"source\": ");
	escape_json(buf, data->source_name);
	appendStringInfoString(buf, ", \"weight_column\": ");
	if (data->weight_name)
		escape_json(buf, data->weight_name);
	else
		appendStringInfoString(buf, "null");
	appendStringInfoString(buf, "}");
}

/* Starts the metrics: {"training": {"users": …, …, "rows_read": … */
void
AppendTrainingCounts(StringInfo buf, const Interactions *data)
{
	appendStringInfo(buf, "{\"training\": {\"users\": %d, \"items\": %d, "
					 "\"interactions\": " INT64_FORMAT ", \"rows_read\": " INT64_FORMAT
					 ", \"scan_seconds\": %.6f",
					 data->users, data->items, data->by_user.nnz, data->rows,
					 data->scan_seconds);
}

/* The JSON number of a double, null when not finite. */
void
AppendJsonNumber(StringInfo buf, double value)
{
	if (!isfinite(value))
		appendStringInfoString(buf, "null");
	else
		appendStringInfo(buf, "%.9g", value);
}

/* Appends ", "key": value" to a JSON object being written. */
void
AppendJsonField(StringInfo buf, const char *key, double value)
{
	appendStringInfo(buf, ", \"%s\": ", key);
	AppendJsonNumber(buf, value);
}
