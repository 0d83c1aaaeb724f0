/*
 * blend_tune.c
 *	  Chooses the hand-weighted blend's default weights from the candidate
 *	  features the replay recorded (test/bench/blend_tune.sh): reads one
 *	  ranked list per line, scores every candidate as rerank() does (the
 *	  weighted sum of its features, a missing feature adding nothing; ties
 *	  by upstream position) and searches the weights, one feature at a time
 *	  over a fixed grid, for the best mean of HR@10 and NDCG@10 over the
 *	  cells (data set × candidate generator), each cell counting the same,
 *	  on the ranked events of even sequence number; the odd ones are held
 *	  out and reported beside them.
 *
 *	  blend_tune FILE [option ...]
 *
 * Options: name=value sets a start weight; name:fixed keeps it there;
 * cell>=value (e.g. taobao/category>=0.4365) asks that cell's HR@10 to
 * reach value: each point below costs the objective ten;
 * --nonneg allows no negative weight except to features given as
 * name:signed (the defaults shipped: see README, "The blend and its
 * defaults"); after the search, each chosen weight is set to 0 in turn and
 * the objective lost is printed (what each feature brings).
 *
 * Input lines (COPY text): dataset, generator, seq, target position
 * (1-based), then the features as a real[] literal, FEATURE_COUNT per
 * candidate in upstream order.  The feature order is core/features.h's.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/features.h"

#define MAX_CELLS 32
#define HR_CUT 10

typedef struct List
{
	int			cell;
	long long	seq;
	int			target;			/* 0-based */
	int			n;
	float	   *x;				/* n × FEATURE_COUNT, NaN: missing */
} List;

static List *lists;
static int	nlists;
static char cell_names[MAX_CELLS][128];
static int	ncells;

/* The cell of a (dataset, generator) pair, added when new. */
static int
CellOf(const char *dataset, const char *generator)
{
	char		name[128];

	snprintf(name, sizeof(name), "%s/%s", dataset, generator);
	for (int c = 0; c < ncells; c++)
		if (strcmp(cell_names[c], name) == 0)
			return c;
	if (ncells == MAX_CELLS)
	{
		fprintf(stderr, "too many cells\n");
		exit(1);
	}
	strcpy(cell_names[ncells], name);
	return ncells++;
}

/* Reads the file: one list per line. */
static void
Load(const char *path)
{
	FILE	   *f = fopen(path, "r");
	size_t		cap = 0,
				linecap = 0;
	char	   *line = NULL;
	int			capacity = 1024;

	if (f == NULL)
	{
		perror(path);
		exit(1);
	}
	lists = malloc(sizeof(List) * capacity);
	while (getline(&line, &linecap, f) > 0)
	{
		char	   *fields[5];
		char	   *p = line;
		List	   *l;
		int			k = 0;

		for (int i = 0; i < 5; i++)
		{
			fields[i] = p;
			p = strchr(p, '\t');
			if (p == NULL && i < 4)
			{
				fprintf(stderr, "bad line\n");
				exit(1);
			}
			if (p)
				*p++ = '\0';
		}
		if (nlists == capacity)
		{
			capacity *= 2;
			lists = realloc(lists, sizeof(List) * capacity);
		}
		l = &lists[nlists];
		l->cell = CellOf(fields[0], fields[1]);
		l->seq = atoll(fields[2]);
		l->target = atoi(fields[3]) - 1;
		/* count the values */
		cap = 1;
		for (char *q = fields[4]; *q; q++)
			if (*q == ',')
				cap++;
		l->n = (int) (cap / FEATURE_COUNT);
		if (l->n * FEATURE_COUNT != (int) cap || l->target < 0 || l->target >= l->n)
		{
			fprintf(stderr, "bad list at seq %lld\n", l->seq);
			exit(1);
		}
		l->x = malloc(sizeof(float) * cap);
		p = fields[4];
		if (*p == '{')
			p++;
		while (*p && *p != '}' && k < (int) cap)
		{
			char	   *end;

			if (strncmp(p, "NULL", 4) == 0)
			{
				l->x[k++] = NAN;
				p += 4;
			}
			else
			{
				l->x[k++] = strtof(p, &end);
				p = end;
			}
			if (*p == ',')
				p++;
		}
		nlists++;
	}
	free(line);
	fclose(f);
}

/* HR@10, NDCG@10 and MRR per cell and half (0: even seq, 1: odd). */
typedef struct Metrics
{
	double		hr[MAX_CELLS][2],
				ndcg[MAX_CELLS][2],
				mrr[MAX_CELLS][2];
	int			n[MAX_CELLS][2];
} Metrics;

/* Scores every list with the weights and gathers the metrics. */
static void
Evaluate(const double *w, Metrics *m)
{
	memset(m, 0, sizeof(Metrics));
	for (int i = 0; i < nlists; i++)
	{
		const List *l = &lists[i];
		double		st = 0.0;
		int			rank = 1;
		int			half = (int) (l->seq & 1);
		double		scores[4096];

		for (int c = 0; c < l->n && c < 4096; c++)
		{
			double		s = 0.0;

			for (int f = 0; f < FEATURE_COUNT; f++)
			{
				float		v = l->x[c * FEATURE_COUNT + f];

				if (!isnan(v) && w[f] != 0.0)
					s += w[f] * v;
			}
			scores[c] = s;
		}
		st = scores[l->target];
		for (int c = 0; c < l->n; c++)
			if (scores[c] > st || (scores[c] == st && c < l->target))
				rank++;
		m->n[l->cell][half]++;
		if (rank <= HR_CUT)
		{
			m->hr[l->cell][half] += 1.0;
			m->ndcg[l->cell][half] += 1.0 / log2(rank + 1.0);
		}
		m->mrr[l->cell][half] += 1.0 / rank;
	}
	for (int c = 0; c < ncells; c++)
		for (int h = 0; h < 2; h++)
			if (m->n[c][h] > 0)
			{
				m->hr[c][h] /= m->n[c][h];
				m->ndcg[c][h] /= m->n[c][h];
				m->mrr[c][h] /= m->n[c][h];
			}
}

/* HR@10 floors per cell (NAN: none), from the cell>=value options. */
static char floor_names[MAX_CELLS][128];
static double floor_values[MAX_CELLS];
static int	nfloors;

/*
 * The objective on a half: mean over cells of (HR@10 + NDCG@10) / 2, less
 * ten times the HR@10 any cell falls short of its floor.
 */
static double
Objective(const Metrics *m, int half)
{
	double		sum = 0.0;

	if (ncells == 0)
		return 0.0;
	for (int c = 0; c < ncells; c++)
		sum += (m->hr[c][half] + m->ndcg[c][half]) / 2.0;
	sum /= ncells;
	for (int f = 0; f < nfloors; f++)
		for (int c = 0; c < ncells; c++)
			if (strcmp(cell_names[c], floor_names[f]) == 0 && m->hr[c][half] < floor_values[f])
				sum -= 10.0 * (floor_values[f] - m->hr[c][half]);
	return sum;
}

static void
PrintWeights(const char *title, const double *w)
{
	printf("%s:", title);
	for (int f = 0; f < FEATURE_COUNT; f++)
		if (w[f] != 0.0)
			printf(" %s=%g", FeatureName(f), w[f]);
	printf("\n");
}

static void
PrintMetrics(const char *title, const double *w)
{
	Metrics		m;

	Evaluate(w, &m);
	printf("%-12s %-22s %7s %7s %7s | %7s %7s %7s\n", title, "cell", "HR_tune", "NDCG", "MRR",
		   "HR_held", "NDCG", "MRR");
	for (int c = 0; c < ncells; c++)
		printf("%-12s %-22s %7.4f %7.4f %7.4f | %7.4f %7.4f %7.4f\n", "", cell_names[c],
			   m.hr[c][0], m.ndcg[c][0], m.mrr[c][0], m.hr[c][1], m.ndcg[c][1], m.mrr[c][1]);
	printf("%-12s %-22s objective %.4f tuned, %.4f held out\n", "", "", Objective(&m, 0),
		   Objective(&m, 1));
}

/* Per feature: kept at its start weight; may be negative under --nonneg. */
static bool fixed[FEATURE_COUNT];
static bool is_signed[FEATURE_COUNT];

int
main(int argc, char **argv)
{
	/* the grid each weight is chosen from */
	static const double grid[] = {
		-3, -2, -1.5, -1, -0.5, -0.2, -0.1, 0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20
	};
	double		w[FEATURE_COUNT] = {0};
	double		legacy[FEATURE_COUNT] = {0};
	Metrics		m;
	double		best;
	bool		nonneg = false;

	if (argc < 2)
	{
		fprintf(stderr, "usage: blend_tune FILE [name=value ...]\n");
		return 2;
	}
	Load(argv[1]);
	printf("%d lists in %d cells\n", nlists, ncells);

	legacy[FEAT_MODEL_SCORE] = 1.0;
	legacy[FEAT_RECENT_SIMILARITY] = 0.2;
	legacy[FEAT_POSITION] = 0.1;
	legacy[FEAT_CATEGORY_AFFINITY] = 0.1;
	memcpy(w, legacy, sizeof(w));
	for (int a = 2; a < argc; a++)
	{
		char	   *eq = strchr(argv[a], '=');
		char	   *colon = strchr(argv[a], ':');
		int			f;

		if (strcmp(argv[a], "--nonneg") == 0)
		{
			nonneg = true;
			continue;
		}
		if (strstr(argv[a], ">=") != NULL)
		{
			char	   *ge = strstr(argv[a], ">=");

			snprintf(floor_names[nfloors], sizeof(floor_names[0]), "%.*s",
					 (int) (ge - argv[a]), argv[a]);
			floor_values[nfloors++] = atof(ge + 2);
			continue;
		}
		if (eq != NULL)
			f = FeatureByName(argv[a], (size_t) (eq - argv[a]));
		else if (colon != NULL)
			f = FeatureByName(argv[a], (size_t) (colon - argv[a]));
		else
			f = -1;
		if (f < 0)
		{
			fprintf(stderr, "unknown feature in %s\n", argv[a]);
			return 2;
		}
		if (eq != NULL)
			w[f] = atof(eq + 1);
		else if (strcmp(colon + 1, "fixed") == 0)
			fixed[f] = true;
		else if (strcmp(colon + 1, "signed") == 0)
			is_signed[f] = true;
		else
		{
			fprintf(stderr, "unknown option %s\n", argv[a]);
			return 2;
		}
	}
	PrintMetrics("0.1.0 weights", legacy);
	PrintWeights("start", w);
	Evaluate(w, &m);
	best = Objective(&m, 0);

	/*
	 * Coordinate search: the model score's weight stays 1 (scores only
	 * compare within a list: a common factor changes nothing), the per-user
	 * features stay 0 (a constant of the list changes no order).
	 */
	for (int round = 0; round < 6; round++)
	{
		int			changed = 0;

		for (int f = 0; f < FEATURE_COUNT; f++)
		{
			double		keep = w[f];
			double		chosen = keep;

			if (f == FEAT_MODEL_SCORE || f == FEAT_USER_LOG_HISTORY ||
				f == FEAT_SESSION_ACTIVE || fixed[f])
				continue;
			for (int g = 0; g < (int) (sizeof(grid) / sizeof(grid[0])); g++)
			{
				double		obj;

				if (nonneg && !is_signed[f] && grid[g] < 0.0)
					continue;
				w[f] = grid[g];
				Evaluate(w, &m);
				obj = Objective(&m, 0);
				if (obj > best + 1e-9)
				{
					best = obj;
					chosen = grid[g];
				}
			}
			w[f] = chosen;
			if (chosen != keep)
				changed++;
		}
		printf("round %d: objective %.4f, %d weights changed\n", round + 1, best, changed);
		if (changed == 0)
			break;
	}
	PrintWeights("chosen", w);
	PrintMetrics("chosen", w);

	/* what each chosen weight brings: the objective without it */
	printf("without each feature (objective tuned, held out; the chosen: %.4f, ", best);
	Evaluate(w, &m);
	printf("%.4f)\n", Objective(&m, 1));
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		double		keep = w[f];

		if (keep == 0.0)
			continue;
		w[f] = 0.0;
		Evaluate(w, &m);
		printf("  %-20s %7.4f %7.4f\n", FeatureName(f), Objective(&m, 0), Objective(&m, 1));
		w[f] = keep;
	}
	return 0;
}
