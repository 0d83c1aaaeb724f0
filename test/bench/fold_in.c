/*
 * fold_in.c
 *	  Micro-benchmark of AlsFoldIn (src/core/als_solve.c), the solve the
 *	  real-time trigger runs per event: k dimensions, a history of n items,
 *	  against the Gram matrix of a random catalog.  Prints the median, 10th
 *	  and 90th percentile microseconds of `runs` solves.  Built and run by
 *	  test/bench/realtime.sh:
 *		fold_in [k] [n] [runs]
 */
#include "core/als_solve.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double
NowMicros(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
CompareDoubles(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int			k = argc > 1 ? atoi(argv[1]) : 64;
	int			n = argc > 2 ? atoi(argv[2]) : 100;
	int			runs = argc > 3 ? atoi(argv[3]) : 5001;
	int			items = 2000;
	unsigned	seed = 12345;
	float	   *Y = malloc(sizeof(float) * items * k);
	float	   *gram = calloc((size_t) k * k, sizeof(float));
	const float **vectors = malloc(sizeof(float *) * n);
	double	   *confidence = malloc(sizeof(double) * n);
	double	   *work = malloc(sizeof(double) * AlsFoldInWorkspace(k, n));
	float	   *x = malloc(sizeof(float) * k);
	double	   *times = malloc(sizeof(double) * runs);
	double		sink = 0;
	AlsHistory	history = {n, vectors, confidence};

	if (k < 1 || n < 1 || runs < 1 || n > items)
	{
		fprintf(stderr, "usage: fold_in [k] [n <= %d] [runs]\n", items);
		return 2;
	}
	for (int i = 0; i < items * k; i++)
	{
		seed = seed * 1103515245u + 12345u;
		Y[i] = (((seed >> 8) & 0xffff) / 65536.0f - 0.5f) * 0.2f;
	}
	for (int a = 0; a < k; a++)
		for (int b = 0; b < k; b++)
		{
			double		s = 0;

			for (int i = 0; i < items; i++)
				s += (double) Y[i * k + a] * Y[i * k + b];
			gram[a * k + b] = (float) s;
		}
	for (int j = 0; j < n; j++)
	{
		vectors[j] = Y + (size_t) ((j * 7919) % items) * k;
		confidence[j] = 1.0 + 1.0 * (1 + j % 8);
	}
	for (int r = 0; r < runs; r++)
	{
		double		t0 = NowMicros();

		if (!AlsFoldIn(gram, k, 0.1, &history, x, work))
			return 1;
		times[r] = NowMicros() - t0;
		sink += x[r % k];
	}
	qsort(times, runs, sizeof(double), CompareDoubles);
	printf("%.2f %.2f %.2f\n", times[runs / 2], times[runs / 10], times[runs * 9 / 10]);
	return sink != sink;		/* keep the solves */
}
