/*
 * fuzz_input.h
 *	  Reading a libFuzzer input as a stream of small integers, doubles and
 *	  floats (zeros once it is used up), for the fuzz targets of the core.
 */
#ifndef RERANK_FUZZ_INPUT_H
#define RERANK_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct FuzzInput
{
	const uint8_t *data;
	size_t		size;
	size_t		pos;
} FuzzInput;

/* The next n bytes into out (zeros past the end). */
static inline void
FuzzBytes(FuzzInput *in, void *out, size_t n)
{
	size_t		have = in->pos < in->size ? in->size - in->pos : 0;
	size_t		take = have < n ? have : n;

	memcpy(out, in->data + in->pos, take);
	memset((char *) out + take, 0, n - take);
	in->pos += take;
}

static inline uint8_t
FuzzByte(FuzzInput *in)
{
	uint8_t		b;

	FuzzBytes(in, &b, 1);
	return b;
}

/* An integer in [0, bound) (bound > 0). */
static inline int
FuzzBelow(FuzzInput *in, int bound)
{
	uint16_t	v;

	FuzzBytes(in, &v, sizeof(v));
	return (int) (v % (unsigned) bound);
}

/* Any double (NaN and infinities included), or a small one when tag says. */
static inline double
FuzzDouble(FuzzInput *in)
{
	uint8_t		tag = FuzzByte(in);
	double		d;

	if (tag < 128)
		return (double) (int8_t) FuzzByte(in) / 8.0;	/* small, exact */
	FuzzBytes(in, &d, sizeof(d));
	return d;
}

static inline float
FuzzFloat(FuzzInput *in)
{
	uint8_t		tag = FuzzByte(in);
	float		f;

	if (tag < 192)
		return (float) (int8_t) FuzzByte(in) / 16.0f;
	FuzzBytes(in, &f, sizeof(f));
	return f;
}

/* A malloc'd block of exactly n elements (at least one byte), for ASan. */
static inline void *
FuzzAlloc(size_t n, size_t size)
{
	void	   *p = malloc(n * size > 0 ? n * size : 1);

	if (p == NULL)
		abort();
	return p;
}

#endif							/* RERANK_FUZZ_INPUT_H */
