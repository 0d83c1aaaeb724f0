/*
 * scoring.c
 *	  The one scoring pipeline of rerank() and explain() (see scoring.h):
 *	  gather once, then compute in the core.
 */
#include "postgres.h"

#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "core/id_index.h"
#include "core/rank.h"
#include "model/user_features.h"
#include "serve/categories.h"
#include "serve/knn_terms.h"
#include "serve/scoring.h"
#include "serve/settings.h"
#include "utils/memutils.h"

/* palloc for arrays that grow with the number of candidates. */
void *
CandidateAlloc(Size count, Size size)
{
	return palloc_extended(mul_size(count, size), MCXT_ALLOC_HUGE);
}

/*
 * Drops the user's purchased items from the candidates (ids, vectors,
 * biases, norms, positions and categories, when not NULL, in step);
 * returns how many are left.
 */
static int
DropPurchased(const UserFeatures *features, int64 *ids, const float **vectors,
			  float *biases, double *norms, int32 *positions,
			  int32 *categories, int n)
{
	IdIndex		purchased;
	size_t		slots = IdIndexSlots(features->npurchased);
	int			kept = 0;

	IdIndexInit(&purchased, palloc(sizeof(int64) * slots),
				palloc(sizeof(int32) * slots), slots);
	for (int i = 0; i < features->npurchased; i++)
		IdIndexAdd(&purchased, features->purchased_items[i], 0);
	for (int i = 0; i < n; i++)
	{
		if (IdIndexGet(&purchased, ids[i]) >= 0)
			continue;
		ids[kept] = ids[i];
		vectors[kept] = vectors[i];
		biases[kept] = biases[i];
		norms[kept] = norms[i];
		if (positions)
			positions[kept] = positions[i];
		if (categories)
			categories[kept] = categories[i];
		kept++;
	}
	return kept;
}

/*
 * The vectors of the user's recent items that the recent term uses (the
 * first rerank.recent_items of them; NULL entries: no vector).  The
 * look-up leaves them requested from memory.
 */
static const float **
RecentVectors(const CachedModel *model, const UserFeatures *features,
			  int *nrecent)
{
	const float **recent;

	*nrecent = Min(features->nrecent, rerank_recent_items);
	recent = palloc(sizeof(float *) * Max(*nrecent, 1));
	ModelItemVectors(model, features->recent_items, *nrecent, recent, NULL);
	return recent;
}

/* Gathers a call's scoring inputs; see scoring.h. */
void
ScoringGather(ScoringContext *ctx, const ScoringRequest *req, int64 *ids,
			  int n, const int32 *given_positions)
{
	const CachedModel *model = req->model;
	const RankWeights *weights = &req->weights;
	bool		all = req->explain;
	bool		want_model = all || weights->w[RANK_TERM_MODEL] != 0.0;
	bool		want_affinity = all || weights->w[RANK_TERM_CATEGORY] != 0.0;
	bool		want_categories = req->want_categories || want_affinity;
	bool		want_recent;
	const float **vectors;
	float	   *biases;
	double	   *norms;
	int32	   *positions = NULL;
	int32	   *global_categories = NULL;
	bool		have_categories = false;

	memset(ctx, 0, sizeof(ScoringContext));
	ctx->req = *req;
	ctx->dims = model != NULL ? model->dimensions : 0;
	ctx->knn = ModelHasNeighbors(model);
	ctx->user_knn = ModelIsUserKnn(model);
	want_recent = (ctx->dims > 0 || ctx->knn) &&
		(all || weights->w[RANK_TERM_RECENT] != 0.0) && rerank_recent_items > 0;
	if (n == 0)
		return;
	if (given_positions != NULL)
	{
		positions = CandidateAlloc(n, sizeof(int32));
		memcpy(positions, given_positions, sizeof(int32) * n);
	}

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
	if (ctx->dims > 0)
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

	/*
	 * The user's row, when a term or the purchase filter needs it (item-kNN's
	 * model term reads the history in it, user-kNN's neighbors come from
	 * it), and the user's vector when the model term needs it.
	 */
	{
		bool		want_vector = ctx->dims > 0 && want_model;

		if (want_vector || want_recent || req->exclude_purchased ||
			want_affinity || (ctx->knn && want_model) ||
			(ctx->user_knn && (want_model || req->want_pairs)))
			LoadUserFeatures(want_vector ? model : NULL, req->user_id,
							 &ctx->user.features, &ctx->user.vector);
	}
	if (want_recent && ctx->user.features.nrecent > 0 && !ctx->knn)
		ctx->recent = RecentVectors(model, &ctx->user.features, &ctx->nrecent);

	/* purchased items leave before positions are counted */
	if (req->exclude_purchased && ctx->user.features.npurchased > 0)
		n = DropPurchased(&ctx->user.features, ids, vectors, biases, norms,
						  positions, have_categories ? global_categories : NULL, n);
	ctx->n = n;
	if (n == 0)
		return;

	ctx->items = CandidateAlloc(n, sizeof(RankItem));
	for (int i = 0; i < n; i++)
	{
		RankItem   *item = &ctx->items[i];

		item->item_id = ids[i];
		item->vector = vectors[i];
		item->bias = biases[i];
		item->norm = norms[i];
		item->model_entry = false;
		item->position = positions != NULL ? positions[i] : i + 1;
		item->category = -1;
		item->score = 0.0;
	}

	/* categories, only when a cap or the affinity needs them */
	if (req->want_categories ||
		(want_affinity && ctx->user.features.category_weights != NULL))
	{
		int32	   *categories = CandidateAlloc(n, sizeof(int32));
		double	   *affinity;
		const Jsonb *category_weights = want_affinity ?
			ctx->user.features.category_weights : NULL;

		if (have_categories)
			ctx->ncategories = CategoriesFromNumbers(global_categories, n,
													 category_weights,
													 categories, &affinity);
		else
			ctx->ncategories = LoadCategories(ids, n, category_weights,
											  categories, &affinity);
		for (int i = 0; i < n; i++)
			ctx->items[i].category = categories[i];
		ctx->rank_user.affinity = affinity;
		ctx->rank_user.ncategories = ctx->ncategories;
	}

	/* an item-kNN model: what its terms and similarities come from */
	if (ctx->knn)
	{
		KnnTermsLoad(model, req->user_id, &ctx->user.features, ids, n,
					 want_model, want_recent, req->want_pairs, &ctx->knn_terms,
					 all ? &ctx->knn_shares : NULL);
		for (int i = 0; i < n; i++)
			ctx->items[i].model_entry = ctx->knn_terms.in_model[i];
	}

	/* a user-kNN model: the user's neighbors make its term and similarities */
	if (ctx->user_knn)
	{
		UserKnnTermsLoad(model, req->user_id, &ctx->user.features, ids, n,
						 want_model, req->want_pairs, all, &ctx->user_knn_terms);
		for (int i = 0; i < n; i++)
			ctx->items[i].model_entry = ctx->user_knn_terms.candidates.in_model[i];
	}
}

/*
 * The recency profile p_u of the recent items' vectors (core/rank.h), or
 * NULL when none of them is a non-zero vector.
 */
static const float *
RecentProfile(int dims, const float **recent, int nrecent)
{
	float	   *profile = palloc(sizeof(float) * dims);
	double	   *work = palloc(sizeof(double) * dims);

	return RankProfile(recent, nrecent, rerank_recent_decay, dims, profile, work) ?
		profile : NULL;
}

/* Computes the candidates' terms and scores; see scoring.h. */
void
ScoringCompute(ScoringContext *ctx)
{
	const RankWeights *weights = &ctx->req.weights;
	int			n = ctx->n;

	ctx->bad = n;
	if (n == 0)
		return;
	if (ctx->req.explain)
		ctx->terms = CandidateAlloc(n, sizeof(double) * RANK_NTERMS);
	if (ctx->knn || ctx->user_knn)
	{
		/* kNN: the model and recent terms come from lists or neighbors */
		const double *model_terms = ctx->knn ? ctx->knn_terms.model :
			ctx->user_knn_terms.candidates.model;
		const double *recent_terms = ctx->knn ? ctx->knn_terms.recent :
			ctx->user_knn_terms.recent;

		if (ctx->terms != NULL)
			ctx->bad = RankScoreGivenTerms(&ctx->rank_user, weights, ctx->items, n,
										   model_terms, recent_terms, ctx->terms);
		else
			ctx->bad = RankScoreGiven(&ctx->rank_user, weights, ctx->items, n,
									  model_terms, recent_terms);
		return;
	}
	/* the user: vector and recency profile */
	ctx->rank_user.vector = ctx->user.vector;
	if (ctx->recent != NULL)
		ctx->rank_user.profile = RecentProfile(ctx->dims, ctx->recent, ctx->nrecent);
	if (ctx->terms != NULL)
		ctx->bad = RankScoreNormedTerms(&ctx->rank_user, weights, ctx->items, n,
										ctx->dims, ctx->terms);
	else
		ctx->bad = RankScoreNormed(&ctx->rank_user, weights, ctx->items, n,
								   ctx->dims);
}
