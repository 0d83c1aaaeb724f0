/*
 * rank.h
 *	  The ranking core of rerank(): the blended score, and the ordering
 *	  (top-k, MMR diversity, category caps, items without vectors kept at
 *	  their upstream slot).  Pure C: no
 *	  PostgreSQL headers, no allocation (callers pass workspaces), so it is
 *	  unit-tested alone and an error longjmp out of a callback or of the
 *	  interrupt check (core/interrupt.h) leaks nothing.
 *
 * The score of a candidate i for user u (docs/rerank.md):
 *
 *	score = w_model · (x_uᵀy_i + b_i)			 when u and i have vectors
 *		  + w_recent · p_uᵀy_i / ‖y_i‖			 when i has a vector
 *		  + w_position · 1 / log2(1 + position_i)
 *		  + w_category · affinity_u(category_i)
 *
 * where p_u = Σ_j d^j ŷ_j / Σ_j d^j over the user's recent items j (most
 * recent first, j = 0, 1, …, unit vectors ŷ_j), so the recent term is the
 * recency-weighted mean cosine between the item and the recent items.  A
 * term whose inputs are missing is 0.
 *
 * Models without vectors (item-kNN) have their model and recent terms
 * computed by the caller from neighbor lists (RankScoreGiven), and their
 * MMR similarity given by a callback (RankOrderParams.similarity).
 */
#ifndef RERANK_RANK_H
#define RERANK_RANK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Indexes of the blend terms in a terms[] array. */
typedef enum RankTerm
{
	RANK_TERM_MODEL = 0,
	RANK_TERM_RECENT,
	RANK_TERM_POSITION,
	RANK_TERM_CATEGORY,
	RANK_NTERMS
} RankTerm;

/* The name of a term ("model", "recent", "position", "category"). */
extern const char *RankTermName(RankTerm term);

/* One candidate, in upstream order (position i + 1 at index i). */
typedef struct RankItem
{
	int64_t		item_id;
	const float *vector;		/* NULL: no vector in the model */
	float		bias;
	bool		model_entry;	/* in a model without vectors (item-kNN: has
								 * a neighbor list); an item with neither a
								 * vector nor this keeps its upstream slot */
	int32_t		position;		/* 1-based upstream position */
	int32_t		category;		/* 0 .. ncategories-1, or -1: unknown */
	double		norm;			/* ‖vector‖: set by RankScore, given to
								 * RankScoreNormed */
	double		score;			/* set by RankScore */
} RankItem;

/* What the score knows about the user. */
typedef struct RankUser
{
	const float *vector;		/* x_u, or NULL (cold start) */
	const float *profile;		/* p_u, or NULL (no recent item with a vector) */
	const double *affinity;		/* per category number, or NULL */
	int			ncategories;
} RankUser;

/* One history item's share of a term, for explain(). */
typedef struct TermPart
{
	int64_t		item_id;
	int			order;			/* index in the recent history, most recent
								 * first (older history after) */
	double		value;
} TermPart;

typedef struct RankWeights
{
	double		w[RANK_NTERMS];
} RankWeights;

/*
 * The recency profile p_u of the recent items' vectors (NULL entries: items
 * without a vector, skipped but still counted in the recency); only the
 * first n entries are read.  Returns false, leaving profile untouched, when
 * no entry has a non-zero vector.  work holds dims doubles.
 */
extern bool RankProfile(const float *const *recent, int n, double decay,
						int dims, float *profile, double *work);

/*
 * The user's affinity to each of ncategories categories (affinity[c]) from
 * the user's category weights, given as m pairs (categories[j],
 * weights[j]): category -1 for a name none of the items has, which still
 * counts towards the largest weight.  affinity[c] = min(w / max, 1) for a
 * category with a positive weight w, where max is the largest weight, else
 * 0.  Returns false, leaving affinity untouched, when no weight is positive.
 */
extern bool RankCategoryAffinity(const int32_t *categories, const double *weights,
								 int m, int ncategories, double *affinity);

/*
 * The shares of the recent items in an item's recent term (explain()): for
 * each of the first n recent vectors (NULL: no vector) that is non-zero,
 * d^j cos(y_i, y_j) / Σ d^j over those items, written to parts (item id
 * from ids[j], order j).  They add up to the recent term.  Returns how
 * many; 0 when the item's vector is zero.
 */
extern int	RankRecentShares(const float *const *recent, const int64_t *ids,
							 int n, double decay, const float *item, int dims,
							 TermPart *parts);

/* The position term 1 / log2(1 + position). */
extern double RankPositionTerm(int32_t position);

/*
 * The unweighted terms of one item (terms[RANK_NTERMS]); also sets
 * item->norm.  The score is Σ w[t] · terms[t].
 */
extern void RankItemTerms(const RankUser *user, RankItem *item, int dims,
						  double *terms);

/*
 * Scores every item (sets norm and score).  Returns the index of the first
 * item whose score is not finite, or n when all are finite.
 */
extern int	RankScore(const RankUser *user, const RankWeights *weights,
					  RankItem *items, int n, int dims);

/*
 * RankScore for items whose norm the caller has set (item->norm =
 * sqrt(VecSquaredNorm(vector)), 0 for items without a vector), e.g. from a
 * cache of norms: the same scores, without a third product per item.
 */
extern int	RankScoreNormed(const RankUser *user, const RankWeights *weights,
							RankItem *items, int n, int dims);

/*
 * RankScoreNormed that also writes each item's unweighted terms into
 * terms (n × RANK_NTERMS, row-major): what explain() shows and a learned
 * ranker would read, from the very computation of the scores.
 */
extern int	RankScoreNormedTerms(const RankUser *user, const RankWeights *weights,
								 RankItem *items, int n, int dims, double *terms);

/*
 * Similarity of the items at indexes a and b, for MMR; values outside
 * [0, 1] are clamped.
 */
typedef double (*RankSimilarityFn) (int a, int b, void *arg);

/*
 * Scores items whose model and recent terms the caller computed (models
 * without vectors): score = w_model·model_terms[i] + w_recent·recent_terms[i]
 * + the position and category terms as in RankScore; sets norm to 0.
 * Returns the index of the first item whose score is not finite, or n.
 */
extern int	RankScoreGiven(const RankUser *user, const RankWeights *weights,
						   RankItem *items, int n, const double *model_terms,
						   const double *recent_terms);

/* RankScoreGiven that also writes each item's terms (as RankScoreNormedTerms). */
extern int	RankScoreGivenTerms(const RankUser *user, const RankWeights *weights,
								RankItem *items, int n, const double *model_terms,
								const double *recent_terms, double *terms);

typedef struct RankOrderParams
{
	int			k;				/* length of the result (at most n) */
	double		diversity;		/* MMR trade-off λ in [0, 1]; 0: by score */
	int			diversity_depth;	/* MMR chooses at most this many places */
	int			max_per_category;	/* 0: no cap */
	int			ncategories;
	int			dims;
	RankSimilarityFn similarity;	/* NULL: the cosine of the vectors */
	void	   *similarity_arg;
} RankOrderParams;

/* Bytes of workspace RankOrder needs (8-byte aligned by the caller). */
extern size_t RankOrderWorkspace(int n, int ncategories);

/*
 * Orders the scored items (upstream order in, positions 1..n) into
 * order[0 .. result-1] (indexes into items); returns min(k, n).
 *
 * - Items without a vector (or model_entry) keep their upstream slot: the
 *	 item at position p is placed at index p - 1 of the result, or as soon
 *	 as possible after.
 * - The others fill the remaining places by score, ties by upstream
 *	 position; with diversity λ > 0, the first diversity_depth of them by
 *	 MMR instead: the next one maximizes (1 − λ)·rel_i − λ·max_j sim(i, j)
 *	 over the already placed items j, where rel is the score scaled to
 *	 [0, 1] over these candidates and sim the cosine of the item vectors
 *	 (or params->similarity), clamped to [0, 1]; equal MMR values go by
 *	 score, then upstream position.
 * - max_per_category n: an item whose category already has n places is
 *	 demoted behind every item that fits; demoted items follow in the order
 *	 they were demoted (never dropped, except by k).
 */
extern int	RankOrder(const RankItem *items, int n, const RankOrderParams *params,
					  int *order, void *workspace);

#endif							/* RERANK_RANK_H */
