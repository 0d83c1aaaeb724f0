/*
 * user_knn.c
 *	  User-based collaborative filtering: similarities, neighbor search,
 *	  scores and the flat index (see user_knn.h).
 */
#include "core/user_knn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/id_hash.h"
#include "core/id_index.h"
#include "core/topk.h"

static const char *const similarity_names[] = {"cosine", "jaccard", "pearson"};

/* The name of a similarity. */
const char *
UserSimilarityName(UserSimilarity similarity)
{
	return similarity_names[similarity];
}

/* The similarity of a name; false when there is none of that name. */
bool
UserSimilarityFromName(const char *name, UserSimilarity *similarity)
{
	for (int s = 0; s < 3; s++)
		if (strcmp(name, similarity_names[s]) == 0)
		{
			*similarity = (UserSimilarity) s;
			return true;
		}
	return false;
}

/* S, Q and |u| of a user's weights. */
UserStats
UserStatsOf(const float *weights, int64_t n)
{
	UserStats	stats = {0.0, 0.0, (int32_t) n};

	for (int64_t e = 0; e < n; e++)
	{
		stats.sum += weights[e];
		stats.squares += (double) weights[e] * weights[e];
	}
	return stats;
}

/* The shrunk similarity of two users; see user_knn.h. */
double
UserSimilarityOf(const UserKnnParams *params, const UserStats *a,
				 const UserStats *b, double dot, int32_t overlap)
{
	double		s;

	if (overlap <= 0 || overlap < params->min_overlap)
		return 0.0;
	switch (params->similarity)
	{
		case USER_SIMILARITY_JACCARD:
			{
				double		union_size = (double) a->count + b->count - overlap;

				s = union_size > 0 ? overlap / union_size : 0.0;
				break;
			}
		case USER_SIMILARITY_PEARSON:
			{
				double		n = params->catalog;
				double		va,
							vb;

				if (n <= 0)
					return 0.0;
				va = a->squares - a->sum * a->sum / n;
				vb = b->squares - b->sum * b->sum / n;
				if (!(va > 0 && vb > 0))
					return 0.0;
				s = (dot - a->sum * b->sum / n) / sqrt(va * vb);
				break;
			}
		default:
			if (!(a->squares > 0 && b->squares > 0))
				return 0.0;
			s = dot / sqrt(a->squares * b->squares);
			break;
	}
	if (params->shrinkage > 0)
		s *= overlap / (overlap + params->shrinkage);
	return s;
}

/* qsort comparator of uint64 keys. */
static int
CompareKeys(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *) a;
	uint64_t	y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/*
 * The first key (length << 32 | position) of the history items the budget
 * leaves out, UINT64_MAX when it leaves none; counts them in *skipped.
 */
static uint64_t
BudgetLimit(const AlsCsr *by_item, const int32_t *items, int n, int64_t budget,
			uint64_t *keys, int *skipped)
{
	int64_t		total = 0;
	int64_t		used = 0;

	*skipped = 0;
	for (int j = 0; j < n; j++)
	{
		int64_t		len = by_item->indptr[items[j] + 1] - by_item->indptr[items[j]];

		total += len;
		keys[j] = ((uint64_t) len << 32) | (uint32_t) j;
	}
	if (budget < 0 || total <= budget)
		return UINT64_MAX;
	qsort(keys, n, sizeof(uint64_t), CompareKeys);
	for (int j = 0; j < n; j++)
	{
		used += (int64_t) (keys[j] >> 32);
		if (used > budget)
		{
			*skipped = n - j;
			return keys[j];
		}
	}
	return UINT64_MAX;
}

/* The K nearest users of a history; see user_knn.h. */
int
UserKnnNeighbors(const AlsCsr *by_item, const UserStats *stats,
				 const UserKnnParams *params, const int32_t *items,
				 const float *weights, int n, int32_t self, int64_t budget,
				 UserKnnScratch *scratch, int32_t *out_users,
				 float *out_similarities, UserKnnSearch *search)
{
	double	   *dot = scratch->dot;
	int32_t    *overlap = scratch->overlap;
	int32_t    *touched = scratch->touched;
	float	   *sims = scratch->similarity;
	UserStats	mine = UserStatsOf(weights, n);
	uint64_t	limit;
	int			ntouched = 0;
	int64_t		visited = 0;
	int			skipped;

	limit = BudgetLimit(by_item, items, n, budget, scratch->keys, &skipped);
	for (int j = 0; j < n; j++)
	{
		int32_t		i = items[j];
		int64_t		start = by_item->indptr[i];
		int64_t		end = by_item->indptr[i + 1];
		double		w = weights[j];

		if (limit != UINT64_MAX &&
			(((uint64_t) (end - start) << 32) | (uint32_t) j) >= limit)
			continue;
		visited += end - start;
		for (int64_t e = start; e < end; e++)
		{
			int32_t		v = by_item->indices[e];

			if (overlap[v] == 0)
				touched[ntouched++] = v;
			overlap[v]++;
			dot[v] += w * by_item->weights[e];
		}
	}
	for (int t = 0; t < ntouched; t++)
	{
		int32_t		v = touched[t];
		double		s = v == self ? 0.0 :
			UserSimilarityOf(params, &mine, &stats[v], dot[v], overlap[v]);

		/* NaN: not a neighbor (TopKSelect skips it) */
		sims[t] = s > 0 ? (float) s : NAN;
		dot[v] = 0.0;
		overlap[v] = 0;
	}
	if (search != NULL)
	{
		search->postings = visited;
		search->skipped = skipped;
	}
	return TopKSelect(sims, touched, ntouched, params->neighbors, out_users,
					  out_similarities);
}

/* Σ s_v. */
double
UserKnnTotal(const float *similarities, int k)
{
	double		total = 0.0;

	for (int v = 0; v < k; v++)
		total += similarities[v];
	return total;
}

/* The scores of every item a neighbor has; see user_knn.h. */
void
UserKnnScoreAll(const AlsCsr *by_user, const int32_t *neighbors,
				const float *similarities, int k, double total, double *acc,
				float *scores)
{
	for (int v = 0; v < k; v++)
	{
		int32_t		u = neighbors[v];
		double		s = similarities[v];

		for (int64_t e = by_user->indptr[u]; e < by_user->indptr[u + 1]; e++)
			acc[by_user->indices[e]] += s * by_user->weights[e];
	}
	/* a second walk writes each touched item once and clears it */
	for (int v = 0; v < k; v++)
	{
		int32_t		u = neighbors[v];

		for (int64_t e = by_user->indptr[u]; e < by_user->indptr[u + 1]; e++)
		{
			int32_t		i = by_user->indices[e];

			if (acc[i] != 0.0)
			{
				scores[i] = total > 0 ? (float) (acc[i] / total) : 0.0f;
				acc[i] = 0.0;
			}
		}
	}
}

/* The scores of a few items, and what each neighbor has; see user_knn.h. */
void
UserKnnScoreItems(const AlsCsr *by_user, const int32_t *neighbors,
				  const float *similarities, int k, double total,
				  const int32_t *items, const IdIndex *positions, int n,
				  double *out, UserKnnMatches *matches)
{
	for (int j = 0; j < n; j++)
		out[j] = 0.0;
	if (matches != NULL)
		matches->n = 0;
	for (int v = 0; v < k; v++)
	{
		int32_t		u = neighbors[v];
		const int32_t *hist = by_user->indices + by_user->indptr[u];
		const float *w = by_user->weights + by_user->indptr[u];
		int64_t		m = by_user->indptr[u + 1] - by_user->indptr[u];
		double		s = similarities[v];

		/* walk the shorter side: the history through the items' index, or
		 * the items by binary search in the (sorted) history */
		for (int64_t a = 0; a < (m <= n ? m : n); a++)
		{
			int64_t		j = m <= n ? IdIndexGet(positions, hist[a]) : a;
			int64_t		e = m <= n ? a : SortedFind(hist, m, items[a]);

			if (j < 0 || e < 0)
				continue;
			out[j] += s * w[e];
			if (matches != NULL)
			{
				matches->item[matches->n] = (int32_t) j;
				matches->neighbor[matches->n] = v;
				matches->weight[matches->n] = w[e];
				matches->n++;
			}
		}
	}
	for (int j = 0; j < n; j++)
		out[j] = total > 0 ? out[j] / total : 0.0;
}

/* The score of one item; see user_knn.h. */
double
UserKnnScoreItem(const AlsCsr *by_user, const int32_t *neighbors,
				 const float *similarities, int k, double total, int32_t item)
{
	IdIndex		position;
	int64_t		keys[16];
	int32_t		values[16];
	double		score;

	IdIndexInit(&position, keys, values, 16);
	IdIndexAdd(&position, item, 0);
	UserKnnScoreItems(by_user, neighbors, similarities, k, total, &item,
					  &position, 1, &score, NULL);
	return score;
}

/* Matches a neighborhood of k users may have with n items, at most. */
int64_t
UserKnnMatchBound(const AlsCsr *by_user, const int32_t *neighbors, int k, int n)
{
	int64_t		bound = 0;

	for (int v = 0; v < k; v++)
	{
		int64_t		m = by_user->indptr[neighbors[v] + 1] - by_user->indptr[neighbors[v]];

		bound += m < n ? m : n;
	}
	return bound;
}

/* The scores (and MMR rows) of candidates given by id; see user_knn.h. */
void
UserKnnCandidateScores(const UserKnnIndex *index, const int32_t *neighbors,
					   const float *similarities, int k, double total,
					   const int64_t *ids, int n, UserKnnCandidates *out)
{
	AlsCsr		by_user = UserKnnByUser(index);
	IdIndex		positions;
	int			m = 0;

	/* the candidates in the catalog, and their positions by catalog index */
	UserKnnFindItems(index, ids, n, out->found);
	IdIndexInit(&positions, out->position_keys, out->position_values,
				IdIndexSlots((size_t) n));
	for (int c = 0; c < n; c++)
	{
		out->model[c] = 0.0;
		out->in_model[c] = out->found[c] >= 0;
		if (out->found[c] < 0)
			continue;
		out->items[m] = out->found[c];
		out->candidate[m] = c;
		IdIndexAdd(&positions, out->found[c], m);
		m++;
	}
	if (out->rows.start != NULL)
		memset(out->rows.start, 0, sizeof(int64_t) * ((size_t) n + 1));
	if (m == 0 || k == 0)
		return;
	UserKnnScoreItems(&by_user, neighbors, similarities, k, total, out->items,
					  &positions, m, out->scores,
					  out->rows.start != NULL ? &out->matches : NULL);
	for (int j = 0; j < m; j++)
		out->model[out->candidate[j]] = out->scores[j];
	if (out->rows.start == NULL)
		return;

	/*
	 * Row c of each candidate: (v, √s_v · r_vc) for the neighbors v that
	 * have it, v ascending (the matches come neighbor by neighbor, and the
	 * counting sort keeps their order).
	 */
	for (int64_t e = 0; e < out->matches.n; e++)
		out->rows.start[out->candidate[out->matches.item[e]] + 1]++;
	for (int c = 0; c < n; c++)
		out->rows.start[c + 1] += out->rows.start[c];
	for (int64_t e = 0; e < out->matches.n; e++)
	{
		int32_t		c = out->candidate[out->matches.item[e]];
		int32_t		v = out->matches.neighbor[e];
		int64_t		at = out->rows.start[c]++;

		out->rows.neighbor[at] = v;
		out->rows.value[at] = (float) (sqrt(similarities[v]) * out->matches.weight[e]);
	}
	for (int c = n; c > 0; c--)
		out->rows.start[c] = out->rows.start[c - 1];
	out->rows.start[0] = 0;
	for (int c = 0; c < n; c++)
	{
		double		squares = 0.0;

		for (int64_t e = out->rows.start[c]; e < out->rows.start[c + 1]; e++)
			squares += (double) out->rows.value[e] * out->rows.value[e];
		out->rows.norm[c] = sqrt(squares);
	}
}

/* MMR's similarity of two candidates' rows; see user_knn.h. */
double
UserKnnMmrSimilarity(int a, int b, void *arg)
{
	const UserKnnMmrRows *rows = arg;
	int64_t		x = rows->start[a],
				y = rows->start[b];
	int64_t		xe = rows->start[a + 1],
				ye = rows->start[b + 1];
	double		dot = 0.0;

	if (rows->norm[a] == 0.0 || rows->norm[b] == 0.0)
		return 0.0;
	/* both rows are sorted by neighbor */
	while (x < xe && y < ye)
	{
		if (rows->neighbor[x] < rows->neighbor[y])
			x++;
		else if (rows->neighbor[x] > rows->neighbor[y])
			y++;
		else
			dot += (double) rows->value[x++] * rows->value[y++];
	}
	return dot / (rows->norm[a] * rows->norm[b]);
}

/* r_vi by binary search. */
float
UserKnnWeight(const AlsCsr *by_user, int32_t user, int32_t item)
{
	int64_t		start = by_user->indptr[user];
	int64_t		e = SortedFind(by_user->indices + start,
							   by_user->indptr[user + 1] - start, item);

	return e >= 0 ? by_user->weights[start + e] : 0.0f;
}

/*
 * The index: this header, then its sections at the byte offsets it holds,
 * each on a cache line of its own.
 */
#define USER_KNN_MAGIC UINT64_C(0x72726b6e6e763031)	/* "rrknnv01" */
#define SECTION_ALIGN 64

struct UserKnnIndex
{
	uint64_t	magic;
	uint64_t	bytes;
	UserKnnParams params;
	int32_t		users;
	int32_t		items;
	int64_t		interactions;
	int64_t		neighbors;
	uint32_t	user_mask;		/* hash slots - 1 */
	uint32_t	item_mask;
	/* offsets of the sections */
	uint64_t	user_ids;		/* int64[users] */
	uint64_t	user_slots;		/* int32[user_mask + 1]: index + 1, 0 empty */
	uint64_t	item_ids;		/* int64[items] */
	uint64_t	item_slots;		/* int32[item_mask + 1] */
	uint64_t	stats;			/* UserStats[users] */
	uint64_t	history_ptr;	/* int64[users + 1] */
	uint64_t	history_items;	/* int32[interactions] */
	uint64_t	history_weights;	/* float[interactions] */
	uint64_t	posting_ptr;	/* int64[items + 1] */
	uint64_t	posting_users;	/* int32[interactions] */
	uint64_t	posting_weights;	/* float[interactions] */
	uint64_t	neighbor_ptr;	/* int64[users + 1] */
	uint64_t	neighbor_users; /* int32[neighbors] */
	uint64_t	neighbor_sims;	/* float[neighbors] */
};

/* Hash slots for n ids: a power of two, at most half full. */
static uint32_t
SlotsFor(int32_t n)
{
	uint32_t	slots = 16;

	while (slots < 2 * (uint64_t) n)
		slots *= 2;
	return slots;
}

/* Lays the sections out (sets the offsets); returns the total size. */
static size_t
Layout(struct UserKnnIndex *x)
{
	size_t		at = 0;

#define PLACE(field, size) \
	do { \
		at = (at + SECTION_ALIGN - 1) & ~(size_t) (SECTION_ALIGN - 1); \
		x->field = at; \
		at += (size); \
	} while (0)
	at = sizeof(struct UserKnnIndex);
	PLACE(user_ids, sizeof(int64_t) * (size_t) x->users);
	PLACE(user_slots, sizeof(int32_t) * ((size_t) x->user_mask + 1));
	PLACE(item_ids, sizeof(int64_t) * (size_t) x->items);
	PLACE(item_slots, sizeof(int32_t) * ((size_t) x->item_mask + 1));
	PLACE(stats, sizeof(UserStats) * (size_t) x->users);
	PLACE(history_ptr, sizeof(int64_t) * ((size_t) x->users + 1));
	PLACE(history_items, sizeof(int32_t) * (size_t) x->interactions);
	PLACE(history_weights, sizeof(float) * (size_t) x->interactions);
	PLACE(posting_ptr, sizeof(int64_t) * ((size_t) x->items + 1));
	PLACE(posting_users, sizeof(int32_t) * (size_t) x->interactions);
	PLACE(posting_weights, sizeof(float) * (size_t) x->interactions);
	PLACE(neighbor_ptr, sizeof(int64_t) * ((size_t) x->users + 1));
	PLACE(neighbor_users, sizeof(int32_t) * (size_t) x->neighbors);
	PLACE(neighbor_sims, sizeof(float) * (size_t) x->neighbors);
#undef PLACE
	return at;
}

/* A section of the index as a typed pointer. */
#define SECTION(index, field, type) \
	((type *) ((char *) (index) + (index)->field))

/* Bytes of an index; see user_knn.h. */
size_t
UserKnnIndexBytes(int32_t users, int32_t items, int64_t interactions,
				  int64_t neighbors)
{
	struct UserKnnIndex x;

	memset(&x, 0, sizeof(x));
	x.users = users;
	x.items = items;
	x.interactions = interactions;
	x.neighbors = neighbors;
	x.user_mask = SlotsFor(users) - 1;
	x.item_mask = SlotsFor(items) - 1;
	return Layout(&x);
}

/* Enters ids[0..n) into a hash of slots (index + 1; 0 empty). */
static void
FillSlots(int32_t *slots, uint32_t mask, const int64_t *ids, int32_t n)
{
	memset(slots, 0, sizeof(int32_t) * ((size_t) mask + 1));
	for (int32_t i = 0; i < n; i++)
	{
		uint32_t	h = (uint32_t) IdHash(ids[i]) & mask;

		while (slots[h] != 0)
			h = (h + 1) & mask;
		slots[h] = i + 1;
	}
}

/* The index of id in a hash, or -1. */
static int32_t
FindSlot(const int32_t *slots, uint32_t mask, const int64_t *ids, int64_t id)
{
	uint32_t	h = (uint32_t) IdHash(id) & mask;

	while (slots[h] != 0)
	{
		if (ids[slots[h] - 1] == id)
			return slots[h] - 1;
		h = (h + 1) & mask;
	}
	return -1;
}

/* Builds the index into memory; see user_knn.h. */
UserKnnIndex *
UserKnnIndexBuild(void *memory, size_t bytes, const UserKnnSource *source)
{
	struct UserKnnIndex *x = memory;
	int64_t		interactions = source->history_ptr[source->users];
	int64_t		neighbors = source->neighbor_ptr[source->users];
	AlsCsr		by_user;
	UserStats  *stats;

	memset(x, 0, sizeof(*x));
	x->magic = USER_KNN_MAGIC;
	x->params = source->params;
	x->users = source->users;
	x->items = source->items;
	x->interactions = interactions;
	x->neighbors = neighbors;
	x->user_mask = SlotsFor(source->users) - 1;
	x->item_mask = SlotsFor(source->items) - 1;
	x->bytes = Layout(x);
	if (x->bytes > bytes)
		return NULL;

	memcpy(SECTION(x, user_ids, int64_t), source->user_ids, sizeof(int64_t) * source->users);
	memcpy(SECTION(x, item_ids, int64_t), source->item_ids, sizeof(int64_t) * source->items);
	FillSlots(SECTION(x, user_slots, int32_t), x->user_mask, source->user_ids, source->users);
	FillSlots(SECTION(x, item_slots, int32_t), x->item_mask, source->item_ids, source->items);

	memcpy(SECTION(x, history_ptr, int64_t), source->history_ptr,
		   sizeof(int64_t) * ((size_t) source->users + 1));
	memcpy(SECTION(x, history_items, int32_t), source->history_items,
		   sizeof(int32_t) * interactions);
	memcpy(SECTION(x, history_weights, float), source->history_weights,
		   sizeof(float) * interactions);
	by_user = UserKnnByUser(x);
	stats = SECTION(x, stats, UserStats);
	for (int32_t u = 0; u < source->users; u++)
		stats[u] = UserStatsOf(by_user.weights + by_user.indptr[u],
							   by_user.indptr[u + 1] - by_user.indptr[u]);
	AlsTransposeCsr(&by_user, SECTION(x, posting_ptr, int64_t),
					SECTION(x, posting_users, int32_t),
					SECTION(x, posting_weights, float));

	memcpy(SECTION(x, neighbor_ptr, int64_t), source->neighbor_ptr,
		   sizeof(int64_t) * ((size_t) source->users + 1));
	memcpy(SECTION(x, neighbor_users, int32_t), source->neighbor_users,
		   sizeof(int32_t) * neighbors);
	memcpy(SECTION(x, neighbor_sims, float), source->neighbor_similarities,
		   sizeof(float) * neighbors);
	return x;
}

int32_t
UserKnnUsers(const UserKnnIndex *index)
{
	return index->users;
}

int32_t
UserKnnItems(const UserKnnIndex *index)
{
	return index->items;
}

int64_t
UserKnnInteractions(const UserKnnIndex *index)
{
	return index->interactions;
}

int64_t
UserKnnNeighborCount(const UserKnnIndex *index)
{
	return index->neighbors;
}

const UserKnnParams *
UserKnnIndexParams(const UserKnnIndex *index)
{
	return &index->params;
}

int32_t
UserKnnFindUser(const UserKnnIndex *index, int64_t user_id)
{
	return FindSlot(SECTION(index, user_slots, const int32_t), index->user_mask,
					SECTION(index, user_ids, const int64_t), user_id);
}

int32_t
UserKnnFindItem(const UserKnnIndex *index, int64_t item_id)
{
	return FindSlot(SECTION(index, item_slots, const int32_t), index->item_mask,
					SECTION(index, item_ids, const int64_t), item_id);
}

/* How many look-ups ahead UserKnnFindItems requests memory. */
#define FIND_AHEAD 8

#if defined(__GNUC__)
#define PREFETCH(address) __builtin_prefetch(address, 0, 3)
#else
#define PREFETCH(address) ((void) 0)
#endif

/* The catalog indexes of n item ids (-1: not in the catalog); see user_knn.h. */
void
UserKnnFindItems(const UserKnnIndex *index, const int64_t *ids, int n,
				 int32_t *out)
{
	const int32_t *slots = SECTION(index, item_slots, const int32_t);
	const int64_t *item_ids = SECTION(index, item_ids, const int64_t);
	uint32_t	mask = index->item_mask;

	/*
	 * Candidates hit random slots, and a slot's id random places of the id
	 * array: each is requested from memory a few look-ups before it is read.
	 */
	for (int c = 0; c < n + 2 * FIND_AHEAD; c++)
	{
		if (c < n)
			PREFETCH(&slots[(uint32_t) IdHash(ids[c]) & mask]);
		if (c >= FIND_AHEAD && c - FIND_AHEAD < n)
		{
			int32_t		first = slots[(uint32_t) IdHash(ids[c - FIND_AHEAD]) & mask];

			if (first != 0)
				PREFETCH(&item_ids[first - 1]);
		}
		if (c >= 2 * FIND_AHEAD)
			out[c - 2 * FIND_AHEAD] = FindSlot(slots, mask, item_ids,
											   ids[c - 2 * FIND_AHEAD]);
	}
}

int64_t
UserKnnUserId(const UserKnnIndex *index, int32_t user)
{
	return SECTION(index, user_ids, const int64_t)[user];
}

int64_t
UserKnnItemId(const UserKnnIndex *index, int32_t item)
{
	return SECTION(index, item_ids, const int64_t)[item];
}

/* The item id of each catalog index. */
const int64_t *
UserKnnItemIds(const UserKnnIndex *index)
{
	return SECTION(index, item_ids, const int64_t);
}

/* The histories, users × items. */
AlsCsr
UserKnnByUser(const UserKnnIndex *index)
{
	AlsCsr		csr = {index->users, index->items, index->interactions,
		SECTION(index, history_ptr, const int64_t),
		SECTION(index, history_items, const int32_t),
	SECTION(index, history_weights, const float)};

	return csr;
}

/* The inverted index, items × users. */
AlsCsr
UserKnnByItem(const UserKnnIndex *index)
{
	AlsCsr		csr = {index->items, index->users, index->interactions,
		SECTION(index, posting_ptr, const int64_t),
		SECTION(index, posting_users, const int32_t),
	SECTION(index, posting_weights, const float)};

	return csr;
}

const UserStats *
UserKnnStats(const UserKnnIndex *index)
{
	return SECTION(index, stats, const UserStats);
}

int
UserKnnStoredNeighbors(const UserKnnIndex *index, int32_t user,
					   const int32_t **users, const float **similarities)
{
	const int64_t *ptr = SECTION(index, neighbor_ptr, const int64_t);

	*users = SECTION(index, neighbor_users, const int32_t) + ptr[user];
	*similarities = SECTION(index, neighbor_sims, const float) + ptr[user];
	return (int) (ptr[user + 1] - ptr[user]);
}
