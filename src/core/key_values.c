/*
 * key_values.c
 *	  The key → number map of jsonb objects of numbers (see key_values.h).
 */
#include "core/key_values.h"

#include <math.h>
#include <string.h>

/* The entry of a key, or NULL (a linear search: a user has few keys). */
KeyValue *
KeyValuesFind(KeyValues *map, const char *key, int length)
{
	for (int i = 0; i < map->n; i++)
	{
		KeyValue   *entry = &map->entries[i];

		if (entry->length == length && memcmp(entry->key, key, length) == 0)
			return entry;
	}
	return NULL;
}

/* Appends an entry; the caller made room. */
KeyValue *
KeyValuesPush(KeyValues *map, const char *key, int length, const void *stored,
			  double value)
{
	KeyValue   *entry = &map->entries[map->n++];

	entry->key = key;
	entry->length = length;
	entry->stored = stored;
	entry->value = value;
	return entry;
}

/* The index of a key among sorted keys, or -1; see key_values.h. */
int32_t
SortedKeyFind(const char *const *keys, const int *lengths, int n,
			  const char *key, int length)
{
	int			low = 0;
	int			high = n - 1;

	while (low <= high)
	{
		int			mid = low + (high - low) / 2;
		int			shorter = lengths[mid] < length ? lengths[mid] : length;
		int			cmp = memcmp(keys[mid], key, shorter);

		if (cmp == 0)
			cmp = (lengths[mid] > length) - (lengths[mid] < length);
		if (cmp == 0)
			return mid;
		if (cmp < 0)
			low = mid + 1;
		else
			high = mid - 1;
	}
	return -1;
}

/* How an entry is written back; see key_values.h. */
KeyValueForm
KeyValueOutput(const KeyValue *entry, bool integers, int64_t *integer)
{
	double		number = entry->value;

	if (entry->stored != NULL)
		return KEY_VALUE_STORED;
	if (!isfinite(number))
		return KEY_VALUE_SKIP;
	if (integers)
	{
		double		rounded = rint(number);

		rounded = rounded > -9.0e18 ? rounded : -9.0e18;
		*integer = (int64_t) (rounded < 9.0e18 ? rounded : 9.0e18);
		return KEY_VALUE_INTEGER;
	}
	if (number == rint(number) && fabs(number) < 1.0e15)
	{
		*integer = (int64_t) number;
		return KEY_VALUE_INTEGER;
	}
	return KEY_VALUE_DECIMAL;
}
