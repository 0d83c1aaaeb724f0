/*
 * test_topk.c
 *	  Unit tests of src/core/topk.c: top-k, metrics, item neighbors.
 */
#include "core/topk.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

UNIT_TEST(topk_orders_and_breaks_ties)
{
	float		s[] = {0.5f, 2.0f, NAN, 2.0f, -1.0f, 3.0f, 0.5f};
	int32_t		ids[7];
	float		out[7];
	int			n;

	n = TopKSelect(s, NULL, 7, 4, ids, out);
	CHECK(n == 4);
	CHECK(ids[0] == 5 && ids[1] == 1 && ids[2] == 3 && ids[3] == 0);
	CHECK(out[0] == 3.0f && out[3] == 0.5f);
	/* more wanted than there are: every non-NaN candidate, sorted */
	n = TopKSelect(s, NULL, 7, 10, ids, out);
	CHECK(n == 6);
	CHECK(ids[4] == 6 && ids[5] == 4);
	CHECK(TopKSelect(s, NULL, 7, 0, ids, out) == 0);
	CHECK(TopKSelect(s, NULL, 0, 3, ids, out) == 0);
}

UNIT_TEST(topk_matches_sort_on_random_scores)
{
	int			n = 1000;
	float	   *s = malloc(sizeof(float) * n);
	int32_t		ids[50];
	float		out[50];
	unsigned	seed = 3;

	for (int i = 0; i < n; i++)
	{
		seed = seed * 1103515245u + 12345u;
		s[i] = (float) ((seed >> 8) % 500);	/* many ties */
	}
	TopKSelect(s, NULL, n, 50, ids, out);
	for (int r = 0; r < 50; r++)
	{
		/* exactly r candidates rank above ids[r] */
		int			above = 0;

		for (int i = 0; i < n; i++)
			if (s[i] > s[ids[r]] || (s[i] == s[ids[r]] && i < ids[r]))
				above++;
		CHECK(above == r);
	}
	free(s);
}

UNIT_TEST(metrics_by_hand)
{
	RankMetrics m = {0};
	int32_t		ranked[] = {7, 3, 9, 1};
	int32_t		relevant[] = {1, 3, 5};

	/* hits at ranks 2 and 4 of k = 4; 3 relevant, one unknown to the model */
	RankMetricsAdd(&m, 4, ranked, 4, relevant, 3, 4);
	CHECK(m.users == 1 && m.hit_users == 1);
	CHECK_NEAR(m.precision, 0.5, 1e-12);
	CHECK_NEAR(m.recall, 0.5, 1e-12);
	CHECK_NEAR(m.ndcg, (1 / log2(3.0) + 1 / log2(5.0)) /
			   (1 + 1 / log2(3.0) + 1 / log2(4.0) + 1 / log2(5.0)), 1e-12);
	CHECK_NEAR(m.map, (1 / 2.0 + 2 / 4.0) / 4, 1e-12);
	/* no hit; ideal DCG over min(|relevant|, k) = 1 */
	RankMetricsAdd(&m, 4, ranked, 4, relevant, 0, 1);
	CHECK(m.users == 2 && m.hit_users == 1);
	/* users without test items do not count */
	RankMetricsAdd(&m, 4, ranked, 4, relevant, 0, 0);
	CHECK(m.users == 2);
	/* a perfect ranking */
	{
		RankMetrics p = {0};
		int32_t		r2[] = {1, 3};

		RankMetricsAdd(&p, 10, r2, 2, relevant, 2, 2);
		CHECK_NEAR(p.ndcg, 1.0, 1e-12);
		CHECK_NEAR(p.map, 1.0, 1e-12);
		CHECK_NEAR(p.precision, 0.2, 1e-12);
	}
}

UNIT_TEST(item_neighbors_cosine_brute_force)
{
	/* 4 users × 5 items */
	float		dense[4][5] = {
		{1, 1, 0, 0, 2},
		{0, 1, 1, 0, 0},
		{1, 0, 0, 0, 1},
		{0, 3, 1, 0, 0}};
	int32_t		r[20],
				c[20];
	float		w[20];
	int			n = 0;
	int64_t		pu[6],
				pi[6];
	int32_t		iu[20],
				ii[20];
	float		wu[20],
				wi[20];
	AlsCsr		by_user,
				by_item;
	double		norms[5],
				acc[5] = {0};
	int32_t		touched[5],
				ids[5];
	float		scratch[5],
				sims[5];

	for (int u = 0; u < 4; u++)
		for (int i = 0; i < 5; i++)
			if (dense[u][i] > 0)
			{
				r[n] = u;
				c[n] = i;
				w[n] = dense[u][i];
				n++;
			}
	AlsCsrFromCoo(4, n, r, c, w, pu, iu, wu);
	by_user = (AlsCsr) {4, 5, n, pu, iu, wu};
	AlsTransposeCsr(&by_user, pi, ii, wi);
	by_item = (AlsCsr) {5, 4, n, pi, ii, wi};
	for (int i = 0; i < 5; i++)
	{
		norms[i] = 0;
		for (int u = 0; u < 4; u++)
			norms[i] += dense[u][i] * dense[u][i];
		norms[i] = sqrt(norms[i]);
	}
	for (int i = 0; i < 5; i++)
	{
		int			found = ItemNeighbors(&by_item, &by_user, norms,
										  ITEM_SIMILARITY_COSINE, i, 3, acc,
										  touched, scratch, ids, sims);

		for (int a = 0; a < 5; a++)
			CHECK(acc[a] == 0.0);
		if (i == 3)
		{
			CHECK(found == 0);	/* no users */
			continue;
		}
		CHECK(found >= 1 && found <= 3);
		CHECK(ids[0] == i);		/* itself first, similarity 1 */
		CHECK_NEAR(sims[0], 1.0, 1e-6);
		for (int f = 0; f < found; f++)
		{
			double		dot = 0;

			for (int u = 0; u < 4; u++)
				dot += dense[u][i] * dense[u][ids[f]];
			CHECK_NEAR(sims[f], dot / (norms[i] * norms[ids[f]]), 1e-6);
			if (f > 0)
				CHECK(sims[f] <= sims[f - 1]);
		}
	}
	/* jaccard: items 1 and 2 share users 1 and 3 of {0,1,3} ∪ {1,3} */
	{
		int			found = ItemNeighbors(&by_item, &by_user, norms,
										  ITEM_SIMILARITY_JACCARD, 2, 5, acc,
										  touched, scratch, ids, sims);

		CHECK(found == 2);
		CHECK(ids[0] == 2 && ids[1] == 1);
		CHECK_NEAR(sims[1], 2.0 / 3.0, 1e-6);
	}
}
