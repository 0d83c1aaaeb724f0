/*
 * feat_time.h
 *	  The clock of the features (core/features.h): a timestamptz as seconds
 *	  since PostgreSQL's epoch (2000-01-01 UTC), in a double.  Every glue
 *	  module that hands times to the core, and a trainer's replay, converts
 *	  through these, so all times of a call are on one clock.
 *
 * A double holds microseconds since 2000 exactly enough that the round
 * trip timestamp → seconds → timestamp gives the same microsecond for
 * dates until about 2140; later ones lose sub-microsecond precision only.
 */
#ifndef RERANK_FEAT_TIME_H
#define RERANK_FEAT_TIME_H

#include "postgres.h"

#include <math.h>

#include "datatype/timestamp.h"
#include "utils/timestamp.h"

/* Seconds of a finite timestamp; NaN for an infinite one. */
static inline double
FeatTimeFromTimestamp(TimestampTz t)
{
	if (TIMESTAMP_NOT_FINITE(t))
		return NAN;
	return (double) t / (double) USECS_PER_SEC;
}

/* The timestamp of seconds (finite, in range: callers pass what they read). */
static inline TimestampTz
FeatTimeToTimestamp(double seconds)
{
	return (TimestampTz) rint(seconds * (double) USECS_PER_SEC);
}

#endif							/* RERANK_FEAT_TIME_H */
