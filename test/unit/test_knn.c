/*
 * test_knn.c
 *	  Unit tests of src/core/knn.c: item-kNN terms from neighbor lists.
 */
#include "core/id_index.h"
#include "core/knn.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An index of ids[0..n) to their positions, over malloc'd slots. */
static IdIndex
IndexOf(const int64_t *ids, int n)
{
	size_t		slots = IdIndexSlots((size_t) n);
	IdIndex		index;

	IdIndexInit(&index, malloc(sizeof(int64_t) * slots),
				malloc(sizeof(int32_t) * slots), slots);
	for (int i = 0; i < n; i++)
		IdIndexAdd(&index, ids[i], i);
	return index;
}

static void
FreeIndex(IdIndex *index)
{
	free(index->keys);
	free(index->values);
}

/*
 * Candidates 10, 20, 30; history 1 (weight 2) and 2 (weight 0.5); recent
 * items 2 (most recent) then 3; decay 0.5.  Lists:
 *	1: 10 (0.5), 20 (0.25)
 *	2: 2 (1), 20 (1), 30 (0.5)
 *	3: 10 (1)
 *	10: 10 (1), 20 (0.75)   (a candidate's own list: in the model, pairs)
 *	20: 10 (0.5)
 */
UNIT_TEST(knn_terms_from_lists)
{
	int64_t		cands[] = {10, 20, 30};
	int64_t		hist[] = {1, 2};
	float		hist_w[] = {2, 0.5f};
	int64_t		recent[] = {2, 3};
	IdIndex		ci = IndexOf(cands, 3),
				hi = IndexOf(hist, 2),
				ri = IndexOf(recent, 2);
	double		model[3] = {0},
				rec[3] = {0};
	bool		in_model[3] = {0};
	KnnPair		pairs[16];
	TermPart	model_parts[4],
				recent_parts[4];
	KnnShares	shares = {4, 0, model_parts, 0, recent_parts};
	KnnAccum	acc = {0};
	int64_t		l1[] = {10, 20}, l2[] = {2, 20, 30}, l3[] = {10}, l10[] = {10, 20}, l20[] = {10};
	float		s1[] = {0.5f, 0.25f}, s2[] = {1, 1, 0.5f}, s3[] = {1}, s10[] = {1, 0.75f}, s20[] = {0.5f};
	int64_t		start[4];
	int32_t		other[16];
	float		sim[16];
	KnnPairRows rows = {start, other, sim};

	acc.candidates = &ci;
	acc.history = &hi;
	acc.history_weights = hist_w;
	acc.recent = &ri;
	acc.decay = 0.5;
	acc.history_order = 20;
	acc.want_pairs = true;
	acc.model = model;
	acc.recent_terms = rec;
	acc.in_model = in_model;
	acc.pairs = pairs;
	acc.shares = &shares;

	CHECK(KnnAccumPairBound(&acc, 1, 2) == 0);	/* not a candidate */
	CHECK(KnnAccumPairBound(&acc, 10, 2) == 4);
	KnnAccumList(&acc, 1, l1, s1, 2);
	KnnAccumList(&acc, 2, l2, s2, 3);
	KnnAccumList(&acc, 3, l3, s3, 1);
	KnnAccumList(&acc, 10, l10, s10, 2);
	KnnAccumList(&acc, 20, l20, s20, 1);
	KnnAccumFinish(&acc, 3);

	/* model: Σ_j r_j sim(j, i) */
	CHECK_NEAR(model[0], 2 * 0.5, 1e-12);
	CHECK_NEAR(model[1], 2 * 0.25 + 0.5 * 1, 1e-12);
	CHECK_NEAR(model[2], 0.5 * 0.5, 1e-12);
	/* recent: (d^0 sim(2, i) + d^1 sim(3, i)) / (1 + 0.5) */
	CHECK_NEAR(rec[0], (0.5 * 1) / 1.5, 1e-12);
	CHECK_NEAR(rec[1], (1.0 * 1) / 1.5, 1e-12);
	CHECK_NEAR(rec[2], (1.0 * 0.5) / 1.5, 1e-12);
	CHECK(in_model[0] && in_model[1] && !in_model[2]);
	/* candidate 0's shares add up to its terms; order: recency, else 20 + h */
	CHECK(shares.nmodel == 1 && model_parts[0].item_id == 1 && model_parts[0].order == 20);
	CHECK(shares.nrecent == 1 && recent_parts[0].item_id == 3 && recent_parts[0].order == 1);
	CHECK_NEAR(recent_parts[0].value, rec[0], 1e-12);

	/* pairs: 10~20 listed by both (0.75 and 0.5): the larger */
	CHECK(acc.npairs == 4);
	KnnPairRowsBuild(pairs, acc.npairs, 3, &rows);
	CHECK(start[0] == 0 && start[1] == 1 && start[2] == 2 && start[3] == 2);
	CHECK_NEAR(KnnPairSimilarity(0, 1, &rows), 0.75, 1e-7);
	CHECK_NEAR(KnnPairSimilarity(1, 0, &rows), 0.75, 1e-7);
	CHECK(KnnPairSimilarity(0, 2, &rows) == 0.0);
	FreeIndex(&ci);
	FreeIndex(&hi);
	FreeIndex(&ri);
}

UNIT_TEST(knn_without_history_or_recent)
{
	int64_t		cands[] = {5};
	IdIndex		ci = IndexOf(cands, 1);
	double		model[1] = {0},
				rec[1] = {0};
	bool		in_model[1] = {0};
	KnnAccum	acc = {0};
	int64_t		l5[] = {5};
	float		s5[] = {1};

	acc.candidates = &ci;
	acc.model = model;
	acc.recent_terms = rec;
	acc.in_model = in_model;
	KnnAccumList(&acc, 5, l5, s5, 1);
	KnnAccumFinish(&acc, 1);
	CHECK(model[0] == 0.0 && rec[0] == 0.0 && in_model[0] && acc.npairs == 0);
	FreeIndex(&ci);
}
