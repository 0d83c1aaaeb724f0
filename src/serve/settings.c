/*
 * settings.c
 *	  The serving settings (GUCs): the blend weights rerank.*_weight, which
 *	  are the defaults of the weight arguments of rerank() and explain(), the
 *	  recent term's decay and length, and MMR's depth.
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "serve/settings.h"
#include "utils/guc.h"

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
