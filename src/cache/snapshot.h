/*
 * snapshot.h
 *	  What serving reads of a model, as versioned read-only snapshots of flat
 *	  blocks: one copy per server in shared memory when rerank is in
 *	  shared_preload_libraries, else one copy per backend (as before).
 *
 * A snapshot is everything serving reads of one version of one object (a
 * model version, the item catalog): a set of blocks, each a flat array
 * addressed by its offset from the start of the snapshot, with no pointer
 * inside, so the same bytes serve every backend whatever address they are
 * mapped at.  A published snapshot never changes; a new version is a new
 * snapshot.  Callers see two things only: "the snapshot of this version"
 * (GetServingSnapshot) and "block X of it" (SnapshotBlock).  Where the bytes
 * live, who builds them, who waits, and when they are freed is this
 * module's business (snapshot.c, shared_registry.c), the same for every
 * block.
 *
 * KEYS.  A snapshot is found by its SnapshotKey: kind, database, the OID of
 * the table its version number belongs to (so a dropped and re-created
 * extension never matches an old snapshot), the object (model_id; 0 for the
 * catalog) and a version.  The version must identify committed content: a
 * number no aborted transaction can hand out again to other content (a
 * model's factors_version, bumped by every statement that changes its item
 * factors or neighbor lists; the catalog generation, bumped at the commit
 * of any change of rerank.items; the signals generation, likewise for the
 * tables of the item signals).  Activation, renaming and parameter
 * changes do not change the content, so a snapshot warmed before an
 * activation serves after it.
 *
 * COHERENCE.  Only committed data this transaction did not write is ever
 * put in a snapshot: the kind's is_current callback checks, under the
 * snapshot the build reads with, that the version is what committed data
 * shows and that this transaction did not write it.  When it is not (the
 * caller's own uncommitted changes, or a version replaced meanwhile),
 * GetServingSnapshot returns NULL with SNAPSHOT_NOT_CURRENT and the caller
 * reads the tables for this transaction, as it does over budget.  A backend
 * asks for the version its transaction sees, so it moves to a new version
 * at its first look-up after the commit, never earlier.
 *
 * BUILD ONCE.  With the preload, the first backend to need a version builds
 * it while the others that need the same version wait for it (on a
 * condition variable, interruptibly); a build can be started ahead of time
 * (rerank.warm_model, and activation itself).  A build that fails, is
 * cancelled or whose backend dies leaves nothing behind: the segment is
 * published only when complete, and the waiters then build it themselves.
 * A shared snapshot is freed when it is retired (replaced by a newer
 * version of the same object, or evicted for room) and its last reader has
 * unmapped it.
 *
 * LIFETIME.  A snapshot pointer, and the block pointers it gives, stay
 * valid until the end of the current transaction at least; a caller that
 * keeps them across transactions calls GetServingSnapshot again in each
 * (a few comparisons when nothing changed) and uses what it returns.
 *
 * PRIVILEGES.  Nothing here checks them: callers check, per call and in the
 * calling backend, that the current user may read what they serve, never
 * because a snapshot exists.
 *
 * ADDING BLOCKS.  A module that wants more served data (popularity counters,
 * co-visitation lists, trees, ...) registers a SnapshotProvider for a kind
 * from _PG_init and takes block ids from snapshot_blocks.h; it never touches
 * the synchronization.  Its plan callback reserves blocks (SnapshotReserve),
 * its fill callback writes them (SnapshotBlockForWrite).  Both run inside
 * SPI, under one MVCC snapshot, so what plan counted is what fill reads.
 * Readers take blocks with SnapshotBlock; a block a provider did not write
 * (an older build, an empty model) is simply absent (NULL).
 */
#ifndef RERANK_SNAPSHOT_H
#define RERANK_SNAPSHOT_H

#include "postgres.h"

#include "cache/snapshot_blocks.h"

/* What a snapshot holds a version of. */
typedef enum SnapshotKind
{
	SNAPSHOT_MODEL = 0,			/* a model version: object = model_id,
								 * version = factors_version */
	SNAPSHOT_CATALOG = 1,		/* the item catalog (rerank.items):
								 * object = 0, version = catalog generation */
	SNAPSHOT_SIGNALS = 2,		/* the item signals (rerank.item_stats,
								 * item_covisits, items' brands): object = 0,
								 * version = signals generation */
	SNAPSHOT_NKINDS
} SnapshotKind;

typedef struct SnapshotKey
{
	uint32		kind;			/* SnapshotKind */
	Oid			dbid;			/* the database */
	Oid			relid;			/* the table the version belongs to */
	int64		object_id;		/* model_id, or 0 */
	int64		version;		/* committed content version */
} SnapshotKey;

/*
 * The detail of a SNAPSHOT_MODEL source: what providers of model blocks
 * need to know of the model row whose version they build.
 */
typedef struct ModelSource
{
	int32		model_id;
	int			dimensions;		/* 0: no vectors */
	bool		neighbors;		/* served from item-kNN neighbor lists */
	bool		user_knn;		/* served from a user-kNN index */
} ModelSource;

/* What is asked for: the key, a name for messages, the kind's details. */
typedef struct SnapshotSource
{
	SnapshotKey key;
	const char *label;			/* e.g. the model's name */
	const void *detail;			/* the kind's own description for its
								 * providers (SNAPSHOT_MODEL: ModelSource) */
} SnapshotSource;

/* A snapshot as one backend sees it; opaque. */
typedef struct ServingSnapshot ServingSnapshot;

typedef enum SnapshotStatus
{
	SNAPSHOT_SERVED,			/* in memory: use it */
	SNAPSHOT_OVER_BUDGET,		/* does not fit its memory budget */
	SNAPSHOT_DISABLED,			/* the budget is 0 */
	SNAPSHOT_NOT_CURRENT		/* not committed data this backend may cache:
								 * read the tables for this transaction */
} SnapshotStatus;

/*
 * The snapshot of source->key: this backend's, another backend's (shared),
 * or built now (waiting for a build in progress elsewhere).  NULL when it
 * cannot be served from memory, with the reason in *status; over budget the
 * first time in a session for a key, a WARNING names the setting to raise.
 * Called inside a transaction (inside SPI or not).
 */
extern const ServingSnapshot *GetServingSnapshot(const SnapshotSource *source,
												 SnapshotStatus *status);

/*
 * Block id of a snapshot: its first element (aligned to a cache line), its
 * element count in *count when count is not NULL; NULL (count 0) when the
 * snapshot has no such block.
 */
extern const void *SnapshotBlock(const ServingSnapshot *snapshot,
								 SnapshotBlockId block, uint64 *count);

/*
 * PREPARED VERSIONS.  With the preload, a transaction that changes what a
 * kind versioned by the registry serves (the item signals) can build the
 * version its commit will make current before it commits: source->key
 * holds a version no content ever had (SharedRegistryNewVersion), and the
 * build reads what this transaction sees, its own uncommitted changes
 * included (the kind's is_current check is skipped).  The version is
 * published as "prepared": within rerank.shared_cache_mb beside the
 * versions in use, never evicted, served to nobody, since nobody asks for
 * its version until the caller's commit makes it the kind's generation
 * (SharedRegistryAdoptPrepared); a rollback retires it
 * (SharedRegistryDiscardPrepared).  Either way the caller then unmaps its
 * own copy with SnapshotForget.  Returns SNAPSHOT_SERVED when prepared;
 * else nothing is held (over budget: a NOTICE says so; not current:
 * without the preload, or no slot).
 */
extern SnapshotStatus SnapshotPrepare(const SnapshotSource *source);

/*
 * Unmaps (or frees) this backend's copy of key at once, whatever
 * transaction got it: for the end of a transaction that prepared key,
 * which did not use it.  Nothing when there is none.
 */
extern void SnapshotForget(const SnapshotKey *key);

/*
 * Releases every version of object's object (any version): this backend's
 * copies are freed at its next look-up, the shared ones when their last
 * reader unmaps them.  For objects that are gone (a dropped model); call it
 * after the commit that removed them.
 */
extern void SnapshotRelease(const SnapshotKey *object);

/*
 * A number that names this backend's hold on a snapshot: never given to
 * another one in the session.  A caller that keeps block pointers compares
 * it (not the pointer, whose memory may be reused) to know they still hold.
 */
extern uint64 SnapshotSerial(const ServingSnapshot *snapshot);

/* Bytes of the snapshot (all blocks and their header). */
extern Size SnapshotBytes(const ServingSnapshot *snapshot);

/* Whether the snapshot is in shared memory (else this backend's own). */
extern bool SnapshotIsShared(const ServingSnapshot *snapshot);

/* Whether snapshots are shared in this server (rerank was preloaded). */
extern bool SnapshotsShared(void);

/* Building: see "ADDING BLOCKS" above. */
typedef struct SnapshotBuild SnapshotBuild;

typedef struct SnapshotProvider
{
	const char *name;
	SnapshotKind kind;

	/*
	 * Reserves this provider's blocks with SnapshotReserve; returns what
	 * fill needs (allocated in the current memory context, a child of the
	 * build's), or NULL.
	 */
	void	   *(*plan) (SnapshotBuild *build, const SnapshotSource *source);

	/* Writes every reserved block; interrupts checked in long loops. */
	void		(*fill) (SnapshotBuild *build, const SnapshotSource *source,
						 void *state);
} SnapshotProvider;

/*
 * Registers a provider (from _PG_init; a static struct).  Providers of a
 * kind run in registration order.
 */
extern void RegisterSnapshotProvider(const SnapshotProvider *provider);

/*
 * Reserves block (at most once per build) of count elements of
 * element_size bytes.  A block of 0 elements is not stored.
 */
extern void SnapshotReserve(SnapshotBuild *build, SnapshotBlockId block,
							uint64 count, Size element_size);

/*
 * The memory of a reserved block, to be written whole by fill (it is not
 * zeroed); NULL for a block of 0 elements.
 */
extern void *SnapshotBlockForWrite(SnapshotBuild *build, SnapshotBlockId block);

/*
 * Lowers a reserved block's element count after fill wrote fewer elements
 * (e.g. malformed rows left out).
 */
extern void SnapshotBlockShrink(SnapshotBuild *build, SnapshotBlockId block,
								uint64 count);

/* What a kind brings besides its providers. */
typedef struct SnapshotKindInfo
{
	const char *name;			/* "model", "catalog": the view's kind */

	/*
	 * Per-backend budget in bytes when snapshots are private (no preload),
	 * and the setting that holds it, for messages.  0 also turns serving
	 * from memory off with the preload (this session reads the tables).
	 */
	Size		(*private_budget) (void);
	const char *private_budget_setting;

	/*
	 * What serving does while the kind is not in memory, a sentence for the
	 * over-budget WARNING; NULL: "it is read from its tables on every call".
	 */
	const char *without_memory;

	/*
	 * Whether the build reads with a new latest snapshot (true; for versions
	 * counted outside the tables, such as the catalog generation, which the
	 * caller read before the build) or with the caller's active snapshot.
	 */
	bool		latest_snapshot;

	/*
	 * While another backend builds a newer version, serve the newest ready
	 * older version of the same object instead of waiting (data that may
	 * lag a build behind, such as categories); false: wait.
	 */
	bool		serve_previous;

	/*
	 * Called inside SPI under the build's snapshot before any provider:
	 * whether source->key.version is committed data this transaction did
	 * not write.  False: nothing is built (SNAPSHOT_NOT_CURRENT).
	 */
	bool		(*is_current) (const SnapshotSource *source);
} SnapshotKindInfo;

/* Registers a kind (from _PG_init; a static struct). */
extern void RegisterSnapshotKind(SnapshotKind kind, const SnapshotKindInfo *info);

/*
 * The memory budget settings (rerank.shared_cache_mb) and, with the
 * preload, the shared registry; called by _PG_init.
 */
extern void SnapshotInit(void);

#endif							/* RERANK_SNAPSHOT_H */
