/*
 * gen_events.c
 *	  Synthetic e-commerce behavior for the demo and the benchmarks:
 *	  deterministic for a seed, sized by flags, up to tens of millions of
 *	  events.
 *
 * The world: categories are directions in a latent space; items belong to a
 * category, with long-tail (Zipf) popularity inside it and a vector near the
 * category's direction.  Users have a taste vector mixing one to three
 * categories, and an activity level (log-normal).  What real shop logs show,
 * and the generator reproduces:
 *   - sessions: bursts of item views in one category (the session's intent,
 *     mostly drawn from the user's taste, sometimes a new one), items chosen
 *     by popularity and affinity, and a funnel that turns views into clicks,
 *     favorites, carts and purchases with probabilities that grow with
 *     affinity;
 *   - re-visits: within a session the user goes back to an item viewed a
 *     few items earlier (comparing), and a later session often starts at an
 *     item of an earlier one (an item carted or favorited and not bought,
 *     or one looked at before); fresh picks mostly avoid what the user saw;
 *   - new items: a share of the items (--new-items) is listed during the
 *     period, not before, and new arrivals get a share of the views of
 *     their category for a week, so later events touch items that a model
 *     trained earlier never saw;
 *   - new users: a share of the users (--new-users) joins during the period.
 * Sessions are generated in time order (their arrival rate adapts so that
 * the event budget lasts the whole period), so every user's memory of
 * earlier sessions is causal.
 *
 * Output (no header, comma-separated):
 *   --items-out FILE    item_id,category
 *   --listed-out FILE   item_id,unix_seconds (when the item was listed; optional)
 *   --events-out FILE   user_id,item_id,category,event_type,unix_seconds,dwell_ms
 * events sorted by time.  Usage:
 *   gen_events --users N --items N --categories N --events N --days D
 *              --seed S [--new-items F] [--new-users F]
 *              --items-out FILE [--listed-out FILE] --events-out FILE
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 16

#define MEMORY 128				/* items each user remembers, most recent first */
#define SESSION_MAX 64			/* distinct items a session can go back to */
#define PENDING 1				/* a remembered item carted or favorited, not bought */
#define NEW_ITEM_DAYS 7			/* how long a new arrival gets its share of views */

typedef struct Event
{
	int64_t		ts;
	int32_t		user;
	int32_t		item;
	int32_t		dwell_ms;
	uint32_t	order;			/* generation order: ties of time keep it */
	int8_t		type;
} Event;

enum
{
	VIEW, CLICK, FAVORITE, CART, PURCHASE
};

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
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return 0;
}

/* Listing order of new items inside a category (an array of item numbers). */
static const int64_t *listed_at_sort;

static int
CompareListed(const void *a, const void *b)
{
	int			x = *(const int *) a,
				y = *(const int *) b;

	if (listed_at_sort[x] != listed_at_sort[y])
		return listed_at_sort[x] < listed_at_sort[y] ? -1 : 1;
	return x < y ? -1 : x > y;
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

static double
DoubleFlag(int argc, char **argv, const char *name, double def)
{
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return atof(argv[i + 1]);
	return def;
}

/* The catalog and its popularity, as the sessions see it. */
typedef struct Catalog
{
	int			n_cats;
	const int  *cat_first;		/* first item number of each category */
	const int  *cat_count;
	const Alias *cat_pop;		/* Zipf popularity inside each category */
	const int64_t *listed_at;	/* per item */
	const int  *new_first;		/* per category: its new items in new_items, */
	const int  *new_count;		/* sorted by listing time */
	const int  *new_items;
} Catalog;

/*
 * An item of category c listed by time t, drawn by popularity.  The first
 * item of every category is listed from the start, the fallback when the
 * draws keep hitting items not listed yet.
 */
static int
PickListed(const Catalog *cat, int c, int64_t t)
{
	for (int tries = 0; tries < 16; tries++)
	{
		int			i = cat->cat_first[c] + AliasDraw(&cat->cat_pop[c]);

		if (cat->listed_at[i] <= t)
			return i;
	}
	return cat->cat_first[c];
}

/* A new item of category c listed in the week before t, or -1. */
static int
PickNewArrival(const Catalog *cat, int c, int64_t t)
{
	const int  *items = cat->new_items + cat->new_first[c];
	int			lo = 0,
				hi = cat->new_count[c],
				first;

	/* first item listed after t - NEW_ITEM_DAYS, then the first after t */
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cat->listed_at[items[mid]] <= t - NEW_ITEM_DAYS * 86400)
			lo = mid + 1;
		else
			hi = mid;
	}
	first = lo;
	hi = cat->new_count[c];
	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (cat->listed_at[items[mid]] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == first)
		return -1;
	return items[first + (int) (Uniform() * (lo - first))];
}

/* Whether a user's memory holds the item. */
static bool
Remembers(const int32_t *memory, int item)
{
	for (int j = 0; j < MEMORY && memory[j] >= 0; j++)
		if (memory[j] == item)
			return true;
	return false;
}

/*
 * Moves the item to the front of a user's memory (the least recent falls
 * off) and sets or clears its PENDING flag as the event says.
 */
static void
Remember(int32_t *memory, uint8_t *flags, int item, int type)
{
	int			j;
	uint8_t		flag = 0;

	for (j = 0; j < MEMORY - 1 && memory[j] >= 0 && memory[j] != item; j++)
		;
	if (memory[j] == item)
		flag = flags[j];
	for (; j > 0; j--)
	{
		memory[j] = memory[j - 1];
		flags[j] = flags[j - 1];
	}
	if (type == FAVORITE || type == CART)
		flag |= PENDING;
	else if (type == PURCHASE)
		flag &= ~PENDING;
	memory[0] = item;
	flags[0] = flag;
}

/*
 * Where a returning user starts a session: mostly the most recent item
 * carted or favorited and not bought, else one of the last items looked at;
 * -1 when the user remembers nothing.
 */
static int
ReturnItem(const int32_t *memory, const uint8_t *flags)
{
	int			n = 0;

	if (Uniform() < 0.6)
		for (int j = 0; j < MEMORY && memory[j] >= 0; j++)
			if (flags[j] & PENDING)
				return memory[j];
	while (n < 8 && memory[n] >= 0)
		n++;
	return n == 0 ? -1 : memory[(int) (Uniform() * n)];
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
	double		new_item_share = DoubleFlag(argc, argv, "--new-items", 0.3);
	double		new_user_share = DoubleFlag(argc, argv, "--new-users", 0.25);
	const char *items_out = StringFlag(argc, argv, "--items-out");
	const char *listed_out = StringFlag(argc, argv, "--listed-out");
	const char *events_out = StringFlag(argc, argv, "--events-out");
	const int64_t start = 1700000000;	/* 2023-11-14, any fixed origin */
	const int64_t end = start + (int64_t) days * 86400;
	float	   *cat_vec,
			   *item_vec,
			   *user_vec;
	int		   *item_cat,
			   *cat_first,
			   *cat_count,
			   *new_first,
			   *new_count,
			   *new_items;
	int64_t    *listed_at,
			   *joined_at;
	Alias	   *cat_pop;
	Alias		user_pick;
	Catalog		catalog;
	int		  (*user_cats)[3];
	double	  (*user_mix)[3];
	int32_t    *memory;
	uint8_t    *memory_flags;
	Event	   *events;
	long		count = 0,
				sessions = 0;
	double		now = (double) start;
	FILE	   *f;

	if (n_users < 1 || n_items < n_cats || n_cats < 1 || n_events < 1 || days < 1 ||
		!(new_item_share >= 0 && new_item_share <= 1) ||
		!(new_user_share >= 0 && new_user_share <= 1) ||
		items_out == NULL || events_out == NULL)
	{
		fprintf(stderr, "usage: gen_events --users N --items N --categories N --events N "
				"--days D --seed S [--new-items F] [--new-users F] "
				"--items-out FILE [--listed-out FILE] --events-out FILE\n");
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

	/*
	 * items: near their category's direction, long-tail popularity; a share
	 * listed during the period (never the first item of a category, so every
	 * category has an item from the start)
	 */
	item_vec = Alloc((size_t) n_items * DIM, sizeof(float));
	item_cat = Alloc(n_items, sizeof(int));
	listed_at = Alloc(n_items, sizeof(int64_t));
	cat_pop = Alloc(n_cats, sizeof(Alias));
	new_first = Alloc(n_cats, sizeof(int));
	new_count = Alloc(n_cats, sizeof(int));
	new_items = Alloc(n_items, sizeof(int));
	for (int c = 0, n_new = 0; c < n_cats; c++)
	{
		double	   *w = Alloc(cat_count[c], sizeof(double));

		new_first[c] = n_new;
		for (int j = 0; j < cat_count[c]; j++)
		{
			int			i = cat_first[c] + j;
			float		noise[DIM];

			item_cat[i] = c;
			RandomUnit(noise);
			for (int d = 0; d < DIM; d++)
				item_vec[(size_t) i * DIM + d] = 0.8f * cat_vec[(size_t) c * DIM + d] + 0.6f * noise[d];
			w[j] = 1.0 / pow(j + 1, 0.9);
			listed_at[i] = start;
			if (j > 0 && Uniform() < new_item_share)
			{
				listed_at[i] = start + (int64_t) (Uniform() * (end - start));
				new_items[n_new++] = i;
			}
		}
		new_count[c] = n_new - new_first[c];
		listed_at_sort = listed_at;
		qsort(new_items + new_first[c], new_count[c], sizeof(int), CompareListed);
		if (cat_count[c] > 0)
			cat_pop[c] = AliasBuild(w, cat_count[c]);
		free(w);
	}
	catalog = (Catalog) {n_cats, cat_first, cat_count, cat_pop, listed_at,
	new_first, new_count, new_items};

	/*
	 * users: taste mixing up to three categories, log-normal activity, a
	 * share joining during the period
	 */
	user_vec = Alloc((size_t) n_users * DIM, sizeof(float));
	user_cats = Alloc(n_users, sizeof(*user_cats));
	user_mix = Alloc(n_users, sizeof(*user_mix));
	joined_at = Alloc(n_users, sizeof(int64_t));
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
			joined_at[u] = Uniform() < new_user_share ?
				start + (int64_t) (Uniform() * (end - start)) : start;
		}
		user_pick = AliasBuild(activity, n_users);
		free(activity);
		free(cw);
	}
	memory = Alloc((size_t) n_users * MEMORY, sizeof(int32_t));
	memory_flags = Alloc((size_t) n_users * MEMORY, sizeof(uint8_t));
	memset(memory, 0xff, (size_t) n_users * MEMORY * sizeof(int32_t));

	/*
	 * Sessions in time order until the event budget is spent.  They arrive
	 * as a Poisson process whose rate is set before each one from the
	 * events and time left and the mean session length so far, so the
	 * budget lasts about the whole period.
	 */
	events = Alloc(n_events, sizeof(Event));
	while (count < n_events)
	{
		double		per_session = (count + 5.0 * 4) / (sessions + 4);
		double		left = (double) end - now;
		int			u = -1;
		int32_t    *mem;
		uint8_t    *mem_flags;
		const float *taste;
		int			cat,
					back_to = -1,
					previous = -1,
					n_seen = 0,
					seen[SESSION_MAX];
		int64_t		t;
		int			views = 2 + (int) (Uniform() * Uniform() * 14);

		if (left < 60)
			left = 60;
		now += -log(Uniform() + 1e-300) * left * per_session / (n_events - count);
		t = (int64_t) now;
		for (int tries = 0; tries < 32 && u < 0; tries++)
		{
			u = AliasDraw(&user_pick);
			if (joined_at[u] > t)
				u = -1;
		}
		if (u < 0)
			continue;
		sessions++;
		taste = user_vec + (size_t) u * DIM;
		mem = memory + (size_t) u * MEMORY;
		mem_flags = memory_flags + (size_t) u * MEMORY;

		/*
		 * the session's intent: a return to an item of an earlier session,
		 * else mostly a favorite category, sometimes a new one
		 */
		if (Uniform() < 0.25)
			back_to = ReturnItem(mem, mem_flags);
		if (back_to >= 0)
			cat = item_cat[back_to];
		else if (Uniform() < 0.85)
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
			int			best = -1;
			double		affinity;
			int			dwell;

			if (v == 0 && back_to >= 0)
				best = back_to;
			else if (n_seen >= 2 && Uniform() < 0.12)
			{
				/* back to an item seen earlier in the session, comparing */
				do
					best = seen[(int) (Uniform() * n_seen)];
				while (best == previous);
			}
			else
			{
				/*
				 * ten candidates by popularity (now and then a new arrival),
				 * mostly ones the user has not seen; the best by affinity +
				 * noise
				 */
				double		best_score = -1e300;

				for (int c = 0; c < 10; c++)
				{
					int			i = Uniform() < 0.3 ? PickNewArrival(&catalog, cat, t) : -1;
					double		g,
								s;

					if (i < 0)
						i = PickListed(&catalog, cat, t);
					for (int r = 0; r < 4 && Remembers(mem, i); r++)
						i = PickListed(&catalog, cat, t);
					g = -log(-log(Uniform() + 1e-300) + 1e-300);	/* Gumbel */
					s = 3.0 * Dot(taste, item_vec + (size_t) i * DIM) + g;
					if (s > best_score)
					{
						best_score = s;
						best = i;
					}
				}
			}
			affinity = Dot(taste, item_vec + (size_t) best * DIM);
			dwell = (int) exp(8.5 + 0.8 * Normal() + affinity);
			t += 5 + (int64_t) (Uniform() * 60) + dwell / 1000;
			events[count] = (Event) {t, u, best, dwell, (uint32_t) count, VIEW};
			count++;
			Remember(mem, mem_flags, best, VIEW);
			previous = best;
			{
				int			j = 0;

				while (j < n_seen && seen[j] != best)
					j++;
				if (j == n_seen && n_seen < SESSION_MAX)
					seen[n_seen++] = best;
			}

			/* the funnel */
			if (count < n_events && Uniform() < Sigmoid(2.5 * affinity - 3.5))
			{
				t += 2 + (int64_t) (Uniform() * 20);
				events[count] = (Event) {t, u, best, 0, (uint32_t) count, CLICK};
				count++;
				if (count < n_events && Uniform() < 0.08)
				{
					events[count] = (Event) {t + 1, u, best, 0, (uint32_t) count, FAVORITE};
					count++;
					Remember(mem, mem_flags, best, FAVORITE);
				}
				if (count < n_events && Uniform() < Sigmoid(2.0 * affinity - 3.0))
				{
					t += 5 + (int64_t) (Uniform() * 30);
					events[count] = (Event) {t, u, best, 0, (uint32_t) count, CART};
					count++;
					Remember(mem, mem_flags, best, CART);
					if (count < n_events && Uniform() < 0.45)
					{
						t += 30 + (int64_t) (Uniform() * 300);
						events[count] = (Event) {t, u, best, 0, (uint32_t) count, PURCHASE};
						count++;
						Remember(mem, mem_flags, best, PURCHASE);
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

	if (listed_out != NULL)
	{
		if ((f = fopen(listed_out, "w")) == NULL)
		{
			perror(listed_out);
			return 1;
		}
		for (int i = 0; i < n_items; i++)
			fprintf(f, "%d,%lld\n", i + 1, (long long) listed_at[i]);
		CloseOutput(f, listed_out);
	}

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
