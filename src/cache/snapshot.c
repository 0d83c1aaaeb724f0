/*
 * snapshot.c
 *	  Served snapshots (see snapshot.h): kinds and providers, the build
 *	  (plan, allocate, fill) into a shared segment or this backend's memory,
 *	  and the snapshots this backend holds, with their lifetime.
 *
 * A snapshot starts with a header listing its blocks (id, element size,
 * count, offset); blocks follow, each on a cache line.  The build runs the
 * kind's is_current check and every provider's plan inside SPI under one
 * MVCC snapshot, lays the blocks out, allocates the whole snapshot at once
 * (one DSM segment, or one block of this backend's memory on huge pages),
 * runs the providers' fill under the same MVCC snapshot, and writes the
 * header last.  Only then is it published (shared) or adopted (private), so
 * nothing half-built is ever found.
 *
 * This backend's snapshots are entries in a list.  An entry stays valid for
 * the rest of the transaction in which it was last returned: entries are
 * retired (replaced, evicted, or their shared version retired by the
 * registry) and freed or unmapped only at the first look-up of a later
 * transaction.  Shared snapshots this backend has not used in its last
 * SHARED_IDLE_XACTS transactions that looked one up are unmapped, so a
 * backend holds only what it serves (re-mapping a ready version costs an
 * mmap, no build).
 */
#include "postgres.h"

#ifndef WIN32
#include <sys/mman.h>
#endif

#include "access/xact.h"
#include "cache/cache_memory.h"
#include "cache/shared_registry.h"
#include "cache/snapshot.h"
#include "common/spi_util.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#if PG_VERSION_NUM >= 170000
#define CURRENT_LXID (MyProc->vxid.lxid)
#else
#define CURRENT_LXID (MyProc->lxid)
#endif

#define SNAPSHOT_MAGIC 0x32535252	/* "RRS2" */
#define SNAPSHOT_MAX_BLOCKS 48
#define SNAPSHOT_ALIGN PG_CACHE_LINE_SIZE
#define SNAPSHOT_MAX_PROVIDERS 32

/* Look-up transactions after which an unused shared snapshot is unmapped. */
#define SHARED_IDLE_XACTS 8

/*
 * A huge page.  A shared segment at least this big is sized to whole huge
 * pages: the last one can then be a huge page too.
 */
#define HUGE_PAGE_SIZE ((Size) 2 * 1024 * 1024)

/* A private snapshot at least this big is worth a word on the preload. */
#define PRIVATE_NOTICE_BYTES ((Size) 64 * 1024 * 1024)

typedef struct SnapshotBlockEntry
{
	uint32		id;
	uint32		element_size;
	uint64		count;
	uint64		offset;			/* from the start of the snapshot */
} SnapshotBlockEntry;

/* The start of every snapshot. */
typedef struct SnapshotHeader
{
	uint32		magic;
	uint32		nblocks;
	uint64		bytes;
	uint64		huge_bytes;		/* of them on huge pages in the builder */
	SnapshotKey key;
	SnapshotBlockEntry blocks[SNAPSHOT_MAX_BLOCKS];
} SnapshotHeader;

struct SnapshotBuild
{
	const SnapshotSource *source;
	SnapshotHeader header;		/* the blocks planned, then laid out */
	char	   *base;			/* NULL until the memory is allocated */
	void	   *states[SNAPSHOT_MAX_PROVIDERS];
};

struct ServingSnapshot
{
	SnapshotKey key;
	char		label[NAMEDATALEN];
	const SnapshotHeader *header;
	Size		bytes;
	Size		huge_bytes;		/* of them on huge pages when built */
	bool		shared;
	SharedMapping mapping;		/* shared */
	MemoryContext context;		/* private: owns the memory */
	TimestampTz built_at;
	double		build_seconds;
	uint64		used_in;		/* lookup_xacts at the last use */
	uint64		serial;			/* SnapshotSerial */
	LocalTransactionId retired_in;
	struct ServingSnapshot *next;
};

/* GUC: server-wide budget of shared snapshots, in megabytes. */
static int	shared_cache_mb = 4096;

static const SnapshotKindInfo *kinds[SNAPSHOT_NKINDS];
static const SnapshotProvider *providers[SNAPSHOT_MAX_PROVIDERS];
static int	nproviders = 0;

static MemoryContext SnapshotContext = NULL;
static ServingSnapshot *live = NULL;
static ServingSnapshot *retired = NULL;
static LocalTransactionId lookup_lxid = InvalidLocalTransactionId;
static uint64 lookup_xacts = 0;
static uint64 seen_retirements = 0;
static bool private_noticed = false;
static uint64 next_serial = 0;

/* Keys already warned about in this session (a small ring). */
#define WARNED_KEYS 32
static SnapshotKey warned[WARNED_KEYS];
static int	nwarned = 0;

/* Registers the budget setting and, during the preload, the registry. */
void
SnapshotInit(void)
{
	DefineCustomIntVariable("rerank.shared_cache_mb",
							"Shared memory for served models, server-wide, in megabytes.",
							"With rerank in shared_preload_libraries, every model version "
							"and item catalog served is held once per server within this "
							"budget; one that does not fit is read from its tables per call.",
							&shared_cache_mb, 4096, 0, MAX_KILOBYTES / 1024,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	if (process_shared_preload_libraries_in_progress)
		SharedRegistryRequest();
}

bool
SnapshotsShared(void)
{
	return SharedRegistryAvailable();
}

/* Registers a kind; see snapshot.h. */
void
RegisterSnapshotKind(SnapshotKind kind, const SnapshotKindInfo *info)
{
	Assert(kind < SNAPSHOT_NKINDS);
	kinds[kind] = info;
}

/* Registers a provider; see snapshot.h. */
void
RegisterSnapshotProvider(const SnapshotProvider *provider)
{
	if (nproviders == SNAPSHOT_MAX_PROVIDERS)
		elog(ERROR, "too many snapshot providers");
	providers[nproviders++] = provider;
}

/* Whether two keys are equal. */
static bool
KeysEqual(const SnapshotKey *a, const SnapshotKey *b)
{
	return a->kind == b->kind && a->dbid == b->dbid && a->relid == b->relid &&
		a->object_id == b->object_id && a->version == b->version;
}

/* Whether two keys name the same object (any version). */
static bool
SameObject(const SnapshotKey *a, const SnapshotKey *b)
{
	return a->kind == b->kind && a->dbid == b->dbid && a->relid == b->relid &&
		a->object_id == b->object_id;
}

/* The block entry of id in a header, or NULL. */
static const SnapshotBlockEntry *
FindBlock(const SnapshotHeader *header, SnapshotBlockId id)
{
	for (uint32 i = 0; i < header->nblocks; i++)
		if (header->blocks[i].id == id)
			return &header->blocks[i];
	return NULL;
}

/* A block of a snapshot; see snapshot.h. */
const void *
SnapshotBlock(const ServingSnapshot *snapshot, SnapshotBlockId block,
			  uint64 *count)
{
	const SnapshotBlockEntry *entry = FindBlock(snapshot->header, block);

	if (entry != NULL && entry->count == 0)
		entry = NULL;
	if (count)
		*count = entry != NULL ? entry->count : 0;
	if (entry == NULL)
		return NULL;
	return (const char *) snapshot->header + entry->offset;
}

uint64
SnapshotSerial(const ServingSnapshot *snapshot)
{
	return snapshot->serial;
}

Size
SnapshotBytes(const ServingSnapshot *snapshot)
{
	return snapshot->bytes;
}

bool
SnapshotIsShared(const ServingSnapshot *snapshot)
{
	return snapshot->shared;
}

/* Reserves a block of the build; see snapshot.h. */
void
SnapshotReserve(SnapshotBuild *build, SnapshotBlockId block, uint64 count,
				Size element_size)
{
	SnapshotHeader *header = &build->header;
	SnapshotBlockEntry *entry;

	if (build->base != NULL)
		elog(ERROR, "snapshot block %u reserved after planning", block);
	if (FindBlock(header, block) != NULL)
		elog(ERROR, "snapshot block %u reserved twice", block);
	if (count == 0)
		return;
	if (header->nblocks == SNAPSHOT_MAX_BLOCKS)
		elog(ERROR, "too many snapshot blocks");
	entry = &header->blocks[header->nblocks++];
	entry->id = block;
	entry->element_size = (uint32) element_size;
	entry->count = count;
	entry->offset = 0;
}

/* The memory of a reserved block; see snapshot.h. */
void *
SnapshotBlockForWrite(SnapshotBuild *build, SnapshotBlockId block)
{
	const SnapshotBlockEntry *entry = FindBlock(&build->header, block);

	if (build->base == NULL)
		elog(ERROR, "snapshot block %u written before allocation", block);
	return entry != NULL ? build->base + entry->offset : NULL;
}

/* Lowers a block's count after fill; see snapshot.h. */
void
SnapshotBlockShrink(SnapshotBuild *build, SnapshotBlockId block, uint64 count)
{
	SnapshotBlockEntry *entry = (SnapshotBlockEntry *) FindBlock(&build->header, block);

	if (entry == NULL || count > entry->count)
		elog(ERROR, "snapshot block %u cannot grow", block);
	entry->count = count;
}

/* Places the planned blocks one after the other; returns the total size. */
static Size
LayOut(SnapshotHeader *header)
{
	Size		offset = TYPEALIGN(SNAPSHOT_ALIGN, sizeof(SnapshotHeader));

	for (uint32 i = 0; i < header->nblocks; i++)
	{
		SnapshotBlockEntry *entry = &header->blocks[i];

		offset = TYPEALIGN(SNAPSHOT_ALIGN, offset);
		entry->offset = offset;
		offset = add_size(offset, mul_size(entry->count, entry->element_size));
	}
	header->bytes = offset;
	return offset;
}

/*
 * Pushes the MVCC snapshot a build reads with: a new latest one for kinds
 * that want it (impossible in parallel mode: false), else the caller's.
 */
static bool
PushBuildSnapshot(const SnapshotKindInfo *kind, bool *pushed)
{
	*pushed = false;
	if (kind->latest_snapshot)
	{
		if (IsInParallelMode())
			return false;
		PushActiveSnapshot(GetLatestSnapshot());
		*pushed = true;
	}
	else if (!ActiveSnapshotSet())
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		*pushed = true;
	}
	return true;
}

/*
 * The planning half of a build, inside SPI under the pushed snapshot: the
 * kind's check (not for a prepared build, which reads this transaction's
 * own changes on purpose), then every provider's plan.  False when the
 * version is not current (nothing to build).
 */
static bool
PlanBuild(const SnapshotKindInfo *kind, const SnapshotSource *source,
		  SnapshotBuild *build, bool prepare)
{
	memset(build, 0, sizeof(SnapshotBuild));
	build->source = source;
	build->header.magic = SNAPSHOT_MAGIC;
	build->header.key = source->key;
	if (!prepare && !kind->is_current(source))
		return false;
	for (int i = 0; i < nproviders; i++)
		if (providers[i]->kind == source->key.kind)
			build->states[i] = providers[i]->plan(build, source);
	LayOut(&build->header);
	return true;
}

/* The filling half of a build: every provider writes, then the header. */
static void
FillBuild(SnapshotBuild *build, char *base)
{
	build->base = base;
	for (int i = 0; i < nproviders; i++)
		if (providers[i]->kind == build->source->key.kind)
			providers[i]->fill(build, build->source, build->states[i]);
	memcpy(base, &build->header, sizeof(SnapshotHeader));
}

/* Connects to SPI for a build. */
static void
BuildConnect(void)
{
	SpiConnect();
}

/* Ends a build's SPI connection and MVCC snapshot. */
static void
BuildDisconnect(bool pushed)
{
	if (pushed)
		PopActiveSnapshot();
	SPI_finish();
}

/* Megabytes, rounded up, for messages. */
static int64
Megabytes(Size bytes)
{
	return (int64) ((bytes + 1024 * 1024 - 1) / (1024 * 1024));
}

/* Whether this session has warned about key; notes it. */
static bool
AlreadyWarned(const SnapshotKey *key)
{
	for (int i = 0; i < Min(nwarned, WARNED_KEYS); i++)
		if (KeysEqual(&warned[i], key))
			return true;
	warned[nwarned++ % WARNED_KEYS] = *key;
	return false;
}

/* The WARNING for a snapshot over its budget, once per session and key. */
static void
WarnOverBudget(const SnapshotKindInfo *kind, const SnapshotSource *source,
			   Size needed, Size available, bool shared)
{
	const char *without = kind->without_memory != NULL ? kind->without_memory :
		"it is read from its tables on every call, which is slower than serving it from memory";

	if (AlreadyWarned(&source->key))
		return;
	if (shared)
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s \"%s\" does not fit in rerank.shared_cache_mb (%d MB)",
						kind->name, source->label, shared_cache_mb),
				 errdetail("It needs " INT64_FORMAT " MB of shared memory, " INT64_FORMAT " MB are free. Until it fits, %s; rerank.model_memory lists what is held.",
						   Megabytes(needed), (int64) (available / (1024 * 1024)), without),
				 errhint("Raise rerank.shared_cache_mb and reload the configuration.")));
	else
		ereport(WARNING,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s \"%s\" does not fit in %s (" INT64_FORMAT " MB)",
						kind->name, source->label, kind->private_budget_setting,
						(int64) (kind->private_budget() / (1024 * 1024))),
				 errdetail("It needs " INT64_FORMAT " MB in each connection. Until it fits, %s.",
						   Megabytes(needed), without),
				 errhint("Raise %s, or add rerank to shared_preload_libraries to hold one copy per server.",
						 kind->private_budget_setting)));
}

/* The WARNING when every registry slot is in use. */
static void
WarnNoSlot(const SnapshotKindInfo *kind, const SnapshotSource *source)
{
	if (AlreadyWarned(&source->key))
		return;
	ereport(WARNING,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("%s \"%s\" cannot be held in shared memory: all %d versions rerank can hold are in use",
					kind->name, source->label, SHARED_REGISTRY_SLOTS),
			 errdetail("Until one is free, %s.",
					   kind->without_memory != NULL ? kind->without_memory :
					   "it is read from its tables on every call"),
			 errhint("rerank.model_memory lists the versions held and their readers.")));
}

/* Marks an entry retired; it is freed at a look-up of a later transaction. */
static void
RetireEntry(ServingSnapshot *snapshot)
{
	ServingSnapshot **link = &live;

	while (*link != NULL && *link != snapshot)
		link = &(*link)->next;
	if (*link == NULL)
		return;
	*link = snapshot->next;
	snapshot->retired_in = CURRENT_LXID;
	snapshot->next = retired;
	retired = snapshot;
}

/* Moves a retired entry back to the live list. */
static void
ReviveEntry(ServingSnapshot *snapshot)
{
	ServingSnapshot **link = &retired;

	while (*link != NULL && *link != snapshot)
		link = &(*link)->next;
	if (*link == NULL)
		return;
	*link = snapshot->next;
	snapshot->next = live;
	live = snapshot;
}

/* Unmaps or frees an entry (in no list any more). */
static void
FreeEntry(ServingSnapshot *s)
{
	if (s->shared)
		dsm_detach(s->mapping.segment);
	else
		MemoryContextDelete(s->context);
	pfree(s);
}

/* Frees the retired entries of earlier transactions. */
static void
FreeRetired(void)
{
	ServingSnapshot **link = &retired;

	while (*link != NULL)
	{
		ServingSnapshot *s = *link;

		if (s->retired_in == CURRENT_LXID)
		{
			link = &s->next;
			continue;
		}
		*link = s->next;
		FreeEntry(s);
	}
}

/* Takes an entry out of the live list. */
static void
UnlinkLive(ServingSnapshot *snapshot)
{
	ServingSnapshot **link = &live;

	while (*link != NULL && *link != snapshot)
		link = &(*link)->next;
	if (*link != NULL)
		*link = snapshot->next;
}

/*
 * At the first look-up of a transaction: frees what earlier transactions
 * retired, and unmaps the shared versions the registry retired and those
 * this backend no longer uses.  Nothing got in this transaction is in use
 * yet (pointers from earlier transactions are not used without asking
 * again), so they go at once.
 */
static void
Housekeeping(void)
{
	ServingSnapshot *next;

	if (CURRENT_LXID == lookup_lxid)
		return;
	lookup_lxid = CURRENT_LXID;
	lookup_xacts++;
	FreeRetired();
	if (!SharedRegistryAvailable())
		return;
	{
		uint64		retirements = SharedRegistryRetirements();
		bool		check = retirements != seen_retirements;

		seen_retirements = retirements;
		for (ServingSnapshot *s = live; s != NULL; s = next)
		{
			next = s->next;
			if (!s->shared)
				continue;
			if (s->used_in + SHARED_IDLE_XACTS < lookup_xacts ||
				(check && !SharedRegistryMappingCurrent(&s->mapping)))
			{
				UnlinkLive(s);
				FreeEntry(s);
			}
		}
	}
}

/* Marks an entry used now. */
static void
UseEntry(ServingSnapshot *snapshot)
{
	if (snapshot->shared && snapshot->used_in != lookup_xacts)
		SharedRegistryTouch(&snapshot->mapping);
	snapshot->used_in = lookup_xacts;
}

/* The live entry of a key, or NULL. */
static ServingSnapshot *
FindLive(const SnapshotKey *key)
{
	for (ServingSnapshot *s = live; s != NULL; s = s->next)
		if (KeysEqual(&s->key, key))
			return s;
	return NULL;
}

/* A new entry in this backend's list. */
static ServingSnapshot *
NewEntry(const SnapshotHeader *header, const char *label)
{
	ServingSnapshot *s;

	if (SnapshotContext == NULL)
		SnapshotContext = AllocSetContextCreate(TopMemoryContext, "rerank snapshots",
												ALLOCSET_SMALL_SIZES);
	s = MemoryContextAllocZero(SnapshotContext, sizeof(ServingSnapshot));
	s->key = header->key;
	strlcpy(s->label, label, NAMEDATALEN);
	s->header = header;
	s->bytes = header->bytes;
	s->used_in = lookup_xacts;
	s->serial = ++next_serial;
	s->next = live;
	live = s;
	return s;
}

/* Elapsed seconds since start. */
static double
SecondsSince(instr_time start)
{
	instr_time	now;

	INSTR_TIME_SET_CURRENT(now);
	INSTR_TIME_SUBTRACT(now, start);
	return INSTR_TIME_GET_DOUBLE(now);
}

/*
 * The start of the memory page of address: madvise wants page boundaries,
 * and a segment carved from PostgreSQL's main region starts anywhere.
 */
static char *
PageStart(const void *address)
{
	static uintptr_t page_size = 0;

	if (page_size == 0)
	{
		long		size = sysconf(_SC_PAGESIZE);

		page_size = size > 0 ? (uintptr_t) size : 4096;
	}
	return (char *) ((uintptr_t) address & ~(page_size - 1));
}

/*
 * Asks the kernel to back a shared mapping with huge pages: serving reads
 * random rows and slots, and on small pages nearly every read also misses
 * the TLB, and a backend's first touch of each page faults.  Only advice:
 * the builder's advice before it writes decides the pages the segment gets
 * (the kernel follows it where its shared memory may use transparent huge
 * pages: shmem_enabled "advise" for System V segments and PostgreSQL's
 * main region, a /dev/shm mounted with huge=advise for POSIX ones); a
 * reader's lets it map those pages whole.  A segment carved from a main
 * region on hugetlb pages (huge_pages = on, min_dynamic_shared_memory) is
 * on huge pages anyway.  Elsewhere nothing changes.
 */
static void
AdviseHugePages(void *address, Size length)
{
#ifdef MADV_HUGEPAGE
	char	   *start = PageStart(address);

	(void) madvise(start, (char *) address + length - start, MADV_HUGEPAGE);
#endif
}

/* The size of a segment for a snapshot of bytes: whole huge pages if big. */
static Size
SegmentSize(Size bytes)
{
	if (bytes < HUGE_PAGE_SIZE)
		return bytes;
	return TYPEALIGN(HUGE_PAGE_SIZE, bytes);
}

/*
 * Bytes of [start, start + length) of this process's address space mapped
 * with huge pages, from /proc/self/smaps: a hugetlb mapping whole, in other
 * mappings their transparent huge pages mapped whole (counted per mapping,
 * capped at the part of it in the range).  0 where it cannot be told.
 */
static Size
HugePageBytes(const void *start, Size length)
{
#ifdef __linux__
	uintptr_t	lo = (uintptr_t) start;
	uintptr_t	hi = lo + length;
	Size		total = 0;
	Size		overlap = 0;
	Size		pmd = 0;
	bool		hugetlb = false;
	char		line[1024];
	FILE	   *file = AllocateFile("/proc/self/smaps", "r");

	if (file == NULL)
		return 0;
	for (;;)
	{
		bool		more = fgets(line, sizeof(line), file) != NULL;
		unsigned long a,
					b,
					kb;

		if (!more || sscanf(line, "%lx-%lx ", &a, &b) == 2)
		{
			/* the end of the previous mapping */
			total += hugetlb ? overlap : Min(pmd, overlap);
			if (!more)
				break;
			overlap = (a < hi && b > lo) ? Min(b, hi) - Max(a, lo) : 0;
			pmd = 0;
			hugetlb = false;
		}
		else if (overlap == 0)
			continue;
		else if (sscanf(line, "KernelPageSize: %lu kB", &kb) == 1)
			hugetlb = kb * 1024 >= HUGE_PAGE_SIZE;
		else if (sscanf(line, "AnonHugePages: %lu kB", &kb) == 1 ||
				 sscanf(line, "ShmemPmdMapped: %lu kB", &kb) == 1 ||
				 sscanf(line, "FilePmdMapped: %lu kB", &kb) == 1)
			pmd += (Size) kb * 1024;
	}
	FreeFile(file);
	return Min(total, length);
#else
	return 0;
#endif
}

/*
 * Maps a shared snapshot's pages into this backend before its first reads,
 * when the builder had them on huge pages: a page-table entry per 2 MB,
 * about 0.3 ms per 320 MB, where the first calls would fault them in one
 * by one.  On 4 kB pages it is not done: mapping all of them costs 60-90 ms
 * per 320 MB, more than the first call's faults on the pages it reads.
 * Kernels before 5.14 refuse it (EINVAL): nothing changes.  Returns
 * whether it was done.
 */
static bool
PrefaultHugePages(const SnapshotHeader *header, Size length)
{
#if defined(__linux__)
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
	char	   *start = PageStart(header);

	if (header->huge_bytes * 2 < length)
		return false;
	return madvise(start, (char *) header + length - start, MADV_POPULATE_READ) == 0;
#else
	return false;
#endif
}

/* The entry of a mapping the registry gave: this backend's, or a new one. */
static ServingSnapshot *
EntryForMapping(const SharedMapping *mapping, const char *label)
{
	const SnapshotHeader *header;
	ServingSnapshot *s;

	for (s = live; s != NULL; s = s->next)
		if (s->shared && s->mapping.segment == mapping->segment)
			return s;
	for (s = retired; s != NULL; s = s->next)
		if (s->shared && s->mapping.segment == mapping->segment)
		{
			ReviveEntry(s);
			s->mapping = *mapping;
			return s;
		}
	header = dsm_segment_address(mapping->segment);
	if (header->magic != SNAPSHOT_MAGIC)
		elog(ERROR, "shared snapshot segment is not a rerank snapshot");
	{
		Size		length = dsm_segment_map_length(mapping->segment);
		instr_time	start;
		bool		prefaulted;

		INSTR_TIME_SET_CURRENT(start);
		AdviseHugePages((void *) header, length);
		prefaulted = PrefaultHugePages(header, length);
		ereport(DEBUG1,
				(errmsg_internal("rerank: mapped \"%s\" version " INT64_FORMAT ": a segment of " INT64_FORMAT " MB, " INT64_FORMAT " MB of it on huge pages%s (%.3f ms)",
								 label, header->key.version, Megabytes(length),
								 (int64) (header->huge_bytes / (1024 * 1024)),
								 prefaulted ? ", prefaulted" : "",
								 SecondsSince(start) * 1000.0)));
	}
	s = NewEntry(header, label);
	s->shared = true;
	s->mapping = *mapping;
	s->huge_bytes = header->huge_bytes;
	return s;
}

/* Bytes held by this backend's private snapshots of a kind. */
static Size
PrivateBytes(uint32 kind)
{
	Size		total = 0;

	for (ServingSnapshot *s = live; s != NULL; s = s->next)
		if (!s->shared && s->key.kind == kind)
			total += s->bytes;
	return total;
}

/* Retires least recently used private snapshots of a kind for room. */
static void
MakePrivateRoom(uint32 kind, Size bytes, Size budget)
{
	while (PrivateBytes(kind) + bytes > budget)
	{
		ServingSnapshot *lru = NULL;

		for (ServingSnapshot *s = live; s != NULL; s = s->next)
			if (!s->shared && s->key.kind == kind &&
				(lru == NULL || s->used_in < lru->used_in))
				lru = s;
		if (lru == NULL)
			return;
		RetireEntry(lru);
	}
}

/* Builds a snapshot in this backend's memory (no preload). */
static const ServingSnapshot *
GetPrivate(const SnapshotKindInfo *kind, const SnapshotSource *source,
		   SnapshotStatus *status)
{
	Size		budget = kind->private_budget();
	SnapshotBuild *build;
	MemoryContext context;
	ServingSnapshot *s;
	char	   *memory;
	bool		pushed;
	instr_time	start;

	if (budget == 0)
	{
		*status = SNAPSHOT_DISABLED;
		return NULL;
	}
	INSTR_TIME_SET_CURRENT(start);
	build = palloc(sizeof(SnapshotBuild));
	BuildConnect();
	if (!PushBuildSnapshot(kind, &pushed) || !PlanBuild(kind, source, build, false))
	{
		BuildDisconnect(pushed);
		*status = SNAPSHOT_NOT_CURRENT;
		return NULL;
	}
	if (build->header.bytes > budget)
	{
		BuildDisconnect(pushed);
		WarnOverBudget(kind, source, build->header.bytes, 0, false);
		*status = SNAPSHOT_OVER_BUDGET;
		return NULL;
	}
	MakePrivateRoom(source->key.kind, build->header.bytes, budget);
	/* under the transaction until complete: an error frees it all */
	context = AllocSetContextCreate(CurTransactionContext, "rerank snapshot",
									ALLOCSET_SMALL_SIZES);
	memory = CacheMemoryAlloc(context, build->header.bytes, false);
	FillBuild(build, memory);
	BuildDisconnect(pushed);
	((SnapshotHeader *) memory)->huge_bytes = HugePageBytes(memory, build->header.bytes);

	/* an older version of the same object is of no further use */
	for (ServingSnapshot *o = live, *next; o != NULL; o = next)
	{
		next = o->next;
		if (!o->shared && SameObject(&o->key, &source->key))
			RetireEntry(o);
	}
	s = NewEntry((const SnapshotHeader *) memory, source->label);
	s->huge_bytes = ((SnapshotHeader *) memory)->huge_bytes;
	s->context = context;
	MemoryContextSetParent(context, SnapshotContext);
	s->built_at = GetCurrentTimestamp();
	s->build_seconds = SecondsSince(start);
	pfree(build);
	if (s->bytes >= PRIVATE_NOTICE_BYTES && !private_noticed)
	{
		private_noticed = true;
		ereport(NOTICE,
				(errmsg("%s \"%s\" is held in this connection's own memory (" INT64_FORMAT " MB): rerank is not in shared_preload_libraries",
						kind->name, source->label, Megabytes(s->bytes)),
				 errdetail("Every connection loads and holds its own copy. This is reported once per session."),
				 errhint("Add rerank to shared_preload_libraries to hold one copy per server.")));
	}
	*status = SNAPSHOT_SERVED;
	return s;
}

/* Packs a claim for the error cleanup callback. */
#define CLAIM_DATUM(slot, generation) \
	UInt64GetDatum(((uint64) (generation) << 8) | (uint64) (slot))

/* PG_ENSURE_ERROR_CLEANUP callback: a failed build gives its slot back. */
static void
AbandonClaim(int code, Datum arg)
{
	uint64		claim = DatumGetUInt64(arg);

	SharedRegistryAbandon((int) (claim & 0xff), claim >> 8);
}

/*
 * Builds the version of a slot this backend claimed, and publishes it.
 * NULL (and the slot given back, or noted too big) when not current or
 * over budget.  prepare: a prepared version (SnapshotPrepare), built from
 * what this transaction sees, published as prepared, and given back
 * rather than noted when it does not fit (it was never asked for).
 */
static const ServingSnapshot *
BuildShared(const SnapshotKindInfo *kind, const SnapshotSource *source,
			SharedMapping *mapping, Size budget, bool prepare,
			SnapshotStatus *status)
{
	const ServingSnapshot *volatile result = NULL;
	int			slot = mapping->slot;
	uint64		generation = mapping->generation;

	LOCKTAG		tag;

	SharedRegistryBuildLockTag(mapping, &tag);
	*status = SNAPSHOT_SERVED;
	PG_ENSURE_ERROR_CLEANUP(AbandonClaim, CLAIM_DATUM(slot, generation));
	{
		SnapshotBuild *build = palloc(sizeof(SnapshotBuild));
		bool		pushed;
		Size		available;
		dsm_segment *segment;
		instr_time	start;

		/* the waiters queue on this lock until the build ends, however it ends */
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
		INSTR_TIME_SET_CURRENT(start);
		BuildConnect();
		if (!PushBuildSnapshot(kind, &pushed) || !PlanBuild(kind, source, build, prepare))
		{
			BuildDisconnect(pushed);
			SharedRegistryAbandon(slot, generation);
			*status = SNAPSHOT_NOT_CURRENT;
		}
		else if (!SharedRegistryReserve(slot, SegmentSize(build->header.bytes),
										budget, !prepare, &available))
		{
			BuildDisconnect(pushed);
			if (prepare)
				ereport(NOTICE,
						(errmsg("%s \"%s\" is not prepared before the commit: it does not fit in rerank.shared_cache_mb (%d MB) beside the versions in use",
								kind->name, source->label, shared_cache_mb),
						 errdetail("It needs " INT64_FORMAT " MB, " INT64_FORMAT " MB are free; it is built at its first use after the commit, which waits for it.",
								   Megabytes(SegmentSize(build->header.bytes)),
								   (int64) (available / (1024 * 1024))),
						 errhint("Raise rerank.shared_cache_mb to hold two versions at once.")));
			else
				WarnOverBudget(kind, source, SegmentSize(build->header.bytes),
							   available, true);
			*status = SNAPSHOT_OVER_BUDGET;
		}
		else if ((segment = dsm_create(SegmentSize(build->header.bytes),
									   DSM_CREATE_NULL_IF_MAXSEGMENTS)) == NULL)
		{
			BuildDisconnect(pushed);
			SharedRegistryAbandon(slot, generation);
			WarnNoSlot(kind, source);
			*status = SNAPSHOT_OVER_BUDGET;
		}
		else
		{
			ServingSnapshot *s;
			SnapshotHeader *header = dsm_segment_address(segment);
			Size		length = dsm_segment_map_length(segment);

			/* before the first write, which decides the pages */
			AdviseHugePages(header, length);
			SharedRegistryNoteFilling(slot);
			FillBuild(build, (char *) header);
			BuildDisconnect(pushed);
			header->huge_bytes = HugePageBytes(header, length);
			ereport(DEBUG1,
					(errmsg_internal("rerank: built %s \"%s\" version " INT64_FORMAT " in shared memory: " INT64_FORMAT " MB at %p, " INT64_FORMAT " MB of it on huge pages",
									 kind->name, source->label, source->key.version,
									 Megabytes(length), (void *) header,
									 (int64) (header->huge_bytes / (1024 * 1024)))));
			SharedRegistryPublish(slot, segment, mapping, SecondsSince(start),
								  header->huge_bytes, prepare);
			s = EntryForMapping(mapping, source->label);
			s->built_at = GetCurrentTimestamp();
			s->build_seconds = SecondsSince(start);
			result = s;
		}
		pfree(build);
	}
	PG_END_ENSURE_ERROR_CLEANUP(AbandonClaim, CLAIM_DATUM(slot, generation));
	LockRelease(&tag, ExclusiveLock, false);
	return result;
}

/* Size of the shared budget in bytes. */
static Size
SharedBudget(void)
{
	return (Size) shared_cache_mb * 1024 * 1024;
}

/*
 * Waits until the build of a claim ends: queues on its build lock (a wait
 * pg_locks shows, and the deadlock detector sees).  A builder that has not
 * taken its lock yet is given a millisecond.
 */
static void
WaitForBuild(const SharedMapping *mapping)
{
	LOCKTAG		tag;

	SharedRegistryBuildLockTag(mapping, &tag);
	if (LockAcquire(&tag, ShareLock, false, true) == LOCKACQUIRE_NOT_AVAIL)
		(void) LockAcquire(&tag, ShareLock, false, false);
	else if (SharedRegistryStillBuilding(mapping))
		pg_usleep(1000L);
	LockRelease(&tag, ShareLock, false);
	CHECK_FOR_INTERRUPTS();
}

/* The snapshot of a version in shared memory; see snapshot.h. */
static const ServingSnapshot *
GetShared(const SnapshotKindInfo *kind, const SnapshotSource *source,
		  SnapshotStatus *status)
{
	Size		budget = SharedBudget();
	SharedMapping mapping;
	int64		version;
	Size		bytes = 0;
	ServingSnapshot *s;

	if (budget == 0)
	{
		*status = SNAPSHOT_DISABLED;
		return NULL;
	}
	for (;;)
	{
		switch (SharedRegistryAcquire(&source->key, source->label,
									  kind->serve_previous, budget,
									  &mapping, &version, &bytes))
		{
			case SHARED_MAPPED:
				s = EntryForMapping(&mapping, source->label);
				UseEntry(s);
				*status = SNAPSHOT_SERVED;
				return s;
			case SHARED_BUILDING:
				WaitForBuild(&mapping);
				continue;
			case SHARED_TOO_BIG:
				WarnOverBudget(kind, source, bytes, 0, true);
				*status = SNAPSHOT_OVER_BUDGET;
				return NULL;
			case SHARED_NO_SLOT:
				WarnNoSlot(kind, source);
				*status = SNAPSHOT_OVER_BUDGET;
				return NULL;
			case SHARED_MUST_BUILD:
				return BuildShared(kind, source, &mapping, budget, false, status);
		}
	}
}

/* The snapshot of a version; see snapshot.h. */
const ServingSnapshot *
GetServingSnapshot(const SnapshotSource *source, SnapshotStatus *status)
{
	const SnapshotKindInfo *kind;
	ServingSnapshot *s;

	if (source->key.kind >= SNAPSHOT_NKINDS || kinds[source->key.kind] == NULL)
		elog(ERROR, "unknown snapshot kind %u", source->key.kind);
	kind = kinds[source->key.kind];
	Housekeeping();
	/* a lowered private budget applies at once; 0 turns memory off */
	if (!SharedRegistryAvailable())
		MakePrivateRoom(source->key.kind, 0, kind->private_budget());
	if (kind->private_budget() == 0)
	{
		*status = SNAPSHOT_DISABLED;
		return NULL;
	}
	s = FindLive(&source->key);
	if (s == NULL)
	{
		/* retired in this transaction, still there: take it back */
		for (ServingSnapshot *r = retired; r != NULL; r = r->next)
			if (KeysEqual(&r->key, &source->key) &&
				(r->shared ? SharedRegistryMappingCurrent(&r->mapping) :
				 PrivateBytes(r->key.kind) + r->bytes <= kind->private_budget()))
			{
				ReviveEntry(r);
				s = r;
				break;
			}
	}
	if (s != NULL)
	{
		UseEntry(s);
		*status = SNAPSHOT_SERVED;
		return s;
	}
	if (!SharedRegistryAvailable())
		return GetPrivate(kind, source, status);
	return GetShared(kind, source, status);
}

/* Builds a prepared version with the preload; see snapshot.h. */
SnapshotStatus
SnapshotPrepare(const SnapshotSource *source)
{
	const SnapshotKindInfo *kind;
	SharedMapping mapping;
	int64		version;
	Size		bytes = 0;
	SnapshotStatus status = SNAPSHOT_NOT_CURRENT;

	if (source->key.kind >= SNAPSHOT_NKINDS || kinds[source->key.kind] == NULL)
		elog(ERROR, "unknown snapshot kind %u", source->key.kind);
	kind = kinds[source->key.kind];
	if (!SharedRegistryAvailable())
		return SNAPSHOT_NOT_CURRENT;
	if (kind->private_budget() == 0 || SharedBudget() == 0)
		return SNAPSHOT_DISABLED;
	Housekeeping();
	/* what the build reads includes this transaction's last statement */
	CommandCounterIncrement();
	switch (SharedRegistryAcquire(&source->key, source->label, false, SharedBudget(),
								  &mapping, &version, &bytes))
	{
		case SHARED_MUST_BUILD:
			(void) BuildShared(kind, source, &mapping, SharedBudget(), true, &status);
			break;
		case SHARED_NO_SLOT:
			WarnNoSlot(kind, source);
			status = SNAPSHOT_OVER_BUDGET;
			break;
		default:
			/* a new version is nobody else's: cannot happen */
			elog(ERROR, "prepared snapshot version " INT64_FORMAT " is already known",
				 source->key.version);
	}
	return status;
}

/* Unmaps this backend's copy of a key; see snapshot.h. */
void
SnapshotForget(const SnapshotKey *key)
{
	ServingSnapshot **lists[2] = {&live, &retired};

	for (int l = 0; l < 2; l++)
		for (ServingSnapshot **link = lists[l]; *link != NULL;)
		{
			ServingSnapshot *s = *link;

			if (KeysEqual(&s->key, key))
			{
				*link = s->next;
				FreeEntry(s);
			}
			else
				link = &s->next;
		}
}

/* Releases every version of an object; see snapshot.h. */
void
SnapshotRelease(const SnapshotKey *object)
{
	ServingSnapshot *next;

	if (SharedRegistryAvailable())
		SharedRegistryRetireObject(object);
	for (ServingSnapshot *s = live; s != NULL; s = next)
	{
		next = s->next;
		if (SameObject(&s->key, object))
			RetireEntry(s);
	}
}

PG_FUNCTION_INFO_V1(model_memory);

/*
 * The snapshots held for this database: with the preload, the server's
 * shared versions (building, ready, retiring, over budget), with their
 * readers; without it, this backend's own.
 */
Datum
model_memory(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum		values[13];
	bool		nulls[13];

	InitMaterializedSRF(fcinfo, 0);
	if (SharedRegistryAvailable())
	{
		SharedSlotInfo *infos = palloc(sizeof(SharedSlotInfo) * SHARED_REGISTRY_SLOTS);
		int			n = SharedRegistryList(infos);

		for (int i = 0; i < n; i++)
		{
			SharedSlotInfo *info = &infos[i];
			bool		here = false;

			if (info->key.dbid != MyDatabaseId)
				continue;
			for (ServingSnapshot *s = live; s != NULL; s = s->next)
				if (s->shared && s->mapping.slot == info->slot &&
					s->mapping.generation == info->generation)
					here = true;
			memset(nulls, 0, sizeof(nulls));
			values[0] = CStringGetTextDatum(kinds[info->key.kind] ? kinds[info->key.kind]->name : "?");
			values[1] = CStringGetTextDatum(info->label);
			values[2] = Int64GetDatum(info->key.object_id);
			values[3] = Int64GetDatum(info->key.version);
			values[4] = CStringGetTextDatum(info->state);
			values[5] = Int64GetDatum((int64) info->bytes);
			values[6] = Int32GetDatum((int32) info->readers);
			values[7] = BoolGetDatum(here);
			values[8] = BoolGetDatum(true);
			values[9] = Int32GetDatum(info->builder_pid);
			nulls[9] = info->builder_pid == 0;
			values[10] = TimestampTzGetDatum(info->built_at);
			nulls[10] = info->built_at == 0;
			values[11] = Float8GetDatum(info->build_seconds);
			nulls[11] = info->built_at == 0;
			values[12] = BoolGetDatum(info->huge_bytes > 0);
			nulls[12] = info->built_at == 0;
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		return (Datum) 0;
	}
	for (ServingSnapshot *s = live; s != NULL; s = s->next)
	{
		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(kinds[s->key.kind]->name);
		values[1] = CStringGetTextDatum(s->label);
		values[2] = Int64GetDatum(s->key.object_id);
		values[3] = Int64GetDatum(s->key.version);
		values[4] = CStringGetTextDatum("ready");
		values[5] = Int64GetDatum((int64) s->bytes);
		values[6] = Int32GetDatum(1);
		values[7] = BoolGetDatum(true);
		values[8] = BoolGetDatum(false);
		nulls[9] = true;
		values[10] = TimestampTzGetDatum(s->built_at);
		values[11] = Float8GetDatum(s->build_seconds);
		values[12] = BoolGetDatum(s->huge_bytes > 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
