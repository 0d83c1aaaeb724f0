/*
 * settings.c
 *	  The serving settings (GUCs): the blend weight of each feature,
 *	  rerank.<feature>_weight (the defaults of the weight arguments of
 *	  rerank() and explain() for the four that have one), the recent terms'
 *	  decay and length, and MMR's depth.
 *
 * The default weights were chosen by replay on Taobao, MovieLens and the
 * synthetic shop together (test/bench/blend_tune.sh; docs/features.md,
 * "The defaults and how they were chosen"): brand features have no data
 * set to choose them by (0), popularity and trend gained nothing (0), and
 * the per-user features cannot change an order (0); the position and
 * category weights keep their 0.1.0 values, which cost the replay nothing
 * measurable and carry the upstream ranker's order in a real shop.
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "fmgr.h"
#include "serve/settings.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

/* The weight setting of each feature: its name, description and default. */
static const struct
{
	const char *name;			/* NULL: "<feature>_weight" */
	double		boot;
}			weight_settings[FEATURE_COUNT] = {
	[FEAT_MODEL_SCORE] = {"model_weight", 1.0},
	[FEAT_IN_MODEL] = {NULL, -2.0},
	[FEAT_RECENT_SIMILARITY] = {"recent_weight", 8.0},
	[FEAT_REVISIT] = {NULL, -2.0},
	[FEAT_REVISIT_RECENCY] = {NULL, 3.0},
	[FEAT_REVISIT_LOG_COUNT] = {NULL, 0.2},
	[FEAT_REVISIT_LOG_WEIGHT] = {NULL, 0.05},
	[FEAT_REVISIT_CLICKED] = {NULL, 0.7},
	[FEAT_REVISIT_FAVORITED] = {NULL, 8.0},
	[FEAT_REVISIT_CARTED] = {NULL, 0.7},
	[FEAT_REVISIT_SESSION] = {NULL, -1.0},
	[FEAT_PURCHASED] = {NULL, -0.5},
	[FEAT_COVISIT] = {NULL, 3.0},
	[FEAT_COVISIT_LAST] = {NULL, 1.0},
	[FEAT_CATEGORY_AFFINITY] = {"category_weight", 0.1},
	[FEAT_CATEGORY_RECENT] = {NULL, 0.7},
	[FEAT_CATEGORY_SESSION] = {NULL, 12.0},
	[FEAT_BRAND_AFFINITY] = {NULL, 0.0},
	[FEAT_BRAND_RECENT] = {NULL, 0.0},
	[FEAT_POPULARITY] = {NULL, 0.0},
	[FEAT_POPULARITY_WEEK] = {NULL, 0.0},
	[FEAT_TREND] = {NULL, 0.0},
	[FEAT_ITEM_NEWNESS] = {NULL, 3.0},
	[FEAT_POSITION] = {"position_weight", 0.1},
	[FEAT_USER_LOG_HISTORY] = {NULL, 0.0},
	[FEAT_SESSION_ACTIVE] = {NULL, 0.0},
};

const FeatureId blend_weight_arg_features[BLEND_WEIGHT_ARGS] = {
	FEAT_MODEL_SCORE, FEAT_RECENT_SIMILARITY, FEAT_POSITION, FEAT_CATEGORY_AFFINITY
};

static double weight_values[FEATURE_COUNT];
static char *weight_names[FEATURE_COUNT];

double		rerank_recent_decay = 0.8;
int			rerank_recent_items = 20;
int			rerank_diversity_depth = 100;

const char *
BlendWeightSetting(int feature)
{
	return weight_names[feature];
}

/* Registers the serving settings; called by _PG_init. */
void
ServeInit(void)
{
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		char		name[NAMEDATALEN];

		weight_names[f] = weight_settings[f].name != NULL ?
			MemoryContextStrdup(TopMemoryContext, weight_settings[f].name) :
			MemoryContextStrdup(TopMemoryContext, psprintf("%s_weight", FeatureName(f)));
		/* guc.c copies the name, not the descriptions */
		snprintf(name, sizeof(name), "rerank.%s", weight_names[f]);
		DefineCustomRealVariable(name,
								 MemoryContextStrdup(TopMemoryContext,
													 psprintf("Default weight of the feature %s in rerank()'s blend.",
															  FeatureName(f))),
								 "The features are described in the README; a missing value adds nothing.",
								 &weight_values[f], weight_settings[f].boot,
								 -1e6, 1e6, PGC_USERSET, 0, NULL, NULL, NULL);
	}
	DefineCustomRealVariable("rerank.recent_decay",
							 "Recency decay of the recent items: the j-th most recent item weighs decay^j.",
							 "Used by recent_similarity and covisit.",
							 &rerank_recent_decay, 0.8, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("rerank.recent_items",
							"How many of the user's most recent items recent_similarity and covisit use.",
							NULL, &rerank_recent_items, 20, 0, 1000,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("rerank.diversity_depth",
							"How many places of the result MMR diversity chooses; the rest follow by score.",
							NULL, &rerank_diversity_depth, 100, 1, RERANK_MAX_CANDIDATES,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/* Raises an error for a NaN or infinite argument. */
void
CheckFiniteArgument(double value, const char *name)
{
	if (!isfinite(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number", name)));
}

/*
 * The blend weights: the settings, then the four arguments model_weight,
 * recent_weight, position_weight, category_weight from first_arg on where
 * they are not NULL.
 */
void
ServeWeights(FunctionCallInfo fcinfo, int first_arg, BlendWeights *weights)
{
	memcpy(weights->w, weight_values, sizeof(weights->w));
	for (int a = 0; a < BLEND_WEIGHT_ARGS; a++)
	{
		FeatureId	f = blend_weight_arg_features[a];

		if (PG_ARGISNULL(first_arg + a))
			continue;
		weights->w[f] = PG_GETARG_FLOAT8(first_arg + a);
		CheckFiniteArgument(weights->w[f], weight_names[f]);
	}
}

/* The as_of argument, or the transaction's start; see settings.h. */
TimestampTz
ServeAsOf(FunctionCallInfo fcinfo, int arg)
{
	TimestampTz as_of;

	if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
		return GetCurrentTransactionStartTimestamp();
	as_of = PG_GETARG_TIMESTAMPTZ(arg);
	if (TIMESTAMP_NOT_FINITE(as_of))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("as_of must be a finite time")));
	return as_of;
}
