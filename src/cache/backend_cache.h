/*
 * backend_cache.h
 *	  What the backend caches (model_cache.c, category_cache.c) share: their
 *	  memory budget settings, the sizing of their id hash tables, the tables
 *	  they follow and the statement triggers that invalidate them.
 *
 * Each cache is built in a context under the transaction's memory and
 * adopted only when complete, and revalidated after a relcache invalidation
 * of the table it follows; a statement trigger on that table sends the
 * invalidation to every backend at commit.
 */
#ifndef RERANK_BACKEND_CACHE_H
#define RERANK_BACKEND_CACHE_H

#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

/*
 * Memory a simplehash table from ids takes for n ids: about two slots per
 * id (a fill factor near one half after growth).
 */
#define ID_TABLE_BYTES(n, slot_size) mul_size((Size) (n), 2 * (slot_size))

/* Initial size of a simplehash table for n ids (simplehash's own limit). */
#define ID_TABLE_INITIAL_SIZE(n) ((uint32) Min((n) + 16, PG_UINT32_MAX / 2))

/*
 * Defines a cache's budget setting (name: "rerank.<cache>_mb"), per backend,
 * in megabytes from 0; the assign hook invalidates the cache, so a new value
 * applies at once.
 */
extern void DefineCacheBudget(const char *name, const char *short_desc,
							  const char *long_desc, int *value,
							  int boot_value, GucIntAssignHook assign_hook);

/* A budget setting in bytes. */
extern Size CacheBudgetBytes(int megabytes);

/* The OID of a table of the rerank schema (the schema must exist). */
extern Oid	RerankTableOid(const char *name);

/*
 * Checks that the current user may read the table a cache serves rows of,
 * as a query of it would let it: SELECT on the table (or on all its
 * columns), and no row-level security applying to the user (a cache holds
 * every row and cannot apply a policy).  42501 otherwise.  Every cached
 * read calls it, whatever the cache holds: what a role may read never
 * depends on what its backend has cached.
 */
extern void CheckCacheReadPrivilege(Oid relid);

/*
 * Whether CheckCacheReadPrivilege(relid) would pass, without an error: for
 * work done ahead of time that is skipped when the user may not read.
 */
extern bool CacheReadAllowed(Oid relid);

/*
 * Body of the AFTER ... FOR EACH STATEMENT triggers that invalidate a cache:
 * checks the calling protocol, then sends a relcache invalidation of the
 * trigger's table, which every backend (this one included) processes at
 * commit.  name is the trigger function's, for the error.
 */
extern void InvalidateCacheOnStatement(FunctionCallInfo fcinfo,
									   const char *name);

#endif							/* RERANK_BACKEND_CACHE_H */
