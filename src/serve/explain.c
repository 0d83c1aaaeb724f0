/*
 * explain.c
 *	  rerank.explain(user_id, item_id, n => 5, …): why an item gets its
 *	  rerank() score, term by term.
 *
 * The model term x_uᵀy_i decomposes exactly over the user's history, as in
 * the implicit library's explain(): with the fold-in system
 * A = YᵀY + Σ_j (c_j − 1) y_j y_jᵀ + λI and c_j = 1 + α·r_j over the
 * history j in rerank.user_features (r_j > 0, items with a vector), the
 * fold-in vector is x = A⁻¹ Σ_j c_j y_j, so
 *
 *		xᵀy_i = Σ_j c_j · y_iᵀ A⁻¹ y_j
 *
 * and each summand is item j's contribution.  One Cholesky factorization
 * and one solve (z = A⁻¹ y_i) give them all.  The stored user vector is the
 * fold-in when the real-time triggers keep it current; any difference (a
 * vector from training or import) is reported as its own row.  The recent
 * term is a weighted mean of cosines, so it decomposes over the recent
 * items too.  Under an item-kNN model both terms are sums over neighbor
 * lists (knn_terms.c), split item by item.  Under a user-kNN model the
 * model term Σ_v s_v r_vi / Σ_v s_v splits over the user's neighbors v
 * (user_knn_terms.c): rows "model_score: neighbor" with the neighbor's user id.
 */
#include "postgres.h"

#include <math.h>

#include "cache/model_cache.h"
#include "core/als_solve.h"
#include "core/vec.h"
#include "funcapi.h"
#include "serve/scoring.h"
#include "serve/settings.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

/* Arguments of explain(), in SQL order. */
enum
{
	ARG_USER_ID = 0,
	ARG_ITEM_ID,
	ARG_N,
	ARG_UPSTREAM_POSITION,
	ARG_MODEL_WEIGHT,			/* then recent, position, category */
	ARG_MODEL = ARG_MODEL_WEIGHT + BLEND_WEIGHT_ARGS,
	ARG_AS_OF
};

typedef struct ExplainOutput
{
	Tuplestorestate *store;
	TupleDesc	desc;
} ExplainOutput;

/* Appends one row. */
static void
EmitRow(ExplainOutput *out, const char *term, bool has_item, int64 item_id,
		bool has_value, double value, double weight)
{
	Datum		values[4];
	bool		nulls[4] = {false, !has_item, !has_value, !has_value};

	values[0] = CStringGetTextDatum(term);
	values[1] = Int64GetDatum(item_id);
	values[2] = Float8GetDatum(value);
	values[3] = Float8GetDatum(weight * value);
	tuplestore_putvalues(out->store, out->desc, values, nulls);
}

/* Larger value first, then the more recent history item. */
static int
PartCompare(const void *a, const void *b)
{
	const TermPart *pa = a;
	const TermPart *pb = b;

	if (pa->value != pb->value)
		return pa->value > pb->value ? -1 : 1;
	return pa->order - pb->order;
}

/*
 * Emits the n largest parts (all when n < 0) as rows "<term>: history" and
 * the sum of the others as one row "<term>: other history"; or, with
 * part "neighbor", as rows "<term>: neighbor" and "<term>: other neighbors".
 */
static void
EmitParts(ExplainOutput *out, const char *term, const char *part,
		  TermPart *parts, int nparts, int n, double weight)
{
	const char *others = strcmp(part, "neighbor") == 0 ? "neighbors" : part;

	double		rest = 0.0;
	int			shown = n < 0 ? nparts : Min(n, nparts);

	qsort(parts, nparts, sizeof(TermPart), PartCompare);
	for (int i = 0; i < nparts; i++)
	{
		if (i < shown)
			EmitRow(out, psprintf("%s: %s", term, part), true, parts[i].item_id,
					true, parts[i].value, weight);
		else
			rest += parts[i].value;
	}
	if (shown < nparts)
		EmitRow(out, psprintf("%s: other %s", term, others), false, 0, true, rest,
				weight);
}

/*
 * The fold-in contributions c_j · y_iᵀ A⁻¹ y_j of the history items with a
 * vector and a positive weight (core: AlsContributions); returns how many,
 * or -1 when the model has no YᵀY or the system is not positive definite.
 */
static int
HistoryContributions(const CachedModel *model, const ServeUser *user,
					 const float *item, TermPart *parts)
{
	int			k = model->dimensions;
	int			nrecent = user->features.nrecent;
	const float **vectors = palloc(sizeof(float *) * Max(nrecent, 1));
	const float **used = palloc(sizeof(float *) * Max(nrecent, 1));
	double	   *confidence = palloc(sizeof(double) * Max(nrecent, 1));
	double	   *values = palloc(sizeof(double) * Max(nrecent, 1));
	AlsHistory	history;
	int			n = 0;

	if (model->gram == NULL)
		return -1;
	ModelItemVectors(model, user->features.recent_items, nrecent, vectors, NULL);
	for (int j = 0; j < nrecent; j++)
	{
		if (vectors[j] == NULL || !(user->features.recent_weights[j] > 0.0f))
			continue;
		used[n] = vectors[j];
		confidence[n] = 1.0 + model->alpha * user->features.recent_weights[j];
		parts[n].item_id = user->features.recent_items[j];
		parts[n].order = j;
		n++;
	}
	history.n = n;
	history.vectors = used;
	history.confidence = confidence;
	if (!AlsContributions(model->gram, k, model->regularization, &history, item,
						  values,
						  palloc(sizeof(double) * AlsContributionsWorkspace(k, n))))
		return -1;
	for (int j = 0; j < n; j++)
		parts[j].value = values[j];
	return n;
}

/*
 * The rows of the model term's decomposition: the bias, each history item's
 * exact share of x_uᵀy_i (vector models), and what the history does not
 * explain; or item-kNN's shares.
 */
static void
ExplainModelTerm(ExplainOutput *out, const ScoringContext *ctx, int n,
				 double weight)
{
	const ServeUser *user = &ctx->user;
	const RankItem *item = &ctx->items[0];

	if (user->vector != NULL && item->vector != NULL)
	{
		double		explained = 0.0;
		TermPart   *parts = palloc(sizeof(TermPart) * Max(user->features.nrecent, 1));
		int			nparts = user->features.nrecent > 0 ?
			HistoryContributions(ctx->req.model, user, item->vector, parts) : 0;

		EmitRow(out, "model_score: bias", false, 0, true, item->bias, weight);
		for (int j = 0; j < nparts; j++)
			explained += parts[j].value;
		if (nparts > 0)
			EmitParts(out, "model_score", "history", parts, nparts, n, weight);
		EmitRow(out, "model_score: not from history", false, 0, true,
				VecDot(user->vector, item->vector, ctx->dims) - explained, weight);
	}
	else if (ctx->knn && ctx->knn_shares.nmodel > 0)
		EmitParts(out, "model_score", "history", ctx->knn_shares.model,
				  ctx->knn_shares.nmodel, n, weight);
	else if (ctx->user_knn && ctx->user_knn_terms.nshares > 0)
		EmitParts(out, "model_score", "neighbor", ctx->user_knn_terms.shares,
				  ctx->user_knn_terms.nshares, n, weight);
}

/* The rows of the recent term's decomposition: each recent item's share. */
static void
ExplainRecentTerm(ExplainOutput *out, const ScoringContext *ctx, int n,
				  double weight)
{
	const RankItem *item = &ctx->items[0];

	if (ctx->profile != NULL && item->vector != NULL)
	{
		TermPart   *parts = palloc(sizeof(TermPart) * Max(ctx->nrecent, 1));
		int			nparts = RankRecentShares(ctx->recent,
											  ctx->user.features.recent_items,
											  ctx->nrecent, rerank_recent_decay,
											  item->vector, ctx->dims, parts);

		if (nparts > 0)
			EmitParts(out, "recent_similarity", "history", parts, nparts, n, weight);
	}
	else if (ctx->knn && ctx->knn_shares.nrecent > 0)
		EmitParts(out, "recent_similarity", "history", ctx->knn_shares.recent,
				  ctx->knn_shares.nrecent, n, weight);
}

PG_FUNCTION_INFO_V1(explain);

/*
 * rerank.explain(user_id, item_id, n, upstream_position, weights…, model,
 * as_of) → (term, history_item_id, value, contribution)
 *
 * The item is scored by rerank()'s pipeline as the only candidate, at its
 * upstream position (without one, the position feature is missing); the
 * rows are the score, then every feature with its value (NULL: missing)
 * and weighted contribution (the contributions add up to the score), the
 * model and recent terms followed by their shares.
 */
Datum
explain(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext call;
	MemoryContext old;
	ExplainOutput out;
	int			n = -1;
	int32		position = 0;
	const char *model_name = NULL;
	ScoringRequest req;
	ScoringContext ctx;
	int64		item_id;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	out.store = rsinfo->setResult;
	out.desc = rsinfo->setDesc;

	if (!PG_ARGISNULL(ARG_N))
	{
		n = PG_GETARG_INT32(ARG_N);
		if (n < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("n must not be negative: %d", n),
					 errhint("Pass NULL to list every history item.")));
	}
	if (!PG_ARGISNULL(ARG_UPSTREAM_POSITION))
	{
		position = PG_GETARG_INT32(ARG_UPSTREAM_POSITION);
		if (position < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("upstream_position must be at least 1: %d", position)));
	}
	memset(&req, 0, sizeof(req));
	ServeWeights(fcinfo, ARG_MODEL_WEIGHT, &req.weights);
	if (!PG_ARGISNULL(ARG_MODEL))
		model_name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_MODEL));
	req.as_of = ServeAsOf(fcinfo, ARG_AS_OF);
	req.model = ModelByName(model_name);
	if (PG_ARGISNULL(ARG_USER_ID) || PG_ARGISNULL(ARG_ITEM_ID))
		return (Datum) 0;
	req.user_id = PG_GETARG_INT64(ARG_USER_ID);
	item_id = PG_GETARG_INT64(ARG_ITEM_ID);

	call = AllocSetContextCreate(CurrentMemoryContext, "rerank explain",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(call);

	/* rerank()'s pipeline over the one candidate, every feature asked for */
	req.explain = true;
	ScoringGather(&ctx, &req, &item_id, 1, &position);
	ScoringCompute(&ctx);

	EmitRow(&out, "score", false, 0, true, ctx.items[0].score, 1.0);
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		double		value = ctx.features[f];

		EmitRow(&out, FeatureName(f), false, 0, !isnan(value), value, req.weights.w[f]);
		if (f == FEAT_MODEL_SCORE)
			ExplainModelTerm(&out, &ctx, n, req.weights.w[f]);
		else if (f == FEAT_RECENT_SIMILARITY)
			ExplainRecentTerm(&out, &ctx, n, req.weights.w[f]);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(call);
	return (Datum) 0;
}
