/*
 * backend_cache.c
 *	  Helpers shared by the backend caches (see backend_cache.h).
 */
#include "postgres.h"

#include "cache/backend_cache.h"
#include "catalog/namespace.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/rls.h"
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

/* Whether CheckCacheReadPrivilege would pass; see backend_cache.h. */
bool
CacheReadAllowed(Oid relid)
{
	Oid			userid = GetUserId();

	if (superuser_arg(userid))
		return true;
	if (pg_class_aclcheck(relid, userid, ACL_SELECT) != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ALL) != ACLCHECK_OK)
		return false;
	return check_enable_rls(relid, InvalidOid, true) != RLS_ENABLED;
}

/* The SELECT privilege and row-level security of a cached table. */
void
CheckCacheReadPrivilege(Oid relid)
{
	Oid			userid = GetUserId();
	AclResult	acl;

	/* superusers pass every check and bypass row-level security */
	if (superuser_arg(userid))
		return;
	acl = pg_class_aclcheck(relid, userid, ACL_SELECT);
	if (acl != ACLCHECK_OK &&
		pg_attribute_aclcheck_all(relid, userid, ACL_SELECT, ACLMASK_ALL) == ACLCHECK_OK)
		acl = ACLCHECK_OK;
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, get_rel_name(relid));
	if (check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("table \"%s\" has row-level security enabled for the current user",
						get_rel_name(relid)),
				 errdetail("The extension's caches hold every row of it and cannot apply policies.")));
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
