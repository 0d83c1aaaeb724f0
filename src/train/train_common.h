/*
 * train_common.h
 *	  What the training procedures (train_als.c, train_item_knn.c) share
 *	  (train_common.c): their common arguments, their memory and clock, and
 *	  the JSON of the params and metrics they store with a model.
 */
#ifndef RERANK_TRAIN_COMMON_H
#define RERANK_TRAIN_COMMON_H

#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "portability/instr_time.h"
#include "train/train_source.h"

/* One run of a training procedure: its common arguments and its memory. */
typedef struct TrainingRun
{
	const char *procedure;		/* "train_als", for messages */
	char	   *name;			/* model_name */
	Oid			source;
	bool		activate;
	bool		replace;
	char	   *weight_column;	/* NULL: the default */
	char	   *description;
	MemoryContext cxt;			/* the run's memory, from TrainingRead on */
	MemoryContext caller_cxt;
	instr_time	start;			/* when reading began */
} TrainingRun;

/*
 * Reads the arguments every training procedure takes: model_name and
 * source first, activate and replace at activate_arg, weight_column and
 * description at weight_arg; the arguments before weight_arg must not be
 * NULL (error 22004 naming the argument's position).  Checks the name's
 * length.
 */
extern void TrainingArgs(FunctionCallInfo fcinfo, const char *procedure,
						 int activate_arg, int weight_arg, TrainingRun *run);

/*
 * Switches into a new memory context for the run, starts its clock and
 * reads its source (NOTICE with the counts); returns the seconds reading
 * took.
 */
extern double TrainingRead(TrainingRun *run, Interactions *data);

/* Seconds since an instr_time start, for progress and metrics. */
extern double SecondsSince(instr_time start);

/*
 * CPU seconds of this process: on a shared machine the wall clock also
 * counts the time other processes held the CPU.
 */
extern double CpuSeconds(void);

/*
 * Back to the caller's memory, freeing the run's, then activates the model
 * when the run asked to.
 */
extern void TrainingEnd(TrainingRun *run);

/* Appends "source" and "weight_column" and closes the params object. */
extern void AppendSourceParams(StringInfo buf, const Interactions *data);

/* Opens the metrics: {"training": {"users": …, "items": …, … "rows_read": … */
extern void AppendTrainingCounts(StringInfo buf, const Interactions *data);

/* The JSON number of a double (null when not finite), for params and metrics. */
extern void AppendJsonNumber(StringInfo buf, double value);

/* Appends a number member (, "key": value) to a JSON object. */
extern void AppendJsonField(StringInfo buf, const char *key, double value);

#endif							/* RERANK_TRAIN_COMMON_H */
