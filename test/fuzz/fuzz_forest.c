/*
 * fuzz_forest.c
 *	  libFuzzer target: the forest's evaluators (src/core/gbdt_forest.c) on
 *	  forests and rows the input describes: trees of depth 0 to 8 over 1 to
 *	  40 features, thresholds from a few values (so many repeat, and more
 *	  than 255 distinct ones of a feature are cut into slices of 255, or
 *	  fill a chunk when the slices need more than the 64 bytes of a row's
 *	  codes) or any finite float, missing
 *	  values sent either way; rows with NaN, ±∞ and values on the
 *	  thresholds.  Every forest is checked, given its codes
 *	  (GbdtForestBuildCodes) and checked again; every evaluator (the walk,
 *	  AVX2, AVX-512 over the codes, the automatic choice) must give a plain
 *	  walk's margins bit for bit.  Then one byte of the codes, chosen by
 *	  the input, is changed: the check must reject the block or the
 *	  AVX-512 evaluator must still give the walk's margins.  Aborts
 *	  otherwise.
 *
 *	  make fuzz && test/fuzz/fuzz_forest -runs=100000
 */
#include "core/gbdt_forest.h"
#include "fuzz_input.h"

#include <math.h>
#include <stdbool.h>

#define MAX_TREES 40
#define MAX_DEPTH 8
#define MAX_FEATURES 40
#define MAX_ROWS 70
#define TREE_CAP ((2 << MAX_DEPTH) - 1)

/* A threshold: one of a few values mostly, else any finite float. */
static float
Threshold(FuzzInput *in, const float *pool)
{
	uint8_t		tag = FuzzByte(in);
	float		f;

	if (tag < 200)
		return pool[tag % 8];
	if (tag < 240)
		return (float) FuzzBelow(in, 4000) / 7.0f;	/* many distinct */
	f = FuzzFloat(in);
	return isfinite(f) ? f : 0.5f;
}

/* The margin of row x by a plain walk: XGBoost's rules, sum in tree order. */
static float
WalkMargin(const GbdtForest *f, const float *x)
{
	const GbdtNode *nodes = GbdtNodes(f);
	float		m = f->base_score;

	for (int t = 0; t < f->num_trees; t++)
	{
		int32_t		i = GbdtTreeFirst(f)[t];

		while (!GbdtIsLeaf(nodes, i))
		{
			const float v = x[GbdtNodeFeature(f, &nodes[i])];

			i = isnan(v) ? nodes[i].missing :
				v < nodes[i].threshold ? nodes[i].left : nodes[i].left + 1;
		}
		m += GbdtValue(f)[i];
	}
	return m;
}

/* Whether every evaluator asked for gives the walk's margins. */
static bool
AllMatch(const GbdtForest *f, const float *x, int rows, const float *want,
		 bool avx512_only)
{
	static const GbdtPredictPath paths[] = {
		GBDT_PREDICT_AVX512, GBDT_PREDICT_SCALAR, GBDT_PREDICT_AVX2, GBDT_PREDICT_AUTO
	};
	void	   *work = FuzzAlloc(GbdtPredictWorkspace(f), 1);
	float	   *out = FuzzAlloc(rows, sizeof(float));
	bool		ok = true;

	for (int p = 0; p < (avx512_only ? 1 : 4) && ok; p++)
	{
		GbdtForestPredictWith(f, x, rows, out, work, paths[p]);
		ok = memcmp(out, want, sizeof(float) * rows) == 0;
	}
	free(out);
	free(work);
	return ok;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size, 0};
	const int	nt = 1 + FuzzBelow(&in, MAX_TREES);
	const int	nf = 1 + FuzzBelow(&in, MAX_FEATURES);
	const int	rows = 1 + FuzzBelow(&in, MAX_ROWS);
	const int	max_depth = FuzzBelow(&in, MAX_DEPTH + 1);
	const int	split_p = FuzzByte(&in);
	const size_t fsize = GbdtForestSize(nt, nt * TREE_CAP);
	GbdtForest *f = FuzzAlloc(fsize, 1);
	GbdtForest *g;
	GbdtNode   *nodes;
	float	   *value,
			   *cover;
	int32_t    *first,
			   *depth;
	float		pool[8];
	int			level[TREE_CAP];
	char		err[GBDT_ERROR_LEN];
	float	   *x,
			   *want;

	for (int k = 0; k < 8; k++)
		pool[k] = (float) (int8_t) FuzzByte(&in) / 16.0f;
	GbdtForestInit(f, fsize, nf, nt, nt * TREE_CAP, (float) (int8_t) FuzzByte(&in) / 8.0f);
	nodes = (GbdtNode *) GbdtNodes(f);
	value = (float *) GbdtValue(f);
	cover = (float *) GbdtCover(f);
	first = (int32_t *) GbdtTreeFirst(f);
	depth = (int32_t *) GbdtTreeDepth(f);
	for (int t = 0; t < nt; t++)
	{
		const int	base = f->num_nodes;
		int			count = 1,
					deepest = 0;

		level[0] = 0;
		for (int pos = 0; pos < count; pos++)
		{
			const int32_t i = base + pos;
			GbdtNode   *n = &nodes[i];
			const bool	split = level[pos] < max_depth && FuzzByte(&in) < split_p;

			if (level[pos] > deepest)
				deepest = level[pos];
			cover[i] = 1;
			if (!split)
			{
				n->threshold = NAN;
				n->column = 0;
				n->left = i - 1;
				n->missing = i;
				value[i] = (float) (int8_t) FuzzByte(&in) * (FuzzByte(&in) < 128 ? 1e-3f : 10.0f);
			}
			else
			{
				const int	feature = FuzzBelow(&in, nf);
				const bool	missing_left = FuzzByte(&in) < 128;

				n->threshold = Threshold(&in, pool);
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
	/* the block as used: node arrays of num_nodes entries */
	{
		const size_t used = GbdtForestSize(nt, f->num_nodes);

		g = FuzzAlloc(used, 1);
		GbdtForestInit(g, used, nf, nt, f->num_nodes, f->base_score);
		g->num_nodes = f->num_nodes;
		g->max_depth = f->max_depth;
		memcpy((char *) g + g->tree_first_offset, first, sizeof(int32_t) * (nt + 1));
		memcpy((char *) g + g->tree_depth_offset, depth, sizeof(int32_t) * nt);
		memcpy((char *) g + g->nodes_offset, nodes, sizeof(GbdtNode) * f->num_nodes);
		memcpy((char *) g + g->value_offset, value, sizeof(float) * f->num_nodes);
		memcpy((char *) g + g->cover_offset, cover, sizeof(float) * f->num_nodes);
		memcpy((char *) g + g->mean_offset, GbdtMean(f), sizeof(float) * f->num_nodes);
		free(f);
	}
	if (!GbdtForestCheck(g, g->size, err, sizeof(err)))
		abort();				/* the generator makes well-formed forests */
	GbdtForestBuildCodes(g);
	if (!GbdtForestCheck(g, g->size, err, sizeof(err)))
		abort();				/* codes as built are accepted */
	if ((g->codes_chunks > 0) != (g->max_depth <= 6 && nf <= 32))
		abort();

	x = FuzzAlloc((size_t) rows * nf, sizeof(float));
	want = FuzzAlloc(rows, sizeof(float));
	for (int i = 0; i < rows * nf; i++)
	{
		uint8_t		tag = FuzzByte(&in);

		x[i] = tag < 40 ? NAN : tag < 50 ? INFINITY : tag < 60 ? -INFINITY :
			tag < 160 ? pool[tag % 8] : FuzzFloat(&in);
	}
	for (int r = 0; r < rows; r++)
		want[r] = WalkMargin(g, x + (size_t) r * nf);
	if (!AllMatch(g, x, rows, want, false))
		abort();
	/* one byte of the codes changed: rejected, or still the walk's */
	if (g->codes_chunks > 0 && g->size > g->codes_offset)
	{
		const uint64_t at = g->codes_offset +
			(uint64_t) FuzzBelow(&in, 30000) % (g->size - g->codes_offset);
		const uint8_t flip = (uint8_t) (1 + FuzzBelow(&in, 255));

		((uint8_t *) g)[at] ^= flip;
		if (GbdtForestCheck(g, g->size, err, sizeof(err)) &&
			!AllMatch(g, x, rows, want, true))
			abort();
	}
	free(want);
	free(x);
	free(g);
	return 0;
}
