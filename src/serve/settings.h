/*
 * settings.h
 *	  The serving settings (settings.c): the blend weights, the recent term's
 *	  decay and length, MMR's depth, and the limit on candidates.
 */
#ifndef RERANK_SETTINGS_H
#define RERANK_SETTINGS_H

#include "postgres.h"

#include "core/rank.h"
#include "fmgr.h"

/* Most candidates one call accepts (memory stays bounded). */
#define RERANK_MAX_CANDIDATES 1000000

/*
 * Settings (GUCs), registered by ServeInit(); the blend weights
 * (rerank.*_weight) are read through ServeWeights().
 */
extern double rerank_recent_decay;
extern int	rerank_recent_items;
extern int	rerank_diversity_depth;

extern void ServeInit(void);

/* The blend weights of a call: arguments, or the settings where NULL. */
extern void ServeWeights(FunctionCallInfo fcinfo, int first_arg,
						 RankWeights *weights);

/* Raises an error when a weight or setting argument is unusable. */
extern void CheckFiniteArgument(double value, const char *name);

#endif							/* RERANK_SETTINGS_H */
