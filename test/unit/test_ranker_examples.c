/*
 * test_ranker_examples.c
 *	  Unit tests of core/ranker_examples.c: deterministic sampling, weighted
 *	  picks, the negatives' mix and the ranking metrics of groups.
 */
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/ranker_examples.h"

UNIT_TEST(ranker_hash_is_deterministic_and_spread)
{
	int			buckets[16] = {0};
	int			low = 1000000,
				high = 0;

	CHECK(RankerHash(42, 7) == RankerHash(42, 7));
	CHECK(RankerHash(42, 7) != RankerHash(43, 7));
	CHECK(RankerHash(42, 7) != RankerHash(42, 8));
	for (uint64_t x = 0; x < 16000; x++)
	{
		double		u = RankerUnit(RankerHash(5, x));

		CHECK(u >= 0.0 && u < 1.0);
		buckets[(int) (u * 16)]++;
	}
	for (int b = 0; b < 16; b++)
	{
		low = buckets[b] < low ? buckets[b] : low;
		high = buckets[b] > high ? buckets[b] : high;
	}
	/* 1000 expected per bucket */
	CHECK(low > 850 && high < 1150);
	CHECK(RankerUnit(UINT64_MAX) < 1.0);
	CHECK(RankerUnit(0) == 0.0);
}

UNIT_TEST(ranker_sampled_keeps_nested_subsets)
{
	int			kept_half = 0;

	for (uint64_t key = 0; key < 10000; key++)
	{
		bool		half = RankerSampled(9, key, 0.5);
		bool		tenth = RankerSampled(9, key, 0.1);

		kept_half += half;
		/* a smaller fraction keeps a subset of a larger one's keys */
		CHECK(!tenth || half);
		CHECK(RankerSampled(9, key, 1.0));
		CHECK(RankerSampled(9, key, 7.5));
		CHECK(!RankerSampled(9, key, 0.0));
		CHECK(!RankerSampled(9, key, -1.0));
		CHECK(!RankerSampled(9, key, NAN));
	}
	CHECK(kept_half > 4800 && kept_half < 5200);
}

UNIT_TEST(ranker_pick_follows_weights)
{
	float		w[5] = {1.0f, 0.0f, 3.0f, NAN, -2.0f};
	double		c[5];
	int			counts[6] = {0};

	CHECK_NEAR(RankerCumulate(w, 5, c), 4.0, 0);
	CHECK_NEAR(c[0], 1.0, 0);
	CHECK_NEAR(c[1], 1.0, 0);
	CHECK_NEAR(c[2], 4.0, 0);
	CHECK_NEAR(c[3], 4.0, 0);
	CHECK_NEAR(c[4], 4.0, 0);
	/* exact boundaries: [0, 0.25) → 0, [0.25, 1) → 2 */
	CHECK(RankerPick(c, 5, 0.0) == 0);
	CHECK(RankerPick(c, 5, 0.2499) == 0);
	CHECK(RankerPick(c, 5, 0.25) == 2);
	CHECK(RankerPick(c, 5, 0.9999) == 2);
	for (uint64_t x = 0; x < 8000; x++)
		counts[RankerPick(c, 5, RankerUnit(RankerHash(1, x)))]++;
	CHECK(counts[1] == 0 && counts[3] == 0 && counts[4] == 0 && counts[5] == 0);
	CHECK(counts[0] > 1800 && counts[0] < 2200);
	/* nothing to pick */
	{
		float		z[3] = {0, 0, 0};

		CHECK_NEAR(RankerCumulate(z, 3, c), 0.0, 0);
		CHECK(RankerPick(c, 3, 0.5) == 3);
		CHECK(RankerPick(c, 0, 0.5) == 0);
	}
}

/* The split of ¼ / ¼ / ½ shares (the default before the selection). */
static RankerNegativeMix
QuarterSplit(int negatives)
{
	RankerMixShares s = {0.25, 0.25, 0.5};

	return RankerNegativesMixed(negatives, &s);
}

UNIT_TEST(ranker_negative_mix)
{
	RankerNegativeMix m = QuarterSplit(20);
	RankerMixShares d = RankerMixDefault();

	CHECK(m.popular == 5 && m.category == 5 && m.uniform == 10);
	m = QuarterSplit(7);
	CHECK(m.popular == 2 && m.category == 1 && m.uniform == 4);
	m = QuarterSplit(1);
	CHECK(m.popular == 1 && m.category == 0 && m.uniform == 0);
	m = QuarterSplit(0);
	CHECK(m.popular == 0 && m.category == 0 && m.uniform == 0);
	m = QuarterSplit(-3);
	CHECK(m.popular == 0 && m.category == 0 && m.uniform == 0);
	for (int n = 1; n <= 200; n++)
	{
		m = QuarterSplit(n);
		CHECK(m.popular + m.category + m.uniform == n && (n < 4 || m.uniform >= m.popular));
	}
	/* the default: every negative uniform */
	CHECK(RankerMixNormalize(&d));
	m = RankerNegativesMixed(20, &d);
	CHECK(m.popular == 0 && m.category == 0 && m.uniform == 20);
}

UNIT_TEST(ranker_negative_mix_shares)
{
	RankerMixShares s = {1.0, 1.0, 2.0};
	RankerMixShares bad;
	RankerNegativeMix m;

	CHECK(RankerMixNormalize(&s));
	CHECK_NEAR(s.popular, 0.25, 1e-15);
	CHECK_NEAR(s.category, 0.25, 1e-15);
	CHECK_NEAR(s.uniform, 0.5, 1e-15);
	/* normalized 1/1/2 splits as ¼/¼/½ for every count */
	for (int n = -2; n <= 300; n++)
	{
		RankerNegativeMix a = QuarterSplit(n);
		RankerNegativeMix b = RankerNegativesMixed(n, &s);

		CHECK(a.popular == b.popular && a.category == b.category && a.uniform == b.uniform);
	}
	s = (RankerMixShares) {0.0, 0.0, 3.0};
	CHECK(RankerMixNormalize(&s));
	m = RankerNegativesMixed(20, &s);
	CHECK(m.popular == 0 && m.category == 0 && m.uniform == 20);
	s = (RankerMixShares) {0.0, 1.0, 1.0};
	CHECK(RankerMixNormalize(&s));
	m = RankerNegativesMixed(20, &s);
	CHECK(m.popular == 0 && m.category == 10 && m.uniform == 10);
	m = RankerNegativesMixed(7, &s);
	CHECK(m.popular == 0 && m.category == 3 && m.uniform == 4);
	s = (RankerMixShares) {0.0, 1.0, 3.0};
	CHECK(RankerMixNormalize(&s));
	m = RankerNegativesMixed(20, &s);
	CHECK(m.popular == 0 && m.category == 5 && m.uniform == 15);
	s = (RankerMixShares) {1.0, 1.0, 0.0};
	CHECK(RankerMixNormalize(&s));
	for (int n = 1; n <= 50; n++)
	{
		m = RankerNegativesMixed(n, &s);
		CHECK(m.popular + m.category + m.uniform == n && m.popular >= 0 &&
			  m.category >= 0 && m.uniform >= 0 && m.uniform <= 1);
	}
	/* refused: negative, NaN, infinite, all 0; the shares stay */
	bad = (RankerMixShares) {-0.1, 0.5, 0.5};
	CHECK(!RankerMixNormalize(&bad) && bad.popular == -0.1);
	bad = (RankerMixShares) {NAN, 0.5, 0.5};
	CHECK(!RankerMixNormalize(&bad));
	bad = (RankerMixShares) {INFINITY, 0.5, 0.5};
	CHECK(!RankerMixNormalize(&bad));
	bad = (RankerMixShares) {0.0, 0.0, 0.0};
	CHECK(!RankerMixNormalize(&bad));
	bad = (RankerMixShares) {1e308, 1e308, 1e308};
	CHECK(!RankerMixNormalize(&bad));
}

UNIT_TEST(ranker_metrics_of_groups)
{
	RankerMetrics m;

	/* the positive third of five: rank 3 */
	{
		float		s[5] = {0.9f, 0.8f, 0.7f, 0.1f, 0.0f};
		float		l[5] = {0, 0, 1, 0, 0};

		memset(&m, 0, sizeof(m));
		RankerMetricsAdd(&m, s, l, 5, 10);
		CHECK(m.groups == 1);
		CHECK_NEAR(m.ndcg, 1.0 / log2(4.0), 1e-12);
		CHECK_NEAR(m.hit_rate, 1.0, 0);
		CHECK_NEAR(m.mrr, 1.0 / 3, 1e-12);
		/* k = 2 cuts it off */
		memset(&m, 0, sizeof(m));
		RankerMetricsAdd(&m, s, l, 5, 2);
		CHECK_NEAR(m.ndcg, 0.0, 0);
		CHECK_NEAR(m.hit_rate, 0.0, 0);
		CHECK_NEAR(m.mrr, 1.0 / 3, 1e-12);
	}
	/* a constant scorer earns nothing: ties go against the positive */
	{
		float		s[4] = {1, 1, 1, 1};
		float		l[4] = {1, 0, 0, 0};

		memset(&m, 0, sizeof(m));
		RankerMetricsAdd(&m, s, l, 4, 3);
		CHECK_NEAR(m.hit_rate, 0.0, 0);
		CHECK_NEAR(m.mrr, 0.25, 1e-12);
	}
	/* NaN scores rank last, below -infinity */
	{
		float		s[3] = {NAN, -INFINITY, 0};
		float		l[3] = {1, 0, 0};

		memset(&m, 0, sizeof(m));
		RankerMetricsAdd(&m, s, l, 3, 10);
		CHECK_NEAR(m.mrr, 1.0 / 3, 1e-12);
	}
	/* graded gains and the ideal order */
	{
		float		s[4] = {4, 3, 2, 1};
		float		l[4] = {1, 2, 0, 0};
		double		dcg = 1.0 / log2(2.0) + 3.0 / log2(3.0);
		double		ideal = 3.0 / log2(2.0) + 1.0 / log2(3.0);

		memset(&m, 0, sizeof(m));
		RankerMetricsAdd(&m, s, l, 4, 10);
		CHECK_NEAR(m.ndcg, dcg / ideal, 1e-12);
		CHECK_NEAR(m.mrr, 1.0, 0);
		/* the perfect order: NDCG 1 */
		l[0] = 2;
		l[1] = 1;
		RankerMetricsAdd(&m, s, l, 4, 10);
		CHECK(m.groups == 2);
		CHECK_NEAR(m.ndcg, dcg / ideal + 1.0, 1e-12);
	}
	/* no positive: not counted; k < 1 counts as 1 */
	{
		float		s[2] = {1, 2};
		float		l[2] = {0, 0};
		float		l1[2] = {0, 1};

		memset(&m, 0, sizeof(m));
		RankerMetricsAdd(&m, s, l, 2, 10);
		CHECK(m.groups == 0);
		RankerMetricsAdd(&m, s, l1, 2, 0);
		CHECK(m.groups == 1);
		CHECK_NEAR(m.ndcg, 1.0, 1e-12);
		CHECK_NEAR(m.hit_rate, 1.0, 0);
		RankerMetricsAdd(&m, s, l1, 0, 10);
		CHECK(m.groups == 1);
	}
}
