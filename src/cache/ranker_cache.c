/*
 * ranker_cache.c
 *	  Learned rankers in backend memory (see ranker_cache.h).
 *
 * The answers of ServingRanker (one per value of the setting, a few kept)
 * are kept until a relcache invalidation of rerank.models (sent at the
 * commit of any change of a model row, and of a booster, whose trigger
 * bumps the row's factors_version): a call then costs a string comparison,
 * also when the setting changes from call to call (a function's SET
 * clause, an A/B test).  A revalidation
 * is one query of the registry; a forest is built only for a
 * (model_id, factors_version) not held yet, in a context under the
 * transaction's memory adopted when complete (an error or a cancel during
 * a build leaks nothing).  Entries no longer served are freed at a later
 * look-up in another transaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "cache/backend_cache.h"
#include "cache/ranker_cache.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "core/features.h"
#include "executor/spi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"

/* Entries kept beyond the one serving. */
#define MAX_RANKER_ENTRIES 4

typedef struct RankerEntry
{
	CachedRanker pub;
	MemoryContext context;		/* owns the entry and its forest */
	LocalTransactionId used_in; /* the last transaction that got it */
	struct RankerEntry *next;
} RankerEntry;

char	   *rerank_ranker_setting = NULL;

static MemoryContext CacheContext = NULL;
static RankerEntry *entries = NULL;
static Oid	models_relid = InvalidOid;

/* What ServingRanker answered for a value of the setting. */
typedef struct RankerAnswer
{
	char		setting[NAMEDATALEN];
	uint64		generation;		/* valid while it equals generation */
	RankerEntry *entry;			/* NULL: the blend */
} RankerAnswer;

#define MAX_ANSWERS 4
static RankerAnswer answers[MAX_ANSWERS];
static int	next_answer = 0;
static uint64 generation = 1;	/* bumped by every invalidation */
static int32 warned_models[8];
static int	nwarned = 0;

/* Relcache callback: a change of rerank.models makes the answers stale. */
static void
RankerCacheRelcacheCallback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == models_relid)
		generation++;
}

void
RankerCacheInit(void)
{
	DefineCustomStringVariable("rerank.ranker",
							   "Which learned ranker scores rerank()'s candidates: '' the active one, 'none' the hand-weighted blend, or a ranker's name.",
							   "Calls that pass blend weights or a model use the blend whatever this says.",
							   &rerank_ranker_setting, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	CacheRegisterRelcacheCallback(RankerCacheRelcacheCallback, (Datum) 0);
}

Size
RankerForestPlan(const char *json, size_t len, GbdtJsonShape *shape, char *err,
				 size_t errlen)
{
	Size		size;

	if (!GbdtXgboostJsonShape(json, len, shape, err, errlen))
		return 0;
	if (shape->num_features != FEATURE_COUNT)
	{
		snprintf(err, errlen, "the booster has %d features, the candidate features are %d",
				 shape->num_features, FEATURE_COUNT);
		return 0;
	}
	size = GbdtForestSize(shape->num_trees,
						  shape->total_nodes > PG_INT32_MAX ? 0 : (int) shape->total_nodes);
	if (size == 0)
		snprintf(err, errlen, "the booster is too large to serve");
	return size;
}

bool
RankerForestFill(const char *json, size_t len, const GbdtJsonShape *shape, void *block,
				 Size size, char *err, size_t errlen)
{
	void	   *scratch = palloc_extended(GbdtXgboostJsonScratch(shape), MCXT_ALLOC_HUGE);
	bool		ok = GbdtForestFromXgboostJson(json, len, shape, block, size, scratch,
											   err, errlen);

	pfree(scratch);
	return ok;
}

/* Whether an entry is a valid answer. */
static bool
Answers(const RankerEntry *e)
{
	for (int a = 0; a < MAX_ANSWERS; a++)
		if (answers[a].entry == e && answers[a].generation == generation)
			return true;
	return false;
}

/* Frees the entries that neither answer nor were got in this transaction. */
static void
TrimEntries(void)
{
	RankerEntry **link = &entries;
	int			kept = 0;

	while (*link != NULL)
	{
		RankerEntry *e = *link;

		if (!Answers(e) && e->used_in != MyProc->lxid && ++kept > MAX_RANKER_ENTRIES)
		{
			*link = e->next;
			MemoryContextDelete(e->context);
			continue;
		}
		link = &e->next;
	}
}

/* Builds the entry of a ranker version from its booster.  Inside SPI. */
static RankerEntry *
LoadEntry(int32 model_id, const char *name, int64 version, int features_version)
{
	Oid			types[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(model_id)};
	MemoryContext context;
	MemoryContext old;
	RankerEntry *entry;
	bytea	   *booster;
	bool		isnull;
	GbdtJsonShape shape;
	char		err[GBDT_ERROR_LEN];
	Size		size;
	void	   *block;
	int			ret;

	context = AllocSetContextCreate(CurTransactionContext, "rerank ranker",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(context);
	ret = SPI_execute_with_args("SELECT booster FROM rerank.rankers WHERE model_id OPERATOR(pg_catalog.=) $1",
								1, types, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ranker \"%s\" has no booster", name)));
	/* SPI returns in its own context: back to the entry's */
	MemoryContextSwitchTo(context);
	booster = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
	size = RankerForestPlan(VARDATA_ANY(booster), VARSIZE_ANY_EXHDR(booster), &shape,
							err, sizeof(err));
	if (size == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the booster of ranker \"%s\" cannot be served: %s", name, err)));
	block = palloc_extended(size, MCXT_ALLOC_HUGE);
	if (!RankerForestFill(VARDATA_ANY(booster), VARSIZE_ANY_EXHDR(booster), &shape, block,
						  size, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the booster of ranker \"%s\" cannot be served: %s", name, err)));
	entry = palloc0(sizeof(RankerEntry));
	entry->pub.model_id = model_id;
	strlcpy(entry->pub.name, name, NAMEDATALEN);
	entry->pub.version = version;
	entry->pub.features_version = features_version;
	entry->pub.forest = block;
	entry->pub.bytes = size;
	entry->context = context;
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);

	/* complete: adopted by the cache */
	if (CacheContext == NULL)
		CacheContext = AllocSetContextCreate(TopMemoryContext, "rerank ranker cache",
											 ALLOCSET_SMALL_SIZES);
	MemoryContextSetParent(context, CacheContext);
	entry->next = entries;
	entries = entry;
	return entry;
}

/* Whether the session was told that this ranker is not served. */
static bool
Warned(int32 model_id)
{
	for (int i = 0; i < nwarned; i++)
		if (warned_models[i] == model_id)
			return true;
	if (nwarned < (int) lengthof(warned_models))
		warned_models[nwarned++] = model_id;
	return false;
}

/* Looks the serving ranker up in the registry; see ServingRanker. */
static RankerEntry *
LookupRanker(const char *setting)
{
	static SPIPlanPtr plans[2] = {NULL, NULL};
	static const char *const queries[2] = {
		"SELECT m.model_id, m.name, m.factors_version, r.features_version"
		" FROM rerank.models m JOIN rerank.rankers r USING (model_id)"
		" WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker'",
		"SELECT m.model_id, m.name, m.factors_version, r.features_version"
		" FROM rerank.models m LEFT JOIN rerank.rankers r USING (model_id)"
		" WHERE m.name OPERATOR(pg_catalog.=) $1 AND m.algorithm OPERATOR(pg_catalog.=) 'ranker'"
	};
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	int			which = setting[0] == '\0' ? 0 : 1;
	RankerEntry *entry = NULL;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	int32		model_id;
	int64		version;
	int			features_version;
	char	   *name;

	if (which == 1)
		args[0] = CStringGetTextDatum(setting);
	ExecuteKeptPlan(&plans[which], queries[which], which, types, args, true, 2,
					SPI_OK_SELECT);
	if (SPI_processed == 0)
	{
		if (which == 1)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("ranker \"%s\" does not exist", setting),
					 errhint("Set rerank.ranker to the name of a ranker, to '' for the active one or to 'none'.")));
		return NULL;
	}
	if (SPI_processed > 1)
		elog(ERROR, "more than one active ranker");
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	model_id = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
	name = SPI_getvalue(tuple, desc, 2);
	version = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
	features_version = DatumGetInt32(SPI_getbinval(tuple, desc, 4, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ranker \"%s\" has no booster", name)));
	if (features_version != FEATURES_VERSION)
	{
		if (!Warned(model_id))
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ranker \"%s\" was trained on features version %d, this build computes version %d: rerank() scores by the blend",
							name, features_version, FEATURES_VERSION),
					 errhint("Train a new ranker with rerank.train_ranker(). This is reported once per session.")));
		return NULL;
	}
	for (RankerEntry *e = entries; e != NULL; e = e->next)
		if (e->pub.model_id == model_id && e->pub.version == version)
			entry = e;
	if (entry == NULL)
		entry = LoadEntry(model_id, name, version, features_version);
	return entry;
}

const CachedRanker *
ServingRanker(void)
{
	const char *setting = rerank_ranker_setting != NULL ? rerank_ranker_setting : "";
	RankerAnswer *answer = NULL;

	if (strcmp(setting, "none") == 0)
		return NULL;
	for (int a = 0; a < MAX_ANSWERS; a++)
		if (answers[a].generation == generation &&
			strncmp(setting, answers[a].setting, NAMEDATALEN) == 0)
			answer = &answers[a];
	if (answer == NULL)
	{
		Oid			relid = RerankTableOid("models");
		RankerEntry *entry;
		uint64		seen;

		/* the extension dropped and created again: model ids start over */
		if (relid != models_relid)
		{
			generation++;
			while (entries != NULL)
			{
				RankerEntry *e = entries;

				entries = e->next;
				MemoryContextDelete(e->context);
			}
			models_relid = relid;
		}
		/* an invalidation during the look-up leaves the answer stale */
		seen = generation;
		/*
		 * A 0.1.0 schema (this library installed, ALTER EXTENSION rerank
		 * UPDATE not yet run) has no rankers: the blend scores.
		 */
		if (!OidIsValid(RerankTableOid("rankers")))
			entry = NULL;
		else
		{
			SpiConnect();
			entry = LookupRanker(setting);
			SPI_finish();
		}
		answer = &answers[next_answer];
		next_answer = (next_answer + 1) % MAX_ANSWERS;
		strlcpy(answer->setting, setting, NAMEDATALEN);
		answer->entry = entry;
		answer->generation = seen;
		if (entry != NULL)
			entry->used_in = MyProc->lxid;
		TrimEntries();
	}
	if (answer->entry == NULL)
		return NULL;
	answer->entry->used_in = MyProc->lxid;
	return &answer->entry->pub;
}
