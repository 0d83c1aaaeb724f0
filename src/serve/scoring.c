/*
 * scoring.c
 *	  The one scoring pipeline of rerank() and explain() (see scoring.h):
 *	  gather once, then compute in the core.
 *
 * Gathering fills the core's feature structs (core/features.h):
 *	- the candidates: vector, bias, norm and category number from the model
 *	  cache in one pipelined pass; brand, popularity and first-seen time from
 *	  the item-signals block (cache/signals_cache.h); under item-kNN the
 *	  model and recent terms from the neighbor lists, under user-kNN the
 *	  model term from the user's neighbors (user_knn_terms.h);
 *	- the user: one read of the features row (model/user_features.h) with
 *	  the vector, the history's categories (the same numbering as the
 *	  candidates') and brands, the long-term category affinities;
 *	- the catalog: the statistics' time and maxima, the co-visitation lists.
 * What the weights make useless is not read, unless every feature is asked
 * for (explain(), candidate_features()).
 */
#include "postgres.h"

#include <math.h>

#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "cache/signals_cache.h"
#include "common/feat_time.h"
#include "core/id_index.h"
#include "core/rank.h"
#include "miscadmin.h"
#include "model/user_features.h"
#include "serve/categories.h"
#include "serve/knn_terms.h"
#include "serve/ranker_step.h"
#include "serve/scoring.h"
#include "serve/settings.h"
#include "serve/user_knn_terms.h"
#include "utils/memutils.h"

/* Features that depend on the item alone (no read of the user's row). */
static const FeatureId item_features[] = {
	FEAT_IN_MODEL, FEAT_POPULARITY, FEAT_POPULARITY_WEEK, FEAT_TREND,
	FEAT_ITEM_NEWNESS, FEAT_POSITION
};

/* Features that read the item-signals block. */
static const FeatureId signal_features[] = {
	FEAT_COVISIT, FEAT_COVISIT_LAST, FEAT_BRAND_AFFINITY, FEAT_BRAND_RECENT,
	FEAT_POPULARITY, FEAT_POPULARITY_WEEK, FEAT_TREND, FEAT_ITEM_NEWNESS
};

/* Features that need categories. */
static const FeatureId category_features[] = {
	FEAT_CATEGORY_AFFINITY, FEAT_CATEGORY_RECENT, FEAT_CATEGORY_SESSION
};

/* palloc for arrays that grow with the number of candidates. */
void *
CandidateAlloc(Size count, Size size)
{
	return palloc_extended(mul_size(count, size), MCXT_ALLOC_HUGE);
}

/*
 * Whether every feature is wanted: explain() and candidate_features() show
 * them all, a learned ranker scores them all.
 */
static bool
AllFeatures(const ScoringRequest *req)
{
	return req->explain || req->ranker != NULL;
}

/* Whether any of the features has a weight (or every feature is wanted). */
static bool
AnyWeighted(const ScoringRequest *req, const FeatureId *features, int n)
{
	if (AllFeatures(req))
		return true;
	for (int i = 0; i < n; i++)
		if (req->weights.w[features[i]] != 0.0)
			return true;
	return false;
}

/* Whether a feature outside item_features has a weight. */
static bool
UserWeighted(const ScoringRequest *req)
{
	if (AllFeatures(req))
		return true;
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		bool		item_only = false;

		for (int i = 0; i < (int) lengthof(item_features); i++)
			item_only = item_only || item_features[i] == f;
		if (!item_only && req->weights.w[f] != 0.0)
			return true;
	}
	return false;
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
		IdIndexAdd(&purchased, features->purchased_items[i], i);
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

/*
 * The categories of the candidates and of the user's history in one local
 * numbering (the candidates' in RankItem.category, for the caps, and in
 * the feature structs), with the user's long-term affinity to each as the
 * user's category weights.  global holds the candidates' category-cache
 * numbers when have_global.
 */
static void
GatherCategories(ScoringContext *ctx, const int64 *ids, const int32 *global,
				 bool have_global)
{
	int			n = ctx->n;
	int			nh = ctx->feat_user.nhistory;
	int			total = n + nh;
	int32	   *local = CandidateAlloc(Max(total, 1), sizeof(int32));
	double	   *affinity = NULL;
	const Jsonb *weights = ctx->user.features.category_weights;
	bool		have_history = false;
	int			ncat = 0;

	if (have_global)
	{
		int32	   *all = CandidateAlloc(Max(total, 1), sizeof(int32));

		memcpy(all, global, sizeof(int32) * n);
		have_history = nh == 0 ||
			CategoryCacheLookup(ctx->user.features.recent_items, nh, all + n);
		if (have_history)
			ncat = CategoriesFromNumbers(all, total, weights, local, &affinity);
	}
	if (!have_history)
	{
		int64	   *all_ids = CandidateAlloc(Max(total, 1), sizeof(int64));

		memcpy(all_ids, ids, sizeof(int64) * n);
		if (nh > 0)
			memcpy(all_ids + n, ctx->user.features.recent_items, sizeof(int64) * nh);
		ncat = LoadCategories(all_ids, total, weights, local, &affinity);
	}
	ctx->ncategories = ncat;
	for (int i = 0; i < n; i++)
	{
		ctx->items[i].category = local[i];
		ctx->feat_items[i].category = local[i];
	}
	for (int j = 0; j < nh; j++)
		ctx->history[j].category = local[n + j];

	/*
	 * The affinities (w_c / max_c' w_c', over all of the user's categories)
	 * as weights, with a maximum of 1 that no item has: features.c then
	 * divides by 1.
	 */
	if (affinity != NULL)
	{
		FeatKeyWeight *cw = palloc(sizeof(FeatKeyWeight) * (ncat + 1));
		int			m = 0;

		for (int c = 0; c < ncat; c++)
			if (affinity[c] > 0.0)
			{
				cw[m].key = c;
				cw[m].weight = affinity[c];
				m++;
			}
		cw[m].key = -1;
		cw[m].weight = 1.0;
		m++;
		ctx->category_weights = cw;
		ctx->feat_user.category_weights = cw;
		ctx->feat_user.ncategory_weights = m;
	}
}

/* Brands, popularity and first-seen times from the item-signals block. */
static void
GatherSignals(ScoringContext *ctx)
{
	const ItemSignals *block = SignalsCacheBlock();

	if (block == NULL)
		return;
	ItemSignalsCatalog(block, &ctx->catalog);
	for (int i = 0; i < ctx->n; i += 4096)
	{
		ItemSignalsFillItems(block, ctx->feat_items + i, Min(4096, ctx->n - i));
		CHECK_FOR_INTERRUPTS();
	}
	for (int j = 0; j < ctx->feat_user.nhistory; j++)
	{
		FeatItem	scratch;
		FeatHistoryItem *hist = &ctx->history[j];

		ItemSignalsFillItem(block, ItemSignalsFind(block, hist->item_id), &scratch);
		hist->brand = scratch.brand;
	}
}

/* The user's history as the features see it (categories and brands later). */
static void
GatherHistory(ScoringContext *ctx)
{
	const UserFeatures *f = &ctx->user.features;
	FeatUser   *u = &ctx->feat_user;

	ctx->history = palloc(sizeof(FeatHistoryItem) * Max(f->nrecent, 1));
	for (int j = 0; j < f->nrecent; j++)
	{
		FeatHistoryItem *h = &ctx->history[j];

		h->item_id = f->recent_items[j];
		h->weight = f->recent_weights[j];
		h->count = f->recent_counts != NULL ? f->recent_counts[j] : 1;
		h->kinds = f->recent_kinds != NULL ? f->recent_kinds[j] : 0;
		h->last_at = f->recent_last_at != NULL ? f->recent_last_at[j] : NAN;
		h->category = -1;
		h->brand = -1;
	}
	u->history = ctx->history;
	u->nhistory = f->nrecent;
	u->purchased = f->purchased_items;
	u->npurchased = f->npurchased;
	u->session_start = f->has_session ? FeatTimeFromTimestamp(f->session_started_at) : NAN;
	u->last_event_at = f->has_times ? FeatTimeFromTimestamp(f->last_event_at) : NAN;
}

/* Gathers a call's scoring inputs; see scoring.h. */
void
ScoringGather(ScoringContext *ctx, const ScoringRequest *req, int64 *ids,
			  int n, const int32 *given_positions)
{
	const CachedModel *model = req->model;
	const double *w = req->weights.w;
	bool		all = AllFeatures(req);
	bool		want_model = all || w[FEAT_MODEL_SCORE] != 0.0;
	bool		want_user = req->exclude_purchased || UserWeighted(req);
	bool		want_signals = AnyWeighted(req, signal_features, lengthof(signal_features));
	bool		want_affinity = AnyWeighted(req, category_features, lengthof(category_features));
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
		(all || w[FEAT_RECENT_SIMILARITY] != 0.0) && rerank_recent_items > 0;

	/* the user, as the features see it (empty until read) */
	ctx->feat_user.now = FeatTimeFromTimestamp(req->as_of);
	ctx->feat_user.dims = ctx->dims;
	ctx->feat_user.nrecent = rerank_recent_items;
	ctx->feat_user.recent_decay = rerank_recent_decay;
	ctx->feat_user.session_start = NAN;
	ctx->feat_user.last_event_at = NAN;
	if (n == 0)
		return;
	if (given_positions != NULL)
	{
		positions = CandidateAlloc(n, sizeof(int32));
		memcpy(positions, given_positions, sizeof(int32) * n);
	}

	/*
	 * Item vectors from the model cache, with the categories when a cap or
	 * a category feature may need them (they sit in the same hash slots).
	 * The candidates are scattered over the model's matrix: the look-up
	 * leaves their vectors requested from memory, so the loads overlap the
	 * user look-up that follows.
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
	 * The user's row, when a feature or the purchase filter needs it
	 * (item-kNN's model term reads the history in it, user-kNN's neighbors
	 * come from it, also for MMR's similarities), and the user's vector
	 * when the model term needs it.
	 */
	if (want_user || (ctx->user_knn && req->want_pairs))
	{
		bool		want_vector = ctx->dims > 0 && want_model;

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
	GatherHistory(ctx);
	ctx->feat_user.vector = ctx->user.vector;
	if (n == 0)
		return;

	/*
	 * Every candidate is ranked by its score: one without a vector is scored
	 * from the features it has, not kept at its upstream slot.
	 */
	ctx->items = CandidateAlloc(n, sizeof(RankItem));
	ctx->feat_items = CandidateAlloc(n, sizeof(FeatItem));
	for (int i = 0; i < n; i++)
	{
		RankItem   *item = &ctx->items[i];
		FeatItem   *feat = &ctx->feat_items[i];
		int32		position = positions != NULL ? positions[i] : i + 1;

		item->item_id = ids[i];
		item->vector = vectors[i];
		item->bias = biases[i];
		item->norm = norms[i];
		item->model_entry = true;
		item->position = Max(position, 1);
		item->category = -1;
		item->score = 0.0;

		memset(feat, 0, sizeof(FeatItem));
		feat->item_id = ids[i];
		feat->position = position;
		feat->in_model = vectors[i] != NULL;
		feat->vector = vectors[i];
		feat->bias = biases[i];
		feat->norm = vectors[i] != NULL ? norms[i] : -1.0;
		feat->model_given = NAN;
		feat->recent_given = NAN;
		feat->category = -1;
		feat->brand = -1;
		feat->first_seen = NAN;
	}

	if (want_categories)
		GatherCategories(ctx, ids, global_categories, have_categories);
	if (want_signals)
		GatherSignals(ctx);

	/* an item-kNN model: what its terms and similarities come from */
	if (ctx->knn)
	{
		KnnTermsLoad(model, req->user_id, &ctx->user.features, ids, n,
					 want_model, want_recent, req->want_pairs, &ctx->knn_terms,
					 all ? &ctx->knn_shares : NULL);
		for (int i = 0; i < n; i++)
		{
			FeatItem   *feat = &ctx->feat_items[i];
			bool		in_model = ctx->knn_terms.in_model[i];

			feat->in_model = in_model;
			feat->scores_given = true;
			feat->model_given = in_model && want_model ? ctx->knn_terms.model[i] : NAN;
			feat->recent_given = in_model && want_recent && ctx->user.features.nrecent > 0 ?
				ctx->knn_terms.recent[i] : NAN;
		}
	}

	/* a user-kNN model: the user's neighbors make its term and similarities */
	if (ctx->user_knn)
	{
		UserKnnTermsLoad(model, req->user_id, &ctx->user.features, ids, n,
						 want_model, req->want_pairs, all, &ctx->user_knn_terms);
		for (int i = 0; i < n; i++)
		{
			FeatItem   *feat = &ctx->feat_items[i];
			bool		in_model = ctx->user_knn_terms.candidates.in_model[i];

			/* no recent term: the recent history acts through the neighbors */
			feat->in_model = in_model;
			feat->scores_given = true;
			feat->model_given = in_model && want_model ?
				ctx->user_knn_terms.candidates.model[i] : NAN;
			feat->recent_given = NAN;
		}
	}
}

/*
 * The recency profile p_u of the recent items' vectors (core/rank.h), or
 * NULL when none of them is a non-zero vector.
 */
static float *
RecentProfile(int dims, const float **recent, int nrecent)
{
	float	   *profile = palloc(sizeof(float) * dims);
	double	   *work = palloc(sizeof(double) * dims);

	return RankProfile(recent, nrecent, rerank_recent_decay, dims, profile, work) ?
		profile : NULL;
}

/* Computes the candidates' features and scores; see scoring.h. */
void
ScoringCompute(ScoringContext *ctx)
{
	const double *w = ctx->req.weights.w;
	int			n = ctx->n;
	FeatContext fctx;
	FeatMask	mask;

	ctx->bad = n;
	if (n == 0)
		return;
	if (ctx->recent != NULL)
		ctx->profile = RecentProfile(ctx->dims, ctx->recent, ctx->nrecent);
	ctx->feat_user.profile = ctx->profile;
	FeatContextInit(&fctx, &ctx->feat_user, &ctx->catalog,
					palloc_extended(FeatContextWorkspace(&ctx->feat_user, &ctx->catalog),
									MCXT_ALLOC_HUGE));
	ctx->features = CandidateAlloc(n, sizeof(double) * FEATURE_COUNT);
	if (ctx->req.explain)
		ctx->terms = CandidateAlloc(n, sizeof(double) * FEATURE_COUNT);
	/*
	 * A feature without weight adds nothing to the blend: rerank() skips it
	 * (NaN).  A ranker's trees and explain() read every feature.
	 */
	mask = AllFeatures(&ctx->req) ? FEAT_MASK_ALL : FeatMaskOfWeights(w);
	for (int i = 0; i < n; i++)
	{
		double	   *row = ctx->features + (Size) i * FEATURE_COUNT;
		double		score;

		FeatRowMasked(&fctx, &ctx->feat_items[i], mask, row);
		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
		if (ctx->req.ranker != NULL)
			continue;
		score = FeatBlend(row, w, ctx->terms != NULL ?
						  ctx->terms + (Size) i * FEATURE_COUNT : NULL);
		ctx->items[i].score = score;
		if (!isfinite(score) && ctx->bad == n)
			ctx->bad = i;
	}
	if (ctx->req.ranker != NULL)
		RankerStep(ctx);
}
