/*
 * test_rank.c
 *	  Unit tests of src/core/rank.c: the blended score, and the
 *	  ordering (top-k, ties, items without vectors, category caps, MMR
 *	  against a straightforward eager implementation).
 */
#include "core/interrupt.h"
#include "core/rank.h"
#include "core/vec.h"
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A small deterministic generator (xorshift). */
static uint64_t rng_state = 88172645463325252ULL;

static double
Uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double) (rng_state >> 11) / 9007199254740992.0;
}

/* Orders with a fresh workspace. */
static int
Order(const RankItem *items, int n, const RankOrderParams *params, int *order)
{
	void	   *ws = malloc(RankOrderWorkspace(n, params->ncategories));
	int			m = RankOrder(items, n, params, order, ws);

	free(ws);
	return m;
}

/* Upstream order with the given scores; vectors NULL unless set later. */
static void
MakeItems(RankItem *items, int n)
{
	memset(items, 0, sizeof(RankItem) * (size_t) n);
	for (int i = 0; i < n; i++)
	{
		items[i].item_id = 100 + i;
		items[i].position = i + 1;
		items[i].category = -1;
	}
}

static const float unit_vector[2] = {1, 0};

UNIT_TEST(rank_position_term)
{
	CHECK_NEAR(RankPositionTerm(1), 1.0, 1e-15);
	CHECK_NEAR(RankPositionTerm(3), 0.5, 1e-15);
	CHECK_NEAR(RankPositionTerm(7), 1.0 / 3.0, 1e-15);
	CHECK(RankPositionTerm(100000) > 0);
}

UNIT_TEST(rank_profile_is_recency_weighted_mean_direction)
{
	float		a[] = {2, 0, 0};
	float		b[] = {0, 3, 0};
	float		zero[] = {0, 0, 0};
	float		c[] = {0, 0, 1};
	const float *recent[] = {a, NULL, b, zero, c};
	float		profile[3];
	double		work[3];
	float		y[] = {1, 1, 1};

	/* weights 1, (0.5 missing), 0.25, (zero vector), 0.0625 */
	CHECK(RankProfile(recent, 5, 0.5, 3, profile, work));
	CHECK_NEAR(profile[0], 1.0 / 1.3125, 1e-6);
	CHECK_NEAR(profile[1], 0.25 / 1.3125, 1e-6);
	CHECK_NEAR(profile[2], 0.0625 / 1.3125, 1e-6);

	/* pᵀy / ‖y‖ is the weighted mean of the cosines */
	{
		double		mean = (1.0 * VecCosine(a, y, 3) + 0.25 * VecCosine(b, y, 3) +
							0.0625 * VecCosine(c, y, 3)) / 1.3125;

		CHECK_NEAR(VecDot(profile, y, 3) / VecNorm(y, 3), mean, 1e-6);
	}
	/* n limits what is read; decay 0 keeps only the most recent */
	CHECK(RankProfile(recent, 1, 0.5, 3, profile, work));
	CHECK_NEAR(profile[0], 1.0, 1e-7);
	CHECK(RankProfile(recent, 5, 0.0, 3, profile, work));
	CHECK_NEAR(profile[0], 1.0, 1e-7);
	CHECK_NEAR(profile[1], 0.0, 0);
	/* nothing usable */
	{
		const float *none[] = {NULL, zero};

		CHECK(!RankProfile(none, 2, 0.9, 3, profile, work));
		CHECK(!RankProfile(none, 0, 0.9, 3, profile, work));
	}
}

UNIT_TEST(rank_item_terms)
{
	float		x[] = {1, 2};
	float		p[] = {0.6f, 0.8f};
	float		y[] = {3, 4};
	double		affinity[] = {0.25, 1.0};
	RankUser	user = {x, p, affinity, 2};
	RankItem	item;
	double		t[RANK_NTERMS];

	MakeItems(&item, 1);
	item.vector = y;
	item.bias = 0.5f;
	item.position = 3;
	item.category = 1;
	RankItemTerms(&user, &item, 2, t);
	CHECK_NEAR(t[RANK_TERM_MODEL], 11.5, 1e-12);
	CHECK_NEAR(t[RANK_TERM_RECENT], (0.6 * 3 + 0.8 * 4) / 5.0, 1e-6);
	CHECK_NEAR(t[RANK_TERM_POSITION], 0.5, 1e-15);
	CHECK_NEAR(t[RANK_TERM_CATEGORY], 1.0, 0);
	CHECK_NEAR(item.norm, 5.0, 1e-12);

	/* cold user: no model term, not even the bias */
	user.vector = NULL;
	RankItemTerms(&user, &item, 2, t);
	CHECK_NEAR(t[RANK_TERM_MODEL], 0.0, 0);
	CHECK_NEAR(t[RANK_TERM_RECENT], 1.0, 1e-6);
	user.profile = NULL;
	RankItemTerms(&user, &item, 2, t);
	CHECK_NEAR(t[RANK_TERM_RECENT], 0.0, 0);
	CHECK_NEAR(item.norm, 5.0, 1e-12);

	/* item without a vector: position and category only */
	user.vector = x;
	user.profile = p;
	item.vector = NULL;
	item.category = 0;
	RankItemTerms(&user, &item, 2, t);
	CHECK_NEAR(t[RANK_TERM_MODEL], 0.0, 0);
	CHECK_NEAR(t[RANK_TERM_RECENT], 0.0, 0);
	CHECK_NEAR(t[RANK_TERM_CATEGORY], 0.25, 0);
	item.category = 7;			/* out of range: unknown */
	RankItemTerms(&user, &item, 2, t);
	CHECK_NEAR(t[RANK_TERM_CATEGORY], 0.0, 0);
}

UNIT_TEST(rank_score_blends_and_flags_non_finite)
{
	float		x[] = {1, 0};
	float		y1[] = {2, 0};
	float		y2[] = {1e30f, 0};
	RankUser	user = {x, NULL, NULL, 0};
	RankWeights weights = {{1.0, 0.0, 0.1, 0.0}};
	RankItem	items[3];

	MakeItems(items, 3);
	items[0].vector = y1;
	items[1].vector = NULL;
	items[2].vector = y2;
	CHECK(RankScore(&user, &weights, items, 3, 2) == 3);
	CHECK_NEAR(items[0].score, 2.0 + 0.1, 1e-12);
	CHECK_NEAR(items[1].score, 0.1 / log2(3.0), 1e-12);
	weights.w[RANK_TERM_MODEL] = 1e300;
	CHECK(RankScore(&user, &weights, items, 3, 2) == 2);
}

UNIT_TEST(rank_score_normed_equals_rank_score)
{
	float		x[] = {0.3f, -1.2f, 0.5f};
	float		profile[] = {0.6f, 0.0f, 0.8f};
	float		y[4][3] = {{1, 2, 3}, {-0.5f, 0.25f, 4}, {0, 0, 0}, {7, -1, 0.5f}};
	double		affinity[] = {0.5, 1.0};
	RankUser	users[4] = {
		{x, profile, affinity, 2}, {x, NULL, NULL, 0},
		{NULL, profile, affinity, 2}, {NULL, NULL, NULL, 0}
	};
	RankWeights weights = {{1.0, 0.2, 0.1, 0.3}};

	for (int u = 0; u < 4; u++)
	{
		RankItem	a[5];
		RankItem	b[5];

		MakeItems(a, 5);
		for (int i = 0; i < 4; i++)
		{
			a[i].vector = y[i];
			a[i].bias = 0.01f * i;
			a[i].category = i % 3 - 1;
		}
		a[4].vector = NULL;
		memcpy(b, a, sizeof(a));
		for (int i = 0; i < 5; i++)
			b[i].norm = b[i].vector != NULL ? VecNorm(b[i].vector, 3) : 0.0;
		CHECK(RankScore(&users[u], &weights, a, 5, 3) == 5);
		CHECK(RankScoreNormed(&users[u], &weights, b, 5, 3) == 5);
		for (int i = 0; i < 5; i++)
		{
			CHECK_NEAR(b[i].score, a[i].score, 1e-12);
			CHECK_NEAR(b[i].norm, a[i].norm, 1e-12);
		}
	}
}

UNIT_TEST(rank_order_by_score_ties_by_position)
{
	RankItem	items[6];
	int			order[6];
	RankOrderParams params = {.k = 6, .dims = 2};
	double		scores[] = {0.5, 2.0, 0.5, 3.0, 2.0, -1.0};

	MakeItems(items, 6);
	for (int i = 0; i < 6; i++)
	{
		items[i].vector = unit_vector;
		items[i].score = scores[i];
		items[i].norm = 1;
	}
	CHECK(Order(items, 6, &params, order) == 6);
	CHECK(order[0] == 3 && order[1] == 1 && order[2] == 4 &&
		  order[3] == 0 && order[4] == 2 && order[5] == 5);
	params.k = 2;
	CHECK(Order(items, 6, &params, order) == 2);
	CHECK(order[0] == 3 && order[1] == 1);
	params.k = 0;
	CHECK(Order(items, 6, &params, order) == 0);
	params.k = 100;
	CHECK(Order(items, 6, &params, order) == 6);
	CHECK(Order(items, 0, &params, order) == 0);
}

UNIT_TEST(rank_order_items_without_vectors_keep_their_slot)
{
	RankItem	items[6];
	int			order[6];
	RankOrderParams params = {.k = 6, .dims = 2};
	double		scores[] = {0.1, 0, 0.3, 0.2, 0, 0.9};

	MakeItems(items, 6);
	for (int i = 0; i < 6; i++)
	{
		items[i].score = scores[i];
		items[i].vector = (i == 1 || i == 4) ? NULL : unit_vector;
		items[i].norm = 1;
	}
	/* slots 2 and 5 are kept; 5, 2, 3, 0 fill the rest by score */
	CHECK(Order(items, 6, &params, order) == 6);
	CHECK(order[0] == 5 && order[1] == 1 && order[2] == 2 &&
		  order[3] == 3 && order[4] == 4 && order[5] == 0);

	/* no vectors at all: the upstream order */
	for (int i = 0; i < 6; i++)
		items[i].vector = NULL;
	CHECK(Order(items, 6, &params, order) == 6);
	for (int i = 0; i < 6; i++)
		CHECK(order[i] == i);
}

UNIT_TEST(rank_order_category_caps_demote)
{
	RankItem	items[7];
	int			order[7];
	RankOrderParams params = {.k = 7, .dims = 2, .max_per_category = 2,
	.ncategories = 2};
	int			categories[] = {0, 0, 0, 1, -1, 0, 1};

	MakeItems(items, 7);
	for (int i = 0; i < 7; i++)
	{
		items[i].vector = unit_vector;
		items[i].norm = 1;
		items[i].score = 10 - i;
		items[i].category = categories[i];
	}
	/* 0, 1 fill category 0; 2 and 5 are demoted behind 3, 4, 6 */
	CHECK(Order(items, 7, &params, order) == 7);
	CHECK(order[0] == 0 && order[1] == 1 && order[2] == 3 && order[3] == 4 &&
		  order[4] == 6 && order[5] == 2 && order[6] == 5);
	params.k = 4;
	CHECK(Order(items, 7, &params, order) == 4);
	CHECK(order[3] == 4);
	/* cap 1, and an item without a vector in a full category */
	params.k = 7;
	params.max_per_category = 1;
	items[1].vector = NULL;
	CHECK(Order(items, 7, &params, order) == 7);
	CHECK(order[0] == 0 && order[1] == 3 && order[2] == 4 &&
		  order[3] == 1 && order[4] == 2 && order[5] == 5 && order[6] == 6);
	/* no categories known: no cap */
	params.ncategories = 0;
	CHECK(Order(items, 7, &params, order) == 7);
	CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2);
}

/*
 * The eager MMR of the definition, with caps, slots and depth, as a
 * reference for the lazy one.
 */
static int
EagerOrder(const RankItem *items, int n, const RankOrderParams *p, int *order)
{
	int			k = p->k < n ? p->k : n;
	bool	   *done = calloc((size_t) n, sizeof(bool));
	int		   *placed = malloc(sizeof(int) * (size_t) n);
	int		   *demoted = malloc(sizeof(int) * (size_t) n);
	int		   *counts = calloc((size_t) (p->ncategories + 1), sizeof(int));
	int			nplaced = 0,
				ndemoted = 0,
				out = 0;
	double		lo = 0,
				hi = 0;
	bool		first = true;
	int			nfree = 0;

	for (int i = 0; i < n; i++)
		if (items[i].vector)
		{
			nfree++;
			if (first || items[i].score < lo)
				lo = items[i].score;
			if (first || items[i].score > hi)
				hi = items[i].score;
			first = false;
		}
	while (out < k)
	{
		int			best = -1;
		double		best_value = 0;
		bool		mmr = p->diversity > 0 && nplaced < p->diversity_depth && nfree > 1;
		int			pin = -1;

		for (int i = 0; i < n; i++)
			if (!done[i] && !items[i].vector)
			{
				pin = i;
				break;
			}
		for (int i = 0; i < n; i++)
		{
			double		value;

			if (done[i] || !items[i].vector)
				continue;
			value = items[i].score;
			if (mmr)
			{
				double		ms = 0;

				for (int s = 0; s < nplaced; s++)
				{
					const RankItem *b = &items[placed[s]];
					double		sim = 0;

					if (items[i].norm > 0 && b->norm > 0)
						sim = VecDot(items[i].vector, b->vector, (size_t) p->dims) /
							(items[i].norm * b->norm);
					sim = sim > 0 ? (sim < 1 ? sim : 1) : 0;
					if (sim > ms)
						ms = sim;
				}
				value = (1 - p->diversity) *
					((items[i].score - lo) * (hi > lo ? 1 / (hi - lo) : 0)) -
					p->diversity * ms;
			}
			if (best < 0 || value > best_value ||
				(value == best_value && items[i].score > items[best].score))
			{
				best = i;
				best_value = value;
			}
		}
		if (pin >= 0 && (pin <= out || best < 0))
			best = pin;
		if (best < 0)
			break;
		done[best] = true;
		if (p->max_per_category > 0 && items[best].category >= 0)
		{
			if (counts[items[best].category] >= p->max_per_category)
			{
				demoted[ndemoted++] = best;
				continue;
			}
			counts[items[best].category]++;
		}
		order[out++] = best;
		if (items[best].vector)
			placed[nplaced++] = best;
	}
	for (int d = 0; d < ndemoted && out < k; d++)
		order[out++] = demoted[d];
	free(done);
	free(placed);
	free(demoted);
	free(counts);
	return out;
}

UNIT_TEST(rank_order_lazy_mmr_equals_eager)
{
	enum
	{
		N = 150, DIMS = 8
	};
	static float vectors[N][DIMS];
	RankItem	items[N];
	int			lazy[N],
				eager[N];
	double		lambdas[] = {0.0, 0.1, 0.3, 0.7, 1.0};

	for (int round = 0; round < 40; round++)
	{
		RankOrderParams params = {.dims = DIMS, .ncategories = 5};

		params.k = 1 + (int) (Uniform() * N);
		params.diversity = lambdas[round % 5];
		params.diversity_depth = round % 3 == 0 ? 10 : N;
		params.max_per_category = round % 4 == 1 ? 3 : 0;
		MakeItems(items, N);
		for (int i = 0; i < N; i++)
		{
			for (int d = 0; d < DIMS; d++)
				vectors[i][d] = (float) (Uniform() - 0.3);
			if (i % 17 == 5)
				memset(vectors[i], 0, sizeof(vectors[i]));	/* zero vector */
			items[i].vector = (round % 2 == 1 && i % 11 == 3) ? NULL : vectors[i];
			items[i].norm = VecNorm(vectors[i], DIMS);
			/* coarse scores make ties */
			items[i].score = (double) (int) (Uniform() * 20) / 4.0;
			items[i].category = (int) (Uniform() * 6) - 1;
		}
		{
			int			m1 = Order(items, N, &params, lazy);
			int			m2 = EagerOrder(items, N, &params, eager);

			CHECK(m1 == m2);
			CHECK(m1 == params.k);
			for (int i = 0; i < m1 && i < m2; i++)
				if (lazy[i] != eager[i])
				{
					UnitFail(__FILE__, __LINE__,
							 "round %d: place %d is %d, eager says %d", round, i,
							 lazy[i], eager[i]);
					break;
				}
		}
	}
}

UNIT_TEST(rank_order_mmr_prefers_the_dissimilar)
{
	/* two near-duplicates on top, a different item a little lower */
	float		a[] = {1, 0};
	float		a2[] = {0.99f, 0.01f};
	float		b[] = {0, 1};
	float		c[] = {1, 1};
	RankItem	items[4];
	int			order[4];
	RankOrderParams params = {.k = 4, .dims = 2, .diversity = 0.0,
	.diversity_depth = 100};

	MakeItems(items, 4);
	items[0].vector = a;
	items[1].vector = a2;
	items[2].vector = b;
	items[3].vector = c;
	for (int i = 0; i < 4; i++)
		items[i].norm = VecNorm(items[i].vector, 2);
	/* relevance scaled to [0, 1]: 1, 0.95, 0.8, 0 */
	items[0].score = 2.0;
	items[1].score = 1.95;
	items[2].score = 1.8;
	items[3].score = 1.0;
	CHECK(Order(items, 4, &params, order) == 4);
	CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2 && order[3] == 3);
	/* second place: a2 0.7·0.95 − 0.3·cos(a, a2) ≈ 0.365 < b 0.7·0.8 = 0.56 */
	params.diversity = 0.3;
	CHECK(Order(items, 4, &params, order) == 4);
	CHECK(order[0] == 0 && order[1] == 2 && order[2] == 1 && order[3] == 3);
	/* pure diversity: after the best, the least similar first */
	params.diversity = 1.0;
	CHECK(Order(items, 4, &params, order) == 4);
	CHECK(order[0] == 0 && order[1] == 2 && order[2] == 3 && order[3] == 1);
	/* depth 1: only the first place is chosen by MMR */
	params.diversity = 0.3;
	params.diversity_depth = 1;
	CHECK(Order(items, 4, &params, order) == 4);
	CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2 && order[3] == 3);
}

static int	checks_called;

static void
CountCheck(void)
{
	checks_called++;
}

UNIT_TEST(rank_large_input_checks_interrupts)
{
	int			n = 100000;
	RankItem   *items = malloc(sizeof(RankItem) * (size_t) n);
	int		   *order = malloc(sizeof(int) * (size_t) n);
	float		x[] = {1, 0};
	RankUser	user = {x, NULL, NULL, 0};
	RankWeights weights = {{1, 0, 0.5, 0}};
	RankOrderParams params = {.k = n, .dims = 2, .diversity = 0.5,
	.diversity_depth = 50};
	bool		sorted = true;

	MakeItems(items, n);
	for (int i = 0; i < n; i++)
		items[i].vector = unit_vector;
	core_interrupt_hook = CountCheck;
	checks_called = 0;
	CHECK(RankScore(&user, &weights, items, n, 2) == n);
	CHECK(checks_called >= n / CORE_CHECK_EVERY);
	checks_called = 0;
	CHECK(Order(items, n, &params, order) == n);
	CHECK(checks_called >= n / CORE_CHECK_EVERY);
	core_interrupt_hook = NULL;
	/* equal vectors: after the first, MMR values tie and go by score */
	for (int i = 1; i < n; i++)
		if (order[i] != i)
			sorted = false;
	CHECK(sorted);
	free(items);
	free(order);
}

/* Items of a model without vectors: scores from given terms. */
UNIT_TEST(rank_score_given_terms)
{
	RankItem	items[3];
	double		model[] = {1.0, 0.5, 0.0};
	double		recent[] = {0.0, 0.25, 2.0};
	double		affinity[] = {0.5, 1.0};
	RankUser	user = {.affinity = affinity, .ncategories = 2};
	RankWeights weights = {{2.0, 4.0, 1.0, 3.0}};

	MakeItems(items, 3);
	items[0].category = 1;
	items[2].category = 0;
	items[1].norm = 7.0;
	CHECK(RankScoreGiven(&user, &weights, items, 3, model, recent) == 3);
	CHECK_NEAR(items[0].score, 2.0 * 1.0 + 1.0 * RankPositionTerm(1) + 3.0 * 1.0, 1e-12);
	CHECK_NEAR(items[1].score, 2.0 * 0.5 + 4.0 * 0.25 + 1.0 * RankPositionTerm(2), 1e-12);
	CHECK_NEAR(items[2].score, 4.0 * 2.0 + RankPositionTerm(3) + 3.0 * 0.5, 1e-12);
	CHECK(items[1].norm == 0.0);
	model[1] = INFINITY;
	CHECK(RankScoreGiven(&user, &weights, items, 3, model, recent) == 1);
}

/*
 * Model entries without vectors are ordered by score like items with
 * vectors; items with neither keep their slot.
 */
UNIT_TEST(rank_order_model_entries_are_ranked)
{
	RankItem	items[4];
	int			order[4];
	RankOrderParams params = {.k = 4};
	double		scores[] = {0.1, 0.0, 0.3, 0.9};

	MakeItems(items, 4);
	for (int i = 0; i < 4; i++)
	{
		items[i].score = scores[i];
		items[i].model_entry = i != 1;
	}
	CHECK(Order(items, 4, &params, order) == 4);
	CHECK(order[0] == 3 && order[1] == 1 && order[2] == 2 && order[3] == 0);
}

/* Pair similarities of a 4-item example: 0 and 1 near duplicates. */
static double
TableSimilarity(int a, int b, void *arg)
{
	const double (*table)[4] = arg;

	return table[a][b];
}

/* MMR takes its similarity from the callback, clamped to [0, 1]. */
UNIT_TEST(rank_order_mmr_with_given_similarity)
{
	RankItem	items[4];
	int			order[4];
	double		table[4][4] = {
		{1, 0.95, 0.1, -2},
		{0.95, 1, 0.2, 0},
		{0.1, 0.2, 1, 0},
		{-2, 0, 0, 1}
	};
	RankOrderParams params = {.k = 4, .diversity = 0.5, .diversity_depth = 4,
	.similarity = TableSimilarity, .similarity_arg = table};
	double		scores[] = {1.0, 0.9, 0.5, 0.0};

	MakeItems(items, 4);
	for (int i = 0; i < 4; i++)
	{
		items[i].score = scores[i];
		items[i].model_entry = true;
	}

	/*
	 * rel = (1, 0.9, 0.5, 0); after 0: 1 → 0.45 − 0.475, 2 → 0.25 − 0.05,
	 * 3 → 0 − 0 (−2 clamped): 2, then 3 (0) beats 1 (0.45 − 0.475).
	 */
	CHECK(Order(items, 4, &params, order) == 4);
	CHECK(order[0] == 0 && order[1] == 2 && order[2] == 3 && order[3] == 1);
	params.diversity = 0.0;
	CHECK(Order(items, 4, &params, order) == 4);
	CHECK(order[0] == 0 && order[1] == 1 && order[2] == 2 && order[3] == 3);
}

UNIT_TEST(rank_category_affinity)
{
	/* categories 0..2; weights: cat 1 → 4, cat 0 → 2, unknown → 8, cat 2 → -1 */
	int32_t		cats[] = {1, 0, -1, 2};
	double		w[] = {4, 2, 8, 1};
	double		aff[3] = {9, 9, 9};

	w[3] = -1;
	CHECK(RankCategoryAffinity(cats, w, 4, 3, aff));
	/* an unknown name's weight still sets the maximum */
	CHECK_NEAR(aff[0], 0.25, 0);
	CHECK_NEAR(aff[1], 0.5, 0);
	CHECK(aff[2] == 0.0);
	/* without a positive weight: no affinity, untouched */
	{
		double		neg[] = {-1, 0};
		double		keep[2] = {7, 7};

		CHECK(!RankCategoryAffinity(cats, neg, 2, 2, keep));
		CHECK(keep[0] == 7 && keep[1] == 7);
	}
	/* a weight above every other is 1; affinities never exceed 1 */
	{
		int32_t		one[] = {0};
		double		big[] = {1e300};
		double		a[1];

		CHECK(RankCategoryAffinity(one, big, 1, 1, a) && a[0] == 1.0);
	}
}

UNIT_TEST(rank_recent_shares_add_up_to_the_recent_term)
{
	float		y0[] = {1, 0, 0},
				y1[] = {0.6f, 0.8f, 0},
				y2[] = {0, 0, 2},
				zero[] = {0, 0, 0};
	const float *recent[] = {y1, NULL, zero, y2, y0};
	int64_t		ids[] = {11, 12, 13, 14, 15};
	float		item[] = {0.5f, 0.5f, 0.7f};
	float		profile[3];
	double		work[3];
	float		x[] = {0, 0, 0};
	RankUser	user = {x, profile, NULL, 0};
	RankItem	it = {0};
	double		terms[RANK_NTERMS];
	TermPart	parts[5];
	double		sum = 0.0;
	int			n;

	CHECK(RankProfile(recent, 5, 0.8, 3, profile, work));
	it.vector = item;
	it.position = 1;
	it.category = -1;
	RankItemTerms(&user, &it, 3, terms);
	n = RankRecentShares(recent, ids, 5, 0.8, item, 3, parts);
	/* NULL and zero vectors have no share; the others keep their order */
	CHECK(n == 3);
	CHECK(parts[0].item_id == 11 && parts[0].order == 0);
	CHECK(parts[1].item_id == 14 && parts[1].order == 3);
	CHECK(parts[2].item_id == 15 && parts[2].order == 4);
	for (int j = 0; j < n; j++)
		sum += parts[j].value;
	CHECK_NEAR(sum, terms[RANK_TERM_RECENT], 1e-6);
	CHECK(RankRecentShares(recent, ids, 5, 0.8, zero, 3, parts) == 0);
}
