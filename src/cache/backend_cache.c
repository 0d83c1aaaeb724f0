/*
 * backend_cache.c
 *	  Helpers shared by the backend caches (see backend_cache.h).
 */
#include "postgres.h"

#include "cache/backend_cache.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/* Defines a cache's budget setting, in megabytes. */
void
DefineCacheBudget(const char *name, const char *short_desc,
				  const char *long_desc, int *value, int boot_value,
				  GucIntAssignHook assign_hook)
{
	DefineCustomIntVariable(name, short_desc, long_desc, value,
							boot_value, 0, MAX_KILOBYTES / 1024,
							PGC_USERSET, GUC_UNIT_MB,
							NULL, assign_hook, NULL);
}

/* Megabytes to bytes. */
Size
CacheBudgetBytes(int megabytes)
{
	return (Size) megabytes * 1024 * 1024;
}

/* The OID of rerank.<name>. */
Oid
RerankTableOid(const char *name)
{
	return get_relname_relid(name, get_namespace_oid("rerank", false));
}

/* Checks the trigger protocol and invalidates the table's caches. */
void
InvalidateCacheOnStatement(FunctionCallInfo fcinfo, const char *name)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("%s: must be fired AFTER, FOR EACH STATEMENT", name)));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigdata->tg_relation));
}
