/*
 * fuzz_agg_state.c
 *	  libFuzzer target: the aggregate states of the core (core/agg_layout.c)
 *	  as the SQL functions use them.  Each input is a call of a state,
 *	  combine or final function with a state built from the input (random
 *	  values, or a near-valid layout with keys and length nudged), checked
 *	  exactly as the glue checks it, then updated or solved when the checks
 *	  pass.  Every state lives in a malloc'd block of exactly its length, so
 *	  AddressSanitizer sees any read or write the checks let through.
 *
 *	  make fuzz && test/fuzz/fuzz_agg_state -runs=100000
 */
#include "core/agg_layout.h"
#include "core/als_train.h"
#include "fuzz_input.h"

#include <math.h>
#include <stdbool.h>

/* Largest state built, in values (a fold-in state of k = 12 is 170). */
#define MAX_VALUES 200
#define MAX_K 12

/* The kinds of state the generator nudges towards. */
enum
{
	STATE_VECTOR,
	STATE_GRAM,
	STATE_FOLD_IN
};

/*
 * A state of *n values: empty, random values, or the layout of kind with
 * its keys and length nudged by the input.
 */
static double *
MakeState(FuzzInput *in, int kind, size_t *n)
{
	uint8_t		shape = FuzzByte(in);
	double	   *v;

	if (shape < 16)
	{
		*n = 0;
		return FuzzAlloc(0, sizeof(double));
	}
	if (shape < 96)
	{
		*n = (size_t) FuzzBelow(in, MAX_VALUES);
		v = FuzzAlloc(*n, sizeof(double));
		for (size_t i = 0; i < *n; i++)
			v[i] = FuzzDouble(in);
		return v;
	}
	{
		int			k = 1 + FuzzBelow(in, MAX_K);
		int			delta = FuzzBelow(in, 5) - 2;
		size_t		payload;

		payload = kind == STATE_FOLD_IN ? AggFoldInPayload(k) :
			kind == STATE_GRAM ? (size_t) k * k : (size_t) k;
		if (FuzzByte(in) < 64)
			payload = (size_t) ((int) payload + delta < 0 ? 0 : (int) payload + delta);
		*n = AGG_HEADER + payload;
		v = FuzzAlloc(*n, sizeof(double));
		v[0] = FuzzByte(in) < 32 ? FuzzDouble(in) : 1 + FuzzBelow(in, 1000);
		v[1] = FuzzByte(in) < 32 ? FuzzDouble(in) : FuzzBelow(in, 1000) / 4.0;
		for (size_t i = AGG_HEADER; i < *n; i++)
			v[i] = FuzzByte(in) < 16 ? FuzzDouble(in) : FuzzBelow(in, 64) / 8.0;
		if (kind == STATE_FOLD_IN && payload >= AGG_FOLD_IN_KEYS)
		{
			uint8_t		keys = FuzzByte(in);

			v[AGG_HEADER] = keys < 160 ? 1 + FuzzBelow(in, 3) : FuzzDouble(in);
			v[AGG_HEADER + 1] = keys < 96 ? k : keys < 160 ? 1 + FuzzBelow(in, MAX_K) :
				FuzzDouble(in);
		}
		return v;
	}
}

/* A copy of a state, of exactly its length (what the glue updates). */
static double *
Copy(const double *v, size_t n)
{
	double	   *c = FuzzAlloc(n, sizeof(double));

	memcpy(c, v, n * sizeof(double));
	return c;
}

static float *
MakeVector(FuzzInput *in, int k)
{
	float	   *x = FuzzAlloc((size_t) k, sizeof(float));
	bool		finite = FuzzByte(in) < 224;

	for (int i = 0; i < k; i++)
	{
		x[i] = FuzzFloat(in);
		/* the glue rejects non-finite vectors (CheckVectorFinite) */
		if (finite && !isfinite(x[i]))
			x[i] = 0;
	}
	return x;
}

/* vector_accum / vector_weighted_accum. */
static void
VectorAccum(FuzzInput *in)
{
	size_t		n;
	double	   *state = MakeState(in, STATE_VECTOR, &n);
	int			length = FuzzBelow(in, MAX_K + 1);
	float	   *x = MakeVector(in, length);
	double		weight = fabs(FuzzDouble(in));
	int			element;

	if (!isfinite(weight))
		weight = 1;
	if (n == 0 || (AggHeaderCheck(state, n, FuzzByte(in) & 1) == AGG_OK &&
				   n - AGG_HEADER == (size_t) length))
	{
		size_t		m = (size_t) length + AGG_HEADER;
		double	   *s = n == 0 ? calloc(m, sizeof(double)) : Copy(state, n);

		(void) AggVectorAdd(s, m, x, weight, &element);
		free(s);
	}
	free(state);
	free(x);
}

/* gram_accum and gram_final. */
static void
Gram(FuzzInput *in)
{
	size_t		n;
	double	   *state = MakeState(in, STATE_GRAM, &n);
	int			k = FuzzBelow(in, MAX_K + 1);
	float	   *x = MakeVector(in, k);
	double	   *work = FuzzAlloc((size_t) k, sizeof(double));
	int			sk;

	if (n > 0 && AggHeaderCheck(state, n, true) == AGG_OK &&
		AggGramLayout(n - AGG_HEADER, &sk) == AGG_OK)
	{
		double	   *s = Copy(state, n);
		double		sum = 0;

		/* the final function reads the whole matrix */
		for (int i = 0; i < sk; i++)
			for (int j = i; j < sk; j++)
				sum += s[AGG_HEADER + (size_t) i * sk + j];
		(void) sum;
		if (sk == k && AggGramAdd(s, n, x, work) != AGG_OK)
			abort();			/* a checked state must take the row */
		free(s);
	}
	free(state);
	free(x);
	free(work);
}

/* als_fold_in_accum and als_fold_in_final, against a model of k dims. */
static void
FoldIn(FuzzInput *in)
{
	size_t		n;
	double	   *state = MakeState(in, STATE_FOLD_IN, &n);
	int32_t		model_id = 1 + FuzzBelow(in, 3);
	int			k = 1 + FuzzBelow(in, MAX_K);
	float	   *y = MakeVector(in, k);
	double		weight = FuzzBelow(in, 100) / 4.0;
	bool		final = FuzzByte(in) & 1;

	if (n == 0)
	{
		size_t		m = AggFoldInPayload(k) + AGG_HEADER;
		double	   *s = calloc(m, sizeof(double));

		AggFoldInInit(s + AGG_HEADER, model_id, k);
		if (AggFoldInAdd(s, m, y, weight) != AGG_OK)
			abort();
		free(s);
	}
	else if (AggHeaderCheck(state, n, final) == AGG_OK &&
			 AggFoldInCheck(state + AGG_HEADER, n - AGG_HEADER, model_id, k) == AGG_OK)
	{
		double	   *s = Copy(state, n);

		if (!final)
		{
			if (AggFoldInAdd(s, n, y, weight) != AGG_OK)
				abort();		/* a checked state must take the row */
		}
		else
		{
			/* a YᵀY of the model: a Gram matrix of the vector, + identity */
			float	   *gram = FuzzAlloc((size_t) k * k, sizeof(float));
			double	   *work = FuzzAlloc((size_t) k * k + k, sizeof(double));
			float	   *x = FuzzAlloc((size_t) k, sizeof(float));
			double	   *S = s + AGG_HEADER + AGG_FOLD_IN_KEYS;

			for (int i = 0; i < k; i++)
				for (int j = 0; j < k; j++)
					gram[i * k + j] = y[i] * y[j] + (i == j);
			(void) AlsSolveSums(gram, k, fabs(FuzzDouble(in)), fabs(FuzzDouble(in)),
								S, S + (size_t) k * k, S + (size_t) k * k + k, x, work);
			free(gram);
			free(work);
			free(x);
		}
		free(s);
	}
	free(state);
	free(y);
}

/* The combine functions: two states, with or without the fold-in's keys. */
static void
Combine(FuzzInput *in)
{
	int			kind = FuzzBelow(in, 3);
	int			nkeys = kind == STATE_FOLD_IN ? AGG_FOLD_IN_KEYS : 0;
	size_t		n1,
				n2;
	double	   *a = MakeState(in, kind, &n1);
	double	   *b = MakeState(in, kind, &n2);
	bool		checked = n1 > 0 && n2 > 0 &&
		AggHeaderCheck(a, n1, true) == AGG_OK &&
		AggHeaderCheck(b, n2, true) == AGG_OK;

	if (checked && kind == STATE_FOLD_IN)
	{
		int32_t		m;
		int			k;

		checked = AggFoldInLayout(a + AGG_HEADER, n1 - AGG_HEADER, &m, &k) == AGG_OK &&
			AggFoldInLayout(b + AGG_HEADER, n2 - AGG_HEADER, &m, &k) == AGG_OK;
	}
	if (checked || FuzzByte(in) < 8)
	{
		/* AggCombine checks lengths itself: also call it unchecked */
		double	   *s = Copy(a, n1);
		double	   *before = Copy(a, n1);
		AggCheck	check = AggCombine(s, n1, b, n2, nkeys);

		if (check != AGG_OK && n1 > 0 && memcmp(s, before, n1 * sizeof(double)) != 0)
			abort();			/* a refused combine changed the state */
		free(s);
		free(before);
	}
	free(a);
	free(b);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in = {data, size, 0};

	switch (FuzzBelow(&in, 4))
	{
		case 0:
			VectorAccum(&in);
			break;
		case 1:
			Gram(&in);
			break;
		case 2:
			FoldIn(&in);
			break;
		default:
			Combine(&in);
			break;
	}
	return 0;
}
