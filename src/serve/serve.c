/*
 * serve.c
 *	  What the serving functions share: the blend settings (GUCs), the
 *	  per-call look-up of a user's vector and features (and the recency
 *	  profile of the recent items), and the look-up of item categories with
 *	  the user's affinity to each.
 *
 * The user's vector and features come from model/user_features.c (two
 * primary key look-ups, or one query).  The category look-up over the
 * category cache's budget is an SPI query with a kept plan, which passes
 * every value as a parameter and schema-qualifies every operator.
 */
#include "postgres.h"

#include <math.h>

#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "common/vector_arg.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "serve/serve.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/*
 * The blend weight settings rerank.<name>, in the order of the terms
 * (core/rank.h): the defaults of the weight arguments of the same names.
 */
static const struct
{
	const char *name;
	const char *description;
	double		boot;
}			weight_settings[RANK_NTERMS] = {
	{"model_weight", "Default weight of the model score x_u·y_i + b_i in rerank().", 1.0},
	{"recent_weight", "Default weight of the similarity to the user's recent items in rerank().", 0.2},
	{"position_weight", "Default weight of the upstream position 1/log2(1 + position) in rerank().", 0.1},
	{"category_weight", "Default weight of the user's category affinity in rerank().", 0.1}
};

static double weight_values[RANK_NTERMS];

double		rerank_recent_decay = 0.8;
int			rerank_recent_items = 20;
int			rerank_diversity_depth = 100;

/* Registers the serving settings; called by _PG_init. */
void
ServeInit(void)
{
	for (int t = 0; t < RANK_NTERMS; t++)
	{
		char		name[NAMEDATALEN];

		/* guc.c keeps a copy of the name */
		snprintf(name, sizeof(name), "rerank.%s", weight_settings[t].name);
		DefineCustomRealVariable(name, weight_settings[t].description,
								 NULL, &weight_values[t], weight_settings[t].boot,
								 -1e6, 1e6, PGC_USERSET, 0, NULL, NULL, NULL);
	}
	DefineCustomRealVariable("rerank.recent_decay",
							 "Recency decay of the recent-items similarity: the j-th most recent item weighs decay^j.",
							 NULL, &rerank_recent_decay, 0.8, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("rerank.recent_items",
							"How many of the user's most recent items the recent-items similarity uses.",
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
 * The blend weights: the four arguments model_weight, recent_weight,
 * position_weight, category_weight from first_arg on, the settings where
 * an argument is NULL.
 */
void
ServeWeights(FunctionCallInfo fcinfo, int first_arg, RankWeights *weights)
{
	for (int t = 0; t < RANK_NTERMS; t++)
	{
		if (PG_ARGISNULL(first_arg + t))
			weights->w[t] = weight_values[t];
		else
		{
			weights->w[t] = PG_GETARG_FLOAT8(first_arg + t);
			CheckFiniteArgument(weights->w[t], weight_settings[t].name);
		}
	}
}

/* ---- the user ---- */

/* The vectors of the user's recent items that the recent term uses. */
const float **
RecentVectors(const CachedModel *model, const ServeUser *user, int *nrecent)
{
	const float **recent;

	*nrecent = Min(user->features.nrecent, rerank_recent_items);
	recent = palloc(sizeof(float *) * Max(*nrecent, 1));
	ModelItemVectors(model, user->features.recent_items, *nrecent, recent, NULL);
	return recent;
}

/* The recency profile of the recent items' vectors; NULL when there is none. */
const float *
RecentProfile(const CachedModel *model, const float **recent, int nrecent)
{
	int			dims = model->dimensions;
	float	   *profile = palloc(sizeof(float) * dims);
	double	   *work = palloc(sizeof(double) * dims);

	return RankProfile(recent, nrecent, rerank_recent_decay, dims, profile, work) ?
		profile : NULL;
}

/* Reads the user's vector and features; see serve.h. */
void
LoadUserState(const CachedModel *model, int64 user_id, ServeUser *state)
{
	memset(state, 0, sizeof(ServeUser));
	LoadUserFeatures(model, user_id, &state->features, &state->vector);
}
