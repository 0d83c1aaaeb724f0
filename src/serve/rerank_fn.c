/*
 * rerank_fn.c
 *	  rerank.rerank() and rerank.rerank_ids(): personalized re-ordering of an
 *	  upstream candidate list.
 *
 * One call: validate the arguments, drop NULL, duplicate and excluded ids,
 * fetch the item vectors (and, when a cap or the category affinity may need
 * them, the category numbers kept beside them) from the model cache (no
 * query while the model is unchanged), read the user's vector and features
 * (two index look-ups, skipped when no term needs them) while the CPU
 * fetches the vectors, drop purchased items, number the categories and
 * weigh the user's affinity when needed, then score and order in the
 * pure-C core (src/core/rank.c).  All memory of a call lives in one memory
 * context deleted at its end; the loops over candidates check for
 * interrupts.
 */
#include "postgres.h"

#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "catalog/pg_type.h"
#include "common/vector_arg.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "serve/knn_terms.h"
#include "serve/serve.h"
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
	ARG_MODEL = ARG_MODEL_WEIGHT + RANK_NTERMS
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

/* palloc for arrays that grow with the number of candidates. */
static void *
CandidateAlloc(Size count, Size size)
{
	return palloc_extended(mul_size(count, size), MCXT_ALLOC_HUGE);
}

/*
 * Checks a bigint[] argument (one-dimensional, at most max elements) and
 * returns its number of elements, NULLs included.
 */
static int
IdArrayLength(ArrayType *array, const char *what, int max)
{
	int			n;

	if (ARR_ELEMTYPE(array) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must be of type bigint[]", what)));
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, not %d-dimensional",
						what, ARR_NDIM(array))));
	n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
	if (n > max)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has %d elements, more than the limit of %d",
						what, n, max)));
	return n;
}

/*
 * Reads the non-NULL elements of a bigint[] straight from its data area
 * into ids; returns how many.
 */
static int
IdArrayValues(ArrayType *array, int n, int64 *ids)
{
	const int64 *data = (const int64 *) ARR_DATA_PTR(array);
	const bits8 *bitmap = ARR_NULLBITMAP(array);
	int			count = 0;

	if (bitmap == NULL)
	{
		memcpy(ids, data, sizeof(int64) * n);
		return n;
	}
	for (int i = 0; i < n; i++)
	{
		if (bitmap[i / 8] & (1 << (i % 8)))
			ids[count] = data[count], count++;
	}
	return count;
}

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
	RankWeights weights;
	const char *model_name;		/* NULL: the active model */
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
		args->nexclude = IdArrayLength(args->exclude, "exclude", RERANK_MAX_CANDIDATES);
	}
	ServeWeights(fcinfo, ARG_MODEL_WEIGHT, &args->weights);
	if (!PG_ARGISNULL(ARG_MODEL))
		args->model_name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_MODEL));
	if (!PG_ARGISNULL(ARG_ITEM_IDS))
	{
		args->candidates = PG_GETARG_ARRAYTYPE_P(ARG_ITEM_IDS);
		args->ncandidates = IdArrayLength(args->candidates, "item_ids",
										  RERANK_MAX_CANDIDATES);
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
	RankIdSet	seen;
	size_t		slots;
	int			n = 0;

	if (args->exclude != NULL)
	{
		excluded = CandidateAlloc(Max(args->nexclude, 1), sizeof(int64));
		nexcluded = IdArrayValues(args->exclude, args->nexclude, excluded);
	}
	slots = RankIdSetSlots((size_t) nids + nexcluded);
	RankIdSetInit(&seen, CandidateAlloc(slots, sizeof(int64)),
				  CandidateAlloc(slots, 1), slots);
	for (int i = 0; i < nexcluded; i++)
		RankIdSetAdd(&seen, excluded[i]);
	for (int i = 0; i < nids; i++)
	{
		if ((i & 4095) == 4095)
			CHECK_FOR_INTERRUPTS();
		if (RankIdSetAdd(&seen, ids[i]))
			ids[n++] = ids[i];
	}
	*result = ids;
	return n;
}

/*
 * Drops the user's purchased items from the candidates (ids, vectors,
 * biases, norms and categories, when not NULL, in step); returns how many
 * are left.
 */
static int
DropPurchased(const ServeUser *user, int64 *ids, const float **vectors,
			  float *biases, double *norms, int32 *categories, int n)
{
	RankIdSet	purchased;
	size_t		slots = RankIdSetSlots(user->npurchased);
	int			kept = 0;

	RankIdSetInit(&purchased, palloc(sizeof(int64) * slots), palloc(slots), slots);
	for (int i = 0; i < user->npurchased; i++)
		RankIdSetAdd(&purchased, user->purchased_items[i]);
	for (int i = 0; i < n; i++)
	{
		if (RankIdSetContains(&purchased, ids[i]))
			continue;
		ids[kept] = ids[i];
		vectors[kept] = vectors[i];
		biases[kept] = biases[i];
		norms[kept] = norms[i];
		if (categories)
			categories[kept] = categories[i];
		kept++;
	}
	return kept;
}

/* Computes the result of a call; see the file header. */
static void
RerankRun(const RerankArgs *args, RerankResult *result)
{
	const RankWeights *weights = &args->weights;
	const CachedModel *model;
	int			dims;
	int64	   *ids;
	int			n;
	const float **vectors;
	float	   *biases;
	double	   *norms;
	ServeUser	user;
	RankUser	rank_user;
	RankItem   *items;
	int			ncategories = 0;
	bool		want_categories = args->max_per_category > 0 ||
		weights->w[RANK_TERM_CATEGORY] != 0.0;
	int32	   *global_categories = NULL;
	bool		have_categories = false;
	const float **recent = NULL;
	int			nrecent = 0;
	bool		knn;
	bool		want_recent;
	KnnTerms	knn_terms;
	RankOrderParams params;
	int		   *order;
	int			bad;

	memset(result, 0, sizeof(RerankResult));

	/* the model: named (an unknown name is an error) or the active one */
	model = ModelByName(args->model_name);
	if (model == NULL && !no_model_noticed)
	{
		no_model_noticed = true;
		ereport(NOTICE,
				(errmsg("no rerank model is active: candidates keep their upstream order"),
				 errhint("Activate one with rerank.activate_model(). This is reported once per session.")));
	}
	if (args->null_result)
		return;
	dims = model != NULL ? model->dimensions : 0;
	knn = ModelHasNeighbors(model);

	n = CollectCandidates(args, &ids);
	if (n == 0)
		return;

	/*
	 * Item vectors from the model cache, with the categories when a cap or
	 * the affinity may need them (they sit in the same hash slots).  The
	 * candidates are scattered over the model's matrix: the look-up leaves
	 * their vectors requested from memory, so the loads overlap the user
	 * look-up that follows.
	 */
	vectors = CandidateAlloc(n, sizeof(float *));
	biases = CandidateAlloc(n, sizeof(float));
	norms = CandidateAlloc(n, sizeof(double));
	if (want_categories)
		global_categories = CandidateAlloc(n, sizeof(int32));
	if (dims > 0)
		have_categories = ModelItemDetails(model, ids, n, vectors, biases, norms,
										   global_categories);
	else
	{
		for (int i = 0; i < n; i++)
		{
			vectors[i] = NULL;
			biases[i] = 0.0f;
			norms[i] = 0.0;
		}
	}
	if (want_categories && !have_categories)
		CategoryCachePrefetch(ids, n);

	/* the user's row, when a term or the purchase filter needs it */
	memset(&user, 0, sizeof(user));
	{
		bool		want_vector = dims > 0 && weights->w[RANK_TERM_MODEL] != 0.0;

		want_recent = (dims > 0 || knn) && weights->w[RANK_TERM_RECENT] != 0.0 &&
			rerank_recent_items > 0;
		if (want_vector || want_recent || args->exclude_purchased ||
			weights->w[RANK_TERM_CATEGORY] != 0.0)
			LoadUserState(want_vector ? model : NULL, args->user_id, &user);
		if (!want_recent)
			user.nrecent = 0;
	}
	if (user.nrecent > 0 && !knn)
		recent = RecentVectors(model, &user, &nrecent);

	/* purchased items leave before positions are counted */
	if (args->exclude_purchased && user.npurchased > 0)
	{
		n = DropPurchased(&user, ids, vectors, biases, norms,
						  have_categories ? global_categories : NULL, n);
		if (n == 0)
			return;
	}

	items = CandidateAlloc(n, sizeof(RankItem));
	for (int i = 0; i < n; i++)
	{
		items[i].item_id = ids[i];
		items[i].vector = vectors[i];
		items[i].bias = biases[i];
		items[i].norm = norms[i];
		items[i].model_entry = false;
		items[i].position = i + 1;
		items[i].category = -1;
	}

	/* categories, only when a cap or the affinity needs them */
	memset(&rank_user, 0, sizeof(rank_user));
	if (args->max_per_category > 0 ||
		(weights->w[RANK_TERM_CATEGORY] != 0.0 && user.category_weights != NULL))
	{
		int32	   *categories = CandidateAlloc(n, sizeof(int32));
		double	   *affinity;

		const Jsonb *category_weights = weights->w[RANK_TERM_CATEGORY] != 0.0 ?
			user.category_weights : NULL;

		if (have_categories)
			ncategories = CategoriesFromNumbers(global_categories, n, category_weights,
												categories, &affinity);
		else
			ncategories = LoadCategories(ids, n, category_weights, categories, &affinity);
		for (int i = 0; i < n; i++)
			items[i].category = categories[i];
		rank_user.affinity = affinity;
		rank_user.ncategories = ncategories;
	}

	if (knn)
	{
		/* an item-kNN model: its terms and similarities from neighbor lists */
		KnnCandidateTerms(model, args->user_id, &user, ids, n,
						  weights->w[RANK_TERM_MODEL] != 0.0, want_recent,
						  args->diversity > 0.0, &knn_terms);
		for (int i = 0; i < n; i++)
			items[i].model_entry = knn_terms.in_model[i];
		bad = RankScoreGiven(&rank_user, weights, items, n, knn_terms.model,
							 knn_terms.recent, ServeCheckInterrupts);
	}
	else
	{
		/* the user: vector and recency profile */
		rank_user.vector = user.vector;
		if (user.nrecent > 0)
			rank_user.profile = RecentProfile(model, recent, nrecent);
		bad = RankScoreNormed(&rank_user, weights, items, n, dims,
							  ServeCheckInterrupts);
	}
	if (bad < n)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("score of item " INT64_FORMAT " is out of range",
						items[bad].item_id),
				 errhint("Use smaller blend weights.")));

	params.k = args->k < 0 ? n : Min(args->k, n);
	params.diversity = args->diversity;
	params.diversity_depth = rerank_diversity_depth;
	params.max_per_category = args->max_per_category;
	params.ncategories = ncategories;
	params.dims = dims;
	params.check = ServeCheckInterrupts;
	params.similarity = knn ? KnnPairSimilarity : NULL;
	params.similarity_arg = knn ? &knn_terms : NULL;
	order = CandidateAlloc(Max(params.k, 1), sizeof(int));
	result->n = RankOrder(items, n, &params, order,
						  palloc_extended(RankOrderWorkspace(n, ncategories),
										  MCXT_ALLOC_HUGE));
	result->item_ids = CandidateAlloc(Max(result->n, 1), sizeof(int64));
	result->scores = CandidateAlloc(Max(result->n, 1), sizeof(double));
	for (int r = 0; r < result->n; r++)
	{
		result->item_ids[r] = items[order[r]].item_id;
		result->scores[r] = items[order[r]].score;
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
