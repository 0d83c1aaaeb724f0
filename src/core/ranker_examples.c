/*
 * ranker_examples.c
 *	  Sampling and ranking metrics of the learned ranker's training
 *	  examples (see ranker_examples.h).
 */
#include "core/ranker_examples.h"

#include <math.h>

/* Labels are graded 0 … RANKER_MAX_LABEL (XGBoost's rank:ndcg limit). */
#define RANKER_MAX_LABEL 31

uint64_t
RankerHash(uint64_t seed, uint64_t x)
{
	uint64_t	z = seed + (x + 1) * UINT64_C(0x9E3779B97F4A7C15);

	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

double
RankerUnit(uint64_t hash)
{
	return (double) (hash >> 11) * (1.0 / 9007199254740992.0);
}

bool
RankerSampled(uint64_t seed, uint64_t key, double fraction)
{
	if (!(fraction > 0.0))
		return false;
	if (fraction >= 1.0)
		return true;
	return RankerUnit(RankerHash(seed, key)) < fraction;
}

double
RankerCumulate(const float *weights, size_t n, double *cumulative)
{
	double		total = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		double		w = weights[i];

		if (isfinite(w) && w > 0.0)
			total += w;
		cumulative[i] = total;
	}
	return total;
}

size_t
RankerPick(const double *cumulative, size_t n, double u)
{
	double		target;
	size_t		lo = 0,
				hi;

	if (n == 0 || !(cumulative[n - 1] > 0.0))
		return n;
	target = u * cumulative[n - 1];
	/* the first i with cumulative[i] > target */
	hi = n - 1;
	while (lo < hi)
	{
		size_t		mid = lo + (hi - lo) / 2;

		if (cumulative[mid] > target)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

RankerMixShares
RankerMixDefault(void)
{
	RankerMixShares shares = {0.0, 0.0, 1.0};

	return shares;
}

bool
RankerMixNormalize(RankerMixShares *shares)
{
	double		total;

	if (!(isfinite(shares->popular) && shares->popular >= 0.0) ||
		!(isfinite(shares->category) && shares->category >= 0.0) ||
		!(isfinite(shares->uniform) && shares->uniform >= 0.0))
		return false;
	total = shares->popular + shares->category + shares->uniform;
	if (!(total > 0.0) || !isfinite(total))
		return false;
	shares->popular /= total;
	shares->category /= total;
	shares->uniform /= total;
	return true;
}

RankerNegativeMix
RankerNegativesMixed(int negatives, const RankerMixShares *shares)
{
	RankerNegativeMix mix = {0, 0, 0};
	double		p,
				c;

	if (negatives <= 0)
		return mix;
	p = ceil(negatives * shares->popular - 1e-9);
	c = floor(negatives * shares->category + 1e-9);
	mix.popular = (int) fmin(fmax(p, 0.0), (double) negatives);
	mix.category = (int) fmin(fmax(c, 0.0), (double) (negatives - mix.popular));
	mix.uniform = negatives - mix.popular - mix.category;
	return mix;
}

/* A score for ordering: NaN below everything. */
static inline double
OrderScore(float s)
{
	return isnan(s) ? -INFINITY : (double) s;
}

/* A label as an integer grade in [0, RANKER_MAX_LABEL]. */
static inline int
Grade(float label)
{
	if (!(label > 0.0f))
		return 0;
	if (label >= RANKER_MAX_LABEL)
		return RANKER_MAX_LABEL;
	return (int) label;
}

/*
 * The 1-based rank of item i: after every item with a higher score, every
 * item of equal score and lower grade, and every earlier item of equal
 * score and grade.
 */
static int
RankOf(const float *scores, const float *labels, int n, int i)
{
	double		s = OrderScore(scores[i]);
	int			g = Grade(labels[i]);
	int			rank = 1;

	for (int j = 0; j < n; j++)
	{
		double		t;
		int			h;

		if (j == i)
			continue;
		t = OrderScore(scores[j]);
		if (t > s)
			rank++;
		else if (t == s)
		{
			h = Grade(labels[j]);
			if (h < g || (h == g && j < i))
				rank++;
		}
	}
	return rank;
}

void
RankerMetricsAdd(RankerMetrics *m, const float *scores, const float *labels,
				 int n, int k)
{
	int			per_grade[RANKER_MAX_LABEL + 1] = {0};
	int			positives = 0;
	int			first = 0;
	double		dcg = 0.0;
	double		ideal = 0.0;
	int			place = 1;

	if (k < 1)
		k = 1;
	for (int i = 0; i < n; i++)
	{
		int			g = Grade(labels[i]);
		int			rank;

		if (g == 0)
			continue;
		positives++;
		per_grade[g]++;
		rank = RankOf(scores, labels, n, i);
		if (first == 0 || rank < first)
			first = rank;
		if (rank <= k)
			dcg += (exp2(g) - 1.0) / log2(1.0 + rank);
	}
	if (positives == 0)
		return;
	for (int g = RANKER_MAX_LABEL; g > 0 && place <= k; g--)
		for (int c = 0; c < per_grade[g] && place <= k; c++, place++)
			ideal += (exp2(g) - 1.0) / log2(1.0 + place);
	m->groups++;
	m->ndcg += dcg / ideal;
	m->hit_rate += first <= k ? 1.0 : 0.0;
	m->mrr += 1.0 / first;
}
