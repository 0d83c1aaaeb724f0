/*
 * shared_registry.h
 *	  The registry of shared snapshots: a small table in fixed shared memory
 *	  (rerank in shared_preload_libraries) that finds, for a snapshot key,
 *	  the dynamic shared memory segment holding that version, who is building
 *	  it, how many backends map it, and what the server-wide budget allows.
 *	  Used by snapshot.c only; see snapshot.h for the contract.
 *
 * One LWLock guards the table; it is held for a few comparisons at a time,
 * never during a build or a wait.  A backend building a version holds a
 * heavyweight lock named after its claim (an advisory lock tag of its own
 * class, SHARED_BUILD_LOCK_FIELD4); the backends needing that version queue
 * on it, so their wait shows in pg_locks and takes part in deadlock
 * detection, and ends when the build ends, however it ends.
 * Every version lives in a segment of its own, pinned by the registry while
 * the slot is ready; retiring a slot unpins it, and the segment goes away
 * when the last backend unmaps it (each mapping counts as a reader, dropped
 * by an on_dsm_detach callback, also when a backend exits).
 */
#ifndef RERANK_SHARED_REGISTRY_H
#define RERANK_SHARED_REGISTRY_H

#include "postgres.h"

#include "cache/snapshot.h"
#include "storage/dsm.h"
#include "storage/lock.h"
#include "utils/timestamp.h"

/* The fourth field of the advisory lock tags of builds ('R'). */
#define SHARED_BUILD_LOCK_FIELD4 82

/* Versions the registry can hold at once (ready, building or retiring). */
#define SHARED_REGISTRY_SLOTS 64

/* Databases whose generations the registry remembers at once. */
#define SHARED_REGISTRY_DATABASES 64

/* Installs the shared memory hooks; from _PG_init during the preload. */
extern void SharedRegistryRequest(void);

/* Whether the registry exists (rerank was preloaded). */
extern bool SharedRegistryAvailable(void);

/* A version this backend maps, as the registry knows it. */
typedef struct SharedMapping
{
	int			slot;
	uint64		generation;		/* the slot's claim this mapping belongs to */
	dsm_segment *segment;
} SharedMapping;

typedef enum SharedAcquireResult
{
	SHARED_MAPPED,				/* *mapping: the version, or with
								 * allow_previous an older one of the same
								 * object (see *mapped_version) */
	SHARED_MUST_BUILD,			/* *mapping->slot is ours to build */
	SHARED_BUILDING,			/* another backend builds it (*mapping names
								 * the claim): wait for its build lock */
	SHARED_TOO_BIG,				/* known not to fit: *bytes needed */
	SHARED_NO_SLOT				/* every slot is in use */
} SharedAcquireResult;

/*
 * Finds the version of key: maps it when ready; claims a slot for the
 * caller to build when nobody has it; names the claim of the backend that
 * builds it, unless allow_previous and a ready older version of the same
 * object exists, which is mapped instead.  *mapped_version is the version mapped.
 * A version noted as too big for the same budget is not tried again.
 * A segment this backend maps already is never mapped twice: the mapping
 * then names the caller's existing segment and no reader is added.
 */
extern SharedAcquireResult SharedRegistryAcquire(const SnapshotKey *key,
												 const char *label,
												 bool allow_previous,
												 Size budget,
												 SharedMapping *mapping,
												 int64 *mapped_version,
												 Size *bytes);

/* The lock tag of the build of a claim. */
extern void SharedRegistryBuildLockTag(const SharedMapping *mapping, LOCKTAG *tag);

/* Whether the claim of mapping is still being built. */
extern bool SharedRegistryStillBuilding(const SharedMapping *mapping);

/*
 * Reserves bytes for the build of the caller's slot within budget bytes,
 * evicting ready versions nobody maps, least recently used first.  False
 * when it does not fit: the slot then remembers the version as too big
 * when note_too_big, so the next backends do not try again until the
 * budget changes; else it is free again.
 */
extern bool SharedRegistryReserve(int slot, Size bytes, Size budget,
								  bool note_too_big, Size *available);

/* Notes that the caller's slot has its segment and is being filled. */
extern void SharedRegistryNoteFilling(int slot);

/*
 * Publishes the complete segment of the caller's slot: pinned, ready,
 * mapped by the caller; older ready versions of the same object retire.
 * huge_bytes: how much of it the builder found on huge pages.  prepared:
 * the version is the caller's open transaction's, retires nothing, is
 * never evicted and is listed as "prepared" until the caller adopts or
 * discards it (SharedRegistryAdoptPrepared, SharedRegistryDiscardPrepared).
 */
extern void SharedRegistryPublish(int slot, dsm_segment *segment,
								  SharedMapping *mapping, double seconds,
								  Size huge_bytes, bool prepared);

/*
 * Gives up the caller's claim (error, cancel, exit, or nothing to build):
 * the slot is free again and the waiters wake up.  Safe to call twice.
 */
extern void SharedRegistryAbandon(int slot, uint64 generation);

/*
 * Retires every version of an object (all versions of key's object): a
 * dropped model's memory goes when its last reader unmaps it.
 */
extern void SharedRegistryRetireObject(const SnapshotKey *object);

/*
 * A counter bumped at every retirement: while it is unchanged, every
 * mapping is still current.
 */
extern uint64 SharedRegistryRetirements(void);

/* Whether a mapping's version is still ready (not retired). */
extern bool SharedRegistryMappingCurrent(const SharedMapping *mapping);

/* Notes that the version of a mapping was just used (for the LRU). */
extern void SharedRegistryTouch(const SharedMapping *mapping);

/*
 * The generation of a kind versioned by the registry in a database (the
 * item catalog, the item signals): a number no other content of that kind
 * ever had, changed by SharedRegistryBumpGeneration.
 */
extern uint64 SharedRegistryGeneration(Oid dbid, SnapshotKind kind);

/*
 * A new generation of a kind in a database (at the commit of a change of
 * its tables).
 */
extern void SharedRegistryBumpGeneration(Oid dbid, SnapshotKind kind);

/*
 * A number from the generations' counter that no content ever had: the
 * version of a snapshot prepared before the commit that makes it current.
 */
extern uint64 SharedRegistryNewVersion(void);

/*
 * At the commit of the transaction that prepared key (a version of a kind
 * versioned by the registry): when the kind's generation in dbid is still
 * base (no other change of the kind committed since the prepared build read
 * the tables) and key is still this backend's prepared version, key's
 * version becomes the generation and every other version of the object
 * retires (true).  Else a new generation, built at first use, and the
 * prepared version retires (false).
 */
extern bool SharedRegistryAdoptPrepared(Oid dbid, SnapshotKind kind,
										uint64 base, const SnapshotKey *key);

/*
 * Retires this backend's prepared version of key (its transaction or
 * subtransaction rolled back): it is freed when the caller unmaps it.
 * Nothing when there is none.
 */
extern void SharedRegistryDiscardPrepared(const SnapshotKey *key);

/* One slot as the view shows it. */
typedef struct SharedSlotInfo
{
	SnapshotKey key;
	char		label[NAMEDATALEN];
	const char *state;			/* building, filling, prepared, ready,
								 * retiring, over budget */
	Size		bytes;
	uint32		readers;
	int			builder_pid;	/* building, or prepared by */
	TimestampTz built_at;
	TimestampTz last_used;
	double		build_seconds;
	Size		huge_bytes;		/* of bytes on huge pages (ready) */
	uint64		generation;
	int			slot;
} SharedSlotInfo;

/*
 * Copies the occupied slots into infos (SHARED_REGISTRY_SLOTS entries);
 * returns how many.
 */
extern int	SharedRegistryList(SharedSlotInfo *infos);

#endif							/* RERANK_SHARED_REGISTRY_H */
