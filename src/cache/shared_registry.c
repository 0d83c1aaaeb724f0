/*
 * shared_registry.c
 *	  The registry of shared snapshots in fixed shared memory (see
 *	  shared_registry.h and snapshot.h).
 *
 * A slot goes FREE → BUILDING (claimed by one backend, which holds a
 * heavyweight lock named after the claim while it builds; the others that
 * want the same key queue on that lock, see snapshot.c) → READY (its segment pinned
 * by the registry, mapped by its readers) → RETIRED (unpinned: replaced by a
 * newer version of the same object, or evicted for room; the segment lives
 * on until its last reader unmaps it) → FREE once no reader is left.  A
 * build that does not fit the budget leaves the slot OVER_BUDGET, a note
 * that keeps the next backends from counting the same rows again until the
 * budget changes.  A builder that errors, is cancelled or exits gives its
 * slot back (SharedRegistryAbandon, run by PG_ENSURE_ERROR_CLEANUP); a
 * builder killed outright takes the whole server through crash recovery,
 * which starts the registry afresh.
 */
#include "postgres.h"

#include "cache/shared_registry.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"

typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_BUILDING,
	SLOT_READY,
	SLOT_RETIRED,
	SLOT_OVER_BUDGET
} SlotState;

typedef struct SharedSlot
{
	SnapshotKey key;
	char		label[NAMEDATALEN];
	SlotState	state;
	int			builder_pid;	/* BUILDING */
	int			prepared_pid;	/* READY: prepared by this backend's open
								 * transaction, not to be served (0: not) */
	bool		filling;		/* BUILDING: its segment exists, being filled */
	dsm_handle	handle;			/* READY, RETIRED */
	Size		bytes;			/* held, reserved, or (OVER_BUDGET) needed */
	Size		budget;			/* OVER_BUDGET: the budget it did not fit */
	uint64		generation;		/* bumped at every claim of the slot */
	pg_atomic_uint32 readers;	/* backends mapping the segment */
	TimestampTz built_at;
	TimestampTz last_used;
	double		build_seconds;
	Size		huge_bytes;		/* READY, RETIRED: of bytes on huge pages */
} SharedSlot;

/* A database's generations of the kinds versioned by the registry. */
typedef struct DatabaseGenerations
{
	Oid			dbid;
	uint64		generations[SNAPSHOT_NKINDS];	/* catalog, item signals */
} DatabaseGenerations;

typedef struct SharedRegistry
{
	LWLock	   *lock;
	pg_atomic_uint64 retirements;
	uint64		generation_counter; /* source of unique generations */
	int			database_victim;	/* round robin when the table is full */
	DatabaseGenerations databases[SHARED_REGISTRY_DATABASES];
	SharedSlot	slots[SHARED_REGISTRY_SLOTS];
} SharedRegistry;

static SharedRegistry *registry = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Asks for the registry's shared memory and its lock. */
static void
SharedRegistryShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(SharedRegistry)));
	RequestNamedLWLockTranche("rerank", 1);
}

/* Creates (postmaster) or finds the registry in shared memory. */
static void
SharedRegistryShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	registry = ShmemInitStruct("rerank snapshot registry", sizeof(SharedRegistry), &found);
	if (!found)
	{
		memset(registry, 0, sizeof(SharedRegistry));
		registry->lock = &(GetNamedLWLockTranche("rerank"))->lock;
		pg_atomic_init_u64(&registry->retirements, 0);
		for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
			pg_atomic_init_u32(&registry->slots[i].readers, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Installs the hooks; see shared_registry.h. */
void
SharedRegistryRequest(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = SharedRegistryShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = SharedRegistryShmemStartup;
}

bool
SharedRegistryAvailable(void)
{
	return registry != NULL;
}

/* Whether two keys name the same object (any version). */
static bool
SameObject(const SnapshotKey *a, const SnapshotKey *b)
{
	return a->kind == b->kind && a->dbid == b->dbid && a->relid == b->relid &&
		a->object_id == b->object_id;
}

/* Whether two keys are equal. */
static bool
SameKey(const SnapshotKey *a, const SnapshotKey *b)
{
	return SameObject(a, b) && a->version == b->version;
}

/* Whether a slot's segment can still be mapped. */
static bool
SlotMappable(SharedSlot *s)
{
	return s->state == SLOT_READY ||
		(s->state == SLOT_RETIRED && pg_atomic_read_u32(&s->readers) > 0);
}

/* The occupied slot of a key, or -1.  Lock held. */
static int
FindSlot(const SnapshotKey *key)
{
	for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
	{
		SharedSlot *s = &registry->slots[i];

		if (s->state == SLOT_FREE || !SameKey(&s->key, key))
			continue;
		if (s->state == SLOT_RETIRED && pg_atomic_read_u32(&s->readers) == 0)
			continue;
		return i;
	}
	return -1;
}

/* on_dsm_detach callback: a backend stopped mapping a slot's segment. */
static void
ReaderDetached(dsm_segment *segment, Datum arg)
{
	pg_atomic_fetch_sub_u32(&registry->slots[DatumGetInt32(arg)].readers, 1);
}

/*
 * Unpins a ready slot's segment: it is freed when its last reader unmaps
 * it, and the slot with it.  Lock held exclusively.
 */
static void
RetireSlot(SharedSlot *s)
{
	Assert(s->state == SLOT_READY);
	dsm_unpin_segment(s->handle);
	s->state = pg_atomic_read_u32(&s->readers) > 0 ? SLOT_RETIRED : SLOT_FREE;
	pg_atomic_fetch_add_u64(&registry->retirements, 1);
}

/*
 * Maps slot i's segment for this backend (lock held exclusively); false
 * when it is gone.  A segment mapped already is not mapped again.  A
 * retired slot someone still maps is pinned and ready again.
 */
static bool
MapSlot(int i, SharedMapping *mapping)
{
	SharedSlot *s = &registry->slots[i];
	dsm_segment *segment = dsm_find_mapping(s->handle);

	if (segment == NULL)
	{
		segment = dsm_attach(s->handle);
		if (segment == NULL)
			return false;
		pg_atomic_fetch_add_u32(&s->readers, 1);
		on_dsm_detach(segment, ReaderDetached, Int32GetDatum(i));
		dsm_pin_mapping(segment);
	}
	if (s->state == SLOT_RETIRED)
	{
		dsm_pin_segment(segment);
		s->state = SLOT_READY;
	}
	s->last_used = GetCurrentTimestamp();
	mapping->slot = i;
	mapping->generation = s->generation;
	mapping->segment = segment;
	return true;
}

/*
 * The newest ready version of key's object older than key's, or -1.  Lock
 * held.
 */
static int
NewestOlderReady(const SnapshotKey *key)
{
	int			best = -1;

	for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
	{
		SharedSlot *s = &registry->slots[i];

		if (s->state == SLOT_READY && SameObject(&s->key, key) &&
			s->key.version < key->version &&
			(best < 0 || s->key.version > registry->slots[best].key.version))
			best = i;
	}
	return best;
}

/* The least recently used ready slot nobody maps, except skip; or -1. */
static int
EvictionVictim(int skip)
{
	int			victim = -1;

	for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
	{
		SharedSlot *s = &registry->slots[i];

		if (i == skip || s->state != SLOT_READY || s->prepared_pid != 0 ||
			pg_atomic_read_u32(&s->readers) > 0)
			continue;
		if (victim < 0 || s->last_used < registry->slots[victim].last_used)
			victim = i;
	}
	return victim;
}

/*
 * A slot for the caller to build key in: a free one, a retired one nobody
 * maps, or the least recently used ready one nobody maps; -1 when every
 * slot is in use.  Lock held exclusively.
 */
static int
ClaimSlot(const SnapshotKey *key, const char *label, int reuse)
{
	int			i = reuse;
	SharedSlot *s;

	for (int j = 0; i < 0 && j < SHARED_REGISTRY_SLOTS; j++)
		if (registry->slots[j].state == SLOT_FREE)
			i = j;
	for (int j = 0; i < 0 && j < SHARED_REGISTRY_SLOTS; j++)
		if (registry->slots[j].state == SLOT_RETIRED &&
			pg_atomic_read_u32(&registry->slots[j].readers) == 0)
			i = j;
	/* a note of a version too big holds no memory */
	for (int j = 0; i < 0 && j < SHARED_REGISTRY_SLOTS; j++)
		if (registry->slots[j].state == SLOT_OVER_BUDGET)
			i = j;
	if (i < 0)
	{
		i = EvictionVictim(-1);
		if (i < 0)
			return -1;
		RetireSlot(&registry->slots[i]);
	}
	s = &registry->slots[i];
	s->key = *key;
	strlcpy(s->label, label, NAMEDATALEN);
	s->state = SLOT_BUILDING;
	s->builder_pid = MyProcPid;
	s->prepared_pid = 0;
	s->filling = false;
	s->handle = DSM_HANDLE_INVALID;
	s->bytes = 0;
	s->budget = 0;
	s->generation++;
	s->built_at = 0;
	s->build_seconds = 0;
	s->huge_bytes = 0;
	s->last_used = GetCurrentTimestamp();
	return i;
}

/* Whether the backend building a slot is still there. */
static bool
BuilderAlive(const SharedSlot *s)
{
	return s->builder_pid == MyProcPid || BackendPidGetProc(s->builder_pid) != NULL;
}

/* Finds, maps or claims the version of key; see the header. */
SharedAcquireResult
SharedRegistryAcquire(const SnapshotKey *key, const char *label,
					  bool allow_previous, Size budget, SharedMapping *mapping,
					  int64 *mapped_version, Size *bytes)
{
	SharedAcquireResult result = SHARED_NO_SLOT;
	int			i;
	int			reuse = -1;

	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	i = FindSlot(key);
	if (i >= 0)
	{
		SharedSlot *s = &registry->slots[i];

		if (SlotMappable(s))
		{
			if (MapSlot(i, mapping))
			{
				*mapped_version = key->version;
				result = SHARED_MAPPED;
				goto done;
			}
			/* the segment went away meanwhile: build it anew */
			if (s->state == SLOT_READY)
				RetireSlot(s);
		}
		else if (s->state == SLOT_BUILDING)
		{
			int			older;

			if (BuilderAlive(s))
			{
				if (allow_previous &&
					(older = NewestOlderReady(key)) >= 0 &&
					MapSlot(older, mapping))
				{
					*mapped_version = registry->slots[older].key.version;
					result = SHARED_MAPPED;
				}
				else
				{
					mapping->slot = i;
					mapping->generation = s->generation;
					mapping->segment = NULL;
					result = SHARED_BUILDING;
				}
				goto done;
			}
			/* cannot happen (a builder gives its slot back even at exit) */
			s->state = SLOT_FREE;
		}
		else if (s->state == SLOT_OVER_BUDGET)
		{
			if (s->budget == budget)
			{
				*bytes = s->bytes;
				result = SHARED_TOO_BIG;
				goto done;
			}
			/* the budget changed: try again */
			reuse = i;
		}
	}
	i = ClaimSlot(key, label, reuse);
	if (i >= 0)
	{
		mapping->slot = i;
		mapping->generation = registry->slots[i].generation;
		mapping->segment = NULL;
		result = SHARED_MUST_BUILD;
	}
done:
	LWLockRelease(registry->lock);
	return result;
}

/* The heavyweight lock a build holds and its waiters queue on. */
void
SharedRegistryBuildLockTag(const SharedMapping *mapping, LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) mapping->slot,
						 (uint32) mapping->generation, SHARED_BUILD_LOCK_FIELD4);
}

/* Whether a slot is still being built under the claim of mapping. */
bool
SharedRegistryStillBuilding(const SharedMapping *mapping)
{
	SharedSlot *s = &registry->slots[mapping->slot];
	bool		building;

	LWLockAcquire(registry->lock, LW_SHARED);
	building = s->state == SLOT_BUILDING && s->generation == mapping->generation;
	LWLockRelease(registry->lock);
	return building;
}

/* Reserves room for a build within the budget; see the header. */
bool
SharedRegistryReserve(int slot, Size bytes, Size budget, bool note_too_big,
					  Size *available)
{
	SharedSlot *s = &registry->slots[slot];
	Size		used = 0;
	bool		fits;

	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
	{
		SharedSlot *o = &registry->slots[i];

		if (i != slot && (o->state == SLOT_READY || o->state == SLOT_BUILDING))
			used += o->bytes;
	}
	while (used + bytes > budget)
	{
		int			victim = EvictionVictim(slot);

		if (victim < 0)
			break;
		used -= registry->slots[victim].bytes;
		RetireSlot(&registry->slots[victim]);
	}
	fits = used + bytes <= budget;
	*available = budget > used ? budget - used : 0;
	s->bytes = bytes;
	if (!fits)
	{
		s->state = note_too_big ? SLOT_OVER_BUDGET : SLOT_FREE;
		s->budget = budget;
		s->builder_pid = 0;
	}
	LWLockRelease(registry->lock);
	return fits;
}

/* Notes that the caller's slot has its segment and is being filled. */
void
SharedRegistryNoteFilling(int slot)
{
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	registry->slots[slot].filling = true;
	LWLockRelease(registry->lock);
}

/* Publishes a complete build; see the header. */
void
SharedRegistryPublish(int slot, dsm_segment *segment, SharedMapping *mapping,
					  double seconds, Size huge_bytes, bool prepared)
{
	SharedSlot *s = &registry->slots[slot];

	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	dsm_pin_segment(segment);
	s->handle = dsm_segment_handle(segment);
	s->state = SLOT_READY;
	s->builder_pid = 0;
	s->built_at = GetCurrentTimestamp();
	s->last_used = s->built_at;
	s->build_seconds = seconds;
	s->huge_bytes = huge_bytes;
	s->prepared_pid = prepared ? MyProcPid : 0;
	pg_atomic_fetch_add_u32(&s->readers, 1);

	/*
	 * Older versions of the same object are of no use to new transactions;
	 * a prepared one serves nobody yet, and another backend's prepared one
	 * waits for its own commit.
	 */
	for (int i = 0; i < SHARED_REGISTRY_SLOTS && !prepared; i++)
	{
		SharedSlot *o = &registry->slots[i];

		if (i == slot || !SameObject(&o->key, &s->key) || o->key.version >= s->key.version ||
			o->prepared_pid != 0)
			continue;
		if (o->state == SLOT_READY)
			RetireSlot(o);
		else if (o->state == SLOT_OVER_BUDGET)
			o->state = SLOT_FREE;
	}
	mapping->slot = slot;
	mapping->generation = s->generation;
	mapping->segment = segment;
	LWLockRelease(registry->lock);
	on_dsm_detach(segment, ReaderDetached, Int32GetDatum(slot));
	dsm_pin_mapping(segment);
}

/* Gives a claimed slot back; see the header. */
void
SharedRegistryAbandon(int slot, uint64 generation)
{
	SharedSlot *s = &registry->slots[slot];
	bool		held = LWLockHeldByMe(registry->lock);

	if (!held)
		LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	if (s->generation == generation && s->state == SLOT_BUILDING &&
		s->builder_pid == MyProcPid)
		s->state = SLOT_FREE;
	if (!held)
		LWLockRelease(registry->lock);
}

/* Retires every version of an object; see the header. */
void
SharedRegistryRetireObject(const SnapshotKey *object)
{
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
	{
		SharedSlot *s = &registry->slots[i];

		if (!SameObject(&s->key, object))
			continue;
		if (s->state == SLOT_READY)
			RetireSlot(s);
		else if (s->state == SLOT_OVER_BUDGET)
			s->state = SLOT_FREE;
	}
	LWLockRelease(registry->lock);
}

uint64
SharedRegistryRetirements(void)
{
	return pg_atomic_read_u64(&registry->retirements);
}

/* Whether a mapping's version is still ready; see the header. */
bool
SharedRegistryMappingCurrent(const SharedMapping *mapping)
{
	SharedSlot *s = &registry->slots[mapping->slot];
	bool		current;

	LWLockAcquire(registry->lock, LW_SHARED);
	current = s->generation == mapping->generation && s->state == SLOT_READY;
	LWLockRelease(registry->lock);
	return current;
}

/*
 * Notes a use for the LRU.  An unlocked store of an aligned 8-byte value:
 * at worst a concurrent reader sees the previous time.
 */
void
SharedRegistryTouch(const SharedMapping *mapping)
{
	SharedSlot *s = &registry->slots[mapping->slot];

	if (s->generation == mapping->generation)
		s->last_used = GetCurrentTimestamp();
}

/*
 * The entry of a database in the generation table, made if need be, with
 * new generations of every kind.  Lock held.
 */
static DatabaseGenerations *
DatabaseEntry(Oid dbid)
{
	DatabaseGenerations *entry = NULL;

	for (int i = 0; i < SHARED_REGISTRY_DATABASES; i++)
	{
		if (registry->databases[i].dbid == dbid)
			return &registry->databases[i];
		if (entry == NULL && registry->databases[i].dbid == InvalidOid)
			entry = &registry->databases[i];
	}
	if (entry == NULL)
	{
		/* forgetting a database is safe: it gets generations never used */
		entry = &registry->databases[registry->database_victim];
		registry->database_victim = (registry->database_victim + 1) % SHARED_REGISTRY_DATABASES;
	}
	entry->dbid = dbid;
	for (int k = 0; k < SNAPSHOT_NKINDS; k++)
		entry->generations[k] = ++registry->generation_counter;
	return entry;
}

uint64
SharedRegistryGeneration(Oid dbid, SnapshotKind kind)
{
	uint64		generation;

	Assert(kind < SNAPSHOT_NKINDS);
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	generation = DatabaseEntry(dbid)->generations[kind];
	LWLockRelease(registry->lock);
	return generation;
}

void
SharedRegistryBumpGeneration(Oid dbid, SnapshotKind kind)
{
	Assert(kind < SNAPSHOT_NKINDS);
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	DatabaseEntry(dbid)->generations[kind] = ++registry->generation_counter;
	LWLockRelease(registry->lock);
}

/* A number never given to any content before; see the header. */
uint64
SharedRegistryNewVersion(void)
{
	uint64		version;

	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	version = ++registry->generation_counter;
	LWLockRelease(registry->lock);
	return version;
}

/* The ready slot this backend prepared for key, or -1.  Lock held. */
static int
PreparedSlot(const SnapshotKey *key)
{
	for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
	{
		SharedSlot *s = &registry->slots[i];

		if (s->state == SLOT_READY && s->prepared_pid == MyProcPid && SameKey(&s->key, key))
			return i;
	}
	return -1;
}

/* Makes a prepared version current, or gives it up; see the header. */
bool
SharedRegistryAdoptPrepared(Oid dbid, SnapshotKind kind, uint64 base,
							const SnapshotKey *key)
{
	DatabaseGenerations *entry;
	int			slot;
	bool		adopted;

	Assert(kind < SNAPSHOT_NKINDS);
	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	entry = DatabaseEntry(dbid);
	slot = PreparedSlot(key);
	adopted = slot >= 0 && entry->generations[kind] == base;
	if (adopted)
	{
		entry->generations[kind] = (uint64) key->version;
		registry->slots[slot].prepared_pid = 0;
		registry->slots[slot].last_used = GetCurrentTimestamp();
		/* every other version of the object now serves nobody new */
		for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
		{
			SharedSlot *o = &registry->slots[i];

			if (i == slot || !SameObject(&o->key, key) || o->prepared_pid != 0)
				continue;
			if (o->state == SLOT_READY)
				RetireSlot(o);
			else if (o->state == SLOT_OVER_BUDGET)
				o->state = SLOT_FREE;
		}
	}
	else
	{
		/* another change committed meanwhile: a new version, built at first use */
		entry->generations[kind] = ++registry->generation_counter;
		if (slot >= 0)
		{
			registry->slots[slot].prepared_pid = 0;
			RetireSlot(&registry->slots[slot]);
		}
	}
	LWLockRelease(registry->lock);
	return adopted;
}

/* Gives a prepared version up; see the header. */
void
SharedRegistryDiscardPrepared(const SnapshotKey *key)
{
	int			slot;

	LWLockAcquire(registry->lock, LW_EXCLUSIVE);
	slot = PreparedSlot(key);
	if (slot >= 0)
	{
		registry->slots[slot].prepared_pid = 0;
		RetireSlot(&registry->slots[slot]);
	}
	LWLockRelease(registry->lock);
}

/* Copies the occupied slots for the view; see the header. */
int
SharedRegistryList(SharedSlotInfo *infos)
{
	static const char *const names[] = {"free", "building", "ready", "retiring", "over budget"};
	int			n = 0;

	LWLockAcquire(registry->lock, LW_SHARED);
	for (int i = 0; i < SHARED_REGISTRY_SLOTS; i++)
	{
		SharedSlot *s = &registry->slots[i];
		SharedSlotInfo *info = &infos[n];

		if (s->state == SLOT_FREE ||
			(s->state == SLOT_RETIRED && pg_atomic_read_u32(&s->readers) == 0))
			continue;
		info->key = s->key;
		strlcpy(info->label, s->label, NAMEDATALEN);
		info->state = s->state == SLOT_BUILDING && s->filling ? "filling" : names[s->state];
		info->bytes = s->bytes;
		info->readers = pg_atomic_read_u32(&s->readers);
		info->builder_pid = s->state == SLOT_BUILDING ? s->builder_pid :
			s->state == SLOT_READY ? s->prepared_pid : 0;
		if (s->state == SLOT_READY && s->prepared_pid != 0)
			info->state = "prepared";
		info->built_at = s->built_at;
		info->last_used = s->last_used;
		info->build_seconds = s->build_seconds;
		info->huge_bytes = s->huge_bytes;
		info->generation = s->generation;
		info->slot = i;
		n++;
	}
	LWLockRelease(registry->lock);
	return n;
}
