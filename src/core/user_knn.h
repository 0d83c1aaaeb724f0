/*
 * user_knn.h
 *	  User-based collaborative filtering in the pure-C core: the similarity
 *	  of two users (with shrinkage), the K nearest users of a history (what
 *	  training stores and what serving computes in real time, under a work
 *	  budget, by the same function), the normalized scores of items, and the
 *	  flat index a user-kNN model is served from.  No PostgreSQL headers, no
 *	  allocation: callers pass every buffer.
 *
 * A user u is a sparse vector of weights r_ui > 0 over the model's catalog
 * of N items.  For two users u, v sharing n_uv items, with d_uv = Σ_i r_ui
 * r_vi over the shared items:
 *
 *	cosine	  d_uv / (‖r_u‖ ‖r_v‖)
 *	jaccard   n_uv / (|u| + |v| − n_uv)
 *	pearson   the correlation of r_u and r_v as vectors of N elements (zeros
 *			  included): (d_uv − S_u S_v / N) / √((Q_u − S_u²/N)(Q_v − S_v²/N))
 *			  with S the sum and Q the sum of squares of a user's weights
 *
 * then shrunk towards 0 by n_uv / (n_uv + λ) (λ = shrinkage; 0: none).  The
 * neighbors of u are the K users of largest similarity among those sharing
 * at least min_overlap items with a similarity > 0 (u itself left out);
 * ties go to the smaller user index, that is the smaller user id.
 *
 * The score of item i for u with neighbors v (similarities s_v) is the
 * similarity-weighted mean of the neighbors' weights of i:
 *
 *	score(u, i) = Σ_v s_v · r_vi / Σ_v s_v		(r_vi = 0 when v lacks i)
 *
 * so with binary weights it is the weighted share of u's neighbors who
 * have i, in [0, 1].  Every sum runs over the neighbors in their order, so
 * a score computed for one item, for a few candidates or for the whole
 * catalog is the same double.
 */
#ifndef RERANK_USER_KNN_H
#define RERANK_USER_KNN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/als_train.h"
#include "core/id_index.h"

typedef enum UserSimilarity
{
	USER_SIMILARITY_COSINE,
	USER_SIMILARITY_JACCARD,
	USER_SIMILARITY_PEARSON
} UserSimilarity;

/* What defines a user-kNN model's neighbors (its params). */
typedef struct UserKnnParams
{
	UserSimilarity similarity;
	int32_t		neighbors;		/* K */
	int32_t		min_overlap;	/* shared items a neighbor needs, ≥ 1 */
	double		shrinkage;		/* λ ≥ 0 */
	int32_t		catalog;		/* N, items of the model (pearson) */
} UserKnnParams;

/* The name of a similarity ("cosine", …), and back (false: unknown). */
extern const char *UserSimilarityName(UserSimilarity similarity);
extern bool UserSimilarityFromName(const char *name, UserSimilarity *similarity);

/* The sums over one user's weights that the similarities need. */
typedef struct UserStats
{
	double		sum;			/* S */
	double		squares;		/* Q */
	int32_t		count;			/* |u| */
} UserStats;

extern UserStats UserStatsOf(const float *weights, int64_t n);

/*
 * The similarity of users a and b sharing overlap items with dot = Σ r_ai
 * r_bi over them, shrunk; 0 when overlap < min_overlap or a norm or
 * variance is 0.
 */
extern double UserSimilarityOf(const UserKnnParams *params, const UserStats *a,
							   const UserStats *b, double dot, int32_t overlap);

/*
 * Workspace of a neighbor search among `users` users: dot and overlap must
 * be zero on entry and are zero again on return; touched and similarity
 * hold `users` elements, keys one per history item.
 */
typedef struct UserKnnScratch
{
	double	   *dot;
	int32_t    *overlap;
	int32_t    *touched;
	float	   *similarity;
	uint64_t   *keys;
} UserKnnScratch;

/* What a neighbor search did. */
typedef struct UserKnnSearch
{
	int64_t		postings;		/* (item, user) entries visited */
	int			skipped;		/* history items left out by the budget */
} UserKnnSearch;

/*
 * The neighbors of a history (distinct item indexes with weights > 0, in
 * ascending item order) among the users of by_item (row i: the users of
 * item i with their weights; stats per user).  self (-1: none) is left
 * out.  budget < 0 visits every posting list; else at most budget entries:
 * the lists are taken shortest first (rarer items say more about a taste),
 * and a list that no longer fits is left out with every longer one; the
 * lists taken are then visited in item order, so within the budget the
 * result is exactly the unbounded one.  The user's own stats are those of
 * the whole history (left-out items included).  Writes up to
 * params->neighbors users and similarities, best first; returns how many.
 */
extern int	UserKnnNeighbors(const AlsCsr *by_item, const UserStats *stats,
							 const UserKnnParams *params, const int32_t *items,
							 const float *weights, int n, int32_t self,
							 int64_t budget, UserKnnScratch *scratch,
							 int32_t *out_users, float *out_similarities,
							 UserKnnSearch *search);

/* Σ s_v over a neighborhood, the denominator of every score. */
extern double UserKnnTotal(const float *similarities, int k);

/*
 * The scores of every item some neighbor has, written into scores (one
 * float per catalog item, by_user->cols; the other items keep what they
 * hold, e.g. NaN for "not scored").  acc holds by_user->cols doubles, zero
 * on entry and zero again on return.
 */
extern void UserKnnScoreAll(const AlsCsr *by_user, const int32_t *neighbors,
							const float *similarities, int k, double total,
							double *acc, float *scores);

/* What each neighbor has of the items scored (MMR's rows are made of it). */
typedef struct UserKnnMatches
{
	int64_t		n;
	int32_t    *item;			/* the item's place j */
	int32_t    *neighbor;		/* the neighbor's place v in the list */
	float	   *weight;			/* r_v,items[j] */
} UserKnnMatches;

/*
 * The scores of n items (distinct catalog indexes; positions maps each to
 * its place j in items) for a neighborhood: out[j] = Σ_v s_v r_v,items[j] /
 * total (0 for an item no neighbor has; total = UserKnnTotal, 0 gives 0).
 * Each neighbor's history is walked against the items through positions,
 * or, when it is longer, the items are searched in it.  matches (NULL: not
 * wanted) receives every (item, neighbor, weight) found, neighbor by
 * neighbor; it needs room for UserKnnMatchBound of them.
 */
extern void UserKnnScoreItems(const AlsCsr *by_user, const int32_t *neighbors,
							  const float *similarities, int k, double total,
							  const int32_t *items, const IdIndex *positions,
							  int n, double *out, UserKnnMatches *matches);

/* Matches UserKnnScoreItems may find for n items: Σ_v min(|history_v|, n). */
extern int64_t UserKnnMatchBound(const AlsCsr *by_user, const int32_t *neighbors,
								 int k, int n);

/* UserKnnScoreItems of one item: predict()'s score. */
extern double UserKnnScoreItem(const AlsCsr *by_user, const int32_t *neighbors,
							   const float *similarities, int k, double total,
							   int32_t item);

/*
 * The weight r_vi of item i in user v's history (0 when absent), by binary
 * search: explain()'s share s_v r_vi / total of one neighbor.
 */
extern float UserKnnWeight(const AlsCsr *by_user, int32_t user, int32_t item);

/*
 * The flat index of a user-kNN model: its users and items with their ids,
 * each user's history (by user) and the inverted index item → users (by
 * item), the users' stats and the trained neighbor lists, in one block of
 * memory.  Every reference inside is an offset from the block's start, so
 * the block can be copied or mapped anywhere (shared memory) unchanged.
 */
typedef struct UserKnnIndex UserKnnIndex;

/* What the index is built from (arrays of the caller, read only). */
typedef struct UserKnnSource
{
	UserKnnParams params;
	int32_t		users;
	int32_t		items;
	const int64_t *user_ids;	/* ascending */
	const int64_t *item_ids;	/* ascending */
	const int64_t *history_ptr; /* users + 1 */
	const int32_t *history_items;	/* item indexes, ascending per user */
	const float *history_weights;	/* > 0 */
	const int64_t *neighbor_ptr;	/* users + 1 */
	const int32_t *neighbor_users;	/* user indexes, best first */
	const float *neighbor_similarities;
} UserKnnSource;

/* Bytes of the index of these counts (its block's size). */
extern size_t UserKnnIndexBytes(int32_t users, int32_t items,
								int64_t interactions, int64_t neighbors);

/*
 * Builds the index into memory (bytes = UserKnnIndexBytes of the source's
 * counts, 8-byte aligned) and returns it (memory itself).
 */
extern UserKnnIndex *UserKnnIndexBuild(void *memory, size_t bytes,
									   const UserKnnSource *source);

/* The counts and params of an index. */
extern int32_t UserKnnUsers(const UserKnnIndex *index);
extern int32_t UserKnnItems(const UserKnnIndex *index);
extern int64_t UserKnnInteractions(const UserKnnIndex *index);
extern int64_t UserKnnNeighborCount(const UserKnnIndex *index);
extern const UserKnnParams *UserKnnIndexParams(const UserKnnIndex *index);

/*
 * The catalog indexes of n item ids (out[c], -1 outside the catalog), with
 * the hash slots and ids requested from memory ahead of their reads.
 */
extern void UserKnnFindItems(const UserKnnIndex *index, const int64_t *ids,
							 int n, int32_t *out);

/* The index of a user or item id, or -1; and back. */
extern int32_t UserKnnFindUser(const UserKnnIndex *index, int64_t user_id);
extern int32_t UserKnnFindItem(const UserKnnIndex *index, int64_t item_id);
extern int64_t UserKnnUserId(const UserKnnIndex *index, int32_t user);
extern int64_t UserKnnItemId(const UserKnnIndex *index, int32_t item);

/* Views of the index (pointers into it, valid as long as it is). */
extern const int64_t *UserKnnItemIds(const UserKnnIndex *index);	/* items */
extern AlsCsr UserKnnByUser(const UserKnnIndex *index);
extern AlsCsr UserKnnByItem(const UserKnnIndex *index);
extern const UserStats *UserKnnStats(const UserKnnIndex *index);

/* A user's trained neighbors (user indexes, similarities); returns how many. */
extern int	UserKnnStoredNeighbors(const UserKnnIndex *index, int32_t user,
								   const int32_t **users,
								   const float **similarities);

/*
 * MMR's rows of n candidates over a neighborhood: row c holds, for each
 * neighbor v that has candidate c, √s_v · r_vc (v ascending), so the
 * cosine of two rows is
 *
 *	Σ_v s_v r_va r_vb / √(Σ_v s_v r_va² · Σ_v s_v r_vb²)
 *
 * the similarity of two items among the user's neighbors (the same
 * similar users have both), 0 when no neighbor has either.  Sparse: their
 * size is bounded by the neighbors' histories, not candidates × neighbors.
 */
typedef struct UserKnnMmrRows
{
	int64_t    *start;			/* n + 1; NULL: no rows wanted */
	int32_t    *neighbor;		/* UserKnnMatchBound entries */
	float	   *value;
	double	   *norm;			/* n */
} UserKnnMmrRows;

/* RankSimilarityFn over UserKnnMmrRows: the cosine of rows a and b. */
extern double UserKnnMmrSimilarity(int a, int b, void *arg);

/*
 * The model term of n candidates given by id (distinct) for a neighborhood
 * of k users, and, when rows.start is set, their rows for MMR.
 */
typedef struct UserKnnCandidates
{
	double	   *model;			/* n: the scores, 0 outside the catalog */
	bool	   *in_model;		/* n: in the model's catalog */
	UserKnnMmrRows rows;
	/* workspace */
	int32_t    *found;			/* n: catalog index of each candidate */
	int32_t    *items;			/* n: those in the catalog */
	int32_t    *candidate;		/* n: their candidate */
	int64_t    *position_keys;	/* IdIndexSlots(n) */
	int32_t    *position_values;	/* IdIndexSlots(n) */
	double	   *scores;			/* n */
	UserKnnMatches matches;		/* with rows: UserKnnMatchBound entries */
} UserKnnCandidates;

extern void UserKnnCandidateScores(const UserKnnIndex *index,
								   const int32_t *neighbors,
								   const float *similarities, int k,
								   double total, const int64_t *ids, int n,
								   UserKnnCandidates *out);

#endif							/* RERANK_USER_KNN_H */
