/*
 * test_gbdt.c
 *	  Unit tests of the learned ranker's engine: the flat forest
 *	  (src/core/gbdt_forest.c, gbdt_xgb_json.c) on a hand-written model,
 *	  against XGBoost's own predictions and pred_contribs on random data
 *	  with missing values, and LambdaMART training through XGBoost
 *	  (src/core/gbdt_train.c): determinism, stopping, longjmp out of the
 *	  check, bad input, and no thread started.
 *
 * XGBoost is needed (Debian's libxgboost0, which test/lib/common.sh
 * installs): without it the tests that train fail, they do not skip.
 */
#include "core/gbdt_forest.h"
#include "core/gbdt_train.h"
#include "core/interrupt.h"
#include "unit.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A small deterministic generator (splitmix64). */
static uint64_t gbdt_rng = 0x9E3779B97F4A7C15ULL;

static double
Uniform(void)
{
	uint64_t	z = (gbdt_rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return (double) (z >> 11) / 9007199254740992.0;
}

/* size bytes aligned for a forest block (16), or NULL. */
static void *
Aligned(size_t size)
{
	void	   *p = NULL;

	return posix_memalign(&p, 16, size > 0 ? size : 1) == 0 ? p : NULL;
}

/* GbdtForestPredict with a workspace of its own. */
static void
Predict(const GbdtForest *f, const float *x, int rows, float *out)
{
	void	   *work = Aligned(GbdtPredictWorkspace(f));

	GbdtForestPredict(f, x, rows, out, work);
	free(work);
}

/* Threads of this process: entries of /proc/self/task. */
static int
ThreadCount(void)
{
	DIR		   *dir = opendir("/proc/self/task");
	struct dirent *e;
	int			n = 0;

	if (dir == NULL)
		return -1;
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/*
 * A forest built from len bytes of model JSON (malloc'd; NULL with the
 * message in err when the model is rejected).
 */
static GbdtForest *
ForestFromJson(const char *json, size_t len, char *err)
{
	GbdtJsonShape shape;
	GbdtForest *f;
	void	   *scratch;
	size_t		size;
	bool		ok;

	if (!GbdtXgboostJsonShape(json, len, &shape, err, GBDT_ERROR_LEN))
		return NULL;
	size = GbdtForestSize(shape.num_trees, (int) shape.total_nodes);
	if (size == 0)
		return NULL;
	f = Aligned(size);
	scratch = malloc(GbdtXgboostJsonScratch(&shape));
	ok = GbdtForestFromXgboostJson(json, len, &shape, f, size, scratch, err,
								   GBDT_ERROR_LEN);
	free(scratch);
	if (!ok)
	{
		free(f);
		return NULL;
	}
	return f;
}

/*
 * Two trees over three features, in XGBoost's JSON.  Tree 0's nodes are
 * numbered out of breadth-first order, and node 5 is unreachable (a
 * deleted node): the forest drops it.
 *
 *	node 0: x0 < 0.5 (missing left) → 4, else 2
 *	node 4: x1 < 1 (missing right) → 1, else 3
 *	leaves: 2 → 0.25, 1 → −1, 3 → 2;  covers 0:10 4:6 2:4 1:2 3:4
 *	tree 1: one leaf 0.5;  base_score 0.5
 */
static const char hand_model[] =
"{\"learner\":{\"attributes\":{},\"feature_names\":[],\"feature_types\":[],"
"\"gradient_booster\":{\"model\":{\"gbtree_model_param\":{\"num_parallel_tree\":\"1\","
"\"num_trees\":\"2\",\"size_leaf_vector\":\"0\"},\"tree_info\":[0,0],\"trees\":["
"{\"base_weights\":[0,0,0,0,0,0],\"categories\":[],\"default_left\":[1,0,0,0,0,0],"
"\"id\":0,\"left_children\":[4,-1,-1,-1,1,-1],\"loss_changes\":[0,0,0,0,0,0],"
"\"parents\":[2147483647,4,0,4,0,0],\"right_children\":[2,-1,-1,-1,3,-1],"
"\"split_conditions\":[5E-1,-1E0,2.5E-1,2E0,1E0,9.9E1],"
"\"split_indices\":[0,0,0,0,1,0],\"split_type\":[0,0,0,0,0,0],"
"\"sum_hessian\":[1E1,2E0,4E0,4E0,6E0,1E0],"
"\"tree_param\":{\"num_deleted\":\"1\",\"num_feature\":\"3\",\"num_nodes\":\"6\",\"size_leaf_vector\":\"0\"}},"
"{\"base_weights\":[5E-1],\"categories\":[],\"default_left\":[0],\"id\":1,"
"\"left_children\":[-1],\"loss_changes\":[0],\"parents\":[2147483647],"
"\"right_children\":[-1],\"split_conditions\":[5E-1],\"split_indices\":[0],"
"\"split_type\":[0],\"sum_hessian\":[1E1],"
"\"tree_param\":{\"num_deleted\":\"0\",\"num_feature\":\"3\",\"num_nodes\":\"1\",\"size_leaf_vector\":\"0\"}}"
"]},\"name\":\"gbtree\"},\"learner_model_param\":{\"base_score\":\"5E-1\","
"\"boost_from_average\":\"1\",\"num_class\":\"0\",\"num_feature\":\"3\",\"num_target\":\"1\"},"
"\"objective\":{\"lambda_rank_param\":{\"fix_list_weight\":\"0\",\"num_pairsample\":\"1\"},"
"\"name\":\"rank:ndcg\"}},\"version\":[1,7,4]}";

UNIT_TEST(gbdt_forest_hand_model)
{
	char		err[GBDT_ERROR_LEN] = "";
	GbdtForest *f = ForestFromJson(hand_model, strlen(hand_model), err);
	const float inf = INFINITY;
	const float rows[][3] = {
		{0.2f, 0.5f, 7}, {0.5f, 0.5f, 7}, {NAN, 2, 7}, {0.1f, NAN, 7},
		{0.7f, NAN, NAN}, {-inf, inf, 0}, {0.4999999f, 0.9999999f, 0},
		{NAN, NAN, NAN}, {0.2f, 1, 0}
	};
	const float expected[] = {0, 1.25f, 3, 3, 1.25f, 3, 0, 3, 3};
	const int	n = (int) (sizeof(expected) / sizeof(expected[0]));
	float		out[16];

	CHECK(f != NULL);
	if (f == NULL)
	{
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK(f->num_trees == 2);
	CHECK(f->num_nodes == 6);	/* 5 reachable + 1, node 5 dropped */
	CHECK(f->num_features == 3);
	CHECK(f->max_depth == 2);
	CHECK(GbdtTreeDepth(f)[1] == 0);
	CHECK(GbdtForestCheck(f, f->size, err, sizeof(err)));

	/* every tail length: the block path and the leftover path */
	for (int rows_n = 1; rows_n <= n; rows_n++)
	{
		Predict(f, &rows[0][0], rows_n, out);
		for (int i = 0; i < rows_n; i++)
			CHECK(out[i] == expected[i]);
	}

	/*
	 * Shapley values by hand for row 0 (x0 = 0.2 left, x1 = 0.5 left):
	 * v(∅) = 0.7, v({0}) = 1, v({1}) = 0.6·(−1) + 0.4·0.25 = −0.5,
	 * v({0,1}) = −1, so φ0 = ((1 − 0.7) + (−1 + 0.5))/2 = −0.1 and φ1 =
	 * ((−0.5 − 0.7) + (−1 − 1))/2 = −1.6; bias 0.7 + 0.5 + base 0.5.
	 */
	{
		void	   *work = Aligned(GbdtContributionsWorkspace(f));
		float		phi[4];

		GbdtForestContributions(f, rows[0], phi, work);
		CHECK_NEAR(phi[0], -0.1, 1e-6);
		CHECK_NEAR(phi[1], -1.6, 1e-6);
		CHECK(phi[2] == 0);
		CHECK_NEAR(phi[3], 1.7, 1e-6);
		/* a missing x0 follows the default (left) branch: same values */
		GbdtForestContributions(f, (const float[]) {NAN, 0.5f, 0}, phi, work);
		CHECK_NEAR(phi[0], -0.1, 1e-6);
		CHECK_NEAR(phi[1], -1.6, 1e-6);
		free(work);
	}
	free(f);
}

/* The hand model with one substring replaced; NULL when absent. */
static char *
Edited(const char *from, const char *to)
{
	const char *at = strstr(hand_model, from);
	size_t		n = strlen(hand_model) - strlen(from) + strlen(to);
	char	   *s;

	if (at == NULL)
		return NULL;
	s = malloc(n + 1);
	memcpy(s, hand_model, (size_t) (at - hand_model));
	strcpy(s + (at - hand_model), to);
	strcat(s, at + strlen(from));
	return s;
}

UNIT_TEST(gbdt_forest_rejects_bad_models)
{
	static const struct
	{
		const char *from;
		const char *to;
		const char *message;
	}			cases[] = {
		{"\"name\":\"rank:ndcg\"", "\"name\":\"binary:logistic\"", "unsupported objective"},
		{"\"name\":\"gbtree\"", "\"name\":\"dart\"", "unsupported booster"},
		{"\"num_class\":\"0\"", "\"num_class\":\"3\"", "multi-class"},
		{"\"tree_info\":[0,0]", "\"tree_info\":[0,1]", "multi-output"},
		{"\"tree_info\":[0,0]", "\"tree_info\":[0]", "tree_info has 1"},
		{"\"left_children\":[4,-1,-1,-1,1,-1]", "\"left_children\":[4,-1,-1,-1,0,-1]", "invalid children"},
		{"\"left_children\":[4,-1,-1,-1,1,-1]", "\"left_children\":[4,-1,-1,-1,4,-1]", "invalid children"},
		{"\"left_children\":[4,-1,-1,-1,1,-1]", "\"left_children\":[4,-1,-1,-1,9,-1]", "out of range"},
		{"\"right_children\":[2,-1,-1,-1,3,-1]", "\"right_children\":[2,-1,-1,-1,-1,-1]", "invalid children"},
		{"\"right_children\":[2,-1,-1,-1,3,-1]", "\"right_children\":[2,-1,5,-1,3,-1]", "one child"},
		{"\"split_indices\":[0,0,0,0,1,0]", "\"split_indices\":[0,0,0,0,3,0]", "feature 3 of 3"},
		{"\"split_indices\":[0,0,0,0,1,0]", "\"split_indices\":[0,0,0,0,1]", "has 5 entries"},
		{"\"split_type\":[0,0,0,0,0,0]", "\"split_type\":[0,0,0,0,1,0]", "out of range"},
		{"\"sum_hessian\":[1E1,", "\"sum_hessian\":[-1E1,", "invalid sum_hessian"},
		{"\"sum_hessian\":[1E1,", "\"sum_hessian\":[0,", "split 0 has no cover"},
		{"\"split_conditions\":[5E-1,", "\"split_conditions\":[1E39,", "finite threshold"},
		{"\"split_conditions\":[5E-1,", "\"split_conditions\":[nan,", "bad number"},
		{"\"base_score\":\"5E-1\"", "\"base_score\":\"x\"", "bad number"},
		{"\"num_feature\":\"3\",\"num_target\"", "\"num_feature\":\"0\",\"num_target\"", "out of range"},
		{"{\"learner\"", "[{\"learner\"", "'{' expected"},
		{"\"version\":[1,7,4]}", "\"version\":[1,7,4]}}", "data after the document"},
		{"\"version\":[1,7,4]}", "\"version\":[1,7,4]", "',' expected"},
		{"\"trees\":[", "\"trees\":[[", "unbalanced"},
		{"\"trees\":[", "\"trees\":[1,", "'{' expected"},
		{"\"trees\":[", "\"treez\":[", "trees, objective"},
		{"\"learner\":{", "\"learner\":{\"learner\":7,", ""},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
	{
		char	   *json = Edited(cases[c].from, cases[c].to);
		char		err[GBDT_ERROR_LEN] = "";
		GbdtForest *f;

		CHECK(json != NULL);
		if (json == NULL)
			continue;
		f = ForestFromJson(json, strlen(json), err);
		if (cases[c].message[0] == '\0')
		{
			/* unknown members are skipped: still a model */
			CHECK(f != NULL);
			free(f);
			free(json);
			continue;
		}
		CHECK(f == NULL);
		if (strstr(err, cases[c].message) == NULL)
			UnitFail(__FILE__, __LINE__, "case %d: \"%s\" lacks \"%s\"",
					 (int) c, err, cases[c].message);
		free(f);
		free(json);
	}
}

/*
 * The second pass over other bytes than the first: the hand model's shape
 * with edited bytes.  An error or a well-formed forest, nothing else.
 */
static void
MismatchedPasses(const char *json, size_t len)
{
	GbdtJsonShape shape;
	char		err[GBDT_ERROR_LEN] = "";
	GbdtForest *f;
	void	   *scratch;
	size_t		size;

	if (!GbdtXgboostJsonShape(hand_model, strlen(hand_model), &shape, err, sizeof(err)))
	{
		CHECK(!"the hand model has a shape");
		return;
	}
	size = GbdtForestSize(shape.num_trees, (int) shape.total_nodes);
	f = Aligned(size);
	scratch = malloc(GbdtXgboostJsonScratch(&shape));
	if (GbdtForestFromXgboostJson(json, len, &shape, f, size, scratch, err, sizeof(err)))
		CHECK(GbdtForestCheck(f, size, err, sizeof(err)));
	else
		CHECK(err[0] != '\0');
	free(scratch);
	free(f);
}

/*
 * Every truncation of the hand model and every position overwritten with
 * characters that matter to a JSON reader: rejected with a message or
 * built into a forest that passes the check, never a crash (the unit tests
 * run under AddressSanitizer), also when only the second pass sees the
 * edit.  A copy of exactly len bytes, no NUL.
 */
UNIT_TEST(gbdt_forest_json_mutations)
{
	const size_t len = strlen(hand_model);
	const char	subst[] = "{}[]\",:-9.eE \\n";
	int			built = 0;

	for (size_t cut = 0; cut < len; cut++)
	{
		char	   *copy = malloc(cut + 1);
		char		err[GBDT_ERROR_LEN] = "";
		GbdtForest *f;

		memcpy(copy, hand_model, cut);
		f = ForestFromJson(copy, cut, err);
		CHECK(f == NULL && err[0] != '\0');
		free(f);
		free(copy);
	}
	for (size_t at = 0; at < len; at++)
	{
		for (size_t k = 0; k < sizeof(subst) - 1; k++)
		{
			char	   *copy = malloc(len);
			char		err[GBDT_ERROR_LEN] = "";
			GbdtForest *f;

			memcpy(copy, hand_model, len);
			copy[at] = subst[k];
			MismatchedPasses(copy, len);
			f = ForestFromJson(copy, len, err);
			if (f != NULL)
			{
				/* an edit may change num_feature: a row of that many */
				float	   *row = calloc(f->num_features, sizeof(float));
				float		out;

				built++;
				CHECK(GbdtForestCheck(f, f->size, err, sizeof(err)));
				row[0] = 0.2f;
				Predict(f, row, 1, &out);
				free(row);
			}
			else
				CHECK(err[0] != '\0');
			free(f);
			free(copy);
		}
	}
	CHECK(built > 0);			/* some edits (digits, spaces) keep it valid */
}

/* GbdtForestCheck against blocks damaged field by field. */
UNIT_TEST(gbdt_forest_check_damage)
{
	char		err[GBDT_ERROR_LEN];
	GbdtForest *f = ForestFromJson(hand_model, strlen(hand_model), err);
	GbdtForest *g;
	GbdtNode   *nodes;

	if (f == NULL)
	{
		CHECK(f != NULL);
		return;
	}
	g = Aligned(f->size);
	nodes = (GbdtNode *) ((char *) g + f->nodes_offset);

#define DAMAGED(stmt) \
	do { \
		memcpy(g, f, f->size); \
		stmt; \
		CHECK(!GbdtForestCheck(g, f->size, err, sizeof(err))); \
	} while (0)

	CHECK(GbdtForestCheck(f, f->size, err, sizeof(err)));

	/*
	 * Position independence: a byte copy elsewhere, at an address that is
	 * 8 but not 16 mod 16 (palloc's alignment), is the same forest.
	 */
	{
		char	   *raw = Aligned(f->size + 8);
		GbdtForest *moved = (GbdtForest *) (raw + 8);
		const float row[3] = {NAN, 2, 7};
		float		a,
					b;

		memcpy(moved, f, f->size);
		CHECK(GbdtForestCheck(moved, f->size, err, sizeof(err)));
		Predict(f, row, 1, &a);
		Predict(moved, row, 1, &b);
		CHECK(a == 3 && b == 3);
		free(raw);
	}
	CHECK(!GbdtForestCheck(f, f->size - 16, err, sizeof(err)));
	CHECK(!GbdtForestCheck((char *) f + 4, f->size - 4, err, sizeof(err)));
	DAMAGED(g->magic ^= 1);
	DAMAGED(g->num_trees = 3);
	DAMAGED(g->num_nodes = 7);
	DAMAGED(g->num_features = 1);
	DAMAGED(g->max_depth = 1);
	DAMAGED(g->max_depth = GBDT_MAX_DEPTH + 1);
	DAMAGED(g->base_score = NAN);
	DAMAGED(g->mean_offset += 16);
	DAMAGED(nodes[0].left = 0);
	DAMAGED(nodes[0].left = 2);
	DAMAGED(nodes[0].missing = 3);
	DAMAGED(nodes[0].column = -1);
	DAMAGED(nodes[0].column = 6);
	DAMAGED(nodes[0].column = 0);	/* NaN goes left: column 0 + 3 */
	DAMAGED(nodes[1].column = 4);	/* NaN goes right: column 1 */
	DAMAGED(nodes[0].threshold = NAN);
	DAMAGED(nodes[1].missing = 1);	/* a split made a leaf: orphans */
	DAMAGED(nodes[3].left = 4);
	DAMAGED(nodes[3].column = 1);
	DAMAGED(nodes[3].threshold = 0);
	DAMAGED(((int32_t *) ((char *) g + f->tree_depth_offset))[0] = 1);
	DAMAGED(((int32_t *) ((char *) g + f->tree_first_offset))[1] = 4);
	DAMAGED(((float *) ((char *) g + f->value_offset))[4] = INFINITY);
	DAMAGED(((float *) ((char *) g + f->cover_offset))[0] = -1);
#undef DAMAGED
	free(g);
	free(f);
}

/*
 * Ranking data: groups of 5 to 30 rows, features uniform in [0, 1) with a
 * share missing, relevance 0 … 3 from a few features plus noise.
 */
typedef struct RankData
{
	float	   *x;
	float	   *label;
	uint32_t   *groups;
	int			rows;
	int			features;
	int			ngroups;
} RankData;

static void
MakeRankData(RankData *d, int rows, int features, double missing)
{
	d->x = malloc(sizeof(float) * rows * features);
	d->label = malloc(sizeof(float) * rows);
	d->groups = malloc(sizeof(uint32_t) * rows);
	d->rows = rows;
	d->features = features;
	d->ngroups = 0;
	for (int i = 0; i < rows * features; i++)
		d->x[i] = Uniform() < missing ? NAN : (float) Uniform();
	for (int i = 0; i < rows; i++)
	{
		const float *r = d->x + (size_t) i * features;
		double		v0 = isnan(r[0]) ? 0.5 : r[0],
					v1 = isnan(r[1]) ? 0.3 : r[1],
					v2 = isnan(r[2]) ? 0.5 : r[2];
		double		s = 2 * v0 + v1 - v2 * v1 + 0.5 * Uniform();

		d->label[i] = (float) (s < 0.8 ? 0 : s < 1.4 ? 1 : s < 2.0 ? 2 : 3);
	}
	for (int done = 0; done < rows;)
	{
		int			n = 5 + (int) (Uniform() * 26);

		if (n > rows - done)
			n = rows - done;
		d->groups[d->ngroups++] = (uint32_t) n;
		done += n;
	}
}

static void
FreeRankData(RankData *d)
{
	free(d->x);
	free(d->label);
	free(d->groups);
}

static GbdtTrainData
TrainData(const RankData *d)
{
	GbdtTrainData t = {d->x, d->label, d->groups, d->rows, d->features, d->ngroups, 0};

	return t;
}

/* Trains with the parameters; the model JSON (malloc'd) or NULL. */
static char *
TrainModel(const RankData *d, const GbdtParams *p, size_t *len)
{
	GbdtTrainer t;
	GbdtTrainData td = TrainData(d);
	char	   *model = NULL;
	GbdtStatus	s;

	GbdtTrainerInit(&t);
	s = GbdtTrain(&t, &td, p, NULL, NULL);
	CHECK(s == GBDT_OK);
	if (s != GBDT_OK)
		fprintf(stderr, "  training failed: %s\n", t.error);
	else
	{
		model = malloc(t.model_len);
		memcpy(model, t.model, t.model_len);
		*len = t.model_len;
	}
	GbdtTrainerRelease(&t);
	return model;
}

/*
 * The forest against XGBoost on fresh rows with missing values: margins
 * bit for bit, contributions within float rounding and adding up to the
 * margin.  Several shapes: deep and shallow trees, sampling, many trees.
 */
UNIT_TEST(gbdt_forest_matches_xgboost)
{
	static const struct
	{
		int			trees;
		int			depth;
		double		subsample;
		double		colsample;
		int			features;
	}			shapes[] = {
		{20, 3, 1.0, 1.0, 4},
		{60, 6, 0.8, 0.7, 12},
		{150, 8, 0.9, 1.0, 30},
	};
	double		worst_contrib = 0,
				worst_sum = 0;

	for (size_t c = 0; c < sizeof(shapes) / sizeof(shapes[0]); c++)
	{
		RankData	d;
		GbdtParams	p;
		size_t		len = 0;
		char	   *model;
		char		err[GBDT_ERROR_LEN] = "";
		GbdtForest *f;
		GbdtTrainer ref;
		const int	nf = shapes[c].features;
		const int	test_rows = 300;
		float	   *x,
				   *mine,
				   *theirs,
				   *mine_phi,
				   *their_phi;
		void	   *work;
		int			exact = 0;

		MakeRankData(&d, 3000, nf, 0.15);
		GbdtParamsDefault(&p);
		p.trees = shapes[c].trees;
		p.max_depth = shapes[c].depth;
		p.subsample = shapes[c].subsample;
		p.colsample_bytree = shapes[c].colsample;
		p.min_child_weight = 0.01;
		p.seed = 42 + c;
		model = TrainModel(&d, &p, &len);
		if (model == NULL)
		{
			FreeRankData(&d);
			continue;
		}
		f = ForestFromJson(model, len, err);
		CHECK(f != NULL);
		if (f == NULL)
		{
			fprintf(stderr, "  %s\n", err);
			free(model);
			FreeRankData(&d);
			continue;
		}
		CHECK(f->num_trees == shapes[c].trees);
		CHECK(f->num_features == nf);
		CHECK(f->max_depth <= shapes[c].depth);

		/* fresh rows: some missing, some on thresholds, some infinite */
		x = malloc(sizeof(float) * test_rows * nf);
		for (int i = 0; i < test_rows * nf; i++)
		{
			double		u = Uniform();

			x[i] = u < 0.15 ? NAN : (float) Uniform();
		}
		for (int i = 0; i < nf; i++)
		{
			x[i] = GbdtNodes(f)[0].threshold;	/* row 0 sits on the root's cut */
			x[nf + i] = NAN;	/* row 1: everything missing */
			x[2 * nf + i] = i % 2 ? INFINITY : -INFINITY;
		}
		mine = malloc(sizeof(float) * test_rows);
		theirs = malloc(sizeof(float) * test_rows);
		mine_phi = malloc(sizeof(float) * (nf + 1));
		their_phi = malloc(sizeof(float) * test_rows * (nf + 1));
		work = Aligned(GbdtContributionsWorkspace(f));

		GbdtTrainerInit(&ref);
		CHECK(GbdtXgboostLoadModel(&ref, model, len) == GBDT_OK);
		/* XGBoost refuses infinite values in a DMatrix: rows 3.. for it */
		CHECK(GbdtXgboostPredict(&ref, x + 3 * nf, test_rows - 3, nf, false,
								 theirs + 3) == GBDT_OK);
		CHECK(GbdtXgboostPredict(&ref, x + 3 * nf, test_rows - 3, nf, true,
								 their_phi + 3 * (nf + 1)) == GBDT_OK);
		CHECK(GbdtXgboostPredict(&ref, x, 2, nf, false, theirs) == GBDT_OK);
		CHECK(GbdtXgboostPredict(&ref, x, 2, nf, true, their_phi) == GBDT_OK);
		GbdtTrainerRelease(&ref);

		Predict(f, x, test_rows, mine);
		for (int i = 0; i < test_rows; i++)
		{
			double		sum = 0;

			if (i == 2)
				continue;		/* the infinite row: no reference */
			if (memcmp(&mine[i], &theirs[i], sizeof(float)) == 0)
				exact++;
			else
				UnitFail(__FILE__, __LINE__, "shape %d row %d: margin %.9g, XGBoost %.9g",
						 (int) c, i, mine[i], theirs[i]);
			GbdtForestContributions(f, x + (size_t) i * nf, mine_phi, work);
			for (int j = 0; j <= nf; j++)
			{
				double		ref_v = their_phi[(size_t) i * (nf + 1) + j];
				double		diff = fabs(mine_phi[j] - ref_v) / (1 + fabs(ref_v));

				if (diff > worst_contrib)
					worst_contrib = diff;
				sum += mine_phi[j];
			}
			if (fabs(sum - mine[i]) / (1 + fabs(mine[i])) > worst_sum)
				worst_sum = fabs(sum - mine[i]) / (1 + fabs(mine[i]));
		}
		CHECK(exact == test_rows - 1);

		/* the infinite row: walked by hand, the same leaves as the forest */
		{
			const GbdtNode *nodes = GbdtNodes(f);
			float		m = f->base_score;

			for (int t = 0; t < f->num_trees; t++)
			{
				int32_t		i = GbdtTreeFirst(f)[t];

				while (!GbdtIsLeaf(nodes, i))
				{
					float		v = x[2 * nf + GbdtNodeFeature(f, &nodes[i])];

					i = v < nodes[i].threshold ? nodes[i].left : nodes[i].left + 1;
				}
				m += GbdtValue(f)[i];
			}
			CHECK(memcmp(&m, &mine[2], sizeof(float)) == 0);
		}

		free(work);
		free(their_phi);
		free(mine_phi);
		free(theirs);
		free(mine);
		free(x);
		free(f);
		free(model);
		FreeRankData(&d);
	}
	/* float rounding only: the same algorithm, in the same order */
	CHECK(worst_contrib < 1e-5);
	CHECK(worst_sum < 1e-4);
	printf("  forest vs XGBoost: margins bit-identical; contributions within %.2g (relative), sum vs margin within %.2g\n",
		   worst_contrib, worst_sum);
}

/* NDCG@10 of a ranking by score, averaged over the groups. */
static double
MeanNdcg(const RankData *d, const float *score)
{
	double		total = 0;
	int			start = 0;

	for (int g = 0; g < d->ngroups; g++)
	{
		int			n = (int) d->groups[g];
		double		dcg = 0,
					ideal = 0;
		int		   *used = calloc(n, sizeof(int));
		int		   *iused = calloc(n, sizeof(int));

		for (int k = 0; k < 10 && k < n; k++)
		{
			int			best = -1,
						ibest = -1;

			for (int i = 0; i < n; i++)
			{
				if (!used[i] && (best < 0 || score[start + i] > score[start + best]))
					best = i;
				if (!iused[i] && (ibest < 0 || d->label[start + i] > d->label[start + ibest]))
					ibest = i;
			}
			used[best] = iused[ibest] = 1;
			dcg += (pow(2, d->label[start + best]) - 1) / log2(k + 2.0);
			ideal += (pow(2, d->label[start + ibest]) - 1) / log2(k + 2.0);
		}
		total += ideal > 0 ? dcg / ideal : 1;
		free(used);
		free(iused);
		start += n;
	}
	return total / d->ngroups;
}

/* Training learns: NDCG on held-out groups well above a random order. */
UNIT_TEST(gbdt_train_learns)
{
	RankData	train,
				test;
	GbdtParams	p;
	size_t		len = 0;
	char	   *model;
	char		err[GBDT_ERROR_LEN];
	GbdtForest *f;
	float	   *score,
			   *noise;
	double		learned,
				random;

	MakeRankData(&train, 4000, 8, 0.1);
	MakeRankData(&test, 2000, 8, 0.1);
	GbdtParamsDefault(&p);
	p.trees = 50;
	model = TrainModel(&train, &p, &len);
	f = model != NULL ? ForestFromJson(model, len, err) : NULL;
	CHECK(f != NULL);
	if (f != NULL)
	{
		score = malloc(sizeof(float) * test.rows);
		noise = malloc(sizeof(float) * test.rows);
		Predict(f, test.x, test.rows, score);
		for (int i = 0; i < test.rows; i++)
			noise[i] = (float) Uniform();
		learned = MeanNdcg(&test, score);
		random = MeanNdcg(&test, noise);
		printf("  held-out NDCG@10: learned %.3f, random order %.3f\n", learned, random);
		CHECK(learned > random + 0.15);
		free(score);
		free(noise);
		free(f);
	}
	free(model);
	FreeRankData(&train);
	FreeRankData(&test);
}

/* Counts the checks while XGBoost builds the matrix; stops at a given one. */
typedef struct LoadingChecks
{
	int			loading;
	int			rounds;
	int			stop_at;		/* stop at this loading check (0: never) */
} LoadingChecks;

static bool
CountChecks(void *arg, int round)
{
	LoadingChecks *c = arg;

	if (round == GBDT_LOADING)
		return ++c->loading == c->stop_at;
	CHECK(round == c->rounds);
	c->rounds++;
	return false;
}

/*
 * Small batches (whole groups of 5 to 30 rows, about 100 rows each): the
 * check runs between them, groups survive the cut (a group split between
 * batches would fail or learn nothing), and a stop while loading ends the
 * training with GBDT_CANCELLED and handles to release.
 */
UNIT_TEST(gbdt_train_batches)
{
	RankData	train,
				test;
	GbdtParams	p;
	GbdtTrainer t;
	GbdtTrainData td;
	LoadingChecks c = {0, 0, 0};
	char		err[GBDT_ERROR_LEN];

	MakeRankData(&train, 4000, 8, 0.1);
	MakeRankData(&test, 2000, 8, 0.1);
	GbdtParamsDefault(&p);
	p.trees = 30;
	td = TrainData(&train);
	td.batch_rows = 100;
	GbdtTrainerInit(&t);
	CHECK(GbdtTrain(&t, &td, &p, CountChecks, &c) == GBDT_OK);
	/* 4000 rows in batches of ≥ 100 rows: at most 40 batches per pass */
	CHECK(c.loading >= 20);
	CHECK(c.rounds == 30);
	if (t.model != NULL)
	{
		GbdtForest *f = ForestFromJson(t.model, t.model_len, err);
		float	   *score = malloc(sizeof(float) * test.rows);
		float	   *noise = malloc(sizeof(float) * test.rows);

		CHECK(f != NULL);
		if (f != NULL)
		{
			Predict(f, test.x, test.rows, score);
			for (int i = 0; i < test.rows; i++)
				noise[i] = (float) Uniform();
			CHECK(MeanNdcg(&test, score) > MeanNdcg(&test, noise) + 0.15);
		}
		free(f);
		free(score);
		free(noise);
	}
	GbdtTrainerRelease(&t);

	c.loading = c.rounds = 0;
	c.stop_at = 3;
	CHECK(GbdtTrain(&t, &td, &p, CountChecks, &c) == GBDT_CANCELLED);
	CHECK(strstr(t.error, "building the training matrix") != NULL);
	CHECK(c.loading == 3 && c.rounds == 0 && t.rounds == 0);
	GbdtTrainerRelease(&t);
	CHECK(t.proxy == NULL && t.dmatrix == NULL && t.booster == NULL);
	FreeRankData(&train);
	FreeRankData(&test);
}

/* The same data, parameters and seed give the same bytes; another seed not. */
UNIT_TEST(gbdt_train_deterministic)
{
	RankData	d;
	GbdtParams	p;
	size_t		len1 = 0,
				len2 = 0,
				len3 = 0;
	char	   *m1,
			   *m2,
			   *m3;

	MakeRankData(&d, 2000, 6, 0.1);
	GbdtParamsDefault(&p);
	p.trees = 20;
	p.subsample = 0.7;
	p.colsample_bytree = 0.8;
	p.seed = 12345;
	m1 = TrainModel(&d, &p, &len1);
	m2 = TrainModel(&d, &p, &len2);
	/* the high half counts too (XGBoost itself uses 32 bits) */
	p.seed = 12345 + ((uint64_t) 1 << 32);
	m3 = TrainModel(&d, &p, &len3);
	CHECK(m1 != NULL && m2 != NULL && m3 != NULL);
	if (m1 && m2 && m3)
	{
		CHECK(len1 == len2 && memcmp(m1, m2, len1) == 0);
		CHECK(len1 != len3 || memcmp(m1, m3, len1) != 0);
	}
	free(m1);
	free(m2);
	free(m3);
	FreeRankData(&d);
}

/* A check that stops before the given round. */
static bool
StopAt(void *arg, int round)
{
	return round >= *(int *) arg;
}

static jmp_buf check_jump;
static int	hook_calls;

/*
 * The core's interrupt hook as a backend sets it, leaving by longjmp (as
 * CHECK_FOR_INTERRUPTS does on a cancel) at its fourth call.
 */
static void
JumpingHook(void)
{
	if (++hook_calls == 4)
		longjmp(check_jump, 1);
}

/*
 * Stopping: a check returning true ends training with GBDT_CANCELLED after
 * the rounds before it; the core's interrupt hook leaving by longjmp
 * through GbdtCheckInterrupts leaves the handles in the trainer, and
 * GbdtTrainerRelease frees them (LeakSanitizer would report them
 * otherwise).
 */
UNIT_TEST(gbdt_train_stops)
{
	RankData	d;
	GbdtParams	p;
	GbdtTrainer t;
	GbdtTrainData td;
	int			stop = 3;

	MakeRankData(&d, 1000, 5, 0.1);
	td = TrainData(&d);
	GbdtParamsDefault(&p);
	p.trees = 50;

	GbdtTrainerInit(&t);
	CHECK(GbdtTrain(&t, &td, &p, StopAt, &stop) == GBDT_CANCELLED);
	CHECK(t.rounds == 3);
	CHECK(t.model == NULL);
	CHECK(strstr(t.error, "before round 4") != NULL);
	GbdtTrainerRelease(&t);
	CHECK(t.booster == NULL && t.dmatrix == NULL);

	{
		GbdtTrainer *volatile tp = &t;

		GbdtTrainerInit(&t);
		hook_calls = 0;
		core_interrupt_hook = JumpingHook;
		if (setjmp(check_jump) == 0)
		{
			(void) GbdtTrain(tp, &td, &p, GbdtCheckInterrupts, NULL);
			CHECK(!"the check should have jumped");
		}
		core_interrupt_hook = NULL;
		CHECK(tp->rounds == 3);
		CHECK(tp->booster != NULL && tp->dmatrix != NULL);
		GbdtTrainerRelease(tp);
		CHECK(tp->booster == NULL && tp->dmatrix == NULL && tp->proxy == NULL);
	}

	/* the trainer is reusable after either */
	stop = 1000;
	GbdtTrainerInit(&t);
	CHECK(GbdtTrain(&t, &td, &p, StopAt, &stop) == GBDT_OK);
	CHECK(t.rounds == 50 && t.model_len > 0);
	GbdtTrainerRelease(&t);
	FreeRankData(&d);
}

/* Bad data and parameters: GBDT_INVALID with a message, nothing kept. */
UNIT_TEST(gbdt_train_rejects_bad_input)
{
	RankData	d;
	GbdtParams	p;
	GbdtTrainer t;
	GbdtTrainData td;

	MakeRankData(&d, 200, 4, 0.1);
	GbdtParamsDefault(&p);
	p.trees = 5;
	GbdtTrainerInit(&t);

#define REJECTS(setup, needle) \
	do { \
		td = TrainData(&d); \
		GbdtParamsDefault(&p); \
		p.trees = 5; \
		setup; \
		CHECK(GbdtTrain(&t, &td, &p, NULL, NULL) == GBDT_INVALID); \
		if (strstr(t.error, needle) == NULL) \
			UnitFail(__FILE__, __LINE__, "\"%s\" lacks \"%s\"", t.error, needle); \
		CHECK(t.booster == NULL && t.dmatrix == NULL && t.proxy == NULL); \
	} while (0)

	REJECTS(td.rows = 0, "needs rows");
	REJECTS(td.features = 0, "needs rows");
	REJECTS(td.groups = 0, "needs rows");
	REJECTS(td.x = NULL, "no training data");
	REJECTS(td.groups = d.ngroups - 1, "add up to");
	REJECTS(d.groups[0] += 1, "add up to");
	d.groups[0] -= 1;
	REJECTS(d.groups[1] = 0, "positive");
	d.groups[1] = 5;
	REJECTS((td.groups = 1, d.groups[0] = (uint32_t) d.rows + 1), "add up to");
	FreeRankData(&d);
	MakeRankData(&d, 200, 4, 0.1);
	REJECTS(d.label[7] = -1, "label -1 of row 7");
	d.label[7] = 0;
	REJECTS(d.label[7] = 32, "label 32");
	REJECTS(d.label[7] = NAN, "label nan");
	d.label[7] = 1;
	REJECTS(d.x[4 * 9 + 2] = INFINITY, "feature 2 of row 9 is infinite");
	d.x[4 * 9 + 2] = 0.5f;
	REJECTS(p.trees = 0, "trees must be");
	REJECTS(p.max_depth = 17, "max_depth");
	REJECTS(p.learning_rate = 0, "learning_rate");
	REJECTS(p.learning_rate = NAN, "learning_rate");
	REJECTS(p.lambda = -1, "lambda");
	REJECTS(p.subsample = 1.5, "subsample");
	REJECTS(p.max_bin = 1, "max_bin");
	REJECTS(p.objective = "binary:logistic", "objective");
	REJECTS(p.objective = NULL, "objective");
	{
		float	   *labels = d.label;
		float	   *same = calloc(d.rows, sizeof(float));

		REJECTS(td.label = same, "nothing to learn");
		d.label = labels;
		free(same);
	}
#undef REJECTS
	GbdtTrainerRelease(&t);
	FreeRankData(&d);
}

/*
 * XGBoost's own errors come back as GBDT_XGBOOST with its message, without
 * the stack trace it appends, and the handles stay releasable: a model
 * that is not one, predictions with the wrong number of features.
 */
UNIT_TEST(gbdt_xgboost_errors)
{
	GbdtTrainer t;
	RankData	d;
	GbdtParams	p;
	size_t		len = 0;
	char	   *model;
	float		out[64];
	static const char garbage[] = "{\"learner\": 42}";

	GbdtTrainerInit(&t);
	CHECK(GbdtXgboostLoadModel(&t, garbage, sizeof(garbage) - 1) == GBDT_XGBOOST);
	CHECK(strncmp(t.error, "XGBoost loading the model failed: ", 34) == 0);
	CHECK(strstr(t.error, "Stack trace") == NULL && strchr(t.error, '\n') == NULL);
	GbdtTrainerRelease(&t);
	CHECK(GbdtXgboostPredict(&t, out, 1, 1, false, out) == GBDT_INVALID);

	MakeRankData(&d, 500, 6, 0.1);
	GbdtParamsDefault(&p);
	p.trees = 3;
	model = TrainModel(&d, &p, &len);
	if (model != NULL)
	{
		CHECK(GbdtXgboostLoadModel(&t, model, len) == GBDT_OK);
		/* 6 features trained, 4 given */
		CHECK(GbdtXgboostPredict(&t, d.x, 10, 4, false, out) != GBDT_OK);
		CHECK(t.error[0] != '\0');
		CHECK(GbdtXgboostPredict(&t, d.x, 10, 4, true, out) != GBDT_OK);
		CHECK(GbdtXgboostPredict(&t, d.x, 10, 6, false, out) == GBDT_OK);
		GbdtTrainerRelease(&t);
	}
	free(model);
	FreeRankData(&d);
}

/*
 * Threads: loading XGBoost (libgomp with it), building a matrix, training
 * with nthread = 1 and XGBoost's predictions start no thread; the count of
 * /proc/self/task stays what it was before.
 */
UNIT_TEST(gbdt_train_starts_no_thread)
{
	int			before = ThreadCount();
	RankData	d;
	GbdtParams	p;
	size_t		len = 0;
	char	   *model;
	GbdtTrainer ref;
	float	   *out;
	char		err[GBDT_TRAIN_ERROR_LEN];

	CHECK(before >= 1);
	CHECK(GbdtXgboostLoad(err, sizeof(err)) == GBDT_OK);
	CHECK(GbdtXgboostVersion() != NULL);
	CHECK(ThreadCount() == before);
	MakeRankData(&d, 5000, 10, 0.1);
	GbdtParamsDefault(&p);
	p.trees = 10;
	p.subsample = 0.8;
	model = TrainModel(&d, &p, &len);
	CHECK(ThreadCount() == before);
	out = malloc(sizeof(float) * d.rows * 11);
	GbdtTrainerInit(&ref);
	if (model != NULL)
	{
		CHECK(GbdtXgboostLoadModel(&ref, model, len) == GBDT_OK);
		CHECK(GbdtXgboostPredict(&ref, d.x, d.rows, d.features, false, out) == GBDT_OK);
		CHECK(GbdtXgboostPredict(&ref, d.x, d.rows, d.features, true, out) == GBDT_OK);
	}
	GbdtTrainerRelease(&ref);
	CHECK(ThreadCount() == before);
	printf("  threads before and after XGBoost: %d and %d (XGBoost %s)\n",
		   before, ThreadCount(), GbdtXgboostVersion());
	free(out);
	free(model);
	FreeRankData(&d);
}
