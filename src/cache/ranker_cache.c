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
 * is one query of the registry; a forest is needed only for a
 * (model_id, factors_version) not held yet.  It is the block
 * BLOCK_RANKER_FOREST of the ranker's model snapshot (cache/snapshot.h:
 * once per server with the preload, else once per backend), got again in
 * each transaction that serves it; with the preload, activation builds it
 * before its commit (WarmRanker, from prepare_activation), so the first
 * calls after it find it ready; when no snapshot can serve it (over the
 * model budget, or the caller's own uncommitted booster) it is built in
 * this backend, in a context under the transaction's memory adopted when
 * complete (an error or a cancel during a build leaks nothing).  Entries
 * no longer served are freed at a later look-up in another transaction.
 */
#include "postgres.h"

#include "access/xact.h"
#include "cache/backend_cache.h"
#include "cache/ranker_cache.h"
#include "cache/snapshot.h"
#include "catalog/pg_type.h"
#include "common/spi_util.h"
#include "core/features.h"
#include "executor/spi.h"
#include "miscadmin.h"
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
	MemoryContext context;		/* owns the entry (and its forest, when
								 * built here) */
	bool		in_snapshot;	/* the forest is a snapshot's block */
	LocalTransactionId forest_in;	/* the transaction that got that block */
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

static const SnapshotProvider forest_provider;

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
	RegisterSnapshotProvider(&forest_provider);
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

/* ---- the forest as a block of the ranker's model snapshot ---- */

/* What ForestPlan read for ForestFill. */
typedef struct ForestState
{
	bytea	   *booster;
	GbdtJsonShape shape;
	Size		size;
} ForestState;

/*
 * Snapshot provider, plan: the forest block of a ranker (a model with a
 * booster in rerank.rankers).  A booster that does not read reserves
 * nothing: the backend then builds it and reports why it cannot.
 */
static void *
ForestPlan(SnapshotBuild *build, const SnapshotSource *source)
{
	const ModelSource *model = (const ModelSource *) source->detail;
	Oid			types[1] = {INT4OID};
	Datum		args[1];
	ForestState *state;
	bool		isnull;
	char		err[GBDT_ERROR_LEN];
	int			ret;

	/* a factor model has no booster */
	if (model->dimensions > 0 || model->neighbors || model->user_knn)
		return NULL;
	args[0] = Int32GetDatum(model->model_id);
	ret = SPI_execute_with_args("SELECT booster FROM rerank.rankers WHERE model_id OPERATOR(pg_catalog.=) $1",
								1, types, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read the booster of model \"%s\": %s", source->label,
			 SPI_result_code_string(ret));
	if (SPI_processed != 1)
		return NULL;
	state = palloc(sizeof(ForestState));
	state->booster = DatumGetByteaPCopy(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull));
	SPI_freetuptable(SPI_tuptable);
	state->size = RankerForestPlan(VARDATA_ANY(state->booster),
								   VARSIZE_ANY_EXHDR(state->booster), &state->shape,
								   err, sizeof(err));
	if (state->size == 0)
		return NULL;
	SnapshotReserve(build, BLOCK_RANKER_FOREST, state->size, 1);
	return state;
}

/* Snapshot provider, fill: writes the forest (no block if it does not build). */
static void
ForestFill(SnapshotBuild *build, const SnapshotSource *source, void *arg)
{
	ForestState *state = (ForestState *) arg;
	char		err[GBDT_ERROR_LEN];

	if (state == NULL)
		return;
	if (!RankerForestFill(VARDATA_ANY(state->booster), VARSIZE_ANY_EXHDR(state->booster),
						  &state->shape, SnapshotBlockForWrite(build, BLOCK_RANKER_FOREST),
						  state->size, err, sizeof(err)))
		SnapshotBlockShrink(build, BLOCK_RANKER_FOREST, 0);
}

static const SnapshotProvider forest_provider = {
	.name = "ranker forest",
	.kind = SNAPSHOT_MODEL,
	.plan = ForestPlan,
	.fill = ForestFill
};

/*
 * The forest of a ranker version from its model snapshot (built now if no
 * backend did), valid until the end of this transaction at least; NULL
 * when no snapshot serves it (why in *status; SNAPSHOT_SERVED: the
 * snapshot holds no forest, its booster did not build).
 */
static const GbdtForest *
SnapshotForestOf(Oid relid, int32 model_id, const char *name, int64 version, Size *bytes,
				 SnapshotStatus *status)
{
	SnapshotSource source;
	ModelSource detail;
	const ServingSnapshot *snapshot;
	const void *block;
	uint64		count;

	memset(&source, 0, sizeof(source));
	memset(&detail, 0, sizeof(detail));
	source.key.kind = SNAPSHOT_MODEL;
	source.key.dbid = MyDatabaseId;
	source.key.relid = relid;
	source.key.object_id = model_id;
	source.key.version = version;
	source.label = name;
	detail.model_id = model_id;
	source.detail = &detail;
	snapshot = GetServingSnapshot(&source, status);
	if (snapshot == NULL)
		return NULL;
	block = SnapshotBlock(snapshot, BLOCK_RANKER_FOREST, &count);
	if (block == NULL)
		return NULL;
	*bytes = (Size) count;
	return (const GbdtForest *) block;
}

/* SnapshotForestOf for the registry the cache serves from. */
static const GbdtForest *
SnapshotForest(int32 model_id, const char *name, int64 version, Size *bytes)
{
	SnapshotStatus status;

	return SnapshotForestOf(models_relid, model_id, name, version, bytes, &status);
}

/*
 * Builds the forest of entry's version here, in the entry's context, from
 * its booster.  Inside SPI.
 */
static void
BuildForestHere(RankerEntry *entry)
{
	Oid			types[1] = {INT4OID};
	Datum		args[1] = {Int32GetDatum(entry->pub.model_id)};
	MemoryContext old;
	bytea	   *booster;
	bool		isnull;
	GbdtJsonShape shape;
	char		err[GBDT_ERROR_LEN];
	Size		size;
	void	   *block;
	int			ret;

	ret = SPI_execute_with_args("SELECT booster FROM rerank.rankers WHERE model_id OPERATOR(pg_catalog.=) $1",
								1, types, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ranker \"%s\" has no booster", entry->pub.name)));
	/* SPI returns in its own context: into the entry's */
	old = MemoryContextSwitchTo(entry->context);
	booster = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
											&isnull));
	size = RankerForestPlan(VARDATA_ANY(booster), VARSIZE_ANY_EXHDR(booster), &shape,
							err, sizeof(err));
	if (size == 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the booster of ranker \"%s\" cannot be served: %s", entry->pub.name, err)));
	block = palloc_extended(size, MCXT_ALLOC_HUGE);
	if (!RankerForestFill(VARDATA_ANY(booster), VARSIZE_ANY_EXHDR(booster), &shape, block,
						  size, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the booster of ranker \"%s\" cannot be served: %s", entry->pub.name, err)));
	entry->pub.forest = block;
	entry->pub.bytes = size;
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * The entry of a ranker version: its forest from the model snapshot, else
 * built here.  In a context under the transaction's memory, adopted by the
 * cache when complete.  Inside SPI.
 */
static RankerEntry *
LoadEntry(int32 model_id, const char *name, int64 version, int features_version)
{
	MemoryContext context;
	RankerEntry *entry;

	context = AllocSetContextCreate(CurTransactionContext, "rerank ranker",
									ALLOCSET_SMALL_SIZES);
	entry = MemoryContextAllocZero(context, sizeof(RankerEntry));
	entry->pub.model_id = model_id;
	strlcpy(entry->pub.name, name, NAMEDATALEN);
	entry->pub.version = version;
	entry->pub.features_version = features_version;
	entry->context = context;
	entry->pub.forest = SnapshotForest(model_id, name, version, &entry->pub.bytes);
	if (entry->pub.forest != NULL)
	{
		entry->in_snapshot = true;
		entry->forest_in = MyProc->lxid;
	}
	else
		BuildForestHere(entry);

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

/* How ReadRankerRow finds a ranker's registry row. */
typedef enum RankerRowKey
{
	RANKER_ROW_ACTIVE,			/* the active ranker (with its booster) */
	RANKER_ROW_NAME,			/* by name (text) */
	RANKER_ROW_ID				/* by model id (integer) */
} RankerRowKey;

/* A ranker's registry row, as serving and warming read it. */
typedef struct RankerRow
{
	int32		model_id;
	char		name[NAMEDATALEN];
	int64		version;		/* its factors_version */
	bool		has_booster;
	int			features_version;	/* when it has one */
} RankerRow;

/*
 * Reads the registry row of a ranker found by how (key: the name or the
 * model id), the caller connected to SPI; returns how many rows matched
 * (0, 1, or 2 for more than one), the first in *row.
 */
static uint64
ReadRankerRow(RankerRowKey how, Datum key, RankerRow *row)
{
	static SPIPlanPtr plans[3] = {NULL, NULL, NULL};
	static const char *const queries[3] = {
		"SELECT m.model_id, m.name, m.factors_version, r.features_version"
		" FROM rerank.models m JOIN rerank.rankers r USING (model_id)"
		" WHERE m.is_active AND m.algorithm OPERATOR(pg_catalog.=) 'ranker'",
		"SELECT m.model_id, m.name, m.factors_version, r.features_version"
		" FROM rerank.models m LEFT JOIN rerank.rankers r USING (model_id)"
		" WHERE m.name OPERATOR(pg_catalog.=) $1 AND m.algorithm OPERATOR(pg_catalog.=) 'ranker'",
		"SELECT m.model_id, m.name, m.factors_version, r.features_version"
		" FROM rerank.models m LEFT JOIN rerank.rankers r USING (model_id)"
		" WHERE m.model_id OPERATOR(pg_catalog.=) $1 AND m.algorithm OPERATOR(pg_catalog.=) 'ranker'"
	};
	static Oid	types[3][1] = {{InvalidOid}, {TEXTOID}, {INT4OID}};
	Datum		args[1] = {key};
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	Datum		features;

	ExecuteKeptPlan(&plans[how], queries[how], how == RANKER_ROW_ACTIVE ? 0 : 1,
					types[how], args, true, 2, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return 0;
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	row->model_id = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
	strlcpy(row->name, SPI_getvalue(tuple, desc, 2), NAMEDATALEN);
	row->version = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
	features = SPI_getbinval(tuple, desc, 4, &isnull);
	row->has_booster = !isnull;
	row->features_version = isnull ? 0 : DatumGetInt32(features);
	return SPI_processed;
}

/* Looks the serving ranker up in the registry; see ServingRanker. */
static RankerEntry *
LookupRanker(const char *setting)
{
	bool		by_name = setting[0] != '\0';
	RankerEntry *entry = NULL;
	RankerRow	row;
	uint64		found;

	found = ReadRankerRow(by_name ? RANKER_ROW_NAME : RANKER_ROW_ACTIVE,
						  by_name ? CStringGetTextDatum(setting) : (Datum) 0, &row);
	if (found == 0)
	{
		if (by_name)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("ranker \"%s\" does not exist", setting),
					 errhint("Set rerank.ranker to the name of a ranker, to '' for the active one or to 'none'.")));
		return NULL;
	}
	if (found > 1)
		elog(ERROR, "more than one active ranker");
	if (!row.has_booster)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ranker \"%s\" has no booster", row.name)));
	if (row.features_version != FEATURES_VERSION)
	{
		if (!Warned(row.model_id))
			ereport(WARNING,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("ranker \"%s\" was trained on features version %d, this build computes version %d: rerank() scores by the blend",
							row.name, row.features_version, FEATURES_VERSION),
					 errhint("Train a new ranker with rerank.train_ranker(). This is reported once per session.")));
		return NULL;
	}
	for (RankerEntry *e = entries; e != NULL; e = e->next)
		if (e->pub.model_id == row.model_id && e->pub.version == row.version)
			entry = e;
	if (entry == NULL)
		entry = LoadEntry(row.model_id, row.name, row.version, row.features_version);
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
	/* a snapshot's block is valid in the transaction that got it */
	if (answer->entry->in_snapshot && answer->entry->forest_in != MyProc->lxid)
	{
		RankerEntry *e = answer->entry;
		const GbdtForest *forest;

		SpiConnect();
		forest = SnapshotForest(e->pub.model_id, e->pub.name, e->pub.version, &e->pub.bytes);
		SPI_finish();
		if (forest == NULL)
		{
			/* no longer served from a snapshot: build it here, anew */
			RankerEntry **link = &entries;

			while (*link != e)
				link = &(*link)->next;
			*link = e->next;
			MemoryContextDelete(e->context);
			generation++;
			return ServingRanker();
		}
		e->pub.forest = forest;
		e->forest_in = MyProc->lxid;
	}
	answer->entry->used_in = MyProc->lxid;
	return &answer->entry->pub;
}

/*
 * Builds (or maps) the forest snapshot of a ranker's committed version
 * now; see ranker_cache.h.  The rows are read under the caller's snapshot,
 * as the build's check reads them (a version this transaction wrote is not
 * built: SNAPSHOT_NOT_CURRENT).
 */
bool
WarmRanker(const char *name, int32 model_id, bool must_build, bool *served)
{
	Oid			relid = RerankTableOid("models");
	RankerRow	row;
	const GbdtForest *forest;
	SnapshotStatus status;
	Size		bytes;

	*served = false;
	/* a 0.1.0 schema has no rankers */
	if (!OidIsValid(relid) || !OidIsValid(RerankTableOid("rankers")))
		return false;
	SpiConnect();
	if (ReadRankerRow(name != NULL ? RANKER_ROW_NAME : RANKER_ROW_ID,
					  name != NULL ? CStringGetTextDatum(name) : Int32GetDatum(model_id),
					  &row) == 0)
	{
		SPI_finish();
		return false;
	}

	/*
	 * Without a booster, or of another features version, it is not served:
	 * activation refuses it with its own message.
	 */
	if (!row.has_booster || row.features_version != FEATURES_VERSION)
	{
		SPI_finish();
		return true;
	}
	forest = SnapshotForestOf(relid, row.model_id, row.name, row.version, &bytes, &status);
	SPI_finish();
	*served = forest != NULL;
	if (forest == NULL && status == SNAPSHOT_SERVED && must_build)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the booster of ranker \"%s\" cannot be served", row.name),
				 errdetail("Its forest could not be built from the booster stored in rerank.rankers."),
				 errhint("Train it again with rerank.train_ranker().")));
	return true;
}
