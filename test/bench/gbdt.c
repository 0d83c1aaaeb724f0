/*
 * gbdt.c
 *	  Benchmark of the learned ranker's engine (src/core/gbdt_*.c), built
 *	  with the extension's flags and run by test/bench/gbdt.sh:
 *		gbdt [training rows] [rounds] [features]
 *
 * Serving: LambdaMART boosters of 10, 100 and 300 trees (depth 6, F
 * features) trained on 50,000 rows; then, for 500 candidates (15% of the
 * values missing), the median CPU time of the flat forest's margins against
 * XGBoost's own in-place prediction in the same run (and their ratio); of
 * GbdtForestPredict's evaluator, the portable walk (the evaluator before
 * the AVX2 one), the AVX2 evaluator and the AVX-512 one over the forest's
 * codes, interleaved in the same run, for 500, 100, 50, 10 and 1
 * candidates; of
 * TreeSHAP for one row and for all 500 against XGBoost's pred_contribs,
 * and of building the forest from the booster's JSON.  The margins are
 * compared bit for bit.
 *
 * Training: `rounds` rounds on `training rows` rows (groups of 50, graded
 * labels), one thread, wall time: building the training matrix, the
 * rounds, the longest gaps between two checks (a cancel waits at most that
 * long), and the growth of the peak resident memory.
 */
#include "core/gbdt_forest.h"
#include "core/gbdt_train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 0x243F6A8885A308D3ULL;

static double
Uniform(void)
{
	uint64_t	z = (rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return (double) (z >> 11) / 9007199254740992.0;
}

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * CPU time of this thread: the serving figures, steadier than wall time on
 * a machine shared with other work (the benchmark is single-threaded, and
 * so is XGBoost here).
 */
static double
Cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
CompareDoubles(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
Median(double *v, int n)
{
	qsort(v, n, sizeof(double), CompareDoubles);
	return v[n / 2];
}

/* A kB figure of /proc/self/status ("VmRSS:", "VmHWM:"). */
static long
StatusKb(const char *key)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	long		v = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
		{
			v = atol(line + strlen(key));
			break;
		}
	fclose(f);
	return v;
}

/* Ranking data: groups of 50, 15% missing, graded labels from a few features. */
static void
MakeData(int64_t rows, int nf, float **x, float **label, uint32_t **groups,
		 int *ngroups)
{
	*x = malloc(sizeof(float) * rows * nf);
	*label = malloc(sizeof(float) * rows);
	*ngroups = (int) ((rows + 49) / 50);
	*groups = malloc(sizeof(uint32_t) * *ngroups);
	for (int64_t i = 0; i < rows * nf; i++)
		(*x)[i] = Uniform() < 0.15 ? NAN : (float) Uniform();
	for (int64_t i = 0; i < rows; i++)
	{
		const float *r = *x + i * nf;
		double		s = 0;

		for (int j = 0; j < 6 && j < nf; j++)
			s += (isnan(r[j]) ? 0.5 : r[j]) * (j % 2 ? 0.7 : 1.0);
		s += Uniform();
		(*label)[i] = (float) (s < 3 ? 0 : s < 3.6 ? 1 : s < 4.2 ? 2 : 3);
	}
	for (int g = 0; g < *ngroups; g++)
		(*groups)[g] = (uint32_t) ((g + 1) * 50 <= rows ? 50 : rows - g * 50);
}

/* Times between checks, for the training figures. */
typedef struct Rounds
{
	double		start;
	double		last;			/* the last check */
	double		matrix;			/* start → the check before round 1 */
	double		max_loading_gap;	/* longest gap between checks while loading */
	double		max_round_gap;	/* longest gap between checks after that */
	double		end;
	int			loading_checks;
} Rounds;

static bool
TimeRound(void *arg, int round)
{
	Rounds	   *r = arg;
	double		now = Now();
	double		gap = now - r->last;

	if (round == GBDT_LOADING)
	{
		r->loading_checks++;
		if (gap > r->max_loading_gap)
			r->max_loading_gap = gap;
	}
	else if (round == 0)
	{
		r->matrix = now - r->start;
		if (gap > r->max_loading_gap)
			r->max_loading_gap = gap;
	}
	else if (gap > r->max_round_gap)
		r->max_round_gap = gap;
	r->last = now;
	return false;
}

/* Trains and returns the model JSON (malloc'd), or exits. */
static char *
Train(const float *x, const float *label, const uint32_t *groups, int ngroups,
	  int64_t rows, int nf, int trees, size_t *len, Rounds *timing)
{
	GbdtTrainer t;
	GbdtTrainData d = {x, label, groups, rows, nf, ngroups, 0};
	GbdtParams	p;
	char	   *model;

	GbdtParamsDefault(&p);
	p.trees = trees;
	p.max_depth = 6;
	GbdtTrainerInit(&t);
	if (timing != NULL)
		timing->start = timing->last = Now();
	if (GbdtTrain(&t, &d, &p, timing != NULL ? TimeRound : NULL, timing) != GBDT_OK)
	{
		fprintf(stderr, "training failed: %s\n", t.error);
		exit(1);
	}
	if (timing != NULL)
	{
		timing->end = Now();
		if (timing->end - timing->last > timing->max_round_gap)
			timing->max_round_gap = timing->end - timing->last;
	}
	model = malloc(t.model_len);
	memcpy(model, t.model, t.model_len);
	*len = t.model_len;
	GbdtTrainerRelease(&t);
	return model;
}

/* Builds the forest from JSON; exits when rejected. */
static GbdtForest *
Build(const char *json, size_t len)
{
	GbdtJsonShape shape;
	char		err[GBDT_ERROR_LEN];
	GbdtForest *f = NULL;
	void	   *scratch;
	size_t		size;

	if (!GbdtXgboostJsonShape(json, len, &shape, err, sizeof(err)))
	{
		fprintf(stderr, "model rejected: %s\n", err);
		exit(1);
	}
	size = GbdtForestSize(shape.num_trees, (int) shape.total_nodes);
	if (posix_memalign((void **) &f, 16, size) != 0)
		exit(1);
	scratch = malloc(GbdtXgboostJsonScratch(&shape));
	if (!GbdtForestFromXgboostJson(json, len, &shape, f, size, scratch, err, sizeof(err)))
	{
		fprintf(stderr, "model rejected: %s\n", err);
		exit(1);
	}
	free(scratch);
	return f;
}

/* The serving figures of one booster. */
static void
Serving(const char *model, size_t len, const float *cand, int ncand, int nf)
{
	GbdtForest *f = Build(model, len);
	GbdtTrainer ref;
	float	   *mine = malloc(sizeof(float) * ncand);
	float	   *theirs = malloc(sizeof(float) * ncand);
	float	   *phi = malloc(sizeof(float) * (nf + 1) * ncand);
	float	   *their_phi = malloc(sizeof(float) * (nf + 1) * ncand);
	void	   *work = NULL;
	void	   *pwork = NULL;
	static const int small_rows[] = {1, 10, 50, 100, 500};
	const int	nsmall = sizeof(small_rows) / sizeof(small_rows[0]);
	float	   *walk = malloc(sizeof(float) * ncand);
	float	   *avx2 = malloc(sizeof(float) * ncand);
	double		t[1001],
				t2[1001],
				t3[1001],
				before[sizeof(small_rows) / sizeof(small_rows[0])],
				after[sizeof(small_rows) / sizeof(small_rows[0])],
				mid2[sizeof(small_rows) / sizeof(small_rows[0])],
				avx512_t[sizeof(small_rows) / sizeof(small_rows[0])],
				t5[1001];
	float	   *avx512_out = malloc(sizeof(float) * ncand);
	int			avx512_identical = 0;
	int			walk_identical = 0,
				avx2_identical = 0,
				walk_rows = 0;
	double		build,
				ours,
				xgb,
				shap1,
				shap_all,
				xgb_shap;
	int			identical = 0;
	double		worst = 0;

	if (posix_memalign(&work, 16, GbdtContributionsWorkspace(f)) != 0 ||
		posix_memalign(&pwork, 16, GbdtPredictWorkspace(f)) != 0)
		exit(1);
	for (int i = 0; i < 21; i++)
	{
		double		s = Cpu();

		free(Build(model, len));
		t[i] = Cpu() - s;
	}
	build = Median(t, 21);

	GbdtTrainerInit(&ref);
	if (GbdtXgboostLoadModel(&ref, model, len) != GBDT_OK)
	{
		fprintf(stderr, "%s\n", ref.error);
		exit(1);
	}
	/*
	 * The evaluator against the portable walk (the evaluator before the
	 * AVX2 one, and what other CPUs run), interleaved so both see the same
	 * machine load; then fewer rows.
	 */
	for (int k = 0; k < nsmall; k++)
	{
		const int	rows = small_rows[k];
		const int	reps = rows < ncand ? 1001 : 401;

		for (int i = 0; i < reps; i++)
		{
			double		s = Cpu();

			GbdtForestPredictWith(f, cand, rows, walk, pwork, GBDT_PREDICT_SCALAR);
			t[i] = Cpu() - s;
			s = Cpu();
			GbdtForestPredictWith(f, cand, rows, avx2, pwork, GBDT_PREDICT_AVX2);
			t3[i] = Cpu() - s;
			s = Cpu();
			GbdtForestPredictWith(f, cand, rows, avx512_out, pwork, GBDT_PREDICT_AVX512);
			t5[i] = Cpu() - s;
			s = Cpu();
			GbdtForestPredict(f, cand, rows, mine, pwork);
			t2[i] = Cpu() - s;
		}
		before[k] = Median(t, reps);
		after[k] = Median(t2, reps);
		mid2[k] = Median(t3, reps);
		avx512_t[k] = Median(t5, reps);
		for (int r = 0; r < rows; r++)
		{
			walk_identical += memcmp(&mine[r], &walk[r], sizeof(float)) == 0;
			avx2_identical += memcmp(&avx2[r], &walk[r], sizeof(float)) == 0;
			avx512_identical += memcmp(&avx512_out[r], &walk[r], sizeof(float)) == 0;
		}
		walk_rows += rows;
	}
	ours = after[nsmall - 1];
	for (int i = 0; i < 101; i++)
	{
		double		s = Cpu();

		if (GbdtXgboostPredict(&ref, cand, ncand, nf, false, theirs) != GBDT_OK)
			exit(1);
		t[i] = Cpu() - s;
	}
	xgb = Median(t, 101);
	for (int i = 0; i < 401; i++)
	{
		double		s = Cpu();

		GbdtForestContributions(f, cand + (size_t) (i % ncand) * nf, phi, work);
		t[i] = Cpu() - s;
	}
	shap1 = Median(t, 401);
	for (int i = 0; i < 11; i++)
	{
		double		s = Cpu();

		for (int r = 0; r < ncand; r++)
			GbdtForestContributions(f, cand + (size_t) r * nf, phi + (size_t) r * (nf + 1), work);
		t[i] = Cpu() - s;
	}
	shap_all = Median(t, 11);
	for (int i = 0; i < 11; i++)
	{
		double		s = Cpu();

		if (GbdtXgboostPredict(&ref, cand, ncand, nf, true, their_phi) != GBDT_OK)
			exit(1);
		t[i] = Cpu() - s;
	}
	xgb_shap = Median(t, 11);
	GbdtTrainerRelease(&ref);

	for (int r = 0; r < ncand; r++)
		identical += memcmp(&mine[r], &theirs[r], sizeof(float)) == 0;
	for (int i = 0; i < ncand * (nf + 1); i++)
		if (fabs(phi[i] - their_phi[i]) > worst)
			worst = fabs(phi[i] - their_phi[i]);

	printf("%4d trees  model JSON %7.0f kB, forest %6.0f kB, built from JSON in %6.2f ms\n",
		   f->num_trees, len / 1024.0, f->size / 1024.0, build * 1e3);
	printf("            %d candidates: forest %7.1f us, XGBoost %7.1f us (forest / XGBoost %.2f); margins identical %d/%d\n",
		   ncand, ours * 1e6, xgb * 1e6, ours / xgb, identical, ncand);
	printf("            evaluator: %s; portable walk (before) / now, %d candidates %7.1f / %7.1f us (%.2fx)",
		   GbdtPredictPathAvailable(GBDT_PREDICT_AVX512) && f->codes_chunks > 0 &&
		   f->num_trees >= 2 * f->num_features * f->codes_chunks ? "AVX-512 over the codes" :
		   GbdtPredictPathAvailable(GBDT_PREDICT_AVX2) ? "AVX2" : "portable walk (no AVX2)",
		   ncand, before[nsmall - 1] * 1e6, after[nsmall - 1] * 1e6,
		   before[nsmall - 1] / after[nsmall - 1]);
	for (int k = nsmall - 2; k >= 0; k--)
		printf(", %d: %.1f / %.1f us (%.2fx)", small_rows[k], before[k] * 1e6,
			   after[k] * 1e6, before[k] / after[k]);
	printf("; identical %d/%d\n", walk_identical, walk_rows);
	/* each path forced, whatever the rows (a path the CPU lacks: the walk) */
	printf("            walk / AVX2, %d candidates %7.1f / %7.1f us (%.2fx)",
		   ncand, before[nsmall - 1] * 1e6, mid2[nsmall - 1] * 1e6,
		   before[nsmall - 1] / mid2[nsmall - 1]);
	for (int k = nsmall - 2; k >= 0; k--)
		printf(", %d: %.1f / %.1f us (%.2fx)", small_rows[k], before[k] * 1e6,
			   mid2[k] * 1e6, before[k] / mid2[k]);
	printf("; identical to the walk: AVX2 %d/%d\n", avx2_identical, walk_rows);
	printf("            AVX2 / AVX-512 over the codes (%d chunk%s), %d candidates %7.1f / %7.1f us (%.2fx)",
		   f->codes_chunks, f->codes_chunks == 1 ? "" : "s",
		   ncand, mid2[nsmall - 1] * 1e6, avx512_t[nsmall - 1] * 1e6,
		   mid2[nsmall - 1] / avx512_t[nsmall - 1]);
	for (int k = nsmall - 2; k >= 0; k--)
		printf(", %d: %.1f / %.1f us (%.2fx)", small_rows[k], mid2[k] * 1e6,
			   avx512_t[k] * 1e6, mid2[k] / avx512_t[k]);
	printf("; identical to the walk %d/%d%s\n", avx512_identical, walk_rows,
		   GbdtPredictPathAvailable(GBDT_PREDICT_AVX512) && f->codes_chunks > 0 ? "" :
		   " (no AVX-512 or no codes: AVX2 in both)");
	printf("            TreeSHAP: one row %6.1f us; %d rows %7.2f ms, XGBoost pred_contribs %7.2f ms (forest / XGBoost %.2f); max |difference| %.2g\n",
		   shap1 * 1e6, ncand, shap_all * 1e3, xgb_shap * 1e3, shap_all / xgb_shap, worst);
	free(work);
	free(pwork);
	free(their_phi);
	free(phi);
	free(theirs);
	free(mine);
	free(walk);
	free(avx2);
	free(avx512_out);
	free(f);
}

int
main(int argc, char **argv)
{
	int64_t		train_rows = argc > 1 ? atoll(argv[1]) : 1000000;
	int			rounds = argc > 2 ? atoi(argv[2]) : 100;
	int			nf = argc > 3 ? atoi(argv[3]) : 30;
	const int	ncand = 500;
	const int	sizes[] = {10, 100, 300};
	float	   *x,
			   *label,
			   *cand;
	uint32_t   *groups;
	int			ngroups;
	char		err[GBDT_TRAIN_ERROR_LEN];

	if (GbdtXgboostLoad(err, sizeof(err)) != GBDT_OK)
	{
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("XGBoost %s, one thread; F = %d features\n", GbdtXgboostVersion(), nf);

	/* serving */
	MakeData(50000, nf, &x, &label, &groups, &ngroups);
	cand = malloc(sizeof(float) * ncand * nf);
	for (int i = 0; i < ncand * nf; i++)
		cand[i] = Uniform() < 0.15 ? NAN : (float) Uniform();
	for (int s = 0; s < (int) (sizeof(sizes) / sizeof(sizes[0])); s++)
	{
		size_t		len;
		char	   *model = Train(x, label, groups, ngroups, 50000, nf, sizes[s], &len, NULL);

		Serving(model, len, cand, ncand, nf);
		free(model);
	}
	free(x);
	free(label);
	free(groups);

	/* training */
	if (train_rows > 0 && rounds > 0)
	{
		Rounds		timing = {0};
		long		rss_before,
					hwm_after;
		size_t		len;
		char	   *model;
		FILE	   *clear;

		MakeData(train_rows, nf, &x, &label, &groups, &ngroups);
		/* reset the peak to the current size (Linux ≥ 4.0) */
		clear = fopen("/proc/self/clear_refs", "w");
		if (clear != NULL)
		{
			fputs("5", clear);
			fclose(clear);
		}
		rss_before = StatusKb("VmRSS:");
		model = Train(x, label, groups, ngroups, train_rows, nf, rounds, &len, &timing);
		hwm_after = StatusKb("VmHWM:");
		printf("training %lld rows x %d features (%d groups of 50), %d rounds of depth 6: %.1f s\n"
			   "            training matrix %.2f s (longest gap between checks %.3f s, %d checks), "
			   "then %.3f s per round (longest gap %.3f s)\n"
			   "            peak memory +%.0f MB over the %.0f MB of the rows; model %.0f kB\n",
			   (long long) train_rows, nf, ngroups, rounds, timing.end - timing.start,
			   timing.matrix, timing.max_loading_gap, timing.loading_checks,
			   (timing.end - timing.start - timing.matrix) / rounds, timing.max_round_gap,
			   (hwm_after - rss_before) / 1024.0,
			   sizeof(float) * (double) train_rows * (nf + 1) / 1048576.0, len / 1024.0);
		free(model);
		free(x);
		free(label);
		free(groups);
	}
	free(cand);
	return 0;
}
