/*
 * rerank.c
 *	  Module entry point of the rerank extension: magic block and _PG_init.
 */
#include "postgres.h"

#include "behavior/user_state.h"
#include "cache/category_cache.h"
#include "cache/model_cache.h"
#include "fmgr.h"
#include "model/user_knn.h"
#include "serve/serve.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Registers the extension's settings when the library is loaded. */
void
_PG_init(void)
{
	ModelCacheInit();
	ServeInit();
	CategoryCacheInit();
	BehaviorInit();
	UserKnnInit();
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("rerank");
#else
	EmitWarningsOnPlaceholders("rerank");
#endif
}
