/*
 * settings.h
 *	  The serving settings (settings.c): the blend weight of every feature
 *	  (core/features.h), the recent terms' decay and length, MMR's depth,
 *	  and the limit on candidates.
 */
#ifndef RERANK_SETTINGS_H
#define RERANK_SETTINGS_H

#include "postgres.h"

#include "core/features.h"
#include "datatype/timestamp.h"
#include "fmgr.h"

/* Most candidates one call accepts (memory stays bounded). */
#define RERANK_MAX_CANDIDATES 1000000

/* The weights of the hand-weighted blend, one per feature. */
typedef struct BlendWeights
{
	double		w[FEATURE_COUNT];
} BlendWeights;

/*
 * The four features whose weights rerank() and explain() also take as
 * arguments, in argument order (model_weight, recent_weight,
 * position_weight, category_weight).
 */
#define BLEND_WEIGHT_ARGS 4
extern const FeatureId blend_weight_arg_features[BLEND_WEIGHT_ARGS];

/*
 * Settings (GUCs), registered by ServeInit(); the blend weights
 * (rerank.<feature>_weight; the four above keep their 0.1.0 names
 * rerank.model_weight, recent_weight, position_weight, category_weight)
 * are read through ServeWeights().
 */
extern double rerank_recent_decay;
extern int	rerank_recent_items;
extern int	rerank_diversity_depth;

extern void ServeInit(void);

/* The name of a feature's weight setting, without the "rerank." prefix. */
extern const char *BlendWeightSetting(int feature);

/*
 * The blend weights of a call: the settings, with the four weight
 * arguments from first_arg on where they are not NULL.
 */
extern void ServeWeights(FunctionCallInfo fcinfo, int first_arg,
						 BlendWeights *weights);

/*
 * The time the features of a call are computed at: its as_of argument
 * (finite), or the transaction's start (now()) where NULL.
 */
extern TimestampTz ServeAsOf(FunctionCallInfo fcinfo, int arg);

/* Raises an error when a weight or setting argument is unusable. */
extern void CheckFiniteArgument(double value, const char *name);

#endif							/* RERANK_SETTINGS_H */
