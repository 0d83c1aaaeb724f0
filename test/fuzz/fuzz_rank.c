/*
 * fuzz_rank.c
 *	  libFuzzer target: the ranking entry points of the core as rerank(),
 *	  recommend() and the triggers call them, with inputs the glue lets
 *	  through (finite vectors and weights, of any magnitude; categories in
 *	  range; NULL vectors, duplicate ids): RankProfile, RankScore /
 *	  RankScoreGiven, RankOrder (top-k, MMR with the cosine or a given
 *	  similarity, category caps, items kept at their slot), TopKSelect, and
 *	  the recent history (HistoryTouch, HistoryMerge, HistoryFoldInInput).
 *	  Besides memory errors (AddressSanitizer) it aborts when a result breaks
 *	  its contract: a wrong length, an index out of range or twice, an
 *	  unsorted top-k.
 *
 *	  make fuzz && test/fuzz/fuzz_rank -runs=100000
 */
#include "core/rank.h"
#include "core/topk.h"
#include "core/recent_history.h"
#include "fuzz_input.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>

#define MAX_ITEMS 64
#define MAX_DIMS 8
#define MAX_CATEGORIES 6

/* A finite float, now and then a huge one. */
static float
FiniteFloat(FuzzInput *in)
{
	float		f = FuzzFloat(in);

	return isfinite(f) ? f : FLT_MAX / 2;
}

static double
FiniteDouble(FuzzInput *in)
{
	double		d = FuzzDouble(in);

	return isfinite(d) ? d : 1.0;
}

/* MMR's similarity from the input, computed once per pair. */
typedef struct GivenSimilarity
{
	int			n;
	double	   *values;			/* n × n */
} GivenSimilarity;

static double
Similarity(int a, int b, void *arg)
{
	GivenSimilarity *s = (GivenSimilarity *) arg;

	if (a < 0 || b < 0 || a >= s->n || b >= s->n)
		abort();
	return s->values[a * s->n + b];
}

/* Aborts unless order[0..m) are distinct indexes of n items. */
static void
CheckOrder(const int *order, int m, int n)
{
	bool		seen[MAX_ITEMS] = {false};

	for (int i = 0; i < m; i++)
	{
		if (order[i] < 0 || order[i] >= n || seen[order[i]])
			abort();
		seen[order[i]] = true;
	}
}

static void
Rank(FuzzInput *in)
{
	int			n = FuzzBelow(in, MAX_ITEMS + 1);
	int			dims = FuzzBelow(in, MAX_DIMS + 1);
	int			ncat = FuzzBelow(in, MAX_CATEGORIES + 1);
	float	   *pool = FuzzAlloc((size_t) (n + 2) * dims, sizeof(float));
	RankItem   *items = FuzzAlloc((size_t) n, sizeof(RankItem));
	const float **recent = FuzzAlloc((size_t) n, sizeof(float *));
	float	   *profile = FuzzAlloc((size_t) dims, sizeof(float));
	double	   *work = FuzzAlloc((size_t) dims, sizeof(double));
	double	   *affinity = FuzzAlloc((size_t) ncat, sizeof(double));
	double	   *model_terms = FuzzAlloc((size_t) n, sizeof(double));
	double	   *recent_terms = FuzzAlloc((size_t) n, sizeof(double));
	int		   *order = FuzzAlloc((size_t) n, sizeof(int));
	GivenSimilarity given = {n, FuzzAlloc((size_t) n * n, sizeof(double))};
	RankUser	user = {NULL, NULL, NULL, ncat};
	RankWeights weights;
	RankOrderParams params;
	void	   *workspace;
	int			bad;
	int			m;

	for (int i = 0; i < (n + 2) * dims; i++)
		pool[i] = FiniteFloat(in);
	for (int i = 0; i < n; i++)
	{
		RankItem   *it = &items[i];

		memset(it, 0, sizeof(RankItem));
		it->item_id = FuzzBelow(in, 16);	/* duplicates too */
		it->vector = FuzzByte(in) < 200 ? pool + (size_t) (i + 2) * dims : NULL;
		it->bias = FiniteFloat(in);
		it->model_entry = FuzzByte(in) & 1;
		it->position = i + 1;
		it->category = ncat > 0 ? FuzzBelow(in, ncat + 1) - 1 : -1;
		model_terms[i] = FiniteDouble(in);
		recent_terms[i] = FiniteDouble(in);
		recent[i] = FuzzByte(in) < 128 ? it->vector : NULL;
	}
	for (int c = 0; c < ncat; c++)
		affinity[c] = FiniteDouble(in);
	for (int i = 0; i < n * n; i++)
		given.values[i] = FiniteDouble(in);
	if (FuzzByte(in) < 200)
		user.vector = pool;
	if (RankProfile(recent, FuzzBelow(in, n + 1), FuzzBelow(in, 101) / 100.0,
					dims, profile, work))
		user.profile = profile;
	if (FuzzByte(in) < 200)
		user.affinity = affinity;
	for (int t = 0; t < RANK_NTERMS; t++)
		weights.w[t] = FiniteDouble(in);

	if (FuzzByte(in) < 128)
		bad = RankScoreGiven(&user, &weights, items, n, model_terms, recent_terms);
	else
		bad = RankScore(&user, &weights, items, n, dims);
	if (bad < 0 || bad > n)
		abort();
	/* the glue raises an error for a non-finite score; no ordering then */
	if (bad == n)
	{
		memset(&params, 0, sizeof(params));
		params.k = FuzzBelow(in, n + 1);
		params.diversity = FuzzBelow(in, 5) / 4.0;
		params.diversity_depth = FuzzBelow(in, 2 * MAX_ITEMS);
		params.max_per_category = FuzzBelow(in, 4);
		params.ncategories = ncat;
		params.dims = dims;
		if (FuzzByte(in) < 96)
		{
			params.similarity = Similarity;
			params.similarity_arg = &given;
		}
		workspace = FuzzAlloc(RankOrderWorkspace(n, ncat), 1);
		m = RankOrder(items, n, &params, order, workspace);
		if (m != params.k)
			abort();
		CheckOrder(order, m, n);
		free(workspace);
	}
	free(pool);
	free(items);
	free((void *) recent);
	free(profile);
	free(work);
	free(affinity);
	free(model_terms);
	free(recent_terms);
	free(order);
	free(given.values);
}

static void
TopK(FuzzInput *in)
{
	int			n = FuzzBelow(in, MAX_ITEMS + 1);
	int			k = FuzzBelow(in, n + 2);
	float	   *scores = FuzzAlloc((size_t) n, sizeof(float));
	int32_t    *ids = FuzzAlloc((size_t) n, sizeof(int32_t));
	int32_t    *out_ids = FuzzAlloc((size_t) k, sizeof(int32_t));
	float	   *out_scores = FuzzAlloc((size_t) k, sizeof(float));
	bool		with_ids = FuzzByte(in) & 1;
	int			m;

	for (int i = 0; i < n; i++)
	{
		scores[i] = FuzzFloat(in);	/* NaN: excluded */
		ids[i] = FuzzBelow(in, 1000);
	}
	m = TopKSelect(scores, with_ids ? ids : NULL, n, k, out_ids, out_scores);
	if (m < 0 || m > k || m > n)
		abort();
	for (int i = 0; i < m; i++)
	{
		if (isnan(out_scores[i]))
			abort();
		if (i > 0 && out_scores[i] > out_scores[i - 1])
			abort();
	}
	free(scores);
	free(ids);
	free(out_ids);
	free(out_scores);
}

static void
History(FuzzInput *in)
{
	int			capacity = 1 + FuzzBelow(in, 32);
	int64_t    *items = FuzzAlloc((size_t) capacity, sizeof(int64_t));
	float	   *weights = FuzzAlloc((size_t) capacity, sizeof(float));
	RecentHistory h = {0, capacity, items, weights};
	int			events = FuzzBelow(in, 100);
	int			n = FuzzBelow(in, MAX_ITEMS + 1);
	int64_t    *ids = FuzzAlloc((size_t) n, sizeof(int64_t));
	float	   *w = FuzzAlloc((size_t) n, sizeof(float));
	const float **vectors = FuzzAlloc((size_t) n, sizeof(float *));
	const float **kept = FuzzAlloc((size_t) n, sizeof(float *));
	double	   *confidence = FuzzAlloc((size_t) n, sizeof(double));
	HistoryMergeEntry *work = FuzzAlloc((size_t) n, sizeof(HistoryMergeEntry));
	static const float v[1] = {1};
	int			merged;

	for (int e = 0; e < events; e++)
		HistoryTouch(&h, FuzzBelow(in, capacity + 4), FuzzBelow(in, 40),
					 FiniteFloat(in));
	if (h.n < 0 || h.n > capacity)
		abort();
	for (int i = 0; i < n; i++)
	{
		ids[i] = FuzzBelow(in, 20);
		w[i] = FuzzFloat(in);
		vectors[i] = FuzzByte(in) < 200 ? v : NULL;
	}
	merged = HistoryMerge(ids, w, n, work);
	if (merged < -1 || merged > n)
		abort();
	if (merged >= 0)
	{
		for (int i = 0; i < merged; i++)
			for (int j = 0; j < i; j++)
				if (ids[i] == ids[j])
					abort();	/* merged histories have distinct ids */
		n = merged;
	}
	if (HistoryFoldInInput(w, vectors, n, fabs(FiniteDouble(in)), kept,
						   confidence) > n)
		abort();
	free(items);
	free(weights);
	free(ids);
	free(w);
	free((void *) vectors);
	free((void *) kept);
	free(confidence);
	free(work);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size, 0};

	switch (FuzzBelow(&in, 3))
	{
		case 0:
			Rank(&in);
			break;
		case 1:
			TopK(&in);
			break;
		default:
			History(&in);
			break;
	}
	return 0;
}
