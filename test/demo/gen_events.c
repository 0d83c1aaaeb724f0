/*
 * gen_events.c
 *	  Synthetic e-commerce behavior for the demo and the benchmarks:
 *	  deterministic for a seed, sized by flags, up to tens of millions of
 *	  events.
 *
 * The world: categories are directions in a latent space; items belong to a
 * category, with long-tail (Zipf) popularity inside it and a vector near the
 * category's direction.  Users have a taste vector mixing one to three
 * categories, and an activity level (log-normal).  Behavior comes in
 * sessions: a session has an intent (a category drawn from the user's taste,
 * sometimes a new one), the user views items of that category chosen by
 * popularity and affinity, and a funnel turns views into clicks, favorites,
 * carts and purchases with probabilities that grow with affinity.  Sessions
 * are what makes real-time signals valuable: the last few events say more
 * about the next one than a model trained yesterday.
 *
 * Output (no header, comma-separated):
 *   --items FILE    item_id,category
 *   --events FILE   user_id,item_id,category,event_type,unix_seconds,dwell_ms
 * events sorted by time.  Usage:
 *   gen_events --users N --items N --categories N --events N --days D
 *              --seed S --items-out FILE --events-out FILE
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 16

typedef struct Event
{
	int64_t		ts;
	int32_t		user;
	int32_t		item;
	int32_t		dwell_ms;
	int8_t		type;
} Event;

static const char *const event_names[] = {"view", "click", "favorite", "cart", "purchase"};

/* xoshiro256** seeded by splitmix64: fast, deterministic everywhere. */
static uint64_t rng_state[4];

static uint64_t
SplitMix(uint64_t *x)
{
	uint64_t	z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
Seed(uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		rng_state[i] = SplitMix(&seed);
}

static uint64_t
Next(void)
{
	uint64_t	result = ((rng_state[1] * 5) << 7 | (rng_state[1] * 5) >> 57) * 9;
	uint64_t	t = rng_state[1] << 17;

	rng_state[2] ^= rng_state[0];
	rng_state[3] ^= rng_state[1];
	rng_state[1] ^= rng_state[2];
	rng_state[0] ^= rng_state[3];
	rng_state[2] ^= t;
	rng_state[3] = (rng_state[3] << 45) | (rng_state[3] >> 19);
	return result;
}

/* Uniform in [0, 1). */
static double
Uniform(void)
{
	return (Next() >> 11) * 0x1.0p-53;
}

/* Standard normal (Box–Muller). */
static double
Normal(void)
{
	double		u = Uniform(),
				v = Uniform();

	return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * M_PI * v);
}

static void *
Alloc(size_t n, size_t size)
{
	void	   *p = calloc(n ? n : 1, size);

	if (p == NULL)
	{
		fprintf(stderr, "gen_events: out of memory\n");
		exit(1);
	}
	return p;
}

/* Walker's alias table over non-negative weights: O(1) draws. */
typedef struct Alias
{
	int			n;
	double	   *prob;
	int		   *alias;
} Alias;

static Alias
AliasBuild(const double *weights, int n)
{
	Alias		a = {n, Alloc(n, sizeof(double)), Alloc(n, sizeof(int))};
	double	   *scaled = Alloc(n, sizeof(double));
	int		   *small = Alloc(n, sizeof(int));
	int		   *large = Alloc(n, sizeof(int));
	int			ns = 0,
				nl = 0;
	double		total = 0;

	for (int i = 0; i < n; i++)
		total += weights[i];
	for (int i = 0; i < n; i++)
	{
		scaled[i] = weights[i] * n / total;
		if (scaled[i] < 1.0)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns > 0 && nl > 0)
	{
		int			s = small[--ns],
					l = large[--nl];

		a.prob[s] = scaled[s];
		a.alias[s] = l;
		scaled[l] -= 1.0 - scaled[s];
		if (scaled[l] < 1.0)
			small[ns++] = l;
		else
			large[nl++] = l;
	}
	while (nl > 0)
		a.prob[large[--nl]] = 1.0;
	while (ns > 0)
		a.prob[small[--ns]] = 1.0;
	free(scaled);
	free(small);
	free(large);
	return a;
}

static int
AliasDraw(const Alias *a)
{
	int			i = (int) (Uniform() * a->n);

	return Uniform() < a->prob[i] ? i : a->alias[i];
}

static double
Dot(const float *a, const float *b)
{
	double		s = 0;

	for (int i = 0; i < DIM; i++)
		s += (double) a[i] * b[i];
	return s;
}

static void
RandomUnit(float *v)
{
	double		norm = 0;

	for (int i = 0; i < DIM; i++)
	{
		v[i] = (float) Normal();
		norm += (double) v[i] * v[i];
	}
	norm = sqrt(norm);
	for (int i = 0; i < DIM; i++)
		v[i] /= norm;
}

static double
Sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

static int
CompareEvents(const void *a, const void *b)
{
	const Event *x = a,
			   *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->user != y->user)
		return x->user < y->user ? -1 : 1;
	return 0;
}

/* Closes an output file; a failed write (a full disk) fails the run. */
static void
CloseOutput(FILE *f, const char *path)
{
	int			failed = ferror(f);

	if (fclose(f) != 0 || failed)
	{
		fprintf(stderr, "gen_events: cannot write %s\n", path);
		exit(1);
	}
}

static long
Flag(int argc, char **argv, const char *name, long def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return atol(argv[i + 1]);
	return def;
}

static const char *
StringFlag(int argc, char **argv, const char *name)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

int
main(int argc, char **argv)
{
	int			n_users = (int) Flag(argc, argv, "--users", 2000);
	int			n_items = (int) Flag(argc, argv, "--items", 5000);
	int			n_cats = (int) Flag(argc, argv, "--categories", 40);
	long		n_events = Flag(argc, argv, "--events", 200000);
	int			days = (int) Flag(argc, argv, "--days", 30);
	uint64_t	seed = (uint64_t) Flag(argc, argv, "--seed", 42);
	const char *items_out = StringFlag(argc, argv, "--items-out");
	const char *events_out = StringFlag(argc, argv, "--events-out");
	const int64_t start = 1700000000;	/* 2023-11-14, any fixed origin */
	float	   *cat_vec,
			   *item_vec,
			   *user_vec;
	int		   *item_cat,
			   *cat_first,
			   *cat_count;
	Alias	   *cat_pop;
	Alias		user_pick;
	int		  (*user_cats)[3];
	double	  (*user_mix)[3];
	Event	   *events;
	long		count = 0;
	FILE	   *f;

	if (n_users < 1 || n_items < n_cats || n_cats < 1 || n_events < 1 || days < 1 ||
		items_out == NULL || events_out == NULL)
	{
		fprintf(stderr, "usage: gen_events --users N --items N --categories N --events N "
				"--days D --seed S --items-out FILE --events-out FILE\n");
		return 2;
	}
	Seed(seed);

	/* categories: random directions, Zipf-sized */
	cat_vec = Alloc((size_t) n_cats * DIM, sizeof(float));
	cat_first = Alloc(n_cats, sizeof(int));
	cat_count = Alloc(n_cats, sizeof(int));
	for (int c = 0; c < n_cats; c++)
		RandomUnit(cat_vec + (size_t) c * DIM);
	{
		double		total = 0,
					acc = 0;
		int			next = 0;

		for (int c = 0; c < n_cats; c++)
			total += 1.0 / pow(c + 1, 0.6);
		for (int c = 0; c < n_cats; c++)
		{
			acc += 1.0 / pow(c + 1, 0.6);
			cat_first[c] = next;
			cat_count[c] = (int) llround(acc / total * n_items) - next;
			if (cat_count[c] < 1)
				cat_count[c] = 1;
			if (next + cat_count[c] > n_items)
				cat_count[c] = n_items - next;
			next += cat_count[c];
		}
	}

	/* items: near their category's direction, long-tail popularity */
	item_vec = Alloc((size_t) n_items * DIM, sizeof(float));
	item_cat = Alloc(n_items, sizeof(int));
	cat_pop = Alloc(n_cats, sizeof(Alias));
	for (int c = 0; c < n_cats; c++)
	{
		double	   *w = Alloc(cat_count[c], sizeof(double));

		for (int j = 0; j < cat_count[c]; j++)
		{
			int			i = cat_first[c] + j;
			float		noise[DIM];

			item_cat[i] = c;
			RandomUnit(noise);
			for (int d = 0; d < DIM; d++)
				item_vec[(size_t) i * DIM + d] = 0.8f * cat_vec[(size_t) c * DIM + d] + 0.6f * noise[d];
			w[j] = 1.0 / pow(j + 1, 1.1);
		}
		if (cat_count[c] > 0)
			cat_pop[c] = AliasBuild(w, cat_count[c]);
		free(w);
	}

	/* users: taste mixing up to three categories, log-normal activity */
	user_vec = Alloc((size_t) n_users * DIM, sizeof(float));
	user_cats = Alloc(n_users, sizeof(*user_cats));
	user_mix = Alloc(n_users, sizeof(*user_mix));
	{
		double	   *activity = Alloc(n_users, sizeof(double));
		Alias		cat_pick;
		double	   *cw = Alloc(n_cats, sizeof(double));

		for (int c = 0; c < n_cats; c++)
			cw[c] = cat_count[c];
		cat_pick = AliasBuild(cw, n_cats);
		for (int u = 0; u < n_users; u++)
		{
			int			k = 1 + (int) (Uniform() * 3);
			double		total = 0;
			float		noise[DIM];

			for (int j = 0; j < 3; j++)
			{
				user_cats[u][j] = AliasDraw(&cat_pick);
				user_mix[u][j] = j < k ? 0.2 + Uniform() : 0.0;
				total += user_mix[u][j];
			}
			RandomUnit(noise);
			for (int d = 0; d < DIM; d++)
			{
				double		v = 0.5 * noise[d];

				for (int j = 0; j < 3; j++)
					v += user_mix[u][j] / total * cat_vec[(size_t) user_cats[u][j] * DIM + d];
				user_vec[(size_t) u * DIM + d] = (float) v;
			}
			for (int j = 0; j < 3; j++)
				user_mix[u][j] /= total;
			activity[u] = exp(Normal() * 0.9);
		}
		user_pick = AliasBuild(activity, n_users);
		free(activity);
		free(cw);
	}

	/* sessions until the event budget is spent */
	events = Alloc(n_events, sizeof(Event));
	while (count < n_events)
	{
		int			u = AliasDraw(&user_pick);
		const float *taste = user_vec + (size_t) u * DIM;
		int			cat;
		int64_t		t = start + (int64_t) (Uniform() * days * 86400.0);
		int			views = 2 + (int) (Uniform() * Uniform() * 14);
		double		r = Uniform();

		/* the session's intent: mostly a favorite category, sometimes new */
		if (r < 0.85)
		{
			double		x = Uniform(),
						acc = 0;

			cat = user_cats[u][0];
			for (int j = 0; j < 3; j++)
			{
				acc += user_mix[u][j];
				if (x < acc)
				{
					cat = user_cats[u][j];
					break;
				}
			}
		}
		else
			cat = (int) (Uniform() * n_cats);
		if (cat_count[cat] == 0)
			continue;

		for (int v = 0; v < views && count < n_events; v++)
		{
			/* ten candidates by popularity, the best by affinity + noise */
			int			best = -1;
			double		best_score = -1e300;
			double		affinity;
			int			dwell;

			for (int c = 0; c < 10; c++)
			{
				int			i = cat_first[cat] + AliasDraw(&cat_pop[cat]);
				double		g = -log(-log(Uniform() + 1e-300) + 1e-300);	/* Gumbel */
				double		s = 3.0 * Dot(taste, item_vec + (size_t) i * DIM) + g;

				if (s > best_score)
				{
					best_score = s;
					best = i;
				}
			}
			affinity = Dot(taste, item_vec + (size_t) best * DIM);
			dwell = (int) exp(8.5 + 0.8 * Normal() + affinity);
			t += 5 + (int64_t) (Uniform() * 60) + dwell / 1000;
			events[count++] = (Event) {t, u, best, dwell, 0};

			/* the funnel */
			if (count < n_events && Uniform() < Sigmoid(2.5 * affinity - 2.5))
			{
				t += 2 + (int64_t) (Uniform() * 20);
				events[count++] = (Event) {t, u, best, 0, 1};
				if (count < n_events && Uniform() < 0.08)
					events[count++] = (Event) {t + 1, u, best, 0, 2};
				if (count < n_events && Uniform() < Sigmoid(2.0 * affinity - 3.0))
				{
					t += 5 + (int64_t) (Uniform() * 30);
					events[count++] = (Event) {t, u, best, 0, 3};
					if (count < n_events && Uniform() < 0.45)
					{
						t += 30 + (int64_t) (Uniform() * 300);
						events[count++] = (Event) {t, u, best, 0, 4};
					}
				}
			}
		}
	}
	qsort(events, count, sizeof(Event), CompareEvents);

	if ((f = fopen(items_out, "w")) == NULL)
	{
		perror(items_out);
		return 1;
	}
	for (int i = 0; i < n_items; i++)
		fprintf(f, "%d,%d\n", i + 1, item_cat[i] + 1);
	CloseOutput(f, items_out);

	if ((f = fopen(events_out, "w")) == NULL)
	{
		perror(events_out);
		return 1;
	}
	for (long e = 0; e < count; e++)
		fprintf(f, "%d,%d,%d,%s,%lld,%d\n", events[e].user + 1, events[e].item + 1,
				item_cat[events[e].item] + 1, event_names[events[e].type],
				(long long) events[e].ts, events[e].dwell_ms);
	CloseOutput(f, events_out);
	return 0;
}
