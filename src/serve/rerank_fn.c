/*
 * rerank_fn.c
 *	  rerank.rerank() and rerank.rerank_ids(): personalized re-ordering of an
 *	  upstream candidate list.
 *
 * One call: validate the arguments, look up the model, drop NULL, duplicate
 * and excluded ids, then the scoring pipeline (scoring.h): gather the
 * candidates' details, the user and the categories once, score in the
 * pure-C core; then order in the core (RankOrder: top k, MMR, category
 * caps).  All memory of a call lives in one memory context deleted at its
 * end; the loops over candidates check for interrupts.
 */
#include "postgres.h"

#include "cache/model_cache.h"
#include "catalog/pg_type.h"
#include "common/vector_arg.h"
#include "core/id_index.h"
#include "core/knn.h"
#include "core/rank.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "serve/scoring.h"
#include "serve/settings.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

/* Arguments of rerank() and rerank_ids(), in SQL order. */
enum
{
	ARG_USER_ID = 0,
	ARG_ITEM_IDS,
	ARG_K,
	ARG_DIVERSITY,
	ARG_MAX_PER_CATEGORY,
	ARG_EXCLUDE_PURCHASED,
	ARG_EXCLUDE,
	ARG_MODEL_WEIGHT,			/* then recent, position, category */
	ARG_MODEL = ARG_MODEL_WEIGHT + BLEND_WEIGHT_ARGS,
	ARG_AS_OF
};

/* The re-ordered candidates of one call. */
typedef struct RerankResult
{
	int			n;
	int64	   *item_ids;
	double	   *scores;
} RerankResult;

/* Whether the session was told that no model is active. */
static bool no_model_noticed = false;

/* The arguments of one call, validated. */
typedef struct RerankArgs
{
	bool		null_result;	/* user_id or item_ids is NULL */
	int64		user_id;
	ArrayType  *candidates;
	int			ncandidates;	/* elements, NULLs included */
	int			k;				/* -1: all */
	double		diversity;
	int			max_per_category;	/* 0: no cap */
	bool		exclude_purchased;
	ArrayType  *exclude;		/* or NULL */
	int			nexclude;
	BlendWeights weights;
	const char *model_name;		/* NULL: the active model */
	TimestampTz as_of;			/* when the features are computed */
} RerankArgs;

/* Reads and checks every argument before anything else happens. */
static void
RerankReadArgs(FunctionCallInfo fcinfo, RerankArgs *args)
{
	memset(args, 0, sizeof(RerankArgs));
	args->k = -1;
	if (!PG_ARGISNULL(ARG_K))
	{
		args->k = PG_GETARG_INT32(ARG_K);
		if (args->k < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("k must not be negative: %d", args->k),
					 errhint("Pass NULL to return every candidate.")));
	}
	if (!PG_ARGISNULL(ARG_DIVERSITY))
	{
		args->diversity = PG_GETARG_FLOAT8(ARG_DIVERSITY);
		if (!(args->diversity >= 0.0 && args->diversity <= 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("diversity must be between 0 and 1: %g", args->diversity)));
	}
	if (!PG_ARGISNULL(ARG_MAX_PER_CATEGORY))
	{
		args->max_per_category = PG_GETARG_INT32(ARG_MAX_PER_CATEGORY);
		if (args->max_per_category < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max_per_category must be at least 1: %d",
							args->max_per_category),
					 errhint("Pass NULL for no cap.")));
	}
	if (!PG_ARGISNULL(ARG_EXCLUDE_PURCHASED))
		args->exclude_purchased = PG_GETARG_BOOL(ARG_EXCLUDE_PURCHASED);
	if (!PG_ARGISNULL(ARG_EXCLUDE))
	{
		args->exclude = PG_GETARG_ARRAYTYPE_P(ARG_EXCLUDE);
		args->nexclude = IdArrayArgLength(args->exclude, "exclude",
										  RERANK_MAX_CANDIDATES, true);
	}
	ServeWeights(fcinfo, ARG_MODEL_WEIGHT, &args->weights);
	if (!PG_ARGISNULL(ARG_MODEL))
		args->model_name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_MODEL));
	args->as_of = ServeAsOf(fcinfo, ARG_AS_OF);
	if (!PG_ARGISNULL(ARG_ITEM_IDS))
	{
		args->candidates = PG_GETARG_ARRAYTYPE_P(ARG_ITEM_IDS);
		args->ncandidates = IdArrayArgLength(args->candidates, "item_ids",
											 RERANK_MAX_CANDIDATES, true);
	}
	if (PG_ARGISNULL(ARG_USER_ID) || PG_ARGISNULL(ARG_ITEM_IDS))
		args->null_result = true;
	else
		args->user_id = PG_GETARG_INT64(ARG_USER_ID);
}

/*
 * The candidate ids in upstream order: NULLs skipped, the exclusion list
 * dropped, duplicates dropped (the first position wins).  Returns how many.
 */
static int
CollectCandidates(const RerankArgs *args, int64 **result)
{
	int64	   *ids = CandidateAlloc(Max(args->ncandidates, 1), sizeof(int64));
	int			nids = IdArrayValues(args->candidates, args->ncandidates, ids);
	int64	   *excluded = NULL;
	int			nexcluded = 0;
	IdIndex		seen;
	size_t		slots;
	int			n = 0;

	if (args->exclude != NULL)
	{
		excluded = CandidateAlloc(Max(args->nexclude, 1), sizeof(int64));
		nexcluded = IdArrayValues(args->exclude, args->nexclude, excluded);
	}
	slots = IdIndexSlots((size_t) nids + nexcluded);
	IdIndexInit(&seen, CandidateAlloc(slots, sizeof(int64)),
				CandidateAlloc(slots, sizeof(int32)), slots);
	for (int i = 0; i < nexcluded; i++)
		IdIndexAdd(&seen, excluded[i], 0);
	for (int i = 0; i < nids; i++)
	{
		if ((i & 4095) == 4095)
			CHECK_FOR_INTERRUPTS();
		if (IdIndexAdd(&seen, ids[i], 0))
			ids[n++] = ids[i];
	}
	*result = ids;
	return n;
}

/* Computes the result of a call; see the file header. */
static void
RerankRun(const RerankArgs *args, RerankResult *result)
{
	const CachedModel *model;
	ScoringRequest req;
	ScoringContext ctx;
	int64	   *ids;
	int			n;
	RankOrderParams params;
	int		   *order;

	memset(result, 0, sizeof(RerankResult));

	/* the model: named (an unknown name is an error) or the active one */
	model = ModelByName(args->model_name);
	if (model == NULL && !no_model_noticed)
	{
		no_model_noticed = true;
		ereport(NOTICE,
				(errmsg("no rerank model is active: candidates are scored without a model"),
				 errhint("Activate one with rerank.activate_model(). This is reported once per session.")));
	}
	if (args->null_result)
		return;
	n = CollectCandidates(args, &ids);
	if (n == 0)
		return;

	/* gather once, then score in the core */
	memset(&req, 0, sizeof(req));
	req.model = model;
	req.user_id = args->user_id;
	req.as_of = args->as_of;
	req.weights = args->weights;
	req.exclude_purchased = args->exclude_purchased;
	req.want_categories = args->max_per_category > 0;
	req.want_pairs = args->diversity > 0.0;
	ScoringGather(&ctx, &req, ids, n, NULL);
	ScoringCompute(&ctx);
	n = ctx.n;
	if (n == 0)
		return;
	if (ctx.bad < n)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("score of item " INT64_FORMAT " is out of range",
						ctx.items[ctx.bad].item_id),
				 errhint("Use smaller blend weights.")));

	/* the order: top k, MMR diversity, category caps */
	params.k = args->k < 0 ? n : Min(args->k, n);
	params.diversity = args->diversity;
	params.diversity_depth = rerank_diversity_depth;
	params.max_per_category = args->max_per_category;
	params.ncategories = ctx.ncategories;
	params.dims = ctx.dims;
	params.similarity = ctx.knn ? KnnPairSimilarity :
		ctx.user_knn ? UserKnnMmrSimilarity : NULL;
	params.similarity_arg = ctx.knn ? (void *) &ctx.knn_terms.pairs :
		ctx.user_knn ? (void *) &ctx.user_knn_terms.candidates.rows : NULL;
	order = CandidateAlloc(Max(params.k, 1), sizeof(int));
	result->n = RankOrder(ctx.items, n, &params, order,
						  palloc_extended(RankOrderWorkspace(n, ctx.ncategories),
										  MCXT_ALLOC_HUGE));
	result->item_ids = CandidateAlloc(Max(result->n, 1), sizeof(int64));
	result->scores = CandidateAlloc(Max(result->n, 1), sizeof(double));
	for (int r = 0; r < result->n; r++)
	{
		result->item_ids[r] = ctx.items[order[r]].item_id;
		result->scores[r] = ctx.items[order[r]].score;
	}
}

/* Reads the arguments and computes the result, in the call's context. */
static void
RerankCompute(FunctionCallInfo fcinfo, RerankResult *result)
{
	RerankArgs	args;

	RerankReadArgs(fcinfo, &args);
	RerankRun(&args, result);
}

/* A memory context for everything one call allocates. */
static MemoryContext
RerankCallContext(void)
{
	return AllocSetContextCreate(CurrentMemoryContext, "rerank call",
								 ALLOCSET_DEFAULT_SIZES);
}

PG_FUNCTION_INFO_V1(rerank);

/* rerank.rerank(user_id, item_ids, …) → (item_id, score, rank) */
Datum
rerank(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext call = RerankCallContext();
	MemoryContext old;
	RerankResult result;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	old = MemoryContextSwitchTo(call);
	RerankCompute(fcinfo, &result);
	MemoryContextSwitchTo(old);

	for (int r = 0; r < result.n; r++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int64GetDatum(result.item_ids[r]);
		values[1] = Float8GetDatum(result.scores[r]);
		values[2] = Int32GetDatum(r + 1);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	MemoryContextDelete(call);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(rerank_ids);

/* rerank.rerank_ids(user_id, item_ids, …) → bigint[] in the new order */
Datum
rerank_ids(PG_FUNCTION_ARGS)
{
	MemoryContext call = RerankCallContext();
	MemoryContext old;
	RerankResult result;
	ArrayType  *array;

	old = MemoryContextSwitchTo(call);
	RerankCompute(fcinfo, &result);
	MemoryContextSwitchTo(old);

	if (PG_ARGISNULL(ARG_USER_ID) || PG_ARGISNULL(ARG_ITEM_IDS))
	{
		MemoryContextDelete(call);
		PG_RETURN_NULL();
	}
	array = BuildInt64Array(result.item_ids, result.n);
	MemoryContextDelete(call);
	PG_RETURN_ARRAYTYPE_P(array);
}
