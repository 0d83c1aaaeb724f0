/*
 * gbdt_forest.h
 *	  A flat forest of regression trees (a boosted ranker) for serving:
 *	  evaluation and exact TreeSHAP contributions in plain C, without
 *	  XGBoost and without PostgreSQL headers.
 *
 * The forest is one contiguous block: a header, then arrays addressed by
 * byte offsets from the block's start (no pointers), so it can be copied
 * as is into shared memory or a file and used from any address.  It is
 * built from an XGBoost booster saved as JSON (gbdt_xgb_json.c); the JSON
 * is what a model version stores, the block is derived from it at load.
 *
 * Layout of the nodes.  The trees lie one after another; tree t holds the
 * nodes [tree_first[t], tree_first[t + 1]) in breadth-first order, its root
 * first, the two children of a split next to each other (right = left + 1)
 * and after their parent.  A split sends x to the left child when
 * x[feature] < threshold, to the right child otherwise (equal goes right),
 * and a missing value (NaN) to the child its training put missing values
 * into (missing) — XGBoost's rules exactly.
 *
 * The evaluator needs no test for NaN: it reads a row widened to 2F values,
 * the row itself and then the row with NaN replaced by −Infinity, at
 * column = feature for splits that send missing values right (NaN < t is
 * false: right) and feature + F for those that send them left (−∞ < t is
 * true: left; a real −∞ goes left anyway).  A leaf is a fixed point of
 * the same step: threshold NaN (no comparison is true, so "right" = left +
 * 1 = itself), missing = itself, column 0.  An evaluator may therefore
 * step every row exactly tree_depth[t] times without testing for leaves.
 *
 * From a backend (the ranker's cache entry): GbdtXgboostJsonShape on the
 * stored booster, a palloc'd block of GbdtForestSize(…) bytes and scratch,
 * GbdtForestFromXgboostJson, pfree the scratch; then GbdtForestPredict for
 * all candidates at once (their features row by row, NaN where a feature
 * is missing) and GbdtForestContributions per explained candidate.
 *
 * Numbers are XGBoost's floats unchanged: the margin of a row is
 * base_score + Σ_t leaf_t(x), summed in float in tree order as XGBoost's
 * CPU predictor does, so predictions agree with XGBoost's bit for bit
 * (the unit tests check this).  gbdt_forest.c and gbdt_xgb_json.c keep
 * the compiler from contracting or reassociating their float arithmetic
 * for that reason.
 */
#ifndef RERANK_GBDT_FOREST_H
#define RERANK_GBDT_FOREST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GBDT_FOREST_MAGIC	0x46475252	/* "RRGF" */
#define GBDT_FOREST_VERSION 3	/* 2: the codes region; 3: its slices */

/* Limits of what a forest may hold (checked when one is built or read). */
#define GBDT_MAX_DEPTH		64
#define GBDT_MAX_FEATURES	65536
#define GBDT_MAX_TREES		(1 << 20)
#define GBDT_MAX_NODES		(1 << 28)

/* Room for an error message of the builder and the checker. */
#define GBDT_ERROR_LEN		192

/* One node; 16 bytes, so four share a cache line. */
typedef struct GbdtNode
{
	float		threshold;		/* x < threshold goes left; NaN at a leaf */
	int32_t		column;			/* split feature, + F when NaN goes left; 0
								 * at a leaf */
	int32_t		left;			/* left child (right = left + 1); a leaf's own
								 * index − 1 */
	int32_t		missing;		/* the child NaN goes to; a leaf's own index */
} GbdtNode;

/*
 * The block's header.  The arrays follow at the offsets given:
 *	  int32_t	tree_first[num_trees + 1]	first node of each tree, then the end
 *	  int32_t	tree_depth[num_trees]		deepest leaf of each tree (root = 0)
 *	  GbdtNode	nodes[node_capacity]
 *	  float		value[node_capacity]		a leaf's value (0 at splits)
 *	  float		cover[node_capacity]		training hessian sum under the node
 *	  float		mean[node_capacity]			cover-weighted mean of the leaves below
 *	  codes										the AVX-512 evaluator's tables
 * Only the first num_nodes entries of the node arrays are used.
 *
 * Codes.  For a forest of depth ≤ 6 and at most 32 features,
 * GbdtForestBuildCodes (called by the builder) derives what the AVX-512
 * evaluator reads, once: the trees in chunks (in order; one for all of
 * them when their codes fit in 64 bytes a row, else chunks in which no
 * feature has more than 255 distinct thresholds, 2F ≤ 64 bytes); per
 * chunk each feature's distinct thresholds sorted and cut into slices of
 * at most 255, and for each slice and direction of missing values that a
 * split of the chunk uses, one byte of a row's codes (at most 64 in all).
 * Each tree is copied complete to depth 6 in heap order (slot 1 the root,
 * 2s and 2s + 1 the children of s, a leaf above the last level copied
 * down to every slot below it) with per slot the byte the split reads and
 * its code: 1 + the place of its threshold in that byte's slice (0 below
 * a leaf: never taken).  A value x is coded in a slice's byte as the
 * number of the slice's thresholds ≤ x, so x < threshold ⇔ code(x) <
 * code, exactly (for any sorted slice holding the threshold); a missing
 * value as 255 in the byte of splits that send it right (never less) and
 * 0 in that of splits that send it left (always less).  The region's size
 * depends on num_trees and node_capacity only; codes_chunks = 0 when it
 * is not filled (deeper trees, more features, or a block built by hand).
 */
typedef struct GbdtForest
{
	uint32_t	magic;
	uint32_t	version;
	uint64_t	size;			/* bytes of the block, header included */
	int32_t		num_features;
	int32_t		num_trees;
	int32_t		num_nodes;
	int32_t		node_capacity;
	int32_t		max_depth;		/* deepest leaf of all trees */
	float		base_score;		/* the margin every row starts from */
	uint64_t	tree_first_offset;
	uint64_t	tree_depth_offset;
	uint64_t	nodes_offset;
	uint64_t	value_offset;
	uint64_t	cover_offset;
	uint64_t	mean_offset;
	uint64_t	codes_offset;
	int32_t		codes_chunks;	/* chunks of the codes; 0: none */
	int32_t		codes_unused;
} GbdtForest;

/* The arrays of a forest block. */
static inline const int32_t *
GbdtTreeFirst(const GbdtForest *f)
{
	return (const int32_t *) ((const char *) f + f->tree_first_offset);
}

static inline const int32_t *
GbdtTreeDepth(const GbdtForest *f)
{
	return (const int32_t *) ((const char *) f + f->tree_depth_offset);
}

static inline const GbdtNode *
GbdtNodes(const GbdtForest *f)
{
	return (const GbdtNode *) ((const char *) f + f->nodes_offset);
}

static inline const float *
GbdtValue(const GbdtForest *f)
{
	return (const float *) ((const char *) f + f->value_offset);
}

static inline const float *
GbdtCover(const GbdtForest *f)
{
	return (const float *) ((const char *) f + f->cover_offset);
}

static inline const float *
GbdtMean(const GbdtForest *f)
{
	return (const float *) ((const char *) f + f->mean_offset);
}

/* Whether node i (of a checked forest) is a leaf. */
static inline bool
GbdtIsLeaf(const GbdtNode *nodes, int32_t i)
{
	return nodes[i].missing == i;
}

/* The feature a split of f tests. */
static inline int32_t
GbdtNodeFeature(const GbdtForest *f, const GbdtNode *n)
{
	return n->column < f->num_features ? n->column : n->column - f->num_features;
}

/*
 * Bytes of a block with num_trees trees and room for node_capacity nodes,
 * or 0 when that exceeds the limits above.
 */
extern size_t GbdtForestSize(int num_trees, int node_capacity);

/*
 * Lays out an empty block of GbdtForestSize(num_trees, node_capacity)
 * bytes, 8-byte aligned (palloc's alignment): header and offsets set,
 * counts zero.  The builder fills it.
 */
extern void GbdtForestInit(GbdtForest *f, size_t size, int num_features,
						   int num_trees, int node_capacity, float base_score);

/*
 * Fills the codes of a checked forest f (see "Codes"), or sets
 * codes_chunks = 0 when f does not suit them.  A builder calls it after
 * checking the nodes, then checks the block again.
 */
extern void GbdtForestBuildCodes(GbdtForest *f);

/*
 * Checks that len bytes at block (8-byte aligned) are a well-formed
 * forest: header, offsets inside the block, every tree in breadth-first
 * layout as described above (each node the child of exactly one split,
 * children after their parent), depths as recorded, features in range,
 * values finite, codes (when filled) as GbdtForestBuildCodes makes them.
 * Evaluation and TreeSHAP trust a checked forest and
 * nothing else; the builder checks its output, and so must a reader of a
 * block that came from elsewhere.
 */
extern bool GbdtForestCheck(const void *block, size_t len, char *err,
							size_t errlen);

/*
 * Bytes of workspace GbdtForestPredict needs for f: 8 KB at 30 features
 * for the portable evaluator; on x86-64, room for the AVX2 evaluator's
 * complete copies of up to 256 trees too (192 KB, plus 30 KB at 30
 * features; the AVX-512 evaluator's is 9 KB + 1 KB per slice of its
 * largest chunk of codes): a
 * caller keeps it rather than allocating it per call.
 */
extern size_t GbdtPredictWorkspace(const GbdtForest *f);

/*
 * Margins of rows rows: x is row-major with num_features floats per row
 * (NaN = missing), out receives one float per row.  work:
 * GbdtPredictWorkspace(f) bytes, aligned for floats.  On a CPU with
 * AVX-512 (F, BW, VBMI), for a forest with codes and at least two trees
 * per slice of them (all chunks'), the AVX-512 evaluator over the codes;
 * else on a CPU with
 * AVX2 and from GBDT_SIMD_MIN_ROWS rows on (gbdt_forest.c), eight rows per
 * vector over complete copies of the trees; otherwise the portable walk in
 * interleaved blocks of 32 rows.  All give the same floats.
 */
extern void GbdtForestPredict(const GbdtForest *f, const float *x, int rows,
							  float *out, void *work);

/* The evaluators GbdtForestPredict chooses from (tests and benchmarks). */
typedef enum GbdtPredictPath
{
	GBDT_PREDICT_AUTO,			/* what GbdtForestPredict does */
	GBDT_PREDICT_SCALAR,		/* the portable walk */
	GBDT_PREDICT_AVX2,			/* the AVX2 evaluator, whatever the rows */
	GBDT_PREDICT_AVX512			/* the AVX-512 evaluator over the codes (the
								 * AVX2 one when f has none) */
} GbdtPredictPath;

/* Whether this build and CPU have the path (AUTO and SCALAR always). */
extern bool GbdtPredictPathAvailable(GbdtPredictPath path);

/*
 * GbdtForestPredict by the given path; a path the CPU lacks falls back
 * to the portable walk.
 */
extern void GbdtForestPredictWith(const GbdtForest *f, const float *x,
								  int rows, float *out, void *work,
								  GbdtPredictPath path);

/* Bytes of workspace GbdtForestContributions needs for f. */
extern size_t GbdtContributionsWorkspace(const GbdtForest *f);

/*
 * Exact TreeSHAP contributions (Lundberg, Erion and Lee 2018, algorithm 2)
 * of one row x: contribs[j] for each feature j < num_features and the bias
 * contribs[num_features] (base_score plus each tree's cover-weighted mean),
 * so that their sum is the row's margin up to float rounding.  The same
 * numbers as XGBoost's pred_contribs.  work: GbdtContributionsWorkspace(f)
 * bytes, aligned for floats.
 */
extern void GbdtForestContributions(const GbdtForest *f, const float *x,
									float *contribs, void *work);

/*
 * An XGBoost model saved as JSON (XGBoosterSaveModelToBuffer, format
 * "json"), as far as the forest needs it: the gbtree booster of a
 * single-output objective whose margin transform is the identity.
 */
typedef struct GbdtJsonShape
{
	int			num_features;
	int			num_trees;
	int64_t		total_nodes;	/* Σ of the trees' node arrays */
	int			max_tree_nodes;
	float		base_score;
	size_t		trees_offset;	/* where the trees array starts */
} GbdtJsonShape;

/*
 * First pass over a model's JSON (len bytes, not necessarily
 * NUL-terminated, untrusted): checks the document and the booster kind,
 * and counts what the block and the scratch space must hold.
 */
extern bool GbdtXgboostJsonShape(const char *json, size_t len,
								 GbdtJsonShape *shape, char *err,
								 size_t errlen);

/* Bytes of scratch space GbdtForestFromXgboostJson needs. */
extern size_t GbdtXgboostJsonScratch(const GbdtJsonShape *shape);

/*
 * Second pass, over the same bytes: builds the forest into f, a block of
 * size = GbdtForestSize(shape->num_trees, shape->total_nodes) bytes, using
 * scratch (GbdtXgboostJsonScratch bytes, aligned for int32), and checks it.
 * Reads only the trees again (from shape->trees_offset); bytes that differ
 * from the first pass's give an error or another well-formed forest, never
 * an access out of bounds.
 * Renumbers each tree breadth-first (unreachable nodes of the source are
 * dropped) and computes the mean values TreeSHAP needs as XGBoost does.
 */
extern bool GbdtForestFromXgboostJson(const char *json, size_t len,
									  const GbdtJsonShape *shape,
									  GbdtForest *f, size_t size,
									  void *scratch, char *err,
									  size_t errlen);

#endif							/* RERANK_GBDT_FOREST_H */
