/*
 * gbdt_forest.c
 *	  Layout, checking, evaluation and TreeSHAP of a flat forest (see
 *	  gbdt_forest.h).
 *
 * Every sum and product here is the one XGBoost rounds, in the same
 * order, and the pragma below keeps the compiler from fusing or
 * reassociating them (the extension builds with -march=native and
 * -fassociative-math), so margins agree with XGBoost's bit for bit and
 * contributions to the last bits.
 */
#include "core/gbdt_forest.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Floats round as XGBoost's do, whatever the build's math flags: no
 * contraction into fused multiply-adds, no reassociation of sums.
 */
#if defined(__clang__)
#pragma clang fp contract(off) reassociate(off)
#elif defined(__GNUC__)
#pragma GCC optimize ("fp-contract=off", "no-associative-math")
#endif

/* Rows evaluated together: independent walks the CPU overlaps. */
#ifndef GBDT_PREDICT_BLOCK
#define GBDT_PREDICT_BLOCK 32
#endif

/*
 * The AVX2 evaluator (x86-64 with GCC or clang; chosen at run time when
 * the CPU has AVX2): rows per block (a multiple of 8), the deepest tree it
 * copies into complete form, and the fewest rows it is used for (below,
 * copying the trees costs more than it saves).  -DGBDT_NO_AVX2 builds
 * what other CPUs get.
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
	!defined(GBDT_NO_AVX2)
#define GBDT_HAVE_AVX2 1
#endif
#ifndef GBDT_SIMD_BLOCK
#define GBDT_SIMD_BLOCK 128
#endif
#define GBDT_SIMD_DEPTH 6
#ifndef GBDT_SIMD_MIN_ROWS
#define GBDT_SIMD_MIN_ROWS 40
#endif

/*
 * Offsets in a block are kept 16-byte aligned; the block itself needs 8
 * (its header's 64-bit fields), what palloc and malloc give.
 */
#define GBDT_ALIGN(n)	(((n) + (uint64_t) 15) & ~(uint64_t) 15)

/*
 * Codes (gbdt_forest.h, "Codes"): limits, and the parts of the region.
 * A chunk closed for a feature's thresholds holds more than 255 − 63 of
 * them (a tree adds at most 63), so their number is bounded by the
 * forest's splits, at most half its nodes.
 */
#define GBDT_CODE_DEPTH		6
#define GBDT_CODE_MAX_CUTS	255
#define GBDT_CODE_MAX_FEATURES 32
#define GBDT_CODE_CHUNK		256
#define GBDT_CODE_WIDTH		64	/* bytes of a row's codes: one register */
#define GBDT_CODE_NONE		255 /* a slice's absent byte */

/* One tree complete to depth 6 in heap order, by slot (384 bytes). */
typedef struct GbdtQuantTree
{
	uint8_t		column[64];		/* the byte of the row's codes the split reads */
	uint8_t		code[64];		/* its threshold's code; 0: always right */
	float		leaf[64];		/* the leaf at level 6 below the slot 64 + k */
} GbdtQuantTree;

/*
 * A slice of a chunk: up to 255 of a feature's distinct thresholds,
 * sorted, and the bytes of a row's codes that hold a value's code among
 * them (the number of them ≤ x): pos_right with a missing value as 255
 * (splits sending NaN right), pos_left with it as 0 (NaN left); either
 * GBDT_CODE_NONE when no split of the chunk needs it.
 */
typedef struct GbdtCodeSlice
{
	int32_t		cut_start;		/* index of its first threshold in cuts */
	uint8_t		ncuts;			/* 1 … 255 */
	uint8_t		feature;
	uint8_t		pos_right;
	uint8_t		pos_left;
} GbdtCodeSlice;

/* Offsets of the region's parts (from codes_offset) and its bytes. */
typedef struct GbdtCodeParts
{
	uint64_t	max_chunks;
	uint64_t	ends;			/* int32[max_chunks]: each chunk's end tree */
	uint64_t	nslices;		/* int32[max_chunks]: each chunk's slices */
	uint64_t	slices;			/* GbdtCodeSlice[max_chunks][64] */
	uint64_t	trees;			/* GbdtQuantTree[num_trees] */
	uint64_t	cuts;			/* float[num_nodes / 2 + 1] */
	uint64_t	size;
} GbdtCodeParts;

static void
GbdtCodePartsOf(int num_trees, int node_capacity, GbdtCodeParts *p)
{
	uint64_t	off = 0;

	p->max_chunks = (uint64_t) node_capacity / 2 / (GBDT_CODE_MAX_CUTS - 63 + 1) +
		(uint64_t) num_trees / GBDT_CODE_CHUNK + 1;
	p->ends = off;
	off = GBDT_ALIGN(off + sizeof(int32_t) * p->max_chunks);
	p->nslices = off;
	off = GBDT_ALIGN(off + sizeof(int32_t) * p->max_chunks);
	p->slices = off;
	off = GBDT_ALIGN(off + sizeof(GbdtCodeSlice) * GBDT_CODE_WIDTH * p->max_chunks);
	p->trees = off;
	off += sizeof(GbdtQuantTree) * (uint64_t) num_trees;
	p->cuts = off;
	off = GBDT_ALIGN(off + sizeof(float) * ((uint64_t) node_capacity / 2 + 1));
	p->size = off;
}

/* The region's parts of a block. */
static inline const char *
GbdtCodeBase(const GbdtForest *f, GbdtCodeParts *p)
{
	GbdtCodePartsOf(f->num_trees, f->node_capacity, p);
	return (const char *) f + f->codes_offset;
}

static inline const int32_t *
GbdtCodeEnds(const GbdtForest *f)
{
	GbdtCodeParts p;
	const char *base = GbdtCodeBase(f, &p);

	return (const int32_t *) (base + p.ends);
}

static inline const int32_t *
GbdtCodeNumSlices(const GbdtForest *f)
{
	GbdtCodeParts p;
	const char *base = GbdtCodeBase(f, &p);

	return (const int32_t *) (base + p.nslices);
}

static inline const GbdtCodeSlice *
GbdtCodeSlices(const GbdtForest *f)
{
	GbdtCodeParts p;
	const char *base = GbdtCodeBase(f, &p);

	return (const GbdtCodeSlice *) (base + p.slices);
}

static inline const GbdtQuantTree *
GbdtCodeTrees(const GbdtForest *f)
{
	GbdtCodeParts p;
	const char *base = GbdtCodeBase(f, &p);

	return (const GbdtQuantTree *) (base + p.trees);
}

static inline const float *
GbdtCodeCuts(const GbdtForest *f)
{
	GbdtCodeParts p;
	const char *base = GbdtCodeBase(f, &p);

	return (const float *) (base + p.cuts);
}

/* Fills the offsets of a block; false when the counts exceed the limits. */
static bool
GbdtLayout(int num_trees, int node_capacity, GbdtForest *layout)
{
	uint64_t	off;
	uint64_t	nodes = (uint64_t) node_capacity;

	if (num_trees < 0 || num_trees > GBDT_MAX_TREES ||
		node_capacity < 0 || node_capacity > GBDT_MAX_NODES)
		return false;
	off = GBDT_ALIGN(sizeof(GbdtForest));
	layout->tree_first_offset = off;
	off = GBDT_ALIGN(off + sizeof(int32_t) * ((uint64_t) num_trees + 1));
	layout->tree_depth_offset = off;
	off = GBDT_ALIGN(off + sizeof(int32_t) * (uint64_t) num_trees);
	layout->nodes_offset = off;
	off = GBDT_ALIGN(off + sizeof(GbdtNode) * nodes);
	layout->value_offset = off;
	off = GBDT_ALIGN(off + sizeof(float) * nodes);
	layout->cover_offset = off;
	off = GBDT_ALIGN(off + sizeof(float) * nodes);
	layout->mean_offset = off;
	off = GBDT_ALIGN(off + sizeof(float) * nodes);
	layout->codes_offset = off;
	{
		GbdtCodeParts parts;

		GbdtCodePartsOf(num_trees, node_capacity, &parts);
		off = GBDT_ALIGN(off + parts.size);
	}
	layout->size = off;
	return true;
}

size_t
GbdtForestSize(int num_trees, int node_capacity)
{
	GbdtForest	layout;

	if (!GbdtLayout(num_trees, node_capacity, &layout) ||
		layout.size > (uint64_t) SIZE_MAX)
		return 0;
	return (size_t) layout.size;
}

void
GbdtForestInit(GbdtForest *f, size_t size, int num_features, int num_trees,
			   int node_capacity, float base_score)
{
	memset(f, 0, size);
	(void) GbdtLayout(num_trees, node_capacity, f);
	f->magic = GBDT_FOREST_MAGIC;
	f->version = GBDT_FOREST_VERSION;
	f->num_features = num_features;
	f->num_trees = num_trees;
	f->num_nodes = 0;
	f->node_capacity = node_capacity;
	f->max_depth = 0;
	f->base_score = base_score;
}

/* Formats an error message; returns false for the caller to pass on. */
static bool GbdtFail(char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static bool
GbdtFail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		args;

	if (err != NULL && errlen > 0)
	{
		va_start(args, fmt);
		vsnprintf(err, errlen, fmt, args);
		va_end(args);
	}
	return false;
}

/*
 * Checks one tree's nodes [first, end): breadth-first layout (the splits'
 * left children are first + 1, first + 3, … in node order, each after its
 * parent, and every node but the root is one of them), node contents, and
 * the recorded depth, which is the level of the last node.
 */
static bool
GbdtCheckTree(const GbdtForest *f, int t, int32_t first, int32_t end,
			  char *err, size_t errlen)
{
	const GbdtNode *nodes = GbdtNodes(f);
	const float *value = GbdtValue(f);
	const float *cover = GbdtCover(f);
	const float *mean = GbdtMean(f);
	int64_t		next = (int64_t) first + 1;
	int64_t		level_end = (int64_t) first + 1;
	int			depth = 0;

	for (int32_t i = first; i < end; i++)
	{
		const GbdtNode *n = &nodes[i];

		if (i >= next)
			return GbdtFail(err, errlen, "tree %d: node %d is no split's child",
							t, (int) (i - first));
		if (i == level_end)
		{
			depth++;
			level_end = next;
		}
		if (!isfinite(cover[i]) || cover[i] < 0 || !isfinite(mean[i]))
			return GbdtFail(err, errlen, "tree %d: node %d has an invalid cover or mean",
							t, (int) (i - first));
		if (n->missing == i)
		{
			if (n->left != i - 1 || n->column != 0 || !isnan(n->threshold) ||
				!isfinite(value[i]))
				return GbdtFail(err, errlen, "tree %d: leaf %d is malformed",
								t, (int) (i - first));
		}
		else
		{
			if (n->left != next || next + 2 > end ||
				(n->missing != n->left && n->missing != n->left + 1))
				return GbdtFail(err, errlen, "tree %d: split %d has invalid children",
								t, (int) (i - first));
			if (n->column < 0 || n->column >= 2 * f->num_features ||
				(n->column >= f->num_features) != (n->missing == n->left))
				return GbdtFail(err, errlen, "tree %d: split %d uses column %d of %d features",
								t, (int) (i - first), (int) n->column,
								(int) f->num_features);
			if (!isfinite(n->threshold) || value[i] != 0 || !(cover[i] > 0))
				return GbdtFail(err, errlen, "tree %d: split %d is malformed",
								t, (int) (i - first));
			next += 2;
		}
	}
	if (next != end)
		return GbdtFail(err, errlen, "tree %d: children beyond the tree's nodes", t);
	if (depth != GbdtTreeDepth(f)[t] || depth > f->max_depth)
		return GbdtFail(err, errlen, "tree %d: depth %d recorded as %d",
						t, depth, (int) GbdtTreeDepth(f)[t]);
	return true;
}

/*
 * Copies tree t (depth ≤ 6) of a checked forest complete to depth 6 into
 * q (columns, leaves; codes left to the caller) and thr (each slot's
 * threshold, NaN below a leaf): src[s] is the forest's node at slot s; a
 * leaf's children are itself (its left is its index − 1, its missing its
 * index), so it is copied down to all the level-6 slots below it.
 */
static void
GbdtQuantFromTree(const GbdtForest *f, int t, GbdtQuantTree *q, float *thr)
{
	const GbdtNode *nodes = GbdtNodes(f);
	const float *value = GbdtValue(f);
	int32_t		src[128];

	src[1] = GbdtTreeFirst(f)[t];
	q->column[0] = 0;
	q->code[0] = 0;
	thr[0] = NAN;
	for (int32_t s = 1; s < 64; s++)
	{
		const int32_t i = src[s];
		const GbdtNode *n = &nodes[i];

		thr[s] = n->threshold;
		q->column[s] = (uint8_t) n->column;
		src[2 * s] = n->left + (n->missing == i);
		src[2 * s + 1] = n->left + 1;
	}
	for (int32_t s = 64; s < 128; s++)
		q->leaf[s - 64] = value[src[s]];
}

/*
 * The end of the chunk starting at tree t0: at most GBDT_CODE_CHUNK trees
 * and no feature with more than GBDT_CODE_MAX_CUTS distinct thresholds,
 * which are left in seen[f · 256 …] (count[f] of them, unsorted; found by
 * a linear search: this runs once, when the forest is built).
 */
static int
GbdtCodeChunkEnd(const GbdtForest *f, int t0, int32_t *count, float *seen)
{
	const GbdtNode *nodes = GbdtNodes(f);
	const int32_t *first = GbdtTreeFirst(f);
	const int	nf = f->num_features;
	int32_t		saved[GBDT_CODE_MAX_FEATURES];
	int			t = t0;

	memset(count, 0, sizeof(int32_t) * nf);
	for (; t < f->num_trees && t - t0 < GBDT_CODE_CHUNK; t++)
	{
		bool		full = false;

		memcpy(saved, count, sizeof(int32_t) * nf);
		for (int32_t i = first[t]; i < first[t + 1] && !full; i++)
		{
			const int	j = nodes[i].column % nf;
			float	   *mine = seen + (size_t) 256 * j;
			int			k = 0;

			if (GbdtIsLeaf(nodes, i))
				continue;
			while (k < count[j] && !(mine[k] == nodes[i].threshold))
				k++;
			if (k < count[j])
				continue;
			if (count[j] == GBDT_CODE_MAX_CUTS)
				full = true;
			else
				mine[count[j]++] = nodes[i].threshold;
		}
		if (full)
		{
			memcpy(count, saved, sizeof(int32_t) * nf);
			break;
		}
	}
	return t;					/* a tree has at most 63 splits: t > t0 */
}

/* qsort's order of floats (finite thresholds). */
static int
GbdtCompareFloats(const void *a, const void *b)
{
	const float x = *(const float *) a,
				y = *(const float *) b;

	return (x > y) - (x < y);
}

/* The place of thr among the n sorted floats at v (the first ≥ thr). */
static int
GbdtLowerBound(const float *v, int n, float thr)
{
	int			lo = 0,
				hi = n;

	while (lo < hi)
	{
		const int	mid = (lo + hi) / 2;

		if (v[mid] < thr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Codes of the chunk [t0, t1) of f whose features' distinct thresholds
 * are sorted at cuts + start[j] (count[j] of them): each feature's cut in
 * slices of 255, a byte of the row's codes for each slice and direction
 * of missing values its splits use, and each split's column and code.
 * False (nothing written to the trees) when that needs more than 64
 * bytes.
 */
static bool
GbdtCodeChunk(GbdtForest *f, int t0, int t1, const float *cuts,
			  int32_t cuts_base, const int32_t *start, const int32_t *count,
			  GbdtCodeSlice *slices, int32_t *nslices, GbdtQuantTree *q)
{
	const int	nf = f->num_features;
	const GbdtNode *nodes = GbdtNodes(f);
	const int32_t *first = GbdtTreeFirst(f);
	uint8_t		used[GBDT_CODE_MAX_FEATURES][GBDT_CODE_WIDTH];
	uint8_t		slice_of[GBDT_CODE_MAX_FEATURES][GBDT_CODE_WIDTH];
	int			ns = 0,
				pos = 0;

	for (int j = 0; j < nf; j++)
		if ((count[j] + GBDT_CODE_MAX_CUTS - 1) / GBDT_CODE_MAX_CUTS > GBDT_CODE_WIDTH)
			return false;
	memset(used, 0, sizeof(used));
	/* the directions each slice's splits use */
	for (int32_t i = first[t0]; i < first[t1]; i++)
	{
		const int	j = nodes[i].column % nf;
		int			k;

		if (GbdtIsLeaf(nodes, i))
			continue;
		k = GbdtLowerBound(cuts + start[j], count[j], nodes[i].threshold);
		used[j][k / GBDT_CODE_MAX_CUTS] |= nodes[i].column < nf ? 1 : 2;
	}
	for (int j = 0; j < nf; j++)
		for (int b = 0; b * GBDT_CODE_MAX_CUTS < count[j]; b++)
		{
			GbdtCodeSlice *sl = &slices[ns];
			const int	n = count[j] - b * GBDT_CODE_MAX_CUTS;

			if (used[j][b] == 0)
				continue;
			if (pos + (used[j][b] == 3 ? 2 : 1) > GBDT_CODE_WIDTH)
				return false;
			sl->cut_start = cuts_base + start[j] + b * GBDT_CODE_MAX_CUTS;
			sl->ncuts = (uint8_t) (n < GBDT_CODE_MAX_CUTS ? n : GBDT_CODE_MAX_CUTS);
			sl->feature = (uint8_t) j;
			sl->pos_right = (used[j][b] & 1) ? (uint8_t) pos++ : GBDT_CODE_NONE;
			sl->pos_left = (used[j][b] & 2) ? (uint8_t) pos++ : GBDT_CODE_NONE;
			slice_of[j][b] = (uint8_t) ns++;
		}
	*nslices = ns;
	/* each split's byte and code: 1 + its threshold's place in its slice */
	for (int t = t0; t < t1; t++)
	{
		float		thr[64];

		GbdtQuantFromTree(f, t, &q[t], thr);
		for (int s = 1; s < 64; s++)
		{
			const int	j = q[t].column[s] % nf;
			const bool	right = q[t].column[s] < nf;
			int			k;
			const GbdtCodeSlice *sl;

			if (isnan(thr[s]))
			{
				q[t].column[s] = 0;
				q[t].code[s] = 0;
				continue;
			}
			k = GbdtLowerBound(cuts + start[j], count[j], thr[s]);
			sl = &slices[slice_of[j][k / GBDT_CODE_MAX_CUTS]];
			q[t].column[s] = right ? sl->pos_right : sl->pos_left;
			q[t].code[s] = (uint8_t) (k % GBDT_CODE_MAX_CUTS + 1);
		}
	}
	return true;
}

/*
 * Sorts the distinct thresholds of each feature's splits in trees
 * [t0, f->num_trees) into cuts (from cuts[0]; the splits bound their
 * number), their places in start and count.
 */
static void
GbdtCodeCollect(const GbdtForest *f, int t0, float *cuts, int32_t *start,
				int32_t *count)
{
	const int	nf = f->num_features;
	const GbdtNode *nodes = GbdtNodes(f);
	const int32_t *first = GbdtTreeFirst(f);
	int32_t		at = 0;

	memset(count, 0, sizeof(int32_t) * nf);
	for (int32_t i = first[t0]; i < first[f->num_trees]; i++)
		if (!GbdtIsLeaf(nodes, i))
			count[nodes[i].column % nf]++;
	for (int j = 0; j < nf; j++)
	{
		start[j] = at;
		at += count[j];
		count[j] = 0;
	}
	for (int32_t i = first[t0]; i < first[f->num_trees]; i++)
		if (!GbdtIsLeaf(nodes, i))
		{
			const int	j = nodes[i].column % nf;

			cuts[start[j] + count[j]++] = nodes[i].threshold;
		}
	for (int j = 0; j < nf; j++)
	{
		float	   *mine = cuts + start[j];
		int			n = 0;

		qsort(mine, count[j], sizeof(float), GbdtCompareFloats);
		for (int k = 0; k < count[j]; k++)
			if (n == 0 || mine[n - 1] < mine[k])
				mine[n++] = mine[k];
		count[j] = n;
	}
}

void
GbdtForestBuildCodes(GbdtForest *f)
{
	const int	nf = f->num_features;
	GbdtCodeParts p;
	char	   *base = (char *) f + f->codes_offset;
	int32_t    *ends;
	int32_t    *nslices;
	GbdtCodeSlice *slices;
	GbdtQuantTree *q;
	float	   *cuts;
	float		seen[GBDT_CODE_MAX_FEATURES * 256];
	int32_t		count[GBDT_CODE_MAX_FEATURES];
	int32_t		start[GBDT_CODE_MAX_FEATURES];
	int32_t		ncuts = 0;
	int			c = 0;

	f->codes_chunks = 0;
	if (f->max_depth > GBDT_CODE_DEPTH || nf > GBDT_CODE_MAX_FEATURES ||
		f->num_trees == 0)
		return;
	GbdtCodePartsOf(f->num_trees, f->node_capacity, &p);
	ends = (int32_t *) (base + p.ends);
	nslices = (int32_t *) (base + p.nslices);
	slices = (GbdtCodeSlice *) (base + p.slices);
	q = (GbdtQuantTree *) (base + p.trees);
	cuts = (float *) (base + p.cuts);
	for (int t0 = 0; t0 < f->num_trees; c++)
	{
		int			t1;

		/* all the remaining trees in one chunk, when their codes fit */
		GbdtCodeCollect(f, t0, cuts + ncuts, start, count);
		if (GbdtCodeChunk(f, t0, f->num_trees, cuts + ncuts, ncuts, start, count,
						  slices + GBDT_CODE_WIDTH * c, &nslices[c], q))
		{
			ends[c++] = f->num_trees;
			break;
		}
		/* else as many as keep every feature within 255 thresholds */
		t1 = GbdtCodeChunkEnd(f, t0, count, seen);
		for (int j = 0; j < nf; j++)
		{
			float	   *mine = seen + (size_t) 256 * j;

			qsort(mine, count[j], sizeof(float), GbdtCompareFloats);
			start[j] = j == 0 ? 0 : start[j - 1] + count[j - 1];
			memcpy(cuts + ncuts + start[j], mine, sizeof(float) * count[j]);
		}
		/* 2F ≤ 64 bytes: fits */
		(void) GbdtCodeChunk(f, t0, t1, cuts + ncuts, ncuts, start, count,
							 slices + GBDT_CODE_WIDTH * c, &nslices[c], q);
		ncuts += start[nf - 1] + count[nf - 1];
		ends[c] = t1;
		t0 = t1;
	}
	f->codes_chunks = c;
}

/*
 * Checks the codes of a forest whose trees are checked: chunks in order
 * and covering the trees; each chunk's slices within the cuts, their
 * thresholds finite and strictly increasing, their bytes below 64 and
 * distinct; every tree's complete copy as GbdtQuantFromTree makes it,
 * each split reading a byte of a slice of its feature for its direction
 * of missing values with the code of its threshold in that slice (so
 * x < threshold ⇔ code(x) < code), and 0 below a leaf.
 */
static bool
GbdtCheckCodes(const GbdtForest *f, char *err, size_t errlen)
{
	const int	nf = f->num_features;
	const GbdtNode *nodes = GbdtNodes(f);
	const float *value = GbdtValue(f);
	GbdtCodeParts p;
	const int32_t *ends = GbdtCodeEnds(f);
	const int32_t *nslices = GbdtCodeNumSlices(f);
	const GbdtCodeSlice *slices = GbdtCodeSlices(f);
	const GbdtQuantTree *q = GbdtCodeTrees(f);
	const float *cuts = GbdtCodeCuts(f);
	int			t0 = 0;

	GbdtCodePartsOf(f->num_trees, f->node_capacity, &p);
	if (f->codes_chunks == 0)
		return true;
	if (f->codes_chunks < 0 || (uint64_t) f->codes_chunks > p.max_chunks ||
		f->max_depth > GBDT_CODE_DEPTH || nf > GBDT_CODE_MAX_FEATURES)
		return GbdtFail(err, errlen, "forest codes out of range");
	for (int c = 0; c < f->codes_chunks; t0 = ends[c++])
	{
		const GbdtCodeSlice *sl = slices + GBDT_CODE_WIDTH * c;
		int16_t		owner[GBDT_CODE_WIDTH];	/* 2 · slice + left, or −1 */

		if (ends[c] <= t0 || ends[c] > f->num_trees ||
			(c == f->codes_chunks - 1) != (ends[c] == f->num_trees) ||
			nslices[c] < 0 || nslices[c] > GBDT_CODE_WIDTH)
			return GbdtFail(err, errlen, "forest code chunk %d is malformed", c);
		for (int b = 0; b < GBDT_CODE_WIDTH; b++)
			owner[b] = -1;
		for (int k = 0; k < nslices[c]; k++)
		{
			const int	pr = sl[k].pos_right;
			const int	pl = sl[k].pos_left;

			if (sl[k].feature >= nf || sl[k].ncuts < 1 || sl[k].cut_start < 0 ||
				(uint64_t) sl[k].cut_start + sl[k].ncuts > (uint64_t) f->node_capacity / 2 + 1 ||
				(pr == GBDT_CODE_NONE && pl == GBDT_CODE_NONE) ||
				(pr != GBDT_CODE_NONE && (pr >= GBDT_CODE_WIDTH || owner[pr] >= 0)))
				return GbdtFail(err, errlen, "forest code chunk %d has an invalid slice", c);
			if (pr != GBDT_CODE_NONE)
				owner[pr] = (int16_t) (2 * k);
			if (pl != GBDT_CODE_NONE && (pl >= GBDT_CODE_WIDTH || owner[pl] >= 0))
				return GbdtFail(err, errlen, "forest code chunk %d has an invalid slice", c);
			if (pl != GBDT_CODE_NONE)
				owner[pl] = (int16_t) (2 * k + 1);
			for (int32_t i = sl[k].cut_start; i < sl[k].cut_start + sl[k].ncuts; i++)
				if (!isfinite(cuts[i]) || (i > sl[k].cut_start && !(cuts[i - 1] < cuts[i])))
					return GbdtFail(err, errlen, "forest code chunk %d has unsorted cuts", c);
		}
		for (int t = t0; t < ends[c]; t++)
		{
			int32_t		src[128];

			src[1] = GbdtTreeFirst(f)[t];
			for (int32_t s = 1; s < 64; s++)
			{
				const int32_t i = src[s];
				const GbdtNode *n = &nodes[i];
				const int	code = q[t].code[s];
				const int	col = q[t].column[s];

				if (col >= GBDT_CODE_WIDTH)
					return GbdtFail(err, errlen, "forest codes of tree %d are wrong", t);
				if (GbdtIsLeaf(nodes, i))
				{
					if (code != 0)
						return GbdtFail(err, errlen, "forest codes of tree %d are wrong", t);
				}
				else
				{
					const GbdtCodeSlice *o = owner[col] < 0 ? NULL : &sl[owner[col] / 2];

					if (o == NULL || o->feature != GbdtNodeFeature(f, n) ||
						(owner[col] % 2 == 1) != (n->column >= nf) ||
						code < 1 || code > o->ncuts ||
						!(cuts[o->cut_start + code - 1] == n->threshold))
						return GbdtFail(err, errlen, "forest codes of tree %d are wrong", t);
				}
				src[2 * s] = n->left + (n->missing == i);
				src[2 * s + 1] = n->left + 1;
			}
			for (int32_t s = 64; s < 128; s++)
				if (memcmp(&q[t].leaf[s - 64], &value[src[s]], sizeof(float)) != 0)
					return GbdtFail(err, errlen, "forest codes of tree %d are wrong", t);
		}
	}
	return true;
}

bool
GbdtForestCheck(const void *block, size_t len, char *err, size_t errlen)
{
	const GbdtForest *f = block;
	GbdtForest	layout;
	const int32_t *first;

	if (block == NULL || len < sizeof(GbdtForest) ||
		((uintptr_t) block & 7) != 0)
		return GbdtFail(err, errlen, "not a forest block");
	if (f->magic != GBDT_FOREST_MAGIC || f->version != GBDT_FOREST_VERSION)
		return GbdtFail(err, errlen, "not a forest block of version %d",
						GBDT_FOREST_VERSION);
	if (f->num_features < 1 || f->num_features > GBDT_MAX_FEATURES ||
		f->max_depth < 0 || f->max_depth > GBDT_MAX_DEPTH ||
		f->num_nodes < 0 || f->num_nodes > f->node_capacity ||
		!GbdtLayout(f->num_trees, f->node_capacity, &layout))
		return GbdtFail(err, errlen, "forest counts out of range");
	if (f->size != len || layout.size != len ||
		f->tree_first_offset != layout.tree_first_offset ||
		f->tree_depth_offset != layout.tree_depth_offset ||
		f->nodes_offset != layout.nodes_offset ||
		f->value_offset != layout.value_offset ||
		f->cover_offset != layout.cover_offset ||
		f->mean_offset != layout.mean_offset ||
		f->codes_offset != layout.codes_offset)
		return GbdtFail(err, errlen, "forest layout does not match its counts");
	if (!isfinite(f->base_score))
		return GbdtFail(err, errlen, "base score is not finite");
	first = GbdtTreeFirst(f);
	if (first[0] != 0 || first[f->num_trees] != f->num_nodes)
		return GbdtFail(err, errlen, "tree bounds do not cover the nodes");
	for (int t = 0; t < f->num_trees; t++)
	{
		if (first[t + 1] <= first[t] || first[t + 1] > f->num_nodes)
			return GbdtFail(err, errlen, "tree %d has invalid bounds", t);
		if (!GbdtCheckTree(f, t, first[t], first[t + 1], err, errlen))
			return false;
	}
	return GbdtCheckCodes(f, err, errlen);
}

/*
 * Adds every tree's leaf value to sum[0 .. nb) for the widened rows x
 * (stride 2 num_features, see gbdt_forest.h).  Each row takes exactly
 * tree_depth steps per tree (leaves are fixed points); the nb walks are
 * independent, so the CPU overlaps their loads.  Inlined with nb constant
 * for full blocks.
 */
static inline __attribute__((always_inline)) void
GbdtPredictBlock(const GbdtForest *f, const float *x, int nb, float *sum)
{
	const GbdtNode *nodes = GbdtNodes(f);
	const float *value = GbdtValue(f);
	const int32_t *first = GbdtTreeFirst(f);
	const int32_t *depth = GbdtTreeDepth(f);
	const int	stride = 2 * f->num_features;

	for (int t = 0; t < f->num_trees; t++)
	{
		int32_t		at[GBDT_PREDICT_BLOCK];

		for (int r = 0; r < nb; r++)
			at[r] = first[t];
		for (int s = 0; s < depth[t]; s++)
		{
			for (int r = 0; r < nb; r++)
			{
				const GbdtNode *n = &nodes[at[r]];
				float		v = x[(size_t) r * stride + n->column];

				at[r] = n->left + !(v < n->threshold);
			}
		}
		for (int r = 0; r < nb; r++)
			sum[r] += value[at[r]];
	}
}

/* Widens nb rows of nf values into out: each row, then it with NaN → −∞. */
static void
GbdtWidenRows(const float *x, int nb, int nf, float *out)
{
	for (int r = 0; r < nb; r++)
	{
		const float *in = x + (size_t) r * nf;
		float	   *row = out + (size_t) r * 2 * nf;

		for (int j = 0; j < nf; j++)
		{
			row[j] = in[j];
			row[nf + j] = isnan(in[j]) ? -INFINITY : in[j];
		}
	}
}

/* The portable evaluator: blocks of GBDT_PREDICT_BLOCK rows, tree by tree. */
static void
GbdtPredictScalar(const GbdtForest *f, const float *x, int rows, float *out,
				  float *wide)
{
	const int	nf = f->num_features;
	int			r0 = 0;

	for (; r0 + GBDT_PREDICT_BLOCK <= rows; r0 += GBDT_PREDICT_BLOCK)
	{
		float		sum[GBDT_PREDICT_BLOCK];

		for (int r = 0; r < GBDT_PREDICT_BLOCK; r++)
			sum[r] = f->base_score;
		GbdtWidenRows(x + (size_t) r0 * nf, GBDT_PREDICT_BLOCK, nf, wide);
		GbdtPredictBlock(f, wide, GBDT_PREDICT_BLOCK, sum);
		memcpy(out + r0, sum, sizeof(sum));
	}
	if (r0 < rows)
	{
		float		sum[GBDT_PREDICT_BLOCK];
		int			nb = rows - r0;

		for (int r = 0; r < nb; r++)
			sum[r] = f->base_score;
		GbdtWidenRows(x + (size_t) r0 * nf, nb, nf, wide);
		GbdtPredictBlock(f, wide, nb, sum);
		memcpy(out + r0, sum, sizeof(float) * nb);
	}
}

#ifdef GBDT_HAVE_AVX2

/*
 * The AVX2 evaluator, eight rows to a vector.  Each tree of depth at most
 * GBDT_SIMD_DEPTH is first copied into a complete tree of its depth D in
 * heap order (GbdtDenseTree): slot 1 is the root, the children of slot s
 * are 2s (left) and 2s + 1 (right), level L holds the slots [2^L, 2^(L+1)),
 * and a leaf of the forest above level D becomes splits that always go
 * right (threshold NaN) down to a leaf at level D with its value.  A walk
 * then needs no child pointer (s = 2s + 1 − [x < threshold]) and ends at
 * slot s of level D, whose value is leaf[s − 2^D]: the leaf the forest's
 * walk reaches, so the sums are the same bit for bit.
 *
 * The rows of a block are widened feature-major (column c of row r at
 * c·GBDT_SIMD_BLOCK + r), and the tables hold c·GBDT_SIMD_BLOCK, so eight
 * consecutive rows at one split read one vector.  Levels 0 to 3 compare
 * all their (at most eight) splits with plain loads and pick each row's
 * result with blends; levels 4 and 5 look up the split of each row in
 * registers (permutes, as a level's slots lie in two or four vectors) and
 * gather the rows' values; the leaves are gathered.  (Gathers are what
 * costs: comparing all sixteen splits of level 4 instead was slower, as
 * were gathers at levels 0 to 3 and permutes for the leaves.)  Trees
 * deeper than GBDT_SIMD_DEPTH take the portable walk on the same block.
 */
#include <immintrin.h>

#define GBDT_AVX2 __attribute__((target("avx2")))

/* One complete tree; thresholds and columns by slot, leaves by position. */
typedef struct GbdtDenseTree
{
	float		threshold[1 << GBDT_SIMD_DEPTH];	/* slot 0 unused */
	int32_t		column[1 << GBDT_SIMD_DEPTH];	/* times GBDT_SIMD_BLOCK */
	float		leaf[1 << GBDT_SIMD_DEPTH];
} GbdtDenseTree;

/* Trees whose complete copies are made at once (bounds the workspace). */
#ifndef GBDT_SIMD_CHUNK
#define GBDT_SIMD_CHUNK 256
#endif

/* Bytes of the AVX2 evaluator's workspace, 32-byte alignment included. */
static size_t
GbdtSimdWorkspace(const GbdtForest *f)
{
	const size_t trees = f->num_trees < GBDT_SIMD_CHUNK ?
		(size_t) f->num_trees : GBDT_SIMD_CHUNK;

	return 32 + sizeof(GbdtDenseTree) * trees +
		sizeof(float) * 2 * (size_t) f->num_features * GBDT_SIMD_BLOCK;
}

/*
 * Copies tree t (depth ≤ GBDT_SIMD_DEPTH) of a checked forest into d,
 * level by level: src[s] is the forest's node at slot s.  No branch: a
 * leaf's threshold is already NaN and its column 0, and its left is its
 * own index − 1, so left + 1 (right) and left + [leaf] (left) are the leaf
 * itself.
 */
static void
GbdtDenseFromTree(const GbdtForest *f, int t, GbdtDenseTree *d)
{
	const GbdtNode *nodes = GbdtNodes(f);
	const float *value = GbdtValue(f);
	const int	depth = GbdtTreeDepth(f)[t];
	const int32_t width = (int32_t) 1 << depth;
	int32_t		src[2 << GBDT_SIMD_DEPTH];

	src[1] = GbdtTreeFirst(f)[t];
	for (int32_t s = 1; s < width; s++)
	{
		const int32_t i = src[s];
		const GbdtNode *n = &nodes[i];

		d->threshold[s] = n->threshold;
		d->column[s] = n->column * GBDT_SIMD_BLOCK;
		src[2 * s] = n->left + (n->missing == i);
		src[2 * s + 1] = n->left + 1;
	}
	for (int32_t s = width; s < 2 * width; s++)
		d->leaf[s - width] = value[src[s]];
}

/*
 * Widens nb ≤ GBDT_SIMD_BLOCK rows of nf values feature-major into out
 * (column c of row r at c·GBDT_SIMD_BLOCK + r, c ≥ nf with NaN → −∞);
 * rows past nb are zeros, evaluated and dropped.
 */
static void
GbdtWidenColumns(const float *x, int nb, int nf, float *out)
{
	for (int j = 0; j < nf; j++)
	{
		float	   *col = out + (size_t) j * GBDT_SIMD_BLOCK;
		float	   *neg = out + (size_t) (nf + j) * GBDT_SIMD_BLOCK;

		for (int r = 0; r < nb; r++)
		{
			const float v = x[(size_t) r * nf + j];

			col[r] = v;
			neg[r] = isnan(v) ? -INFINITY : v;
		}
		for (int r = nb; r < GBDT_SIMD_BLOCK; r++)
			col[r] = neg[r] = 0;
	}
}

/* One level down: s = 2s + 1 − [lt] in each lane (lt all ones or zero). */
static inline __attribute__((always_inline)) GBDT_AVX2 __m256i
GbdtSimdDescend(__m256i s, __m256 lt)
{
	return _mm256_add_epi32(_mm256_add_epi32(s, s),
							_mm256_add_epi32(_mm256_set1_epi32(1),
											 _mm256_castps_si256(lt)));
}

/* One level down by the rows' values v and their splits' thresholds. */
static inline __attribute__((always_inline)) GBDT_AVX2 __m256i
GbdtSimdStep(__m256i s, __m256 v, __m256 threshold)
{
	return GbdtSimdDescend(s, _mm256_cmp_ps(v, threshold, _CMP_LT_OQ));
}

/* a where bit b of s is clear, c where it is set, in each lane. */
static inline __attribute__((always_inline)) GBDT_AVX2 __m256
GbdtSimdPick(__m256 a, __m256 c, __m256i s, int b)
{
	return _mm256_blendv_ps(a, c, _mm256_castsi256_ps(_mm256_slli_epi32(s, 31 - b)));
}

/* The lanes of a level-table vector v that the slots s select. */
#define GBDT_PERM(v, s)		_mm256_permutevar8x32_ps((v), (s))
#define GBDT_COLUMNS(v)		_mm256_castps_si256(v)
#define GBDT_LOAD(p)		_mm256_loadu_ps((const float *) (p))

/* [x < threshold] of split slot k for the eight rows at xg. */
#define GBDT_SPLIT(d, xg, k) \
	_mm256_cmp_ps(_mm256_loadu_ps((xg) + (d)->column[k]), \
				  _mm256_set1_ps((d)->threshold[k]), _CMP_LT_OQ)

/* [x < threshold] of split slot k or k + 1 as bit 0 of s says. */
static inline __attribute__((always_inline)) GBDT_AVX2 __m256
GbdtSimdPair(const GbdtDenseTree *d, const float *xg, int k, __m256i s)
{
	return GbdtSimdPick(GBDT_SPLIT(d, xg, k), GBDT_SPLIT(d, xg, k + 1), s, 0);
}

/* Entry s mod 16 of the sixteen lanes of lo and hi, in each lane. */
static inline __attribute__((always_inline)) GBDT_AVX2 __m256
GbdtSimdLookup16(__m256 lo, __m256 hi, __m256i s)
{
	return GbdtSimdPick(GBDT_PERM(lo, s), GBDT_PERM(hi, s), s, 3);
}

/*
 * Adds the value of dense tree d (depth D ≤ GBDT_SIMD_DEPTH) to acc for
 * the ng groups of eight rows of the block x.
 */
static inline __attribute__((always_inline)) GBDT_AVX2 void
GbdtSimdTree(const GbdtDenseTree *d, int depth, const float *x, int ng,
			 __m256 *acc)
{
	const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
	const __m256i one = _mm256_set1_epi32(1);
	__m256i		s[GBDT_SIMD_BLOCK / 8];

	for (int g = 0; g < ng; g++)
		s[g] = one;
	for (int level = 0; level < depth; level++)
	{
		switch (level)
		{
			case 0:
				for (int g = 0; g < ng; g++)
					s[g] = GbdtSimdDescend(one, GBDT_SPLIT(d, x + 8 * g, 1));
				break;
			case 1:
				for (int g = 0; g < ng; g++)
					s[g] = GbdtSimdDescend(s[g], GbdtSimdPair(d, x + 8 * g, 2, s[g]));
				break;
			case 2:
				for (int g = 0; g < ng; g++)
				{
					const float *xg = x + 8 * g;
					const __m256i q = s[g];
					const __m256 lt = GbdtSimdPick(GbdtSimdPair(d, xg, 4, q),
												   GbdtSimdPair(d, xg, 6, q), q, 1);

					s[g] = GbdtSimdDescend(q, lt);
				}
				break;
			case 3:
				for (int g = 0; g < ng; g++)
				{
					const float *xg = x + 8 * g;
					const __m256i q = s[g];
					const __m256 lo = GbdtSimdPick(GbdtSimdPair(d, xg, 8, q),
												   GbdtSimdPair(d, xg, 10, q), q, 1);
					const __m256 hi = GbdtSimdPick(GbdtSimdPair(d, xg, 12, q),
												   GbdtSimdPair(d, xg, 14, q), q, 1);

					s[g] = GbdtSimdDescend(q, GbdtSimdPick(lo, hi, q, 2));
				}
				break;
			case 4:
				{
					const __m256 t0 = GBDT_LOAD(d->threshold + 16);
					const __m256 t1 = GBDT_LOAD(d->threshold + 24);
					const __m256 c0 = GBDT_LOAD(d->column + 16);
					const __m256 c1 = GBDT_LOAD(d->column + 24);

					for (int g = 0; g < ng; g++)
					{
						const __m256i q = s[g];
						const __m256i col = GBDT_COLUMNS(GbdtSimdLookup16(c0, c1, q));
						const __m256 v = _mm256_i32gather_ps(x + 8 * g,
															 _mm256_add_epi32(col, lane), 4);

						s[g] = GbdtSimdStep(q, v, GbdtSimdLookup16(t0, t1, q));
					}
				}
				break;
			default:			/* level 5 */
				{
					__m256		t[4],
								c[4];

					for (int k = 0; k < 4; k++)
					{
						t[k] = GBDT_LOAD(d->threshold + 32 + 8 * k);
						c[k] = GBDT_LOAD(d->column + 32 + 8 * k);
					}
					for (int g = 0; g < ng; g++)
					{
						const __m256i q = s[g];
						const __m256i col = GBDT_COLUMNS(GbdtSimdPick(GbdtSimdLookup16(c[0], c[1], q),
																	  GbdtSimdLookup16(c[2], c[3], q),
																	  q, 4));
						const __m256 v = _mm256_i32gather_ps(x + 8 * g,
															 _mm256_add_epi32(col, lane), 4);

						s[g] = GbdtSimdStep(q, v, GbdtSimdPick(GbdtSimdLookup16(t[0], t[1], q),
															   GbdtSimdLookup16(t[2], t[3], q),
															   q, 4));
					}
				}
				break;
		}
	}
	{
		const __m256i width = _mm256_set1_epi32(1 << depth);

		for (int g = 0; g < ng; g++)
			acc[g] = _mm256_add_ps(acc[g],
								   _mm256_i32gather_ps(d->leaf,
													   _mm256_sub_epi32(s[g], width), 4));
	}
}

/*
 * The portable walk of tree t over the feature-major block x, for trees
 * too deep for a dense copy.
 */
static void
GbdtColumnsTree(const GbdtForest *f, int t, const float *x, int nb, float *sum)
{
	const GbdtNode *nodes = GbdtNodes(f);
	const float *value = GbdtValue(f);
	const int32_t first = GbdtTreeFirst(f)[t];
	const int32_t depth = GbdtTreeDepth(f)[t];

	for (int r = 0; r < nb; r++)
	{
		int32_t		at = first;

		for (int s = 0; s < depth; s++)
		{
			const GbdtNode *n = &nodes[at];
			const float v = x[(size_t) n->column * GBDT_SIMD_BLOCK + r];

			at = n->left + !(v < n->threshold);
		}
		sum[r] += value[at];
	}
}

/*
 * Adds trees [t0, t1) (dense copies in dense, indexed from t0) to sum for
 * the block x of ng groups of eight rows; inlined with ng constant for
 * full blocks.
 */
static inline __attribute__((always_inline)) GBDT_AVX2 void
GbdtSimdBlock(const GbdtForest *f, const GbdtDenseTree *dense, int t0, int t1,
			  const float *x, int ng, float *sum)
{
	const int32_t *depth = GbdtTreeDepth(f);
	__m256		acc[GBDT_SIMD_BLOCK / 8];

	for (int g = 0; g < ng; g++)
		acc[g] = _mm256_loadu_ps(sum + 8 * g);
	for (int t = t0; t < t1; t++)
	{
		if (depth[t] <= GBDT_SIMD_DEPTH)
			GbdtSimdTree(&dense[t - t0], depth[t], x, ng, acc);
		else
		{
			for (int g = 0; g < ng; g++)
				_mm256_storeu_ps(sum + 8 * g, acc[g]);
			GbdtColumnsTree(f, t, x, 8 * ng, sum);
			for (int g = 0; g < ng; g++)
				acc[g] = _mm256_loadu_ps(sum + 8 * g);
		}
	}
	for (int g = 0; g < ng; g++)
		_mm256_storeu_ps(sum + 8 * g, acc[g]);
}

/* The AVX2 evaluator; work holds GbdtSimdWorkspace(f) bytes. */
static GBDT_AVX2 void
GbdtPredictAvx2(const GbdtForest *f, const float *x, int rows, float *out,
				void *work)
{
	const int	nf = f->num_features;
	char	   *aligned = (char *) (((uintptr_t) work + 31) & ~(uintptr_t) 31);
	GbdtDenseTree *dense = (GbdtDenseTree *) aligned;
	float	   *wide;
	const size_t chunk = f->num_trees < GBDT_SIMD_CHUNK ?
		(size_t) f->num_trees : GBDT_SIMD_CHUNK;

	wide = (float *) (aligned + sizeof(GbdtDenseTree) * chunk);
	for (int r = 0; r < rows; r++)
		out[r] = f->base_score;
	/* trees in chunks, each over all rows: every row adds them in order */
	for (int t0 = 0; t0 < f->num_trees; t0 += GBDT_SIMD_CHUNK)
	{
		const int	t1 = f->num_trees - t0 < GBDT_SIMD_CHUNK ?
			f->num_trees : t0 + GBDT_SIMD_CHUNK;

		for (int t = t0; t < t1; t++)
			if (GbdtTreeDepth(f)[t] <= GBDT_SIMD_DEPTH)
				GbdtDenseFromTree(f, t, &dense[t - t0]);
		for (int r0 = 0; r0 < rows; r0 += GBDT_SIMD_BLOCK)
		{
			const int	nb = rows - r0 < GBDT_SIMD_BLOCK ? rows - r0 : GBDT_SIMD_BLOCK;
			float		sum[GBDT_SIMD_BLOCK];

			memcpy(sum, out + r0, sizeof(float) * nb);
			memset(sum + nb, 0, sizeof(float) * (GBDT_SIMD_BLOCK - nb));
			GbdtWidenColumns(x + (size_t) r0 * nf, nb, nf, wide);
			if (nb == GBDT_SIMD_BLOCK)
				GbdtSimdBlock(f, dense, t0, t1, wide, GBDT_SIMD_BLOCK / 8, sum);
			else
				GbdtSimdBlock(f, dense, t0, t1, wide, (nb + 7) / 8, sum);
			memcpy(out + r0, sum, sizeof(float) * nb);
		}
	}
}

/*
 * The AVX-512 evaluator (AVX-512 F, BW and VBMI) over the block's codes
 * (see "Codes" above): a widened row of codes is 2F ≤ 64 bytes, one
 * register; per row and tree, one byte permute puts each of the 63 slots'
 * column codes in place and one compare gives all of the tree's outcomes
 * as a 64-bit mask.  Sixteen rows' masks are then walked together (s =
 * 2s + 1 − bit s of the mask, six levels: every tree is complete to depth
 * 6) and the leaves taken from four registers by permutes: no gathers, no
 * blends.  The sums are the walk's, tree by tree in order.
 */
#define GBDT_AVX512 __attribute__((target("avx512f,avx512bw,avx512vbmi")))

/*
 * Quantizes nb ≤ GBDT_SIMD_BLOCK rows of x into out (64 bytes a row; bytes
 * no slice writes and rows past nb all zero): for each of the chunk's ns
 * slices (padded cuts at cuts + 256 k), the number of its thresholds ≤ x,
 * as 16·b + the count in block b of sixteen, b the number of blocks whose
 * last threshold is ≤ x (two compares, no branch; the NaN after the last
 * threshold is never ≤), at its bytes, a missing value as 255 at
 * pos_right and 0 at pos_left.
 */
static GBDT_AVX512 void
GbdtQuantRows(const float *x, int nb, int nf, const GbdtCodeSlice *slices,
			  int ns, const float *cuts, uint8_t *out)
{
	const __m512i last = _mm512_setr_epi32(15, 31, 47, 63, 79, 95, 111, 127,
										   143, 159, 175, 191, 207, 223, 239, 255);

	memset(out, 0, (size_t) 64 * GBDT_SIMD_BLOCK);
	for (int k = 0; k < ns; k++)
	{
		const float *cut = cuts + (size_t) 256 * k;
		const __m512 coarse = _mm512_i32gather_ps(last, cut, 4);
		const int	j = slices[k].feature;
		const int	pr = slices[k].pos_right;
		const int	pl = slices[k].pos_left;

		for (int r = 0; r < nb; r++)
		{
			const float v = x[(size_t) r * nf + j];
			const __m512 vv = _mm512_set1_ps(v);
			const int	b = __builtin_popcount(_mm512_cmp_ps_mask(coarse, vv, _CMP_LE_OQ));
			const int	i = 16 * b +
				__builtin_popcount(_mm512_cmp_ps_mask(_mm512_loadu_ps(cut + 16 * b), vv,
													  _CMP_LE_OQ));

			if (pr != GBDT_CODE_NONE)
				out[(size_t) 64 * r + pr] = isnan(v) ? 255 : (uint8_t) i;
			if (pl != GBDT_CODE_NONE)
				out[(size_t) 64 * r + pl] = (uint8_t) i;	/* NaN: 0, as −∞ */
		}
	}
}

/*
 * Adds the chunk's trees q[0 … ntrees) to sum for the quantized block xq
 * of ng groups of sixteen rows; masks: GBDT_SIMD_BLOCK words of scratch.
 */
static inline __attribute__((always_inline)) GBDT_AVX512 void
GbdtQuantBlock(const GbdtQuantTree *q, int ntrees, const uint8_t *xq, int ng,
			   uint64_t *masks, float *sum)
{
	const __m512i one = _mm512_set1_epi32(1);
	const __m512i width = _mm512_set1_epi32(64);
	const __m512i bit5 = _mm512_set1_epi32(32);
	const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14,
										   16, 18, 20, 22, 24, 26, 28, 30);
	const __m512i odd = _mm512_add_epi32(even, one);
	__m512		acc[GBDT_SIMD_BLOCK / 16];

	for (int g = 0; g < ng; g++)
		acc[g] = _mm512_loadu_ps(sum + 16 * g);
	for (int t = 0; t < ntrees; t++)
	{
		const __m512i column = _mm512_loadu_si512(q[t].column);
		const __m512i code = _mm512_loadu_si512(q[t].code);
		const __m512 l0 = _mm512_loadu_ps(q[t].leaf);
		const __m512 l1 = _mm512_loadu_ps(q[t].leaf + 16);
		const __m512 l2 = _mm512_loadu_ps(q[t].leaf + 32);
		const __m512 l3 = _mm512_loadu_ps(q[t].leaf + 48);

		/* every split of the tree for each row: bit s = [q < code] */
		for (int r = 0; r < 16 * ng; r++)
			masks[r] = _mm512_cmplt_epu8_mask(_mm512_permutexvar_epi8(column,
																	  _mm512_loadu_si512(xq + 64 * r)),
											  code);
		for (int g = 0; g < ng; g++)
		{
			const __m512i a = _mm512_loadu_si512(masks + 16 * g);
			const __m512i b = _mm512_loadu_si512(masks + 16 * g + 8);
			const __m512i lo = _mm512_permutex2var_epi32(a, even, b);	/* slots 0-31 */
			const __m512i hi = _mm512_permutex2var_epi32(a, odd, b);	/* 32-63 */
			__m512i		s = one;
			__m512i		i;
			__m512		v;

			for (int level = 0; level < GBDT_SIMD_DEPTH; level++)
			{
				/* s = (2s | 1) ^ (bit s mod 32 of the mask's half) */
				const __m512i bit = _mm512_rorv_epi32(level < 5 ? lo : hi, s);

				s = _mm512_ternarylogic_epi32(_mm512_add_epi32(s, s), bit, one, 0x72);
			}
			i = _mm512_sub_epi32(s, width);
			v = _mm512_mask_blend_ps(_mm512_test_epi32_mask(i, bit5),
									 _mm512_permutex2var_ps(l0, i, l1),
									 _mm512_permutex2var_ps(l2, i, l3));
			acc[g] = _mm512_add_ps(acc[g], v);
		}
	}
	for (int g = 0; g < ng; g++)
		_mm512_storeu_ps(sum + 16 * g, acc[g]);
}

/*
 * The AVX-512 evaluator; work: GbdtQuantWorkspace(f) bytes, any alignment
 * (the features' padded cuts of a chunk, a block's codes and masks).
 */
static GBDT_AVX512 void
GbdtPredictAvx512(const GbdtForest *f, const float *x, int rows, float *out,
				  void *work)
{
	const int	nf = f->num_features;
	const int32_t *ends = GbdtCodeEnds(f);
	const int32_t *nslices = GbdtCodeNumSlices(f);
	const GbdtCodeSlice *slices = GbdtCodeSlices(f);
	const GbdtQuantTree *q = GbdtCodeTrees(f);
	const float *values = GbdtCodeCuts(f);
	char	   *base = (char *) (((uintptr_t) work + 63) & ~(uintptr_t) 63);
	uint8_t    *xq = (uint8_t *) base;
	uint64_t   *masks = (uint64_t *) (xq + 64 * GBDT_SIMD_BLOCK);
	float	   *cuts = (float *) (masks + GBDT_SIMD_BLOCK);

	for (int r = 0; r < rows; r++)
		out[r] = f->base_score;
	for (int c = 0, t0 = 0; c < f->codes_chunks; t0 = ends[c++])
	{
		const int	t1 = ends[c];
		const GbdtCodeSlice *sl = slices + GBDT_CODE_WIDTH * c;

		/* the chunk's slices' cuts, each padded to 256 with NaN */
		for (int k = 0; k < nslices[c]; k++)
		{
			const int	n = sl[k].ncuts;

			memcpy(cuts + 256 * k, values + sl[k].cut_start, sizeof(float) * n);
			for (int i = n; i < 256; i++)
				cuts[256 * k + i] = NAN;
		}
		for (int r0 = 0; r0 < rows; r0 += GBDT_SIMD_BLOCK)
		{
			const int	nb = rows - r0 < GBDT_SIMD_BLOCK ? rows - r0 : GBDT_SIMD_BLOCK;
			float		sum[GBDT_SIMD_BLOCK];

			memcpy(sum, out + r0, sizeof(float) * nb);
			memset(sum + nb, 0, sizeof(float) * (GBDT_SIMD_BLOCK - nb));
			GbdtQuantRows(x + (size_t) r0 * nf, nb, nf, sl, nslices[c], cuts, xq);
			if (nb == GBDT_SIMD_BLOCK)
				GbdtQuantBlock(q + t0, t1 - t0, xq, GBDT_SIMD_BLOCK / 16, masks, sum);
			else
				GbdtQuantBlock(q + t0, t1 - t0, xq, (nb + 15) / 16, masks, sum);
			memcpy(out + r0, sum, sizeof(float) * nb);
		}
	}
}

/* Whether this CPU runs the AVX-512 evaluator (asked once). */
static bool
GbdtCpuHasAvx512(void)
{
	static int	known = -1;

	if (known < 0)
		known = __builtin_cpu_supports("avx512f") &&
			__builtin_cpu_supports("avx512bw") &&
			__builtin_cpu_supports("avx512vbmi") ? 1 : 0;
	return known == 1;
}

/* Whether this CPU runs the AVX2 evaluator (asked once). */
static bool
GbdtCpuHasAvx2(void)
{
	static int	known = -1;

	if (known < 0)
		known = __builtin_cpu_supports("avx2") ? 1 : 0;
	return known == 1;
}

/* Bytes of the AVX-512 evaluator's workspace for f (64-byte alignment included). */
static size_t
GbdtQuantWorkspace(const GbdtForest *f)
{
	const int32_t *nslices = GbdtCodeNumSlices(f);
	size_t		most = 0;

	for (int c = 0; c < f->codes_chunks; c++)
		if ((size_t) nslices[c] > most)
			most = (size_t) nslices[c];
	return 64 + sizeof(float) * 256 * most +
		(64 + sizeof(uint64_t)) * GBDT_SIMD_BLOCK;
}

/*
 * Whether GbdtForestPredict takes the AVX-512 evaluator: codes, the CPU,
 * and enough trees to pay for quantizing the rows once per slice of each
 * chunk (about two trees' worth per slice, docs/benchmarks.md).
 */
static bool
GbdtUseAvx512(const GbdtForest *f)
{
	const int32_t *nslices = GbdtCodeNumSlices(f);
	int64_t		total = 0;

	if (f->codes_chunks <= 0 || !GbdtCpuHasAvx512())
		return false;
	for (int c = 0; c < f->codes_chunks; c++)
		total += nslices[c];
	return f->num_trees >= 2 * total;
}
#endif							/* GBDT_HAVE_AVX2 */

size_t
GbdtPredictWorkspace(const GbdtForest *f)
{
	size_t		size = sizeof(float) * GBDT_PREDICT_BLOCK * 2 * (size_t) f->num_features;

#ifdef GBDT_HAVE_AVX2
	if (GbdtSimdWorkspace(f) > size)
		size = GbdtSimdWorkspace(f);
	if (f->codes_chunks > 0 && GbdtQuantWorkspace(f) > size)
		size = GbdtQuantWorkspace(f);
#endif
	return size;
}

bool
GbdtPredictPathAvailable(GbdtPredictPath path)
{
	switch (path)
	{
		case GBDT_PREDICT_AUTO:
		case GBDT_PREDICT_SCALAR:
			return true;
		case GBDT_PREDICT_AVX2:
#ifdef GBDT_HAVE_AVX2
			return GbdtCpuHasAvx2();
#else
			return false;
#endif
		case GBDT_PREDICT_AVX512:
#ifdef GBDT_HAVE_AVX2
			return GbdtCpuHasAvx512();
#else
			return false;
#endif

	}
	return false;
}

void
GbdtForestPredictWith(const GbdtForest *f, const float *x, int rows,
					  float *out, void *work, GbdtPredictPath path)
{
#ifdef GBDT_HAVE_AVX2
	if (path == GBDT_PREDICT_AUTO && GbdtUseAvx512(f))
		path = GBDT_PREDICT_AVX512;
	if (path == GBDT_PREDICT_AVX512)
	{
		if (f->codes_chunks > 0 && GbdtCpuHasAvx512())
		{
			GbdtPredictAvx512(f, x, rows, out, work);
			return;
		}
		path = GBDT_PREDICT_AVX2;	/* no codes or no AVX-512 */
	}
	if (path == GBDT_PREDICT_AUTO && rows >= GBDT_SIMD_MIN_ROWS)
		path = GBDT_PREDICT_AVX2;
	if (path == GBDT_PREDICT_AVX2 && GbdtCpuHasAvx2())
	{
		GbdtPredictAvx2(f, x, rows, out, work);
		return;
	}
#else
	(void) path;
#endif
	GbdtPredictScalar(f, x, rows, out, work);
}

void
GbdtForestPredict(const GbdtForest *f, const float *x, int rows, float *out,
				  void *work)
{
	GbdtForestPredictWith(f, x, rows, out, work, GBDT_PREDICT_AUTO);
}

/*
 * TreeSHAP.  The path from the root to the current node keeps, per
 * distinct feature split on, the fraction of training cover that flows
 * along the path when the feature is unknown (zero_fraction) and whether x
 * flows along it when the feature is known (one_fraction, 0 or 1), plus
 * the weight of the subsets of each size (Shapley weights, extended one
 * feature at a time).
 */
typedef struct ShapPathElement
{
	int32_t		feature;
	float		zero_fraction;
	float		one_fraction;
	float		weight;
} ShapPathElement;

/* What the recursion over one tree reads. */
typedef struct ShapTree
{
	int32_t		num_features;
	const GbdtNode *nodes;
	const float *value;
	const float *cover;
	const float *x;
	float	   *phi;
} ShapTree;

/* Appends a feature at position depth of the path and updates the weights. */
static void
ShapExtend(ShapPathElement *path, int depth, float zero_fraction,
		   float one_fraction, int32_t feature)
{
	path[depth].feature = feature;
	path[depth].zero_fraction = zero_fraction;
	path[depth].one_fraction = one_fraction;
	path[depth].weight = depth == 0 ? 1.0f : 0.0f;
	for (int i = depth - 1; i >= 0; i--)
	{
		path[i + 1].weight += one_fraction * path[i].weight * (float) (i + 1) /
			(float) (depth + 1);
		path[i].weight = zero_fraction * path[i].weight * (float) (depth - i) /
			(float) (depth + 1);
	}
}

/* Removes the element at index from a path of length depth + 1. */
static void
ShapUnwind(ShapPathElement *path, int depth, int index)
{
	const float one_fraction = path[index].one_fraction;
	const float zero_fraction = path[index].zero_fraction;
	float		next_one = path[depth].weight;

	for (int i = depth - 1; i >= 0; i--)
	{
		if (one_fraction != 0)
		{
			const float saved = path[i].weight;

			path[i].weight = next_one * (float) (depth + 1) /
				((float) (i + 1) * one_fraction);
			next_one = saved - path[i].weight * zero_fraction *
				(float) (depth - i) / (float) (depth + 1);
		}
		else
			path[i].weight = (path[i].weight * (float) (depth + 1)) /
				(zero_fraction * (float) (depth - i));
	}
	for (int i = index; i < depth; i++)
	{
		path[i].feature = path[i + 1].feature;
		path[i].zero_fraction = path[i + 1].zero_fraction;
		path[i].one_fraction = path[i + 1].one_fraction;
	}
}

/* The total weight the path would have without the element at index. */
static float
ShapUnwoundSum(const ShapPathElement *path, int depth, int index)
{
	const float one_fraction = path[index].one_fraction;
	const float zero_fraction = path[index].zero_fraction;
	float		next_one = path[depth].weight;
	float		total = 0;

	for (int i = depth - 1; i >= 0; i--)
	{
		if (one_fraction != 0)
		{
			const float w = next_one * (float) (depth + 1) /
				((float) (i + 1) * one_fraction);

			total += w;
			next_one = path[i].weight - w * zero_fraction *
				((float) (depth - i) / (float) (depth + 1));
		}
		else if (zero_fraction != 0)
			total += (path[i].weight / zero_fraction) /
				((float) (depth - i) / (float) (depth + 1));
		/* else both fractions are 0 and so is the weight */
	}
	return total;
}

/*
 * Visits node at path length depth + 1: the parent's path (depth elements
 * at parent_path) extended by the split that led here; adds to phi at the
 * leaves.  The path of this node is stored after the parent's, so a tree
 * of depth D needs ShapPathElements(D) elements.
 */
static void
ShapRecurse(const ShapTree *tree, int32_t node, int depth,
			ShapPathElement *parent_path, float zero_fraction,
			float one_fraction, int32_t feature)
{
	const GbdtNode *n = &tree->nodes[node];
	ShapPathElement *path = parent_path + depth + 1;

	memcpy(path, parent_path, sizeof(ShapPathElement) * depth);
	ShapExtend(path, depth, zero_fraction, one_fraction, feature);

	if (GbdtIsLeaf(tree->nodes, node))
	{
		for (int i = 1; i <= depth; i++)
		{
			const float w = ShapUnwoundSum(path, depth, i);

			tree->phi[path[i].feature] += w * (path[i].one_fraction -
											   path[i].zero_fraction) *
				tree->value[node];
		}
	}
	else
	{
		const int32_t feature = n->column < tree->num_features ?
			n->column : n->column - tree->num_features;
		const float v = tree->x[feature];
		const int32_t hot = isnan(v) ? n->missing : n->left + !(v < n->threshold);
		const int32_t cold = hot == n->left ? n->left + 1 : n->left;
		const float w = tree->cover[node];
		const float hot_zero = tree->cover[hot] / w;
		const float cold_zero = tree->cover[cold] / w;
		float		incoming_zero = 1;
		float		incoming_one = 1;
		int			k;

		/* a feature split on before is taken out and put back here */
		for (k = 0; k <= depth; k++)
			if (path[k].feature == feature)
				break;
		if (k <= depth)
		{
			incoming_zero = path[k].zero_fraction;
			incoming_one = path[k].one_fraction;
			ShapUnwind(path, depth, k);
			depth--;
		}
		ShapRecurse(tree, hot, depth + 1, path, hot_zero * incoming_zero,
					incoming_one, feature);
		ShapRecurse(tree, cold, depth + 1, path, cold_zero * incoming_zero,
					0, feature);
	}
}

/* Path elements for trees of depth d: paths of 1 … d + 2 elements. */
static size_t
ShapPathElements(int max_depth)
{
	return (size_t) (max_depth + 2) * (max_depth + 3) / 2;
}

size_t
GbdtContributionsWorkspace(const GbdtForest *f)
{
	return GBDT_ALIGN(sizeof(float) * ((size_t) f->num_features + 1)) +
		sizeof(ShapPathElement) * ShapPathElements(f->max_depth);
}

void
GbdtForestContributions(const GbdtForest *f, const float *x, float *contribs,
						void *work)
{
	const int	nf = f->num_features;
	const int32_t *first = GbdtTreeFirst(f);
	const float *mean = GbdtMean(f);
	float	   *tree_phi = work;
	ShapPathElement *path = (ShapPathElement *)
		((char *) work + GBDT_ALIGN(sizeof(float) * ((size_t) nf + 1)));
	ShapTree	tree;

	tree.num_features = nf;
	tree.nodes = GbdtNodes(f);
	tree.value = GbdtValue(f);
	tree.cover = GbdtCover(f);
	tree.x = x;
	tree.phi = tree_phi;

	memset(contribs, 0, sizeof(float) * (nf + 1));
	for (int t = 0; t < f->num_trees; t++)
	{
		/* per tree, then added up: the order XGBoost rounds in */
		memset(tree_phi, 0, sizeof(float) * (nf + 1));
		tree_phi[nf] += mean[first[t]];
		ShapRecurse(&tree, first[t], 0, path, 1, 1, -1);
		for (int j = 0; j <= nf; j++)
			contribs[j] += tree_phi[j];
	}
	contribs[nf] += f->base_score;
}
