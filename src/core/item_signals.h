/*
 * item_signals.h
 *	  What rerank knows about items beyond the factor model: popularity
 *	  (decayed event counts), the first time an item was seen, its brand,
 *	  and its co-visitation list.  Pure C: no PostgreSQL headers, no
 *	  allocation.
 *
 * Item statistics: ItemStatsAdd counts one event into decayed counts
 * (features.h, FeatPopWindow); refresh_item_stats() in the glue and a
 * trainer's replay both use it.
 *
 * Co-visitation lists: CovisBuild turns sessions (each user's events in
 * time order, cut where CovisNewSession says) into each item's list of the
 * items most often in the same sessions.
 *
 * The block: everything above for a catalog in ONE flat, position-
 * independent piece of memory (arrays at offsets from its start, no
 * pointers), written by ItemSignalsBuild into memory the caller gives, so
 * it can live in a backend's memory or in shared memory mapped at any
 * address, and be read in place.
 */
#ifndef RERANK_ITEM_SIGNALS_H
#define RERANK_ITEM_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/features.h"

/* ---- item statistics ---- */

/* One item's statistics as of a time. */
typedef struct ItemStats
{
	double		first_seen;		/* time of its first event; NaN: none */
	int64_t		events;			/* events counted */
	float		popularity[FEAT_POP_WINDOWS];	/* decayed counts */
} ItemStats;

/* Zero counts, never seen. */
extern void ItemStatsInit(ItemStats *stats);

/*
 * Counts an event at event_at into statistics as of at: each decayed count
 * grows by 2^(−(at − event_at) / half-life) (1 for an event at or after
 * at), first_seen becomes the earlier of the two times.
 */
extern void ItemStatsAdd(ItemStats *stats, double at, double event_at);

/*
 * Moves decayed counts from time from to time to (multiplies each by
 * 2^(−(to − from) / half-life); no change when to <= from).
 */
extern void ItemStatsDecay(float *popularity, double from, double to);

/* ---- co-visitation lists ---- */

/*
 * Whether an event at `at` starts a new session after the user's previous
 * event at `previous` (NaN: none): when there is no previous event or the
 * gap exceeds gap seconds.  Events of another user always start one.
 */
extern bool CovisNewSession(double previous, double at, double gap);

typedef struct CovisParams
{
	int			window;			/* pairs at most this many places apart (>= 1) */
	int			neighbors;		/* longest list kept */
	int			min_count;		/* pairs in fewer sessions are dropped (>= 1) */
} CovisParams;

/*
 * Bytes of workspace CovisBuild needs for nitems items and nevents events
 * in nsessions sessions, lists of up to neighbors (8-byte aligned).
 */
extern size_t CovisWorkspace(int32_t nitems, int64_t nevents, int64_t nsessions,
							 int neighbors);

/*
 * The co-visitation lists of items 0 .. nitems-1 from sessions: session s
 * is items[starts[s] .. starts[s+1]) in time order (dense item indexes;
 * repeats allowed).  Within a session an item counts once, at its first
 * place; two items co-occur when their places (among the session's
 * distinct items) are at most params->window apart.  n(i) is the number
 * of sessions with item i, n(i, j) of sessions where i and j co-occur;
 * i's list holds the j with n(i, j) >= min_count, weight n(i, j) / n(i),
 * the params->neighbors largest (ties: smaller index first).  Writes the
 * lists as CSR: offsets[nitems + 1] into neighbors and weights, which hold
 * nitems × params->neighbors entries, and n(i) into sessions[nitems] (when
 * not NULL).  items is reordered in place (each session's repeats
 * removed).  check, when not NULL, is called now and then (it may longjmp:
 * nothing is allocated).  nsessions must not exceed INT32_MAX.  Returns
 * the total list length.
 */
extern int64_t CovisBuild(int32_t nitems, int64_t nsessions, const int64_t *starts,
						  int32_t *items, const CovisParams *params,
						  int64_t *offsets, int32_t *neighbors, float *weights,
						  int32_t *sessions, void *workspace, void (*check) (void));

/* ---- the block ---- */

/*
 * A hash slot: an item id and its row (-1: empty).  The slots are probed
 * linearly from IdHash(id); one slot is one 16-byte read.
 */
typedef struct ItemSignalsSlot
{
	int64_t		id;
	int32_t		row;
	int32_t		unused;
} ItemSignalsSlot;

/* What a candidate needs of its row, in one 24-byte record. */
typedef struct ItemSignalsRecord
{
	double		first_seen;		/* NaN: never seen */
	float		popularity[FEAT_POP_WINDOWS];
	int32_t		brand;			/* -1: none */
} ItemSignalsRecord;

/* The header at the start of a block; the arrays follow at its offsets. */
typedef struct ItemSignals
{
	uint32_t	magic;
	uint32_t	version;
	uint64_t	size;			/* bytes of the whole block */
	int64_t		nitems;
	int64_t		nslots;			/* hash slots, a power of two */
	int64_t		nlinks;			/* total length of the lists */
	uint32_t	flags;			/* ITEM_SIGNALS_HAS_* */
	uint32_t	padding;
	double		stats_at;
	float		max_popularity[FEAT_POP_WINDOWS];
	float		padding2;
	uint64_t	off_slots;		/* ItemSignalsSlot[nslots] */
	uint64_t	off_records;	/* ItemSignalsRecord[nitems] */
	uint64_t	off_list_start; /* int64_t[nitems + 1] */
	uint64_t	off_list_ids;	/* int64_t[nlinks] */
	uint64_t	off_list_weights;	/* float[nlinks] */
} ItemSignals;

#define ITEM_SIGNALS_MAGIC 0x52525349	/* "RRSI" */
#define ITEM_SIGNALS_VERSION 2
#define ITEM_SIGNALS_HAS_STATS 0x1

/* What a block is built from (arrays of nitems entries unless said). */
typedef struct ItemSignalsInput
{
	int64_t		nitems;
	const int64_t *ids;			/* distinct item ids */
	const int32_t *brands;		/* brand numbers (-1: none), or NULL */
	const double *first_seen;	/* NaN: never seen; or NULL */
	const float *popularity;	/* nitems × FEAT_POP_WINDOWS, or NULL */
	bool		has_stats;		/* popularity and stats_at are set */
	double		stats_at;
	const int64_t *list_offsets;	/* nitems + 1 (CSR), or NULL: no lists */
	const int64_t *list_ids;	/* neighbor ids */
	const float *list_weights;
} ItemSignalsInput;

/* Bytes of the block of this input (a multiple of 8). */
extern size_t ItemSignalsSize(const ItemSignalsInput *input);

/*
 * Writes the block into memory (8-byte aligned, ItemSignalsSize bytes).
 * Ids must be distinct and list offsets non-decreasing from 0 (false,
 * with memory undefined, otherwise).
 */
extern bool ItemSignalsBuild(void *memory, size_t size, const ItemSignalsInput *input);

/* The block at memory after a check of its header, or NULL. */
extern const ItemSignals *ItemSignalsOpen(const void *memory, size_t size);

/* The row of an item id, or -1. */
extern int64_t ItemSignalsFind(const ItemSignals *block, int64_t item_id);

/*
 * Fills the item's catalog fields (brand, first_seen, popularity) from
 * its row (-1: an item the block does not hold: no brand, never seen,
 * zero counts).
 */
extern void ItemSignalsFillItem(const ItemSignals *block, int64_t row, FeatItem *item);

/*
 * ItemSignalsFillItem for n items by their item_id, in a software
 * pipeline: each item's slot is requested from memory several items
 * before it is probed and its record as soon as its row is known, so the
 * scattered reads of a candidate list overlap.  The same result as
 * ItemSignalsFind and ItemSignalsFillItem one by one.
 */
extern void ItemSignalsFillItems(const ItemSignals *block, FeatItem *items, int n);

/* Points a catalog at the block (stats and co-visitation lists). */
extern void ItemSignalsCatalog(const ItemSignals *block, FeatCatalog *catalog);

/* The co-visitation list of an item (a FeatListFn over a block). */
extern bool ItemSignalsList(const void *block, int64_t item_id, FeatList *list);

#endif							/* RERANK_ITEM_SIGNALS_H */
