/*
 * test_user_knn.c
 *	  Unit tests of src/core/user_knn.c: similarities, neighbor search (with
 *	  and without a budget), scores, the flat index; and HistoryMergeMax.
 */
#include "core/recent_history.h"
#include "core/user_knn.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* A small random interaction matrix, both orientations. */
typedef struct Matrix
{
	int			users;
	int			items;
	int64_t    *uptr;
	int32_t    *uidx;
	float	   *uw;
	int64_t    *iptr;
	int32_t    *iidx;
	float	   *iw;
	AlsCsr		by_user;
	AlsCsr		by_item;
	UserStats  *stats;
} Matrix;

static unsigned
NextRandom(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) & 0xffffff;
}

/* users × items, each cell present with probability density/100. */
static Matrix
RandomMatrix(int users, int items, int density, unsigned seed, bool binary)
{
	Matrix		m;
	int64_t		nnz = 0;

	m.users = users;
	m.items = items;
	m.uptr = malloc(sizeof(int64_t) * (users + 1));
	m.uidx = malloc(sizeof(int32_t) * users * items);
	m.uw = malloc(sizeof(float) * users * items);
	for (int u = 0; u < users; u++)
	{
		m.uptr[u] = nnz;
		for (int i = 0; i < items; i++)
			if ((int) (NextRandom(&seed) % 100) < density)
			{
				m.uidx[nnz] = i;
				m.uw[nnz] = binary ? 1.0f : (float) (1 + NextRandom(&seed) % 4);
				nnz++;
			}
	}
	m.uptr[users] = nnz;
	m.by_user = (AlsCsr) {users, items, nnz, m.uptr, m.uidx, m.uw};
	m.iptr = malloc(sizeof(int64_t) * (items + 1));
	m.iidx = malloc(sizeof(int32_t) * (nnz + 1));
	m.iw = malloc(sizeof(float) * (nnz + 1));
	AlsTransposeCsr(&m.by_user, m.iptr, m.iidx, m.iw);
	m.by_item = (AlsCsr) {items, users, nnz, m.iptr, m.iidx, m.iw};
	m.stats = malloc(sizeof(UserStats) * users);
	for (int u = 0; u < users; u++)
		m.stats[u] = UserStatsOf(m.uw + m.uptr[u], m.uptr[u + 1] - m.uptr[u]);
	return m;
}

static void
FreeMatrix(Matrix *m)
{
	free(m->uptr);
	free(m->uidx);
	free(m->uw);
	free(m->iptr);
	free(m->iidx);
	free(m->iw);
	free(m->stats);
}

/* Dense weight of (u, i), 0 when absent. */
static double
Cell(const Matrix *m, int u, int i)
{
	for (int64_t e = m->uptr[u]; e < m->uptr[u + 1]; e++)
		if (m->uidx[e] == i)
			return m->uw[e];
	return 0.0;
}

/* The similarity of two users from the dense definitions (user_knn.h). */
static double
BruteSimilarity(const Matrix *m, const UserKnnParams *p, int a, int b)
{
	double		dot = 0,
				sa = 0,
				sb = 0,
				qa = 0,
				qb = 0,
				s;
	int			na = 0,
				nb = 0,
				both = 0;

	for (int i = 0; i < m->items; i++)
	{
		double		x = Cell(m, a, i),
					y = Cell(m, b, i);

		dot += x * y;
		sa += x;
		sb += y;
		qa += x * x;
		qb += y * y;
		na += x > 0;
		nb += y > 0;
		both += x > 0 && y > 0;
	}
	if (both < p->min_overlap || both == 0)
		return 0;
	if (p->similarity == USER_SIMILARITY_COSINE)
		s = qa > 0 && qb > 0 ? dot / sqrt(qa * qb) : 0;
	else if (p->similarity == USER_SIMILARITY_JACCARD)
		s = (double) both / (na + nb - both);
	else
	{
		/* the correlation over the whole catalog, zeros included */
		double		ma = sa / m->items,
					mb = sb / m->items,
					cov = 0,
					va = 0,
					vb = 0;

		for (int i = 0; i < m->items; i++)
		{
			double		x = Cell(m, a, i) - ma,
						y = Cell(m, b, i) - mb;

			cov += x * y;
			va += x * x;
			vb += y * y;
		}
		s = va > 1e-12 && vb > 1e-12 ? cov / sqrt(va * vb) : 0;
	}
	return s * both / (both + p->shrinkage);
}

/* A workspace for searches among m's users. */
static UserKnnScratch
NewScratch(int users, int items)
{
	UserKnnScratch s;

	s.dot = calloc(users, sizeof(double));
	s.overlap = calloc(users, sizeof(int32_t));
	s.touched = malloc(sizeof(int32_t) * users);
	s.similarity = malloc(sizeof(float) * users);
	s.keys = malloc(sizeof(uint64_t) * (items + 1));
	return s;
}

static void
FreeScratch(UserKnnScratch *s)
{
	free(s->dot);
	free(s->overlap);
	free(s->touched);
	free(s->similarity);
	free(s->keys);
}

UNIT_TEST(user_similarity_by_hand)
{
	UserKnnParams p = {USER_SIMILARITY_COSINE, 5, 1, 0.0, 10};
	float		wa[] = {1, 2, 2};		/* S 5, Q 9 */
	float		wb[] = {3, 4};			/* S 7, Q 25 */
	UserStats	a = UserStatsOf(wa, 3);
	UserStats	b = UserStatsOf(wb, 2);
	UserSimilarity sim;

	CHECK(a.count == 3 && a.sum == 5 && a.squares == 9);
	/* they share one item: a has weight 2 on it, b weight 4 */
	CHECK_NEAR(UserSimilarityOf(&p, &a, &b, 8, 1), 8.0 / (3 * 5), 1e-12);
	p.similarity = USER_SIMILARITY_JACCARD;
	CHECK_NEAR(UserSimilarityOf(&p, &a, &b, 8, 1), 1.0 / 4, 1e-12);
	p.similarity = USER_SIMILARITY_PEARSON;
	CHECK_NEAR(UserSimilarityOf(&p, &a, &b, 8, 1),
			   (8 - 5.0 * 7 / 10) / sqrt((9 - 25.0 / 10) * (25 - 49.0 / 10)), 1e-12);
	/* shrinkage n / (n + λ); too little overlap; no overlap */
	p.similarity = USER_SIMILARITY_COSINE;
	p.shrinkage = 3;
	CHECK_NEAR(UserSimilarityOf(&p, &a, &b, 8, 1), 8.0 / 15 * 0.25, 1e-12);
	p.min_overlap = 2;
	CHECK(UserSimilarityOf(&p, &a, &b, 8, 1) == 0);
	CHECK(UserSimilarityOf(&p, &a, &b, 0, 0) == 0);
	/* a user of zero variance has no Pearson correlation */
	p.similarity = USER_SIMILARITY_PEARSON;
	p.min_overlap = 1;
	p.catalog = 3;
	{
		float		flat[] = {1, 1, 1};
		UserStats	f = UserStatsOf(flat, 3);

		CHECK(UserSimilarityOf(&p, &f, &b, 7, 2) == 0);
	}
	CHECK(UserSimilarityFromName("pearson", &sim) && sim == USER_SIMILARITY_PEARSON);
	CHECK(!UserSimilarityFromName("euclid", &sim));
	CHECK(strcmp(UserSimilarityName(USER_SIMILARITY_JACCARD), "jaccard") == 0);
}

/* Checks the neighbors of every user of m against brute force. */
static void
CheckNeighbors(const Matrix *m, const UserKnnParams *p)
{
	UserKnnScratch s = NewScratch(m->users, m->items);
	int32_t    *out = malloc(sizeof(int32_t) * m->users);
	float	   *sims = malloc(sizeof(float) * m->users);

	for (int u = 0; u < m->users; u++)
	{
		UserKnnSearch search;
		int			n = UserKnnNeighbors(&m->by_item, m->stats, p,
										 m->uidx + m->uptr[u], m->uw + m->uptr[u],
										 (int) (m->uptr[u + 1] - m->uptr[u]), u, -1,
										 &s, out, sims, &search);
		int			positive = 0;

		for (int v = 0; v < m->users; v++)
			positive += v != u && BruteSimilarity(m, p, u, v) > 1e-9;
		CHECK(n == (positive < p->neighbors ? positive : p->neighbors));
		CHECK(search.skipped == 0);
		for (int r = 0; r < n; r++)
		{
			int			above = 0;

			CHECK(out[r] != u);
			CHECK_NEAR(sims[r], BruteSimilarity(m, p, u, out[r]), 1e-5);
			/* exactly r users rank above it (ties to the smaller index) */
			for (int v = 0; v < m->users; v++)
			{
				double		sv = BruteSimilarity(m, p, u, v);

				if (v != u && sv > 1e-9 &&
					((float) sv > sims[r] + 1e-6 ||
					 (fabs(sv - sims[r]) <= 1e-6 && v < out[r])))
					above++;
			}
			CHECK(above == r);
		}
	}
	/* the workspace is clean again */
	for (int v = 0; v < m->users; v++)
		CHECK(s.dot[v] == 0 && s.overlap[v] == 0);
	free(out);
	free(sims);
	FreeScratch(&s);
}

UNIT_TEST(user_neighbors_match_brute_force)
{
	Matrix		m = RandomMatrix(40, 30, 20, 7, false);
	Matrix		b = RandomMatrix(40, 30, 25, 11, true);
	UserKnnParams p = {USER_SIMILARITY_COSINE, 6, 1, 0.0, 30};

	CheckNeighbors(&m, &p);
	p.shrinkage = 2.5;
	CheckNeighbors(&m, &p);
	p.similarity = USER_SIMILARITY_JACCARD;
	p.min_overlap = 2;
	CheckNeighbors(&b, &p);
	p.similarity = USER_SIMILARITY_PEARSON;
	p.min_overlap = 1;
	p.shrinkage = 0;
	CheckNeighbors(&m, &p);
	p.neighbors = 100;			/* more than there are */
	CheckNeighbors(&m, &p);
	FreeMatrix(&m);
	FreeMatrix(&b);
}

UNIT_TEST(user_neighbors_budget)
{
	Matrix		m = RandomMatrix(60, 20, 30, 5, false);
	UserKnnParams p = {USER_SIMILARITY_COSINE, 10, 1, 0.0, 20};
	UserKnnScratch s = NewScratch(m.users, m.items);
	int32_t		a[60],
				b[60];
	float		sa[60],
				sb[60];
	int			u = 3;
	const int32_t *items = m.uidx + m.uptr[u];
	const float *w = m.uw + m.uptr[u];
	int			n = (int) (m.uptr[u + 1] - m.uptr[u]);
	int64_t		total = 0,
				shortest = INT64_MAX;
	UserKnnSearch search;
	int			na,
				nb;

	for (int j = 0; j < n; j++)
	{
		int64_t		len = m.iptr[items[j] + 1] - m.iptr[items[j]];

		total += len;
		if (len < shortest)
			shortest = len;
	}
	/* a budget of every posting is the unbounded search, to the bit */
	na = UserKnnNeighbors(&m.by_item, m.stats, &p, items, w, n, u, -1, &s, a, sa, NULL);
	nb = UserKnnNeighbors(&m.by_item, m.stats, &p, items, w, n, u, total, &s, b, sb, &search);
	CHECK(na == nb && search.postings == total && search.skipped == 0);
	CHECK(memcmp(a, b, sizeof(int32_t) * na) == 0 && memcmp(sa, sb, sizeof(float) * na) == 0);
	/* a budget of the shortest list: only that list (the first shortest) */
	nb = UserKnnNeighbors(&m.by_item, m.stats, &p, items, w, n, u, shortest, &s, b, sb, &search);
	CHECK(search.postings == shortest && search.skipped == n - 1);
	{
		/* the same as a search of that one item with the whole history's stats */
		int			j0 = 0;

		for (int j = 0; j < n; j++)
			if (m.iptr[items[j] + 1] - m.iptr[items[j]] == shortest)
			{
				j0 = j;
				break;
			}
		for (int r = 0; r < nb; r++)
		{
			UserStats	mine = UserStatsOf(w, n);
			double		dot = w[j0] * Cell(&m, b[r], items[j0]);

			CHECK(Cell(&m, b[r], items[j0]) > 0);
			CHECK_NEAR(sb[r], UserSimilarityOf(&p, &mine, &m.stats[b[r]], dot, 1), 1e-6);
		}
	}
	/* no budget at all: nothing visited, no neighbors */
	nb = UserKnnNeighbors(&m.by_item, m.stats, &p, items, w, n, u, 0, &s, b, sb, &search);
	CHECK(nb == 0 && search.postings == 0 && search.skipped == n);
	FreeScratch(&s);
	FreeMatrix(&m);
}

UNIT_TEST(user_scores_agree)
{
	Matrix		m = RandomMatrix(30, 25, 30, 9, false);
	int32_t		nb[] = {4, 17, 2, 9};
	float		ns[] = {0.9f, 0.5f, 0.25f, 0.1f};
	double		total = UserKnnTotal(ns, 4);
	double	   *acc = calloc(m.items, sizeof(double));
	float	   *all = malloc(sizeof(float) * m.items);
	int32_t		items[25];
	double		some[25];
	int32_t		match_item[25 * 4],
				match_neighbor[25 * 4];
	float		match_weight[25 * 4];
	UserKnnMatches matches = {0, match_item, match_neighbor, match_weight};
	int			n = 0;

	CHECK_NEAR(total, 1.75, 1e-7);
	for (int i = 0; i < m.items; i++)
		all[i] = NAN;
	UserKnnScoreAll(&m.by_user, nb, ns, 4, total, acc, all);
	for (int i = 0; i < m.items; i += 2)
		items[n++] = i;
	{
		IdIndex		positions;
		int64_t		keys[64];
		int32_t		values[64];

		IdIndexInit(&positions, keys, values, IdIndexSlots(n));
		for (int j = 0; j < n; j++)
			IdIndexAdd(&positions, items[j], j);
		UserKnnScoreItems(&m.by_user, nb, ns, 4, total, items, &positions, n, some,
						  &matches);
		CHECK(matches.n <= UserKnnMatchBound(&m.by_user, nb, 4, n));
		/* the matches, neighbor by neighbor, are the cells the items have */
		for (int64_t e = 0; e < matches.n; e++)
		{
			CHECK(e == 0 || match_neighbor[e] >= match_neighbor[e - 1]);
			CHECK(match_weight[e] == (float) Cell(&m, nb[match_neighbor[e]],
												  items[match_item[e]]));
		}
	}
	for (int i = 0; i < m.items; i++)
	{
		double		expected = 0;
		bool		has = false;

		CHECK(acc[i] == 0);
		for (int v = 0; v < 4; v++)
		{
			expected += ns[v] * Cell(&m, nb[v], i);
			has = has || Cell(&m, nb[v], i) > 0;
			CHECK(UserKnnWeight(&m.by_user, nb[v], i) == (float) Cell(&m, nb[v], i));
		}
		expected /= total;
		CHECK(has ? !isnan(all[i]) : isnan(all[i]));
		if (has)
			CHECK_NEAR(all[i], expected, 1e-6);
		if (i % 2 == 0)
		{
			int			found = 0;

			for (int64_t e = 0; e < matches.n; e++)
				found += match_item[e] == i / 2;
			CHECK(found == (Cell(&m, nb[0], i) > 0) + (Cell(&m, nb[1], i) > 0) +
				  (Cell(&m, nb[2], i) > 0) + (Cell(&m, nb[3], i) > 0));
			CHECK_NEAR(some[i / 2], expected, 1e-12);
			/* one item, some items, every item: the same double */
			if (has)
				CHECK(all[i] == (float) some[i / 2]);
		}
	}
	/* one item alone (long histories against few items), no neighbors */
	CHECK(UserKnnScoreItem(&m.by_user, nb, ns, 4, total, items[3]) == some[3]);
	CHECK(UserKnnScoreItem(&m.by_user, nb, ns, 0, 0.0, items[3]) == 0);
	free(acc);
	free(all);
	FreeMatrix(&m);
}

UNIT_TEST(user_knn_index_is_flat)
{
	Matrix		m = RandomMatrix(50, 40, 15, 13, false);
	UserKnnParams p = {USER_SIMILARITY_COSINE, 5, 1, 0.0, 40};
	UserKnnScratch s = NewScratch(m.users, m.items);
	int64_t    *user_ids = malloc(sizeof(int64_t) * m.users);
	int64_t    *item_ids = malloc(sizeof(int64_t) * m.items);
	int64_t    *nptr = malloc(sizeof(int64_t) * (m.users + 1));
	int32_t    *nusers = malloc(sizeof(int32_t) * m.users * 5);
	float	   *nsims = malloc(sizeof(float) * m.users * 5);
	UserKnnSource src;
	size_t		bytes;
	void	   *block,
			   *moved;
	UserKnnIndex *index;

	for (int u = 0; u < m.users; u++)
		user_ids[u] = 1000 + 7 * (int64_t) u;
	for (int i = 0; i < m.items; i++)
		item_ids[i] = ((int64_t) 1 << 40) + 3 * (int64_t) i;
	nptr[0] = 0;
	for (int u = 0; u < m.users; u++)
		nptr[u + 1] = nptr[u] +
			UserKnnNeighbors(&m.by_item, m.stats, &p, m.uidx + m.uptr[u], m.uw + m.uptr[u],
							 (int) (m.uptr[u + 1] - m.uptr[u]), u, -1, &s,
							 nusers + nptr[u], nsims + nptr[u], NULL);
	src = (UserKnnSource) {p, m.users, m.items, user_ids, item_ids, m.uptr, m.uidx, m.uw,
		nptr, nusers, nsims};
	bytes = UserKnnIndexBytes(m.users, m.items, m.by_user.nnz, nptr[m.users]);
	block = malloc(bytes);
	CHECK(UserKnnIndexBuild(block, bytes - 1, &src) == NULL);
	CHECK(UserKnnIndexBuild(block, bytes, &src) == block);

	/* a copy elsewhere works alike: nothing inside points anywhere */
	moved = malloc(bytes);
	memcpy(moved, block, bytes);
	memset(block, 0xff, bytes);
	free(block);
	index = moved;
	CHECK(UserKnnUsers(index) == m.users && UserKnnItems(index) == m.items);
	CHECK(UserKnnInteractions(index) == m.by_user.nnz);
	CHECK(UserKnnNeighborCount(index) == nptr[m.users]);
	CHECK(UserKnnIndexParams(index)->neighbors == 5);
	for (int u = 0; u < m.users; u++)
	{
		const int32_t *vs;
		const float *ss;
		int			k = UserKnnStoredNeighbors(index, u, &vs, &ss);

		CHECK(UserKnnFindUser(index, user_ids[u]) == u);
		CHECK(UserKnnUserId(index, u) == user_ids[u]);
		CHECK(k == nptr[u + 1] - nptr[u]);
		CHECK(memcmp(vs, nusers + nptr[u], sizeof(int32_t) * k) == 0);
		CHECK(memcmp(ss, nsims + nptr[u], sizeof(float) * k) == 0);
		CHECK(UserKnnStats(index)[u].squares == m.stats[u].squares);
	}
	for (int i = 0; i < m.items; i++)
	{
		AlsCsr		by_item = UserKnnByItem(index);

		CHECK(UserKnnFindItem(index, item_ids[i]) == i);
		CHECK(UserKnnItemId(index, i) == item_ids[i]);
		CHECK(by_item.indptr[i + 1] - by_item.indptr[i] == m.iptr[i + 1] - m.iptr[i]);
		CHECK(memcmp(by_item.indices + by_item.indptr[i], m.iidx + m.iptr[i],
					 sizeof(int32_t) * (m.iptr[i + 1] - m.iptr[i])) == 0);
	}
	CHECK(UserKnnFindUser(index, 999) == -1 && UserKnnFindItem(index, 1000) == -1);
	{
		/* the pipelined look-up finds what one look-up finds */
		int64_t		ids[45];
		int32_t		found[45];

		for (int c = 0; c < 45; c++)
			ids[c] = c % 3 == 0 ? c : item_ids[(c * 7) % m.items];
		UserKnnFindItems(index, ids, 45, found);
		for (int c = 0; c < 45; c++)
			CHECK(found[c] == UserKnnFindItem(index, ids[c]));
		UserKnnFindItems(index, ids, 1, found);
		CHECK(found[0] == UserKnnFindItem(index, ids[0]));
	}
	{
		/* candidates by id, in any order, some outside the catalog */
		int64_t		ids[] = {item_ids[7], 5, item_ids[2], item_ids[30], -1, item_ids[0]};
		double		model[6],
					scores[6],
					norms[6],
					expected;
		bool		in_model[6];
		int32_t		found[6],
					items[6],
					candidate[6],
					values[16];
		int64_t		keys[16];
		int64_t		row_start[7];
		int32_t		row_neighbor[30],
					match_item[30],
					match_neighbor[30];
		float		row_value[30],
					match_weight[30];
		const int32_t *vs;
		const float *ss;
		int			k = UserKnnStoredNeighbors(index, 3, &vs, &ss);
		double		total = UserKnnTotal(ss, k);
		AlsCsr		by_user = UserKnnByUser(index);
		UserKnnCandidates out = {model, in_model,
			{row_start, row_neighbor, row_value, norms},
			found, items, candidate, keys, values, scores,
		{0, match_item, match_neighbor, match_weight}};

		CHECK(k > 1 && k <= 5 && UserKnnMatchBound(&by_user, vs, k, 6) <= 30);
		UserKnnCandidateScores(index, vs, ss, k, total, ids, 6, &out);
		CHECK(in_model[0] && !in_model[1] && in_model[2] && in_model[3] &&
			  !in_model[4] && in_model[5]);
		CHECK(model[1] == 0 && model[4] == 0 && norms[1] == 0);
		for (int c = 0; c < 6; c++)
		{
			int32_t		i = in_model[c] ? UserKnnFindItem(index, ids[c]) : -1;

			if (i < 0)
				continue;
			expected = UserKnnScoreItem(&by_user, vs, ss, k, total, i);
			CHECK(model[c] == expected);
			/* MMR: Σ_v s_v r_va r_vb / √(Σ s_v r_va² Σ s_v r_vb²) */
			for (int d = 0; d < 6; d++)
			{
				int32_t		j = in_model[d] ? UserKnnFindItem(index, ids[d]) : -1;
				double		dot = 0,
							na = 0,
							nb = 0;

				for (int v = 0; v < k && j >= 0; v++)
				{
					double		ra = UserKnnWeight(&by_user, vs[v], i);
					double		rb = UserKnnWeight(&by_user, vs[v], j);

					dot += ss[v] * ra * rb;
					na += ss[v] * ra * ra;
					nb += ss[v] * rb * rb;
				}
				CHECK_NEAR(UserKnnMmrSimilarity(c, d, &out.rows),
						   na > 0 && nb > 0 ? dot / sqrt(na * nb) : 0.0, 1e-6);
			}
		}
		/* without rows: the same scores */
		{
			double		with_rows[6];

			memcpy(with_rows, model, sizeof(with_rows));
			memset(model, 0xff, sizeof(model));
			out.rows.start = NULL;
			UserKnnCandidateScores(index, vs, ss, k, total, ids, 6, &out);
			CHECK(memcmp(with_rows, model, sizeof(with_rows)) == 0);
		}
	}
	{
		AlsCsr		by_user = UserKnnByUser(index);

		CHECK(by_user.nnz == m.by_user.nnz &&
			  memcmp(by_user.weights, m.uw, sizeof(float) * m.by_user.nnz) == 0);
	}
	free(moved);
	free(user_ids);
	free(item_ids);
	free(nptr);
	free(nusers);
	free(nsims);
	FreeScratch(&s);
	FreeMatrix(&m);
}

UNIT_TEST(history_merge_max)
{
	int64_t		items[] = {9, 3, 9, 1, 3, 7, 9};
	float		weights[] = {1, 5, 4, 2, 0, 1, 2};
	HistoryPair work[7];
	int			n = HistoryMergeMax(items, weights, 7, work);

	CHECK(n == 4);
	CHECK(items[0] == 1 && items[1] == 3 && items[2] == 7 && items[3] == 9);
	CHECK(weights[0] == 2 && weights[1] == 5 && weights[2] == 1 && weights[3] == 4);
	CHECK(HistoryMergeMax(items, weights, 0, work) == 0);
	n = HistoryMergeMax(items, weights, 1, work);
	CHECK(n == 1 && items[0] == 1);
}
