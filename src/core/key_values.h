/*
 * key_values.h
 *	  A key → number map, the in-memory form of a jsonb object of numbers
 *	  (a user's event counts and category weights), for the pure-C core: the
 *	  look-up, the update and the decision how each number is written back.
 *	  No PostgreSQL headers, no allocation (the caller grows the entries).
 *
 * Values read from storage stay in their stored form (an opaque pointer,
 * a numeric to the caller) until changed: a user has a few dozen
 * categories and an event changes one, so converting all of them to double
 * and back would cost more than the rest of the update.
 */
#ifndef RERANK_KEY_VALUES_H
#define RERANK_KEY_VALUES_H

#include <stdbool.h>
#include <stdint.h>

typedef struct KeyValue
{
	const char *key;			/* not NUL-terminated: see length */
	int			length;
	const void *stored;			/* the stored value, NULL once changed */
	double		value;			/* valid where stored is NULL */
} KeyValue;

typedef struct KeyValues
{
	int			n;
	int			capacity;		/* of entries */
	KeyValue   *entries;		/* in insertion order */
} KeyValues;

/* The entry of a key, or NULL. */
extern KeyValue *KeyValuesFind(KeyValues *map, const char *key, int length);

/* Appends an entry (the caller made room: n < capacity). */
extern KeyValue *KeyValuesPush(KeyValues *map, const char *key, int length,
							   const void *stored, double value);

/*
 * The index of a key among n distinct keys sorted in byte order (memcmp,
 * then the shorter first: COLLATE "C"), or -1: a binary search.
 */
extern int32_t SortedKeyFind(const char *const *keys, const int *lengths,
							 int n, const char *key, int length);

/* How an entry is written back. */
typedef enum KeyValueForm
{
	KEY_VALUE_STORED,			/* unchanged: the stored value as it was */
	KEY_VALUE_SKIP,				/* not finite: left out */
	KEY_VALUE_INTEGER,			/* *integer */
	KEY_VALUE_DECIMAL			/* the double in its shortest exact decimal
								 * form, so reading it back gives the same
								 * double */
} KeyValueForm;

/*
 * The form of an entry: with integers (counts), changed values are rounded
 * to integers (clamped to ±9e18); otherwise whole numbers under 1e15 are
 * integers (the same number as the decimal form, without the parsing) and
 * the others decimals.
 */
extern KeyValueForm KeyValueOutput(const KeyValue *entry, bool integers,
								   int64_t *integer);

#endif							/* RERANK_KEY_VALUES_H */
