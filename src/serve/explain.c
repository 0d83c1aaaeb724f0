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
 * lists (knn_terms.c), split item by item.
 */
#include "postgres.h"

#include "cache/model_cache.h"
#include "core/als_solve.h"
#include "core/vec.h"
#include "funcapi.h"
#include "serve/knn_terms.h"
#include "serve/serve.h"
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
	ARG_MODEL = ARG_MODEL_WEIGHT + RANK_NTERMS
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
 * the sum of the others as one row "<term>: other history".
 */
static void
EmitParts(ExplainOutput *out, const char *term, TermPart *parts, int nparts,
		  int n, double weight)
{
	double		rest = 0.0;
	int			shown = n < 0 ? nparts : Min(n, nparts);

	qsort(parts, nparts, sizeof(TermPart), PartCompare);
	for (int i = 0; i < nparts; i++)
	{
		if (i < shown)
			EmitRow(out, psprintf("%s: history", term), true, parts[i].item_id,
					true, parts[i].value, weight);
		else
			rest += parts[i].value;
	}
	if (shown < nparts)
		EmitRow(out, psprintf("%s: other history", term), false, 0, true, rest, weight);
}

/*
 * The fold-in contributions c_j · y_iᵀ A⁻¹ y_j of the history items with a
 * vector and a positive weight; returns how many, or -1 when the model has
 * no YᵀY or the system is not positive definite.
 */
static int
HistoryContributions(const CachedModel *model, const ServeUser *user,
					 const float *item, TermPart *parts)
{
	int			k = model->dimensions;
	const float **vectors = palloc(sizeof(float *) * Max(user->nrecent, 1));
	const float **used = palloc(sizeof(float *) * Max(user->nrecent, 1));
	double	   *confidence = palloc(sizeof(double) * Max(user->nrecent, 1));
	AlsHistory	history;
	double	   *A,
			   *b,
			   *z,
			   *work;
	int			n = 0;

	if (model->gram == NULL)
		return -1;
	ModelItemVectors(model, user->recent_items, user->nrecent, vectors, NULL);
	for (int j = 0; j < user->nrecent; j++)
	{
		if (vectors[j] == NULL || !(user->recent_weights[j] > 0.0f))
			continue;
		used[n] = vectors[j];
		confidence[n] = 1.0 + model->alpha * user->recent_weights[j];
		parts[n].item_id = user->recent_items[j];
		parts[n].order = j;
		n++;
	}
	history.n = n;
	history.vectors = used;
	history.confidence = confidence;

	A = palloc(sizeof(double) * k * k);
	b = palloc(sizeof(double) * k);
	z = palloc(sizeof(double) * k);
	work = palloc(sizeof(double) * Max(AlsNormalEquationsWorkspace(k, n), 1));
	AlsNormalEquations(model->gram, k, model->regularization, &history, A, b, work);
	if (!CholeskyFactor(A, k))
		return -1;
	for (int d = 0; d < k; d++)
		z[d] = item[d];
	CholeskySolve(A, k, z);
	for (int j = 0; j < n; j++)
	{
		double		dot = 0.0;

		for (int d = 0; d < k; d++)
			dot += (double) used[j][d] * z[d];
		parts[j].value = confidence[j] * dot;
	}
	return n;
}

/*
 * The shares d^j cos(y_i, y_j) / Σ d^j of the recent items in the recent
 * term, over the items the profile uses (vectors, from RecentVectors);
 * returns how many.
 */
static int
RecentShares(const CachedModel *model, const ServeUser *user,
			 const float **vectors, int nrecent, const float *item, TermPart *parts)
{
	int			k = model->dimensions;
	double		norm = VecNorm(item, k);
	double		weight = 1.0,
				total = 0.0;
	int			n = 0;

	if (norm == 0.0)
		return 0;
	for (int j = 0; j < nrecent; j++, weight *= rerank_recent_decay)
	{
		double		rnorm;

		if (vectors[j] == NULL || weight == 0.0)
			continue;
		rnorm = VecNorm(vectors[j], k);
		if (rnorm == 0.0)
			continue;
		parts[n].item_id = user->recent_items[j];
		parts[n].order = j;
		parts[n].value = weight * VecDot(item, vectors[j], k) / (norm * rnorm);
		total += weight;
		n++;
	}
	for (int j = 0; j < n; j++)
		parts[j].value /= total;
	return n;
}

PG_FUNCTION_INFO_V1(explain);

/*
 * rerank.explain(user_id, item_id, n, upstream_position, weights…, model)
 * → (term, history_item_id, value, contribution)
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
	RankWeights weights;
	const char *model_name = NULL;
	const CachedModel *model;
	int			dims;
	int64		user_id;
	int64		item_id;
	ServeUser	user;
	RankUser	rank_user;
	RankItem	item;
	float		bias = 0.0f;
	double		terms[RANK_NTERMS];
	double		score = 0.0;
	const float **recent = NULL;
	int			nrecent = 0;
	bool		knn;
	KnnTerms	knn_terms;
	KnnShares	knn_shares;

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
	ServeWeights(fcinfo, ARG_MODEL_WEIGHT, &weights);
	if (!PG_ARGISNULL(ARG_MODEL))
		model_name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_MODEL));
	model = ModelByName(model_name);
	if (PG_ARGISNULL(ARG_USER_ID) || PG_ARGISNULL(ARG_ITEM_ID))
		return (Datum) 0;
	user_id = PG_GETARG_INT64(ARG_USER_ID);
	item_id = PG_GETARG_INT64(ARG_ITEM_ID);
	dims = model != NULL ? model->dimensions : 0;
	knn = ModelHasNeighbors(model);

	call = AllocSetContextCreate(CurrentMemoryContext, "rerank explain",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(call);

	LoadUserState(dims > 0 ? model : NULL, user_id, &user);
	memset(&item, 0, sizeof(item));
	item.item_id = item_id;
	item.position = position > 0 ? position : 1;
	item.category = -1;
	if (dims > 0)
		item.vector = ModelItemVector(model, item_id, &bias);
	item.bias = bias;

	memset(&rank_user, 0, sizeof(rank_user));
	rank_user.vector = user.vector;
	if (user.category_weights != NULL)
	{
		double	   *affinity;

		rank_user.ncategories = LoadCategories(&item_id, 1, user.category_weights,
											   &item.category, &affinity);
		rank_user.affinity = affinity;
	}
	if (dims > 0 && user.nrecent > 0 && rerank_recent_items > 0)
	{
		recent = RecentVectors(model, &user, &nrecent);
		rank_user.profile = RecentProfile(model, recent, nrecent);
	}
	RankItemTerms(&rank_user, &item, dims, terms);
	if (knn)
	{
		/* an item-kNN model: both terms from neighbor lists, with shares */
		KnnItemShares(model, user_id, &user, item_id, &knn_terms, &knn_shares);
		terms[RANK_TERM_MODEL] = knn_terms.model[0];
		terms[RANK_TERM_RECENT] = knn_terms.recent[0];
	}
	if (position == 0)
		terms[RANK_TERM_POSITION] = 0.0;
	for (int t = 0; t < RANK_NTERMS; t++)
		score += weights.w[t] * terms[t];

	EmitRow(&out, "score", false, 0, true, score, 1.0);

	/* the model term and its decomposition */
	EmitRow(&out, "model", false, 0, true, terms[RANK_TERM_MODEL],
			weights.w[RANK_TERM_MODEL]);
	if (user.vector != NULL && item.vector != NULL)
	{
		double		wm = weights.w[RANK_TERM_MODEL];
		double		explained = 0.0;
		TermPart   *parts = palloc(sizeof(TermPart) * Max(user.nrecent, 1));
		int			nparts = user.nrecent > 0 ?
			HistoryContributions(model, &user, item.vector, parts) : 0;

		EmitRow(&out, "model: bias", false, 0, true, item.bias, wm);
		for (int j = 0; j < nparts; j++)
			explained += parts[j].value;
		if (nparts > 0)
			EmitParts(&out, "model", parts, nparts, n, wm);
		EmitRow(&out, "model: not from history", false, 0, true,
				VecDot(user.vector, item.vector, dims) - explained, wm);
	}
	else if (knn && knn_shares.nmodel > 0)
		EmitParts(&out, "model", knn_shares.model, knn_shares.nmodel, n,
				  weights.w[RANK_TERM_MODEL]);

	/* the recent term and its decomposition */
	EmitRow(&out, "recent", false, 0, true, terms[RANK_TERM_RECENT],
			weights.w[RANK_TERM_RECENT]);
	if (rank_user.profile != NULL && item.vector != NULL)
	{
		TermPart   *parts = palloc(sizeof(TermPart) * Max(user.nrecent, 1));
		int			nparts = RecentShares(model, &user, recent, nrecent, item.vector,
										  parts);

		if (nparts > 0)
			EmitParts(&out, "recent", parts, nparts, n,
					  weights.w[RANK_TERM_RECENT]);
	}
	else if (knn && knn_shares.nrecent > 0)
		EmitParts(&out, "recent", knn_shares.recent, knn_shares.nrecent, n,
				  weights.w[RANK_TERM_RECENT]);

	EmitRow(&out, "position", false, 0, position > 0, terms[RANK_TERM_POSITION],
			weights.w[RANK_TERM_POSITION]);
	EmitRow(&out, "category", false, 0, true, terms[RANK_TERM_CATEGORY],
			weights.w[RANK_TERM_CATEGORY]);

	MemoryContextSwitchTo(old);
	MemoryContextDelete(call);
	return (Datum) 0;
}
