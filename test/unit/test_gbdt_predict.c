/*
 * test_gbdt_predict.c
 *	  Unit tests of the forest's evaluators (src/core/gbdt_forest.c): the
 *	  portable walk, the AVX2 evaluator (when this CPU has it) and the
 *	  choice between them, each against a plain walk of the trees, bit for
 *	  bit, on random forests built block by block: single-leaf trees,
 *	  depth 1, depths up to 9 (past the AVX2 evaluator's complete copies),
 *	  missing values sent either way, rows with NaN and ±∞ and values on
 *	  the thresholds, row counts on both sides of the block sizes, more
 *	  trees than are copied at once.
 */
#include "core/gbdt_forest.h"
#include "unit.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A small deterministic generator (splitmix64). */
static uint64_t predict_rng = 0x2545F4914F6CDD1DULL;

static double
Uniform(void)
{
	uint64_t	z = (predict_rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return (double) (z >> 11) / 9007199254740992.0;
}

/* The thresholds random rows pick from, so some values sit on a cut. */
static const float cuts[] = {0.125f, 0.25f, 0.5f, 0.625f, 0.75f, 1.0f, -2.0f};
#define NCUTS ((int) (sizeof(cuts) / sizeof(cuts[0])))

/*
 * A random checked forest of num_trees trees over nf features, depths up
 * to max_depth (tree t is a single leaf when t % 7 == 3 and of depth 1
 * when t % 7 == 5), laid out as gbdt_forest.h describes; malloc'd.
 */
static GbdtForest *
RandomForest(int num_trees, int nf, int max_depth, double split_p)
{
	const int	cap_per_tree = (2 << max_depth) - 1;
	const int	capacity = num_trees * cap_per_tree;
	size_t		size = GbdtForestSize(num_trees, capacity);
	GbdtForest *f = NULL;
	GbdtNode   *nodes;
	float	   *value,
			   *cover,
			   *mean;
	int32_t    *first,
			   *depth;
	int		   *level = malloc(sizeof(int) * cap_per_tree);
	char		err[GBDT_ERROR_LEN];

	if (size == 0 || posix_memalign((void **) &f, 16, size) != 0)
		return NULL;
	GbdtForestInit(f, size, nf, num_trees, capacity, (float) (Uniform() - 0.5));
	nodes = (GbdtNode *) GbdtNodes(f);
	value = (float *) GbdtValue(f);
	cover = (float *) GbdtCover(f);
	mean = (float *) GbdtMean(f);
	first = (int32_t *) GbdtTreeFirst(f);
	depth = (int32_t *) GbdtTreeDepth(f);
	for (int t = 0; t < num_trees; t++)
	{
		const int	base = f->num_nodes;
		const int	tree_depth = t % 7 == 3 ? 0 : t % 7 == 5 ? 1 : max_depth;
		int			count = 1;
		int			deepest = 0;

		level[0] = 0;
		for (int pos = 0; pos < count; pos++)
		{
			const int32_t i = base + pos;
			GbdtNode   *n = &nodes[i];
			bool		split = level[pos] < tree_depth &&
				(pos == 0 || Uniform() < split_p);

			if (level[pos] > deepest)
				deepest = level[pos];
			cover[i] = 1;
			mean[i] = 0;
			if (!split)
			{
				n->threshold = NAN;
				n->column = 0;
				n->left = i - 1;
				n->missing = i;
				/* magnitudes far apart, so the order of the sum shows */
				value[i] = (float) ((Uniform() - 0.5) * pow(10, (int) (Uniform() * 8) - 4));
			}
			else
			{
				const int	feature = (int) (Uniform() * nf);
				const bool	missing_left = Uniform() < 0.5;

				n->threshold = Uniform() < 0.3 ? cuts[(int) (Uniform() * NCUTS)] :
					(float) Uniform();
				n->column = feature + (missing_left ? nf : 0);
				n->left = base + count;
				n->missing = missing_left ? n->left : n->left + 1;
				value[i] = 0;
				level[count] = level[count + 1] = level[pos] + 1;
				count += 2;
			}
		}
		first[t] = base;
		first[t + 1] = base + count;
		depth[t] = deepest;
		if (deepest > f->max_depth)
			f->max_depth = deepest;
		f->num_nodes = base + count;
	}
	free(level);
	/* the block as used: node arrays of num_nodes entries */
	{
		GbdtForest *g = NULL;
		size_t		used = GbdtForestSize(num_trees, f->num_nodes);

		if (posix_memalign((void **) &g, 16, used) != 0)
			return NULL;
		GbdtForestInit(g, used, nf, num_trees, f->num_nodes, f->base_score);
		g->num_nodes = f->num_nodes;
		g->max_depth = f->max_depth;
		memcpy((char *) g + g->tree_first_offset, GbdtTreeFirst(f), sizeof(int32_t) * (num_trees + 1));
		memcpy((char *) g + g->tree_depth_offset, GbdtTreeDepth(f), sizeof(int32_t) * num_trees);
		memcpy((char *) g + g->nodes_offset, GbdtNodes(f), sizeof(GbdtNode) * f->num_nodes);
		memcpy((char *) g + g->value_offset, GbdtValue(f), sizeof(float) * f->num_nodes);
		memcpy((char *) g + g->cover_offset, GbdtCover(f), sizeof(float) * f->num_nodes);
		memcpy((char *) g + g->mean_offset, GbdtMean(f), sizeof(float) * f->num_nodes);
		free(f);
		f = g;
	}
	if (!GbdtForestCheck(f, f->size, err, sizeof(err)))
	{
		UnitFail(__FILE__, __LINE__, "random forest rejected: %s", err);
		free(f);
		return NULL;
	}
	GbdtForestBuildCodes(f);	/* as the builder does */
	if (!GbdtForestCheck(f, f->size, err, sizeof(err)))
	{
		UnitFail(__FILE__, __LINE__, "random forest rejected: %s", err);
		free(f);
		return NULL;
	}
	return f;
}

/* The margin of row x by a plain walk: XGBoost's rules, sum in tree order. */
static float
ReferenceMargin(const GbdtForest *f, const float *x)
{
	const GbdtNode *nodes = GbdtNodes(f);
	float		m = f->base_score;

	for (int t = 0; t < f->num_trees; t++)
	{
		int32_t		i = GbdtTreeFirst(f)[t];

		while (!GbdtIsLeaf(nodes, i))
		{
			const float v = x[GbdtNodeFeature(f, &nodes[i])];

			if (isnan(v))
				i = nodes[i].missing;
			else
				i = v < nodes[i].threshold ? nodes[i].left : nodes[i].left + 1;
		}
		m += GbdtValue(f)[i];
	}
	return m;
}

/* Random rows: values in [0, 1), a share on the cuts, NaN and ±∞. */
static float *
RandomRows(int rows, int nf)
{
	float	   *x = malloc(sizeof(float) * (size_t) rows * nf + 1);

	for (int i = 0; i < rows * nf; i++)
	{
		double		u = Uniform();

		x[i] = u < 0.2 ? NAN : u < 0.3 ? cuts[(int) (Uniform() * NCUTS)] :
			u < 0.32 ? INFINITY : u < 0.34 ? -INFINITY : (float) Uniform();
	}
	return x;
}

/*
 * Margins of f for the first `rows` rows of x by path, against the
 * reference, bit for bit; the workspace is exactly as large as asked for
 * (AddressSanitizer sees an overrun) and only 4-byte aligned.  Returns
 * the rows that differ.
 */
static int
Mismatches(const GbdtForest *f, const float *x, int rows, GbdtPredictPath path)
{
	const size_t ws = GbdtPredictWorkspace(f);
	char	   *raw = malloc(ws + 4);
	float	   *out = malloc(sizeof(float) * (rows + 1));
	int			bad = 0;

	out[rows] = 12345.0f;
	GbdtForestPredictWith(f, x, rows, out, raw + 4, path);
	for (int r = 0; r < rows; r++)
	{
		const float want = ReferenceMargin(f, x + (size_t) r * f->num_features);

		if (memcmp(&out[r], &want, sizeof(float)) != 0)
		{
			if (bad++ < 3)
				UnitFail(__FILE__, __LINE__, "path %d, %d trees, %d rows: row %d margin %.9g, walk %.9g",
						 (int) path, f->num_trees, rows, r, out[r], want);
		}
	}
	CHECK(out[rows] == 12345.0f);	/* nothing written past the rows */
	free(out);
	free(raw);
	return bad;
}

/* Every path against the plain walk on forests of many shapes. */
UNIT_TEST(gbdt_predict_paths_match_walk)
{
	static const struct
	{
		int			trees;
		int			features;
		int			depth;
		double		split_p;
	}			shapes[] = {
		{1, 1, 0, 0},			/* one leaf */
		{1, 3, 1, 1},			/* one split */
		{5, 4, 2, 0.9},
		{40, 30, 6, 0.95},		/* nearly complete trees of depth 6 */
		{40, 30, 6, 0.6},		/* sparse ones */
		{30, 7, 3, 0.8},
		{20, 12, 7, 0.7},		/* deeper than the complete copies */
		{25, 5, 9, 0.55},
		{300, 10, 4, 0.8},		/* more trees than are copied at once */
		{600, 3, 6, 0.97},		/* features with > 255 distinct thresholds */
		{20, 40, 5, 0.9},		/* more than 32 features: no AVX-512 */
	};
	static const int row_counts[] = {1, 7, 8, 9, 31, 39, 40, 41, 127, 128, 129, 300, 517};
	const bool	avx2 = GbdtPredictPathAvailable(GBDT_PREDICT_AVX2);
	const bool	avx512 = __builtin_cpu_supports("avx512f") &&
		__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi");
	int			compared = 0;

	CHECK(GbdtPredictPathAvailable(GBDT_PREDICT_SCALAR));
	CHECK(GbdtPredictPathAvailable(GBDT_PREDICT_AUTO));
	for (size_t c = 0; c < sizeof(shapes) / sizeof(shapes[0]); c++)
	{
		GbdtForest *f = RandomForest(shapes[c].trees, shapes[c].features,
									 shapes[c].depth, shapes[c].split_p);
		float	   *x;

		CHECK(f != NULL);
		if (f == NULL)
			continue;
		CHECK(f->max_depth == shapes[c].depth);
		x = RandomRows(517, f->num_features);
		for (size_t k = 0; k < sizeof(row_counts) / sizeof(row_counts[0]); k++)
		{
			const int	rows = row_counts[k];

			CHECK(Mismatches(f, x, rows, GBDT_PREDICT_SCALAR) == 0);
			CHECK(Mismatches(f, x, rows, GBDT_PREDICT_AUTO) == 0);
			/* AVX2 asked for on a CPU without: the portable walk */
			CHECK(Mismatches(f, x, rows, GBDT_PREDICT_AVX2) == 0);
			/* over the codes (without AVX-512 or codes: AVX2, or the walk) */
			CHECK(Mismatches(f, x, rows, GBDT_PREDICT_AVX512) == 0);
			compared += 4 * rows;
		}
		/* GbdtForestPredict itself, and no rows at all */
		{
			float	   *out = malloc(sizeof(float) * 300);
			void	   *work = malloc(GbdtPredictWorkspace(f));

			GbdtForestPredict(f, x, 300, out, work);
			for (int r = 0; r < 300; r++)
			{
				const float want = ReferenceMargin(f, x + (size_t) r * f->num_features);

				CHECK(memcmp(&out[r], &want, sizeof(float)) == 0);
			}
			out[0] = 7;
			GbdtForestPredict(f, x, 0, out, work);
			CHECK(out[0] == 7);
			free(work);
			free(out);
		}
		free(x);
		free(f);
	}
	printf("  %d margins compared per path against the plain walk (AVX2 %s, AVX-512 %s)\n",
		   compared / 4, avx2 ? "on this CPU" : "not on this CPU: portable walk",
		   avx512 ? "on this CPU" : "not on this CPU: AVX2 or the walk");
}

/*
 * Rows that differ from each other in one feature only, on both sides of
 * and on a threshold: the AVX2 evaluator's lanes do not mix rows up.
 */
UNIT_TEST(gbdt_predict_lanes_independent)
{
	GbdtForest *f = RandomForest(12, 6, 6, 0.9);
	const int	rows = 200;
	float	   *x;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	x = malloc(sizeof(float) * rows * 6);
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < 6; j++)
			x[r * 6 + j] = j == r % 6 ? (r % 5 == 0 ? NAN : cuts[r % NCUTS] + (float) ((r / 6) % 3 - 1) * 1e-7f) :
				0.5f;
	CHECK(Mismatches(f, x, rows, GBDT_PREDICT_AVX2) == 0);
	CHECK(Mismatches(f, x, rows, GBDT_PREDICT_AVX512) == 0);
	CHECK(Mismatches(f, x, rows, GBDT_PREDICT_SCALAR) == 0);
	free(x);
	free(f);
}

/*
 * Every byte of a small forest's codes changed in turn: the check rejects
 * the block, or the AVX-512 evaluator still gives the walk's margins (a
 * byte it never reads); some are rejected.
 */
UNIT_TEST(gbdt_predict_codes_checked)
{
	/* 4 features; then one feature with ~ 550 thresholds: slices of 255 */
	GbdtForest *forests[2] = {RandomForest(12, 4, 6, 0.8), RandomForest(12, 1, 6, 0.97)};

	for (int which = 0; which < 2; which++)
	{
		GbdtForest *f = forests[which];
		GbdtForest *copy;
		char		err[GBDT_ERROR_LEN];
		float	   *x;
		int			rejected = 0,
					harmless = 0,
					wrong = 0;

		CHECK(f != NULL);
		if (f == NULL)
			continue;
		CHECK(f->codes_chunks == 1);
		x = RandomRows(40, f->num_features);
		copy = malloc(f->size);
		for (uint64_t b = f->codes_offset; b < f->size; b++)
		{
			memcpy(copy, f, f->size);
			((unsigned char *) copy)[b] ^= (b & 1) ? 0x01 : 0x80;
			if (!GbdtForestCheck(copy, copy->size, err, sizeof(err)))
				rejected++;
			else if (Mismatches(copy, x, 40, GBDT_PREDICT_AVX512) == 0)
				harmless++;
			else
				wrong++;
		}
		CHECK(wrong == 0);
		CHECK(rejected > 12 * 63);	/* at least every split's code and column */
		printf("  codes region of %d bytes: %d changes rejected, %d harmless\n",
			   (int) (f->size - f->codes_offset), rejected, harmless);
		free(copy);
		free(x);
		free(f);
	}
}

/* qsort's order of floats. */
static int
CompareFloats(const void *a, const void *b)
{
	const float x = *(const float *) a,
				y = *(const float *) b;

	return (x > y) - (x < y);
}

/*
 * Features with more than 255 and more than 510 distinct thresholds in
 * one chunk (slices of 255, each with its bytes): rows on every
 * threshold, just below and above it, NaN and ±∞, row counts not a
 * multiple of 16; all the walk's margins.
 */
UNIT_TEST(gbdt_predict_codes_slices)
{
	GbdtForest *f = RandomForest(80, 4, 6, 0.97);	/* ~ 800 splits a feature */
	const GbdtNode *nodes;
	const int	rows = 10000;
	float	   *x;
	int			splits = 0;

	CHECK(f != NULL);
	if (f == NULL)
		return;
	CHECK(f->codes_chunks == 1);
	nodes = GbdtNodes(f);
	x = RandomRows(rows, 4);
	for (int32_t i = 0, r = 0; i < f->num_nodes; i++)
	{
		if (GbdtIsLeaf(nodes, i))
			continue;
		splits++;
		for (int d = -1; d <= 1 && r < rows; d++, r++)
			x[r * 4 + GbdtNodeFeature(f, &nodes[i])] =
				d == 0 ? nodes[i].threshold :
				nextafterf(nodes[i].threshold, d < 0 ? -INFINITY : INFINITY);
	}
	CHECK(3 * splits <= rows);
	{
		/* distinct thresholds per feature: all > 255, some > 510 */
		float	   *thr = malloc(sizeof(float) * splits);
		int			most = 0,
					least = splits;

		for (int j = 0; j < 4; j++)
		{
			int			n = 0,
						distinct = 0;

			for (int32_t i = 0; i < f->num_nodes; i++)
				if (!GbdtIsLeaf(nodes, i) && GbdtNodeFeature(f, &nodes[i]) == j)
					thr[n++] = nodes[i].threshold;
			qsort(thr, n, sizeof(float), CompareFloats);
			for (int k = 0; k < n; k++)
				distinct += k == 0 || thr[k - 1] < thr[k];
			most = distinct > most ? distinct : most;
			least = distinct < least ? distinct : least;
		}
		CHECK(least > 255 && most > 510);
		free(thr);
	}
	for (int n = 1; n <= rows; n = n * 3 + 1)
	{
		CHECK(Mismatches(f, x, n, GBDT_PREDICT_AVX512) == 0);
		CHECK(Mismatches(f, x, n, GBDT_PREDICT_AUTO) == 0);
	}
	CHECK(Mismatches(f, x, rows, GBDT_PREDICT_AVX512) == 0);
	free(x);
	free(f);
}

/*
 * The codes of the AVX-512 evaluator: a forest whose features have more
 * than 255 distinct thresholds is cut into chunks and its margins are
 * still the walk's, with codes and without (cleared: AVX2's); deeper
 * forests and more than 32 features get none; and the check rejects
 * codes that are off by one, a leaf that is not copied down, and chunks
 * that do not cover the trees.
 */
UNIT_TEST(gbdt_predict_codes)
{
	GbdtForest *many = RandomForest(400, 2, 6, 0.97);	/* ~ 9,000 splits on 2 features */
	GbdtForest *deep = RandomForest(10, 5, 7, 0.7);
	GbdtForest *wide = RandomForest(10, 33, 4, 0.9);
	char		err[GBDT_ERROR_LEN];
	float	   *x;

	CHECK(many != NULL && deep != NULL && wide != NULL);
	if (many == NULL || deep == NULL || wide == NULL)
		return;
	CHECK(many->codes_chunks > 2);
	CHECK(deep->codes_chunks == 0);
	CHECK(wide->codes_chunks == 0);
	x = RandomRows(300, 2);
	CHECK(Mismatches(many, x, 300, GBDT_PREDICT_AVX512) == 0);
	CHECK(Mismatches(many, x, 33, GBDT_PREDICT_AUTO) == 0);
	{
		/* more chunks than their ends say: rejected */
		GbdtForest *copy = malloc(many->size);

		memcpy(copy, many, many->size);
		copy->codes_chunks++;
		CHECK(!GbdtForestCheck(copy, copy->size, err, sizeof(err)));
		free(copy);
	}
	/* without codes: the same margins (AVX2's) */
	many->codes_chunks = 0;
	CHECK(GbdtForestCheck(many, many->size, err, sizeof(err)));
	CHECK(Mismatches(many, x, 300, GBDT_PREDICT_AVX512) == 0);
	free(x);
	x = RandomRows(50, 33);
	CHECK(Mismatches(wide, x, 50, GBDT_PREDICT_AVX512) == 0);
	CHECK(Mismatches(deep, x, 50, GBDT_PREDICT_AVX512) == 0);
	free(x);
	free(many);
	free(deep);
	free(wide);
}
