/*
 * item_signals.c
 *	  Item statistics, co-visitation lists and the flat block that holds
 *	  them (see item_signals.h).
 *
 * CovisBuild counts pairs item by item rather than in a hash of pairs: an
 * inverted index from each item to its places in the sessions, then for
 * one item at a time a dense count array over its co-occurring items
 * (reset through the list of entries it touched).  Memory is O(events +
 * items), never O(distinct pairs), and the result does not depend on any
 * hash order.
 */
#include "core/item_signals.h"

#include <math.h>
#include <string.h>

#include "core/id_hash.h"

/* ---- item statistics ---- */

void
ItemStatsInit(ItemStats *stats)
{
	stats->first_seen = NAN;
	stats->events = 0;
	for (int w = 0; w < FEAT_POP_WINDOWS; w++)
		stats->popularity[w] = 0.0f;
}

void
ItemStatsAdd(ItemStats *stats, double at, double event_at)
{
	double		age = at - event_at;

	for (int w = 0; w < FEAT_POP_WINDOWS; w++)
		stats->popularity[w] += age > 0.0 ? (float) exp2(-age / feat_pop_half_life[w]) : 1.0f;
	stats->events++;
	if (isnan(stats->first_seen) || event_at < stats->first_seen)
		stats->first_seen = event_at;
}

void
ItemStatsDecay(float *popularity, double from, double to)
{
	double		age = to - from;

	if (!(age > 0.0))
		return;
	for (int w = 0; w < FEAT_POP_WINDOWS; w++)
		popularity[w] = (float) (popularity[w] * exp2(-age / feat_pop_half_life[w]));
}

/* ---- co-visitation lists ---- */

bool
CovisNewSession(double previous, double at, double gap)
{
	if (isnan(previous) || isnan(at))
		return true;
	return at - previous > gap;
}

/* Entries of a list under construction, for the selection. */
typedef struct CovisEntry
{
	int32_t		item;
	int32_t		count;
} CovisEntry;

/* Bytes Take hands out for a request of bytes. */
static size_t
Rounded(size_t bytes)
{
	return (bytes + 7) & ~(size_t) 7;
}

/* Takes bytes from the workspace cursor (8-byte steps). */
static void *
Take(char **cursor, size_t bytes)
{
	void	   *p = *cursor;

	*cursor += Rounded(bytes);
	return p;
}

size_t
CovisWorkspace(int32_t nitems, int64_t nevents, int64_t nsessions, int neighbors)
{
	size_t		n = nitems > 0 ? (size_t) nitems : 0;
	size_t		e = nevents > 0 ? (size_t) nevents : 0;
	size_t		s = nsessions > 0 ? (size_t) nsessions : 0;

	return Rounded((n + 1) * sizeof(int64_t)) +	/* occurrence starts */
		Rounded(e * sizeof(int64_t)) +	/* occurrences */
		Rounded(e * sizeof(int32_t)) +	/* session of each place */
		Rounded((s + 1) * sizeof(int64_t)) +	/* deduplicated starts */
		Rounded(n * sizeof(int32_t)) +	/* stamps / counts */
		Rounded(n * sizeof(int32_t)) +	/* touched */
		Rounded(n * sizeof(int32_t)) +	/* sessions per item */
		Rounded((size_t) (neighbors > 0 ? neighbors : 1) * sizeof(CovisEntry));
}

/* Whether a ranks before b: more sessions first, then the smaller index. */
static inline bool
CovisBefore(int32_t count_a, int32_t item_a, int32_t count_b, int32_t item_b)
{
	if (count_a != count_b)
		return count_a > count_b;
	return item_a < item_b;
}

/*
 * Keeps the best k of touched[0..ntouched) by counts, by insertion into a
 * sorted array of at most k (lists are short); returns how many.
 */
static int
CovisSelect(const int32_t *touched, int ntouched, const int32_t *counts,
			int min_count, int k, CovisEntry *out)
{
	int			n = 0;

	for (int t = 0; t < ntouched; t++)
	{
		int32_t		item = touched[t];
		int32_t		count = counts[item];
		int			place;

		if (count < min_count)
			continue;
		if (n == k && !CovisBefore(count, item, out[n - 1].count, out[n - 1].item))
			continue;
		place = n < k ? n : k - 1;
		while (place > 0 && CovisBefore(count, item, out[place - 1].count, out[place - 1].item))
		{
			out[place] = out[place - 1];
			place--;
		}
		out[place].item = item;
		out[place].count = count;
		if (n < k)
			n++;
	}
	return n;
}

int64_t
CovisBuild(int32_t nitems, int64_t nsessions, const int64_t *starts,
		   int32_t *items, const CovisParams *params, int64_t *offsets,
		   int32_t *neighbors, float *weights, int32_t *sessions,
		   void *workspace, void (*check) (void))
{
	char	   *cursor = workspace;
	int64_t		nevents = nsessions > 0 ? starts[nsessions] : 0;
	int64_t    *occ_start = Take(&cursor, ((size_t) nitems + 1) * sizeof(int64_t));
	int64_t    *occ = Take(&cursor, (size_t) nevents * sizeof(int64_t));
	int32_t    *session_of = Take(&cursor, (size_t) nevents * sizeof(int32_t));
	int64_t    *dstart = Take(&cursor, ((size_t) nsessions + 1) * sizeof(int64_t));
	int32_t    *counts = Take(&cursor, (size_t) nitems * sizeof(int32_t));
	int32_t    *touched = Take(&cursor, (size_t) nitems * sizeof(int32_t));
	int32_t    *nsess = Take(&cursor, (size_t) nitems * sizeof(int32_t));
	CovisEntry *selection = Take(&cursor, (size_t) (params->neighbors > 0 ? params->neighbors : 1) *
								 sizeof(CovisEntry));
	int			window = params->window > 0 ? params->window : 1;
	int			k = params->neighbors > 0 ? params->neighbors : 0;
	int			min_count = params->min_count > 0 ? params->min_count : 1;
	int64_t		total = 0;
	int64_t		m = 0;

	/* each session's repeats removed in place (stamps: the session seen) */
	for (int32_t i = 0; i < nitems; i++)
	{
		counts[i] = -1;
		nsess[i] = 0;
	}
	for (int64_t s = 0; s < nsessions; s++)
	{
		dstart[s] = m;
		for (int64_t p = starts[s]; p < starts[s + 1]; p++)
		{
			int32_t		item = items[p];

			if (item < 0 || item >= nitems || counts[item] == (int32_t) s)
				continue;
			counts[item] = (int32_t) s;
			nsess[item]++;
			session_of[m] = (int32_t) s;
			items[m++] = item;
		}
		if (check != NULL && (s & 4095) == 4095)
			check();
	}
	dstart[nsessions] = m;
	if (sessions != NULL)
		memcpy(sessions, nsess, (size_t) nitems * sizeof(int32_t));

	/* the inverted index: each item's places */
	memset(occ_start, 0, ((size_t) nitems + 1) * sizeof(int64_t));
	for (int64_t p = 0; p < m; p++)
		occ_start[items[p] + 1]++;
	for (int32_t i = 0; i < nitems; i++)
		occ_start[i + 1] += occ_start[i];
	for (int32_t i = 0; i < nitems; i++)
		counts[i] = 0;
	/* counts doubles as the fill cursor: reset below */
	for (int64_t p = 0; p < m; p++)
	{
		int32_t		item = items[p];

		occ[occ_start[item] + counts[item]++] = p;
	}
	for (int32_t i = 0; i < nitems; i++)
		counts[i] = 0;

	/* item by item: count the co-occurring items, keep the best */
	offsets[0] = 0;
	for (int32_t i = 0; i < nitems; i++)
	{
		int			ntouched = 0;
		int			kept;

		for (int64_t o = occ_start[i]; o < occ_start[i + 1]; o++)
		{
			int64_t		p = occ[o];
			int32_t		s = session_of[p];
			int64_t		from = p - window > dstart[s] ? p - window : dstart[s];
			int64_t		to = p + window < dstart[s + 1] - 1 ? p + window : dstart[s + 1] - 1;

			for (int64_t q = from; q <= to; q++)
			{
				int32_t		j = items[q];

				if (q == p)
					continue;
				if (counts[j]++ == 0)
					touched[ntouched++] = j;
			}
		}

		kept = CovisSelect(touched, ntouched, counts, min_count, k, selection);
		for (int e = 0; e < kept; e++)
		{
			neighbors[total + e] = selection[e].item;
			weights[total + e] = (float) ((double) selection[e].count /
										  (nsess[i] > 0 ? nsess[i] : 1));
		}
		for (int t = 0; t < ntouched; t++)
			counts[touched[t]] = 0;
		total += kept;
		offsets[i + 1] = total;
		if (check != NULL && (i & 1023) == 1023)
			check();
	}
	return total;
}

/* ---- the block ---- */

/* Hash slots for n ids: a power of two at least 2n (and 8). */
static int64_t
BlockSlots(int64_t n)
{
	int64_t		slots = 8;

	while (slots < 2 * n)
		slots <<= 1;
	return slots;
}

/* The offsets of a block's arrays; returns its size. */
static size_t
BlockLayout(int64_t nitems, int64_t nslots, int64_t nlinks, ItemSignals *header)
{
	size_t		n = (size_t) nitems;
	size_t		at = Rounded(sizeof(ItemSignals));

	header->off_slots = at;
	at += Rounded((size_t) nslots * sizeof(ItemSignalsSlot));
	header->off_records = at;
	at += Rounded(n * sizeof(ItemSignalsRecord));
	header->off_list_start = at;
	at += Rounded((n + 1) * sizeof(int64_t));
	header->off_list_ids = at;
	at += Rounded((size_t) nlinks * sizeof(int64_t));
	header->off_list_weights = at;
	at += Rounded((size_t) nlinks * sizeof(float));
	return at;
}

/* Total list length of an input (0 without lists). */
static int64_t
InputLinks(const ItemSignalsInput *input)
{
	if (input->list_offsets == NULL || input->nitems <= 0)
		return 0;
	return input->list_offsets[input->nitems];
}

size_t
ItemSignalsSize(const ItemSignalsInput *input)
{
	ItemSignals header;
	int64_t		nitems = input->nitems > 0 ? input->nitems : 0;

	return BlockLayout(nitems, BlockSlots(nitems), InputLinks(input), &header);
}

#define BLOCK_ARRAY(block, offset, type) \
	((type *) ((const char *) (block) + (block)->offset))

#if defined(__GNUC__)
#define SIGNALS_PREFETCH(address) __builtin_prefetch(address, 0, 3)
#else
#define SIGNALS_PREFETCH(address) ((void) 0)
#endif

bool
ItemSignalsBuild(void *memory, size_t size, const ItemSignalsInput *input)
{
	ItemSignals *block = memory;
	int64_t		nitems = input->nitems > 0 ? input->nitems : 0;
	int64_t		nslots = BlockSlots(nitems);
	int64_t		nlinks = InputLinks(input);
	ItemSignalsSlot *slots;
	ItemSignalsRecord *records;
	int64_t    *list_start;

	if (nitems > INT32_MAX || nlinks < 0)
		return false;
	memset(block, 0, sizeof(ItemSignals));
	if (BlockLayout(nitems, nslots, nlinks, block) != size)
		return false;
	block->magic = ITEM_SIGNALS_MAGIC;
	block->version = ITEM_SIGNALS_VERSION;
	block->size = size;
	block->nitems = nitems;
	block->nslots = nslots;
	block->nlinks = nlinks;
	block->flags = input->has_stats ? ITEM_SIGNALS_HAS_STATS : 0;
	block->stats_at = input->stats_at;

	slots = BLOCK_ARRAY(block, off_slots, ItemSignalsSlot);
	records = BLOCK_ARRAY(block, off_records, ItemSignalsRecord);
	list_start = BLOCK_ARRAY(block, off_list_start, int64_t);

	for (int64_t s = 0; s < nslots; s++)
	{
		slots[s].id = 0;
		slots[s].row = -1;
		slots[s].unused = 0;
	}
	for (int64_t r = 0; r < nitems; r++)
	{
		int64_t		id = input->ids[r];
		uint64_t	slot = IdHash(id) & (uint64_t) (nslots - 1);
		ItemSignalsRecord *record = &records[r];

		while (slots[slot].row >= 0)
		{
			if (slots[slot].id == id)
				return false;	/* a duplicate id */
			slot = (slot + 1) & (uint64_t) (nslots - 1);
		}
		slots[slot].id = id;
		slots[slot].row = (int32_t) r;
		memset(record, 0, sizeof(ItemSignalsRecord));
		record->brand = input->brands != NULL && input->brands[r] >= 0 ? input->brands[r] : -1;
		record->first_seen = input->first_seen != NULL ? input->first_seen[r] : NAN;
		for (int w = 0; w < FEAT_POP_WINDOWS; w++)
		{
			float		count = input->popularity != NULL ?
				input->popularity[r * FEAT_POP_WINDOWS + w] : 0.0f;

			if (!isfinite(count) || count < 0.0f)
				count = 0.0f;
			record->popularity[w] = count;
			if (count > block->max_popularity[w])
				block->max_popularity[w] = count;
		}
		if (input->list_offsets != NULL)
		{
			if (input->list_offsets[r] < (r == 0 ? 0 : input->list_offsets[r - 1]) ||
				input->list_offsets[r + 1] < input->list_offsets[r])
				return false;
			list_start[r] = input->list_offsets[r];
		}
		else
			list_start[r] = 0;
	}
	if (input->list_offsets != NULL && nitems > 0 && input->list_offsets[0] != 0)
		return false;
	list_start[nitems] = nlinks;
	if (nlinks > 0)
	{
		memcpy(BLOCK_ARRAY(block, off_list_ids, int64_t), input->list_ids,
			   (size_t) nlinks * sizeof(int64_t));
		memcpy(BLOCK_ARRAY(block, off_list_weights, float), input->list_weights,
			   (size_t) nlinks * sizeof(float));
	}
	return true;
}

const ItemSignals *
ItemSignalsOpen(const void *memory, size_t size)
{
	const ItemSignals *block = memory;
	ItemSignals layout;

	if (memory == NULL || size < sizeof(ItemSignals) ||
		block->magic != ITEM_SIGNALS_MAGIC || block->version != ITEM_SIGNALS_VERSION ||
		block->size != size || block->nitems < 0 || block->nlinks < 0 ||
		block->nslots != BlockSlots(block->nitems))
		return NULL;
	if (BlockLayout(block->nitems, block->nslots, block->nlinks, &layout) != size ||
		layout.off_list_weights != block->off_list_weights ||
		layout.off_slots != block->off_slots)
		return NULL;
	return block;
}

/* The row of an item from its first slot on, or -1. */
static inline int64_t
ProbeFrom(const ItemSignals *block, uint64_t slot, int64_t item_id)
{
	const ItemSignalsSlot *slots = BLOCK_ARRAY(block, off_slots, const ItemSignalsSlot);
	uint64_t	mask = (uint64_t) block->nslots - 1;

	while (slots[slot].row >= 0)
	{
		if (slots[slot].id == item_id)
			return slots[slot].row;
		slot = (slot + 1) & mask;
	}
	return -1;
}

int64_t
ItemSignalsFind(const ItemSignals *block, int64_t item_id)
{
	return ProbeFrom(block, IdHash(item_id) & ((uint64_t) block->nslots - 1), item_id);
}

/* Copies a record (or the absent item's values, row -1) into the item. */
static inline void
FillFromRecord(const ItemSignals *block, int64_t row, FeatItem *item)
{
	const ItemSignalsRecord *record;

	if (row < 0 || row >= block->nitems)
	{
		item->brand = -1;
		item->first_seen = NAN;
		for (int w = 0; w < FEAT_POP_WINDOWS; w++)
			item->popularity[w] = 0.0f;
		return;
	}
	record = BLOCK_ARRAY(block, off_records, const ItemSignalsRecord) + row;
	item->brand = record->brand;
	item->first_seen = record->first_seen;
	memcpy(item->popularity, record->popularity, sizeof(item->popularity));
}

void
ItemSignalsFillItem(const ItemSignals *block, int64_t row, FeatItem *item)
{
	FillFromRecord(block, row, item);
}

/* How far ahead ItemSignalsFillItems requests slots and records. */
#define FILL_AHEAD 8

void
ItemSignalsFillItems(const ItemSignals *block, FeatItem *items, int n)
{
	const ItemSignalsSlot *slots = BLOCK_ARRAY(block, off_slots, const ItemSignalsSlot);
	const ItemSignalsRecord *records = BLOCK_ARRAY(block, off_records, const ItemSignalsRecord);
	uint64_t	mask = (uint64_t) block->nslots - 1;
	int64_t		rows[FILL_AHEAD];

	/*
	 * Three stages, FILL_AHEAD items apart: request item i's slot, probe
	 * item i - AHEAD's and request its record, fill item i - 2·AHEAD.
	 */
	for (int i = 0; i < n + 2 * FILL_AHEAD; i++)
	{
		int			probe = i - FILL_AHEAD;
		int			fill = i - 2 * FILL_AHEAD;

		if (i < n)
			SIGNALS_PREFETCH(&slots[IdHash(items[i].item_id) & mask]);
		if (fill >= 0)
			FillFromRecord(block, rows[fill % FILL_AHEAD], &items[fill]);
		if (probe >= 0 && probe < n)
		{
			int64_t		row = ProbeFrom(block, IdHash(items[probe].item_id) & mask,
										items[probe].item_id);

			rows[probe % FILL_AHEAD] = row;
			if (row >= 0)
				SIGNALS_PREFETCH(&records[row]);
		}
	}
}

void
ItemSignalsCatalog(const ItemSignals *block, FeatCatalog *catalog)
{
	memset(catalog, 0, sizeof(FeatCatalog));
	if (block == NULL)
		return;
	catalog->has_stats = (block->flags & ITEM_SIGNALS_HAS_STATS) != 0;
	catalog->stats_at = block->stats_at;
	memcpy(catalog->max_popularity, block->max_popularity, sizeof(catalog->max_popularity));
	if (block->nlinks > 0)
	{
		catalog->list = ItemSignalsList;
		catalog->list_arg = block;
	}
}

bool
ItemSignalsList(const void *arg, int64_t item_id, FeatList *list)
{
	const ItemSignals *block = arg;
	int64_t		row = ItemSignalsFind(block, item_id);
	const int64_t *start;

	list->n = 0;
	list->ids = NULL;
	list->weights = NULL;
	if (row < 0)
		return false;
	start = BLOCK_ARRAY(block, off_list_start, const int64_t);
	if (start[row + 1] <= start[row])
		return false;
	list->n = (int) (start[row + 1] - start[row]);
	list->ids = BLOCK_ARRAY(block, off_list_ids, const int64_t) + start[row];
	list->weights = BLOCK_ARRAY(block, off_list_weights, const float) + start[row];
	return true;
}
