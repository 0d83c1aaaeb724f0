/*
 * rerank.c
 *	  Module entry point of the rerank extension: magic block and _PG_init.
 */
#include "postgres.h"

#include "behavior/user_state.h"
#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "cache/signals_cache.h"
#include "cache/snapshot.h"
#include "common/interrupts.h"
#include "fmgr.h"
#include "model/user_neighbors.h"
#include "serve/settings.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Registers the extension's settings and cache invalidation callbacks, and
 * lets the core check for interrupts, when the library is loaded.
 */
void
_PG_init(void)
{
	CoreInterruptsInit();
	SnapshotInit();
	ModelCacheInit();
	ServeInit();
	CategoryCacheInit();
	SignalsCacheInit();
	BehaviorInit();
	UserKnnInit();
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("rerank");
#else
	EmitWarningsOnPlaceholders("rerank");
#endif
}
