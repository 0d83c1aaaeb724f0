/*
 * rank.c
 *	  The ranking core of rerank(): the blended score and the ordering with
 *	  MMR diversity, category caps and items without vectors.
 *
 * The ordering is a greedy selection from a binary heap of the candidates
 * that have vectors.  Without diversity the heap is keyed by score, so the
 * top k of n cost O(n + k log n).  With diversity it runs MMR lazily: an
 * item's MMR value can only fall as items are placed (its maximal similarity
 * to the placed items only grows), so a stale value is an upper bound; the
 * heap's top is re-evaluated against the items placed since its last
 * evaluation and placed only when its fresh value still beats every other
 * bound.  That gives exactly the choices of the eager algorithm (same
 * values, same tie-breaking) with far fewer similarity computations.
 */
#include "core/rank.h"

#include <math.h>
#include <string.h>

#include "core/interrupt.h"
#include "core/vec.h"

/* The name of a term, as explain() shows it. */
const char *
RankTermName(RankTerm term)
{
	static const char *const names[RANK_NTERMS] = {
		[RANK_TERM_MODEL] = "model",
		[RANK_TERM_RECENT] = "recent",
		[RANK_TERM_POSITION] = "position",
		[RANK_TERM_CATEGORY] = "category"
	};

	return term >= 0 && term < RANK_NTERMS ? names[term] : "unknown";
}

/* ---- scores ---- */

/* The recency-weighted mean direction of the recent items' vectors. */
bool
RankProfile(const float *const *recent, int n, double decay, int dims,
			float *profile, double *work)
{
	double		weight = 1.0;
	double		total = 0.0;

	memset(work, 0, sizeof(double) * (size_t) dims);
	for (int j = 0; j < n; j++, weight *= decay)
	{
		double		norm;

		if (recent[j] == NULL)
			continue;
		norm = VecNorm(recent[j], (size_t) dims);
		if (norm == 0.0 || weight == 0.0)
			continue;
		VecAccumulate(work, recent[j], weight / norm, (size_t) dims);
		total += weight;
	}
	if (total == 0.0)
		return false;
	for (int d = 0; d < dims; d++)
		profile[d] = (float) (work[d] / total);
	return true;
}

/* The user's affinity to each category; see rank.h. */
bool
RankCategoryAffinity(const int32_t *categories, const double *weights, int m,
					 int ncategories, double *affinity)
{
	double		max = 0.0;

	for (int j = 0; j < m; j++)
		if (weights[j] > max)
			max = weights[j];
	if (max <= 0.0)
		return false;
	for (int c = 0; c < ncategories; c++)
		affinity[c] = 0.0;
	for (int j = 0; j < m; j++)
	{
		double		a;

		if (categories[j] < 0 || categories[j] >= ncategories || !(weights[j] > 0.0))
			continue;
		a = weights[j] / max;
		affinity[categories[j]] = a < 1.0 ? a : 1.0;
	}
	return true;
}

/* The recent items' shares in an item's recent term; see rank.h. */
int
RankRecentShares(const float *const *recent, const int64_t *ids, int n,
				 double decay, const float *item, int dims, TermPart *parts)
{
	double		norm = VecNorm(item, (size_t) dims);
	double		weight = 1.0,
				total = 0.0;
	int			m = 0;

	if (norm == 0.0)
		return 0;
	for (int j = 0; j < n; j++, weight *= decay)
	{
		double		rnorm;

		if (recent[j] == NULL || weight == 0.0)
			continue;
		rnorm = VecNorm(recent[j], (size_t) dims);
		if (rnorm == 0.0)
			continue;
		parts[m].item_id = ids[j];
		parts[m].order = j;
		parts[m].value = weight * VecDot(item, recent[j], (size_t) dims) / (norm * rnorm);
		total += weight;
		m++;
	}
	for (int j = 0; j < m; j++)
		parts[j].value /= total;
	return m;
}

/* Positions up to this take their term from a table, filled on first use. */
#define RANK_POSITION_TABLE 1024

static double position_table[RANK_POSITION_TABLE + 1];
static bool position_table_ready = false;

/* 1 / log2(1 + position), the same value from the table or computed. */
static inline double
PositionTerm(int32_t position)
{
	if (position >= 1 && position <= RANK_POSITION_TABLE)
	{
		if (!position_table_ready)
		{
			for (int p = 1; p <= RANK_POSITION_TABLE; p++)
				position_table[p] = 1.0 / log2(1.0 + (double) p);
			position_table_ready = true;
		}
		return position_table[position];
	}
	return 1.0 / log2(1.0 + (double) position);
}

/* 1 / log2(1 + position): 1 for the first, 0.63 for the second, … */
double
RankPositionTerm(int32_t position)
{
	return PositionTerm(position);
}

/*
 * The unweighted terms of one item; sets its norm unless norm_given.
 * Inlined into the scoring loop, which then keeps the terms in registers
 * (read back from memory, four separate stores would stall the vector load
 * that sums them); norm_given is a constant at every call, so each caller
 * gets the loops without the squared norm, or with it.
 */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void
ItemTerms(const RankUser *user, RankItem *item, int dims, double *terms,
		  bool norm_given)
{
	const float *y = item->vector;
	const float *x = user->vector;
	const float *p = user->profile;
	double		xy = 0.0,
				py = 0.0,
				yy = 0.0;

	for (int t = 0; t < RANK_NTERMS; t++)
		terms[t] = 0.0;
	terms[RANK_TERM_POSITION] = PositionTerm(item->position);
	if (user->affinity != NULL && item->category >= 0 &&
		item->category < user->ncategories)
		terms[RANK_TERM_CATEGORY] = user->affinity[item->category];
	if (y == NULL)
	{
		item->norm = 0.0;
		return;
	}

	/* one pass over y for the products it takes part in */
	if (x != NULL && p != NULL)
	{
		for (int d = 0; d < dims; d++)
		{
			double		v = y[d];

			xy += (double) x[d] * v;
			py += (double) p[d] * v;
			if (!norm_given)
				yy += v * v;
		}
	}
	else if (x != NULL)
	{
		for (int d = 0; d < dims; d++)
		{
			double		v = y[d];

			xy += (double) x[d] * v;
			if (!norm_given)
				yy += v * v;
		}
	}
	else if (p != NULL)
	{
		for (int d = 0; d < dims; d++)
		{
			double		v = y[d];

			py += (double) p[d] * v;
			if (!norm_given)
				yy += v * v;
		}
	}
	else if (!norm_given)
		yy = VecSquaredNorm(y, (size_t) dims);

	if (!norm_given)
		item->norm = sqrt(yy);
	if (x != NULL)
		terms[RANK_TERM_MODEL] = xy + (double) item->bias;
	if (p != NULL && item->norm > 0.0)
		terms[RANK_TERM_RECENT] = py / item->norm;
}

/* The unweighted terms of one item; sets its norm. */
void
RankItemTerms(const RankUser *user, RankItem *item, int dims, double *terms)
{
	ItemTerms(user, item, dims, terms, false);
}

/*
 * How many items ahead RankScore asks the CPU to fetch vectors: candidates
 * are scattered over the model's matrix, so each one would otherwise cost a
 * cache miss, one after the other.
 */
#define RANK_PREFETCH_AHEAD 8

/* Starts loading a vector into the cache. */
static inline void
PrefetchVector(const float *vector, int dims)
{
#if defined(__GNUC__)
	const char *p = (const char *) vector;
	size_t		bytes = (size_t) dims * sizeof(float);

	for (size_t offset = 0; offset < bytes; offset += 64)
		__builtin_prefetch(p + offset, 0, 0);
#else
	(void) vector;
	(void) dims;
#endif
}

/* RankScore sums the terms by name: a new term must be added there. */
typedef char rank_score_sums_four_terms[RANK_NTERMS == 4 ? 1 : -1];

/* Scores every item; returns the first with a non-finite score, or n. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int
ScoreItems(const RankUser *user, const RankWeights *weights, RankItem *items,
		   int n, int dims, bool norms_given, double *terms_out)
{
	int			bad = n;

	for (int i = 0; i < n && i < RANK_PREFETCH_AHEAD; i++)
		if (items[i].vector != NULL)
			PrefetchVector(items[i].vector, dims);
	for (int i = 0; i < n; i++)
	{
		double		terms[RANK_NTERMS];
		double		score;

		if ((i + 1) % CORE_CHECK_EVERY == 0)
			CoreCheckInterrupts();
		if (i + RANK_PREFETCH_AHEAD < n && items[i + RANK_PREFETCH_AHEAD].vector != NULL)
			PrefetchVector(items[i + RANK_PREFETCH_AHEAD].vector, dims);
		ItemTerms(user, &items[i], dims, terms, norms_given);
		if (terms_out != NULL)
			memcpy(terms_out + (size_t) i * RANK_NTERMS, terms, sizeof(terms));
		/*
		 * Σ w[t]·terms[t], summed as the vectorized loop did, from
		 * registers: a vector load of the terms just stored one by one
		 * would stall on every item.
		 */
		score = (weights->w[RANK_TERM_MODEL] * terms[RANK_TERM_MODEL] +
				 weights->w[RANK_TERM_POSITION] * terms[RANK_TERM_POSITION]) +
			(weights->w[RANK_TERM_RECENT] * terms[RANK_TERM_RECENT] +
			 weights->w[RANK_TERM_CATEGORY] * terms[RANK_TERM_CATEGORY]);
		items[i].score = score;
		if (bad == n && !isfinite(score))
			bad = i;
	}
	return bad;
}

/* Scores every item, computing the norms. */
int
RankScore(const RankUser *user, const RankWeights *weights, RankItem *items,
		  int n, int dims)
{
	return ScoreItems(user, weights, items, n, dims, false, NULL);
}

/* Scores every item whose norm is set; see rank.h. */
int
RankScoreNormed(const RankUser *user, const RankWeights *weights, RankItem *items,
				int n, int dims)
{
	return ScoreItems(user, weights, items, n, dims, true, NULL);
}

/* RankScoreNormed that also writes each item's terms; see rank.h. */
int
RankScoreNormedTerms(const RankUser *user, const RankWeights *weights,
					 RankItem *items, int n, int dims, double *terms)
{
	return ScoreItems(user, weights, items, n, dims, true, terms);
}

/*
 * Scores items whose model and recent terms are given, writing each item's
 * terms when terms_out is not NULL.
 */
static int
ScoreGiven(const RankUser *user, const RankWeights *weights, RankItem *items,
		   int n, const double *model_terms, const double *recent_terms,
		   double *terms_out)
{
	int			bad = n;

	for (int i = 0; i < n; i++)
	{
		double		category = 0.0;
		double		score;

		if ((i + 1) % CORE_CHECK_EVERY == 0)
			CoreCheckInterrupts();
		if (user->affinity != NULL && items[i].category >= 0 &&
			items[i].category < user->ncategories)
			category = user->affinity[items[i].category];
		items[i].norm = 0.0;
		score = (weights->w[RANK_TERM_MODEL] * model_terms[i] +
				 weights->w[RANK_TERM_POSITION] * PositionTerm(items[i].position)) +
			(weights->w[RANK_TERM_RECENT] * recent_terms[i] +
			 weights->w[RANK_TERM_CATEGORY] * category);
		items[i].score = score;
		if (terms_out != NULL)
		{
			double	   *t = terms_out + (size_t) i * RANK_NTERMS;

			t[RANK_TERM_MODEL] = model_terms[i];
			t[RANK_TERM_RECENT] = recent_terms[i];
			t[RANK_TERM_POSITION] = PositionTerm(items[i].position);
			t[RANK_TERM_CATEGORY] = category;
		}
		if (bad == n && !isfinite(score))
			bad = i;
	}
	return bad;
}

/* Scores items whose model and recent terms are given; see rank.h. */
int
RankScoreGiven(const RankUser *user, const RankWeights *weights, RankItem *items,
			   int n, const double *model_terms, const double *recent_terms)
{
	return ScoreGiven(user, weights, items, n, model_terms, recent_terms, NULL);
}

/* RankScoreGiven that also writes each item's terms; see rank.h. */
int
RankScoreGivenTerms(const RankUser *user, const RankWeights *weights,
					RankItem *items, int n, const double *model_terms,
					const double *recent_terms, double *terms)
{
	return ScoreGiven(user, weights, items, n, model_terms, recent_terms, terms);
}

/* ---- ordering ---- */

typedef struct HeapEntry
{
	double		key;
	double		score;
	int32_t		position;
	int32_t		index;			/* into items */
	int32_t		stamp;			/* placed items the key accounts for */
} HeapEntry;

/*
 * Whether a comes before b: higher key, then higher score (ties of MMR
 * values go to relevance), then earlier upstream position.
 */
static inline bool
HeapBefore(const HeapEntry *a, const HeapEntry *b)
{
	if (a->key != b->key)
		return a->key > b->key;
	if (a->score != b->score)
		return a->score > b->score;
	return a->position < b->position;
}

static void
SiftDown(HeapEntry *heap, int n, int i)
{
	HeapEntry	moving = heap[i];

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && HeapBefore(&heap[child + 1], &heap[child]))
			child++;
		if (!HeapBefore(&heap[child], &moving))
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = moving;
}

/* SiftDown of a heap with the worst entry on top. */
static void
SiftDownWorst(HeapEntry *heap, int n, int i)
{
	HeapEntry	moving = heap[i];

	for (;;)
	{
		int			child = 2 * i + 1;

		if (child >= n)
			break;
		if (child + 1 < n && HeapBefore(&heap[child], &heap[child + 1]))
			child++;
		if (!HeapBefore(&moving, &heap[child]))
			break;
		heap[i] = heap[child];
		i = child;
	}
	heap[i] = moving;
}

/*
 * Keeps the best k of n entries in heap[0 .. k-1] (in no order): one
 * comparison per entry once the worst-first heap of k is built.
 */
static void
KeepBest(HeapEntry *heap, int n, int k)
{
	for (int i = k / 2 - 1; i >= 0; i--)
		SiftDownWorst(heap, k, i);
	for (int i = k; i < n; i++)
	{
		if (HeapBefore(&heap[i], &heap[0]))
		{
			heap[0] = heap[i];
			SiftDownWorst(heap, k, 0);
		}
	}
}

static void
Heapify(HeapEntry *heap, int n)
{
	for (int i = n / 2 - 1; i >= 0; i--)
		SiftDown(heap, n, i);
}

/* Removes the top of the heap. */
static void
HeapPop(HeapEntry *heap, int *n)
{
	(*n)--;
	if (*n > 0)
	{
		heap[0] = heap[*n];
		SiftDown(heap, *n, 0);
	}
}

/*
 * VecDot's loop, inlined: MMR computes thousands of these per call.  (The
 * same loop, so the same vectorized sum.)
 */
static inline double
InlineDot(const float *a, const float *b, int n)
{
	double		sum = 0.0;

	for (int i = 0; i < n; i++)
		sum += (double) a[i] * (double) b[i];
	return sum;
}

/* Cosine of two item vectors, negative values as 0. */
static inline double
ItemSimilarity(const RankItem *a, const RankItem *b, int dims)
{
	double		sim;

	if (a->norm == 0.0 || b->norm == 0.0)
		return 0.0;
	sim = InlineDot(a->vector, b->vector, dims) / (a->norm * b->norm);
	return sim > 0.0 ? (sim < 1.0 ? sim : 1.0) : 0.0;
}

/* Whether the item is ordered by score (else it keeps its upstream slot). */
static inline bool
Ranked(const RankItem *item)
{
	return item->vector != NULL || item->model_entry;
}

/* MMR's similarity of the items at indexes a and b, in [0, 1]. */
static inline double
PairSimilarity(const RankItem *items, int a, int b,
			   const RankOrderParams *params)
{
	double		sim;

	if (params->similarity == NULL)
		return ItemSimilarity(&items[a], &items[b], params->dims);
	sim = params->similarity(a, b, params->similarity_arg);
	return sim > 0.0 ? (sim < 1.0 ? sim : 1.0) : 0.0;
}

/* The next item that keeps its upstream slot at or after index from, or n. */
static int
NextPinned(const RankItem *items, int n, int from)
{
	while (from < n && Ranked(&items[from]))
		from++;
	return from;
}

#define ALIGN8(x) (((x) + 7) & ~(size_t) 7)

/* Workspace of RankOrder. */
size_t
RankOrderWorkspace(int n, int ncategories)
{
	size_t		nn = (size_t) (n > 0 ? n : 1);

	return ALIGN8(nn * sizeof(HeapEntry)) +
		ALIGN8(nn * sizeof(double)) +	/* maxsim */
		ALIGN8(nn * sizeof(int32_t)) +	/* placed ranked items */
		ALIGN8(nn * sizeof(int32_t)) +	/* demoted items */
		ALIGN8((size_t) (ncategories > 0 ? ncategories : 1) * sizeof(int32_t));
}

/* Orders the scored items; see rank.h. */
int
RankOrder(const RankItem *items, int n, const RankOrderParams *params,
		  int *order, void *workspace)
{
	int			k = params->k < n ? params->k : n;
	int			cap = params->ncategories > 0 ? params->max_per_category : 0;
	double		lambda = params->diversity;
	bool		mmr;
	char	   *ws = workspace;
	HeapEntry  *heap;
	double	   *maxsim;
	int32_t    *placed;
	int32_t    *demoted;
	int32_t    *counts;
	int			nheap = 0,
				nplaced = 0,
				ndemoted = 0,
				out = 0,
				pinned;
	double		min_score = 0.0,
				scale = 0.0;
	int			since_check = 0;

	if (k <= 0)
		return 0;
	heap = (HeapEntry *) ws;
	ws += ALIGN8((size_t) n * sizeof(HeapEntry));
	maxsim = (double *) ws;
	ws += ALIGN8((size_t) n * sizeof(double));
	placed = (int32_t *) ws;
	ws += ALIGN8((size_t) n * sizeof(int32_t));
	demoted = (int32_t *) ws;
	ws += ALIGN8((size_t) n * sizeof(int32_t));
	counts = (int32_t *) ws;
	if (cap > 0)
		memset(counts, 0, sizeof(int32_t) * (size_t) params->ncategories);

	for (int i = 0; i < n; i++)
	{
		if (!Ranked(&items[i]))
			continue;
		heap[nheap].key = items[i].score;
		heap[nheap].score = items[i].score;
		heap[nheap].position = items[i].position;
		heap[nheap].index = i;
		heap[nheap].stamp = 0;
		nheap++;
	}

	mmr = lambda > 0.0 && params->diversity_depth > 0 && nheap > 1;
	if (mmr)
	{
		double		max_score = heap[0].key;

		/* relevance: the score scaled to [0, 1] over these candidates */
		min_score = heap[0].key;
		for (int h = 1; h < nheap; h++)
		{
			if (heap[h].key < min_score)
				min_score = heap[h].key;
			if (heap[h].key > max_score)
				max_score = heap[h].key;
		}
		scale = max_score > min_score ? 1.0 / (max_score - min_score) : 0.0;
		for (int h = 0; h < nheap; h++)
		{
			maxsim[heap[h].index] = 0.0;
			heap[h].key = (1.0 - lambda) * ((heap[h].key - min_score) * scale);
		}
	}
	if (!mmr && cap == 0 && k < nheap)
	{
		/* no demotions: at most k of these are ever placed */
		KeepBest(heap, nheap, k);
		nheap = k;
	}
	Heapify(heap, nheap);

	pinned = NextPinned(items, n, 0);
	while (out < k)
	{
		int			idx;
		int			category;

		if (++since_check >= CORE_CHECK_EVERY)
		{
			since_check = 0;
			CoreCheckInterrupts();
		}

		if (mmr && nplaced >= params->diversity_depth)
		{
			/* past the diversified top: the rest by score */
			for (int h = 0; h < nheap; h++)
				heap[h].key = items[heap[h].index].score;
			Heapify(heap, nheap);
			mmr = false;
		}

		if (pinned < n && (items[pinned].position - 1 <= out || nheap == 0))
		{
			idx = pinned;
			pinned = NextPinned(items, n, pinned + 1);
		}
		else if (nheap > 0)
		{
			while (mmr && heap[0].stamp < nplaced)
			{
				/* refresh a stale upper bound, then let the heap decide */
				HeapEntry  *top = &heap[0];
				const RankItem *item = &items[top->index];
				double		ms = maxsim[top->index];

				for (int s = top->stamp; s < nplaced; s++)
				{
					double		sim = PairSimilarity(items, top->index, placed[s],
													 params);

					if (sim > ms)
						ms = sim;
				}
				since_check += nplaced - top->stamp;
				if (since_check >= CORE_CHECK_EVERY)
				{
					since_check = 0;
					CoreCheckInterrupts();
				}
				maxsim[top->index] = ms;
				top->key = (1.0 - lambda) * ((item->score - min_score) * scale) -
					lambda * ms;
				top->stamp = nplaced;
				SiftDown(heap, nheap, 0);
			}
			idx = heap[0].index;
			HeapPop(heap, &nheap);
		}
		else
			break;

		category = items[idx].category;
		if (cap > 0 && category >= 0 && category < params->ncategories)
		{
			if (counts[category] >= cap)
			{
				demoted[ndemoted++] = idx;
				continue;
			}
			counts[category]++;
		}
		order[out++] = idx;
		if (Ranked(&items[idx]))
			placed[nplaced++] = idx;
	}
	for (int d = 0; d < ndemoted && out < k; d++)
		order[out++] = demoted[d];
	return out;
}
