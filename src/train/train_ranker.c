/*
 * train_ranker.c
 *	  CALL rerank.train_ranker(...): a LambdaMART ranker learned in the
 *	  database from the shop's own event log, and rerank.ranker_examples():
 *	  the examples it learns from.
 *
 * A run: the point-in-time replay builds the ranking groups
 * (ranker_replay.c); the groups of the last holdout share of the time are
 * held out; XGBoost trains on the others through the core's engine
 * (core/gbdt_train.h: dlopen'd, one thread, its handles released by
 * PG_FINALLY whatever happens); the booster's JSON is read back into the
 * flat forest serving uses (core/gbdt_forest.h), which checks it and
 * scores the held-out groups beside the hand-weighted blend; then one
 * model row (algorithm 'ranker') and its booster (rerank.rankers) are
 * written in the caller's transaction.  An error or a cancel leaves the
 * registry as it was, and every allocation goes with the run's memory
 * context (XGBoost's own with GbdtTrainerRelease).
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/feat_time.h"
#include "common/spi_util.h"
#include "core/features.h"
#include "core/gbdt_forest.h"
#include "core/gbdt_train.h"
#include "core/ranker_examples.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "model/model_write.h"
#include "portability/instr_time.h"
#include "train/ranker_replay.h"
#include "train/train_common.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/tuplestore.h"

/* The metrics' cut-off: NDCG@10, hit rate@10. */
#define RANKER_EVAL_K 10

/* Arguments of train_ranker(), in SQL order. */
enum
{
	ARG_NAME = 0,
	ARG_EVENTS,					/* then the replay's arguments (ranker_replay.h) */
	ARG_HOLDOUT = ARG_EVENTS + 11,
	ARG_TREES,
	ARG_MAX_DEPTH,
	ARG_LEARNING_RATE,
	ARG_OPTIONS,
	ARG_SEED,
	ARG_ACTIVATE,
	ARG_REPLACE,
	ARG_DESCRIPTION
};

/* Arguments of ranker_examples(), in SQL order. */
enum
{
	EX_EVENTS = 0,
	EX_OPTIONS = EX_EVENTS + 11,
	EX_SEED
};

PG_FUNCTION_INFO_V1(features_version);

/* rerank.features_version(): the FEATURES_VERSION this build computes. */
Datum
features_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(FEATURES_VERSION);
}

/* The booster's options, with the GbdtParams they set. */
static bool
BoosterOption(void *arg, const char *key, const JsonbValue *value)
{
	GbdtParams *p = arg;
	double		v;

	if (strcmp(key, "objective") == 0)
	{
		if (value->type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("train_ranker: option \"objective\" must be a string")));
		p->objective = pnstrdup(value->val.string.val, value->val.string.len);
		return true;
	}
	if (strcmp(key, "min_child_weight") != 0 && strcmp(key, "lambda") != 0 &&
		strcmp(key, "alpha") != 0 && strcmp(key, "gamma") != 0 &&
		strcmp(key, "subsample") != 0 && strcmp(key, "colsample_bytree") != 0 &&
		strcmp(key, "max_bin") != 0)
		return false;
	if (value->type != jbvNumeric)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_ranker: option \"%s\" must be a number", key)));
	v = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(value->val.numeric)));
	if (strcmp(key, "min_child_weight") == 0)
		p->min_child_weight = v;
	else if (strcmp(key, "lambda") == 0)
		p->lambda = v;
	else if (strcmp(key, "alpha") == 0)
		p->alpha = v;
	else if (strcmp(key, "gamma") == 0)
		p->gamma = v;
	else if (strcmp(key, "subsample") == 0)
		p->subsample = v;
	else if (strcmp(key, "colsample_bytree") == 0)
		p->colsample_bytree = v;
	else
	{
		if (!(v >= 2 && v <= 65536) || v != floor(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("train_ranker: option \"max_bin\" must be an integer between 2 and 65536")));
		p->max_bin = (int) v;
	}
	return true;
}

/* What the check callback of a training knows. */
typedef struct RankerProgress
{
	const char *name;
	int			trees;
	instr_time	start;
	double		last_report;
} RankerProgress;

/*
 * GbdtCheckFn of a backend: while XGBoost builds its matrix it must return
 * (C++ frames are on the stack): it asks to stop when a cancel (or a
 * statement timeout) or a termination is pending, which GbdtTrain reports
 * as GBDT_CANCELLED; other interrupts (catch-up of the invalidation queue,
 * barriers) wait for the next round.  Between rounds it processes
 * interrupts (a cancel leaves by longjmp; PG_FINALLY releases the trainer)
 * and reports progress every tenth of the rounds or 10 s.
 */
static bool
RankerCheck(void *arg, int round)
{
	RankerProgress *progress = arg;
	double		seconds;

	if (round == GBDT_LOADING)
		return QueryCancelPending || ProcDiePending;
	GbdtCheckInterrupts(NULL, round);
	seconds = SecondsSince(progress->start);
	if (round > 0 &&
		(round % Max(1, progress->trees / 10) == 0 || seconds - progress->last_report >= 10.0))
	{
		progress->last_report = seconds;
		ereport(NOTICE,
				(errmsg("train_ranker \"%s\": round %d of %d, %.3f s",
						progress->name, round, progress->trees, seconds)));
	}
	return false;
}

/* Raises the error of a training that did not end with GBDT_OK. */
static void
RaiseTrainError(GbdtStatus status, const GbdtTrainer *t)
{
	switch (status)
	{
		case GBDT_OK:
			return;
		case GBDT_CANCELLED:
			/* the pending interrupt first: a cancel or statement timeout */
			CHECK_FOR_INTERRUPTS();
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("train_ranker: training stopped: %s", t->error)));
			break;
		case GBDT_NO_LIBRARY:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("train_ranker: XGBoost cannot be loaded: %s", t->error),
					 errhint("Install Debian's libxgboost0 (libxgboost-dev to build).")));
			break;
		case GBDT_INVALID:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("train_ranker: %s", t->error)));
			break;
		case GBDT_XGBOOST:
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("train_ranker: XGBoost failed: %s", t->error)));
			break;
	}
}

/*
 * Trains on the first groups of the examples; returns the booster's JSON
 * (a palloc'd copy, *len bytes).
 */
static char *
TrainBooster(const char *name, const ReplayExamples *ex, int groups, int64 rows,
			 const GbdtParams *params, size_t *len, int *rounds)
{
	GbdtTrainer t;
	GbdtTrainData data;
	RankerProgress progress;
	char	   *volatile json = NULL;

	memset(&data, 0, sizeof(data));
	data.x = ex->x;
	data.label = ex->labels;
	data.group_sizes = ex->group_sizes;
	data.rows = rows;
	data.features = FEATURE_COUNT;
	data.groups = groups;
	progress.name = name;
	progress.trees = params->trees;
	progress.last_report = 0.0;
	INSTR_TIME_SET_CURRENT(progress.start);

	GbdtTrainerInit(&t);
	PG_TRY();
	{
		GbdtStatus	status = GbdtTrain(&t, &data, params, RankerCheck, &progress);

		RaiseTrainError(status, &t);
		json = palloc_extended(t.model_len + 1, MCXT_ALLOC_HUGE);
		memcpy(json, t.model, t.model_len);
		json[t.model_len] = '\0';
		*len = t.model_len;
		*rounds = t.rounds;
	}
	PG_FINALLY();
	{
		GbdtTrainerRelease(&t);
	}
	PG_END_TRY();
	return json;
}

/*
 * The flat forest of a booster's JSON, checked (what serving builds); an
 * error when XGBoost's output does not read.
 */
static GbdtForest *
ForestFromJson(const char *json, size_t len)
{
	GbdtJsonShape shape;
	char		err[GBDT_ERROR_LEN];
	size_t		size;
	GbdtForest *forest;
	void	   *scratch;

	if (!GbdtXgboostJsonShape(json, len, &shape, err, sizeof(err)))
		elog(ERROR, "train_ranker: the trained booster does not read: %s", err);
	if (shape.num_features != FEATURE_COUNT)
		elog(ERROR, "train_ranker: the trained booster has %d features, not %d",
			 shape.num_features, FEATURE_COUNT);
	size = GbdtForestSize(shape.num_trees, (int) shape.total_nodes);
	if (size == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("train_ranker: the trained booster is too large to serve")));
	forest = palloc_extended(size, MCXT_ALLOC_HUGE);
	scratch = palloc_extended(GbdtXgboostJsonScratch(&shape), MCXT_ALLOC_HUGE);
	if (!GbdtForestFromXgboostJson(json, len, &shape, forest, size, scratch, err, sizeof(err)))
		elog(ERROR, "train_ranker: the trained booster does not build a forest: %s", err);
	pfree(scratch);
	return forest;
}

/* The current blend weight of each feature (the rerank.<feature>_weight settings). */
static void
BlendWeights(double *w)
{
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		const char *setting = f == FEAT_MODEL_SCORE ? "rerank.model_weight" :
			f == FEAT_RECENT_SIMILARITY ? "rerank.recent_weight" :
			f == FEAT_POSITION ? "rerank.position_weight" :
			f == FEAT_CATEGORY_AFFINITY ? "rerank.category_weight" :
			psprintf("rerank.%s_weight", FeatureName(f));
		const char *value = GetConfigOption(setting, true, false);

		w[f] = value != NULL ? strtod(value, NULL) : 0.0;
	}
}

/*
 * The generators of the held-out groups besides the trained ones, in the
 * order of ReplayExamples' uniform, popularity and category: the metrics'
 * keys are holdout_<kind>.
 */
#define HOLDOUT_KINDS 3
static const char *const holdout_kinds[HOLDOUT_KINDS] = {"uniform", "popularity", "category"};

/* Metrics of one scorer over the held-out groups, as a JSON object. */
static void
AppendMetrics(StringInfo buf, const char *key, const RankerMetrics *m)
{
	double		n = m->groups > 0 ? (double) m->groups : 1.0;

	appendStringInfo(buf, ", \"%s\": {\"ndcg_at_10\": ", key);
	AppendJsonNumber(buf, m->ndcg / n);
	appendStringInfoString(buf, ", \"hit_rate_at_10\": ");
	AppendJsonNumber(buf, m->hit_rate / n);
	appendStringInfoString(buf, ", \"mrr\": ");
	AppendJsonNumber(buf, m->mrr / n);
	appendStringInfoChar(buf, '}');
}

/*
 * Scores the held-out groups (from group first on) with the forest and
 * with the blend; their metrics into ranker and blend.
 */
static void
EvaluateHoldout(const ReplayExamples *ex, int first, int64 first_row, const GbdtForest *forest,
				RankerMetrics *ranker, RankerMetrics *blend)
{
	double		w[FEATURE_COUNT];
	void	   *work = palloc(GbdtPredictWorkspace(forest));
	int64		row = first_row;
	int			largest = 1;

	for (int g = first; g < ex->groups; g++)
		largest = Max(largest, (int) ex->group_sizes[g]);
	BlendWeights(w);
	memset(ranker, 0, sizeof(RankerMetrics));
	memset(blend, 0, sizeof(RankerMetrics));
	{
		float	   *scores = palloc(sizeof(float) * largest);
		float	   *blended = palloc(sizeof(float) * largest);
		double		frow[FEATURE_COUNT];

		for (int g = first; g < ex->groups; g++)
		{
			int			n = (int) ex->group_sizes[g];

			GbdtForestPredict(forest, ex->x + row * FEATURE_COUNT, n, scores, work);
			for (int k = 0; k < n; k++)
			{
				const float *x = ex->x + (row + k) * FEATURE_COUNT;

				for (int f = 0; f < FEATURE_COUNT; f++)
					frow[f] = x[f];
				blended[k] = (float) FeatBlend(frow, w, NULL);
			}
			RankerMetricsAdd(ranker, scores, ex->labels + row, n, RANKER_EVAL_K);
			RankerMetricsAdd(blend, blended, ex->labels + row, n, RANKER_EVAL_K);
			row += n;
			if ((g & 1023) == 1023)
				CHECK_FOR_INTERRUPTS();
		}
	}
}

/* How often each feature is split on, as a JSON object. */
static void
AppendSplits(StringInfo buf, const GbdtForest *forest)
{
	int64		splits[FEATURE_COUNT] = {0};
	const GbdtNode *nodes = GbdtNodes(forest);

	for (int32 i = 0; i < forest->num_nodes; i++)
		if (!GbdtIsLeaf(nodes, i))
			splits[GbdtNodeFeature(forest, &nodes[i])]++;
	appendStringInfoString(buf, ", \"splits\": {");
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		if (f > 0)
			appendStringInfoString(buf, ", ");
		escape_json(buf, FeatureName(f));
		appendStringInfo(buf, ": " INT64_FORMAT, splits[f]);
	}
	appendStringInfoChar(buf, '}');
}

/* The names of the features as a text[]. */
static ArrayType *
FeatureNamesArray(void)
{
	Datum		names[FEATURE_COUNT];

	for (int f = 0; f < FEATURE_COUNT; f++)
		names[f] = CStringGetTextDatum(FeatureName(f));
	return construct_array(names, FEATURE_COUNT, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * Checks that name may be used for a ranker: free, or a ranker replaced
 * with replace.
 */
static void
CheckRankerName(const char *name, bool replace)
{
	Oid			types[1] = {TEXTOID};
	Datum		values[1] = {CStringGetTextDatum(name)};
	int			ret;

	SpiConnect();
	ret = SPI_execute_with_args("SELECT algorithm FROM rerank.models WHERE name = $1",
								1, types, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "model lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		char	   *algorithm = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (strcmp(algorithm, "ranker") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("model \"%s\" is not a ranker but %s", name, algorithm),
					 errhint("Choose another name.")));
		if (!replace)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("model \"%s\" already exists", name),
					 errhint("Pass replace => true to retrain it, or choose another name.")));
	}
	SPI_finish();
}

/* Writes the booster row of a ranker (replacing one kept by a replace). */
static void
WriteBooster(int32 model_id, const char *json, size_t len, const ReplayExamples *ex)
{
	Oid			types[5] = {INT4OID, INT4OID, TEXTARRAYOID, BYTEAOID, INT4OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ex->factor_model_id > 0 ? ' ' : 'n'};
	bytea	   *booster = palloc_extended(VARHDRSZ + len, MCXT_ALLOC_HUGE);
	int			ret;

	SET_VARSIZE(booster, VARHDRSZ + len);
	memcpy(VARDATA(booster), json, len);
	values[0] = Int32GetDatum(model_id);
	values[1] = Int32GetDatum(FEATURES_VERSION);
	values[2] = PointerGetDatum(FeatureNamesArray());
	values[3] = PointerGetDatum(booster);
	values[4] = Int32GetDatum(ex->factor_model_id);
	SpiConnect();
	ret = SPI_execute_with_args("DELETE FROM rerank.rankers WHERE model_id = $1",
								1, types, values, NULL, false, 0);
	if (ret != SPI_OK_DELETE)
		elog(ERROR, "could not replace the booster: %s", SPI_result_code_string(ret));
	ret = SPI_execute_with_args("INSERT INTO rerank.rankers (model_id, features_version, feature_names,"
								" booster, factor_model_id) VALUES ($1, $2, $3, $4, $5)",
								5, types, values, nulls, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not write the booster: %s", SPI_result_code_string(ret));
	SPI_finish();
}

PG_FUNCTION_INFO_V1(train_ranker);

/*
 * train_ranker(model_name, events, user_column, item_column,
 * event_type_column, time_column, since, until, impressions, negatives,
 * max_groups, users, holdout, trees, max_depth, learning_rate, options,
 * seed, activate, replace, description)
 */
Datum
train_ranker(PG_FUNCTION_ARGS)
{
	const char *name;
	ReplayOptions opts;
	GbdtParams	params;
	char		err[GBDT_TRAIN_ERROR_LEN];
	double		holdout;
	bool		activate,
				replace;
	const char *description;
	MemoryContext run_cxt,
				old;
	instr_time	start;
	ReplayExamples ex;
	int			train_groups;
	int64		train_rows = 0;
	char	   *json;
	size_t		json_len = 0;
	int			rounds = 0;
	double		train_seconds;
	GbdtForest *forest;
	RankerMetrics ranker_m,
				blend_m,
				ranker_h[HOLDOUT_KINDS],
				blend_h[HOLDOUT_KINDS];
	StringInfoData p,
				m;
	int32		model_id;
	instr_time	phase;

	{
		static const int required[] = {ARG_NAME, ARG_HOLDOUT, ARG_TREES, ARG_MAX_DEPTH,
		ARG_LEARNING_RATE, ARG_ACTIVATE, ARG_REPLACE};

		for (int i = 0; i < (int) lengthof(required); i++)
			if (PG_ARGISNULL(required[i]))
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("train_ranker: model_name, holdout, trees, max_depth, learning_rate, activate and replace must not be NULL")));
	}
	name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_NAME));
	if (strlen(name) < 1 || strlen(name) > 63)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("model name must have 1 to 63 characters")));
	ReplayOptionsFromArgs(fcinfo, "train_ranker", ARG_EVENTS, ARG_SEED, &opts);
	GbdtParamsDefault(&params);
	holdout = PG_GETARG_FLOAT8(ARG_HOLDOUT);
	params.trees = PG_GETARG_INT32(ARG_TREES);
	params.max_depth = PG_GETARG_INT32(ARG_MAX_DEPTH);
	params.learning_rate = PG_GETARG_FLOAT8(ARG_LEARNING_RATE);
	params.seed = opts.seed;
	ReplayOptionsParse(&opts, PG_ARGISNULL(ARG_OPTIONS) ? NULL : PG_GETARG_JSONB_P(ARG_OPTIONS),
					   BoosterOption, &params);
	activate = PG_GETARG_BOOL(ARG_ACTIVATE);
	replace = PG_GETARG_BOOL(ARG_REPLACE);
	description = PG_ARGISNULL(ARG_DESCRIPTION) ? NULL :
		text_to_cstring(PG_GETARG_TEXT_PP(ARG_DESCRIPTION));
	if (!(holdout >= 0.0 && holdout <= 0.5))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_ranker: holdout must be a fraction between 0 and 0.5, not %g", holdout)));
	if (!GbdtParamsCheck(&params, err, sizeof(err)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("train_ranker: %s", err)));
	CheckRankerName(name, replace);
	if (GbdtXgboostLoad(err, sizeof(err)) != GBDT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("train_ranker: XGBoost cannot be loaded: %s", err),
				 errhint("Install Debian's libxgboost0 (libxgboost-dev to build).")));

	/*
	 * Called from another procedure, the active snapshot may predate what it
	 * did just before (a factor model trained, events loaded): the run reads
	 * through a snapshot of its own, taken now.
	 */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());

	run_cxt = AllocSetContextCreate(CurrentMemoryContext, "rerank train_ranker",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(run_cxt);
	INSTR_TIME_SET_CURRENT(start);

	/* the examples, point in time (and the uniform held-out groups) */
	opts.uniform_holdout = holdout;
	RankerReplay(&opts, &ex);
	ereport(NOTICE,
			(errmsg("train_ranker \"%s\": read " INT64_FORMAT " events of " INT64_FORMAT " users (" INT64_FORMAT " sampled), " INT64_FORMAT " items in %.3f s",
					name, ex.events, ex.users, ex.sampled_users, ex.items, ex.read_seconds)));
	train_groups = ex.groups - (int) ceil(holdout * ex.groups);
	if (train_groups < 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("train_ranker: too few ranking groups to learn from: %d", ex.groups),
				 errhint("Read more events, or pass holdout => 0.")));
	for (int g = 0; g < train_groups; g++)
		train_rows += ex.group_sizes[g];
	ereport(NOTICE,
			(errmsg("train_ranker \"%s\": replayed %d groups (" INT64_FORMAT " rows; %d held out) in %.3f s",
					name, ex.groups, ex.rows, ex.groups - train_groups, ex.replay_seconds)));

	/* the booster */
	INSTR_TIME_SET_CURRENT(phase);
	json = TrainBooster(name, &ex, train_groups, train_rows, &params, &json_len, &rounds);
	train_seconds = SecondsSince(phase);
	forest = ForestFromJson(json, json_len);
	memset(&ranker_m, 0, sizeof(ranker_m));
	memset(&blend_m, 0, sizeof(blend_m));
	if (train_groups < ex.groups)
	{
		EvaluateHoldout(&ex, train_groups, train_rows, forest, &ranker_m, &blend_m);
		ereport(NOTICE,
				(errmsg("train_ranker \"%s\": held-out NDCG@10 %.4f (the blend %.4f), hit rate@10 %.4f (%.4f) over " INT64_FORMAT " groups",
						name, ranker_m.groups ? ranker_m.ndcg / ranker_m.groups : 0.0,
						blend_m.groups ? blend_m.ndcg / blend_m.groups : 0.0,
						ranker_m.groups ? ranker_m.hit_rate / ranker_m.groups : 0.0,
						blend_m.groups ? blend_m.hit_rate / blend_m.groups : 0.0,
						ranker_m.groups)));
	}
	/* the held-out groups of the three generators (uniform, popularity, category) */
	for (int k = 0; k < HOLDOUT_KINDS; k++)
	{
		const ReplayExamples *hx = k == 0 ? ex.uniform : k == 1 ? ex.popularity : ex.category;

		memset(&ranker_h[k], 0, sizeof(ranker_h[k]));
		memset(&blend_h[k], 0, sizeof(blend_h[k]));
		if (hx == NULL || hx->groups == 0)
			continue;
		EvaluateHoldout(hx, 0, 0, forest, &ranker_h[k], &blend_h[k]);
		ereport(NOTICE,
				(errmsg("train_ranker \"%s\": held-out among %s candidates NDCG@10 %.4f (the blend %.4f), hit rate@10 %.4f (%.4f) over " INT64_FORMAT " groups",
						name, holdout_kinds[k],
						ranker_h[k].ndcg / ranker_h[k].groups, blend_h[k].ndcg / blend_h[k].groups,
						ranker_h[k].hit_rate / ranker_h[k].groups,
						blend_h[k].hit_rate / blend_h[k].groups, ranker_h[k].groups)));
	}

	/* the registry: the model row and its booster */
	initStringInfo(&p);
	appendStringInfo(&p, "{\"features_version\": %d, \"objective\": ", FEATURES_VERSION);
	escape_json(&p, params.objective);
	appendStringInfo(&p, ", \"trees\": %d, \"max_depth\": %d, \"learning_rate\": %.17g"
					 ", \"min_child_weight\": %.17g, \"lambda\": %.17g, \"alpha\": %.17g"
					 ", \"gamma\": %.17g, \"subsample\": %.17g, \"colsample_bytree\": %.17g"
					 ", \"max_bin\": %d, \"holdout\": %.17g",
					 params.trees, params.max_depth, params.learning_rate, params.min_child_weight,
					 params.lambda, params.alpha, params.gamma, params.subsample,
					 params.colsample_bytree, params.max_bin, holdout);
	ReplayOptionsJson(&p, &opts);
	appendStringInfo(&p, ", \"recent_items\": %d, \"recent_decay\": %.17g, \"history_size\": %d"
					 ", \"purchase_history_size\": %d, \"factor_model\": ",
					 ex.recent_items, ex.recent_decay, ex.history_size, ex.purchase_history_size);
	if (ex.factor_model_id > 0)
		escape_json(&p, ex.factor_model);
	else
		appendStringInfoString(&p, "null");
	appendStringInfo(&p, ", \"sources\": %s, \"xgboost\": ", ex.sources);
	escape_json(&p, GbdtXgboostVersion() ? GbdtXgboostVersion() : "unknown");
	appendStringInfoChar(&p, '}');

	initStringInfo(&m);
	appendStringInfo(&m, "{\"training\": {\"events\": " INT64_FORMAT ", \"users\": " INT64_FORMAT
					 ", \"sampled_users\": " INT64_FORMAT ", \"items\": " INT64_FORMAT
					 ", \"impressions\": " INT64_FORMAT ", \"candidate_groups\": " INT64_FORMAT
					 ", \"groups\": %d, \"rows\": " INT64_FORMAT ", \"train_groups\": %d"
					 ", \"rounds\": %d, \"stats_refreshes\": %d, \"covisit_builds\": %d",
					 ex.events, ex.users, ex.sampled_users, ex.items, ex.impressions,
					 ex.positives, ex.groups, ex.rows, train_groups, rounds,
					 ex.stats_refreshes, ex.covisit_builds);
	AppendJsonField(&m, "read_seconds", ex.read_seconds);
	AppendJsonField(&m, "replay_seconds", ex.replay_seconds);
	AppendJsonField(&m, "train_seconds", train_seconds);
	appendStringInfo(&m, ", \"booster_bytes\": %zu", json_len);
	AppendSplits(&m, forest);
	appendStringInfoChar(&m, '}');
	if (train_groups < ex.groups)
	{
		appendStringInfo(&m, ", \"evaluation\": {\"k\": %d, \"groups\": " INT64_FORMAT,
						 RANKER_EVAL_K, ranker_m.groups);
		AppendMetrics(&m, "ranker", &ranker_m);
		AppendMetrics(&m, "blend", &blend_m);
		for (int k = 0; k < HOLDOUT_KINDS; k++)
		{
			if (ranker_h[k].groups == 0)
				continue;
			appendStringInfo(&m, ", \"holdout_%s\": {\"candidates\": %d, \"groups\": " INT64_FORMAT,
							 holdout_kinds[k], 1 + UNIFORM_HOLDOUT_NEGATIVES, ranker_h[k].groups);
			AppendMetrics(&m, "ranker", &ranker_h[k]);
			AppendMetrics(&m, "blend", &blend_h[k]);
			appendStringInfoChar(&m, '}');
		}
		appendStringInfoChar(&m, '}');
	}
	appendStringInfoChar(&m, '}');

	model_id = PrepareModelRow(name, "ranker", 0, replace, p.data, description);
	WriteBooster(model_id, json, json_len, &ex);
	FinishModelRow(model_id, NULL, 0, m.data, SecondsSince(start));
	ereport(NOTICE,
			(errmsg("train_ranker \"%s\": trained in %.3f s (replay %.3f s, %d trees %.3f s)",
					name, SecondsSince(start), ex.read_seconds + ex.replay_seconds, rounds,
					train_seconds)));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(run_cxt);
	PopActiveSnapshot();
	if (activate)
		ActivateModelByName(name);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ranker_examples);

/*
 * ranker_examples(events, user_column, item_column, event_type_column,
 * time_column, since, until, impressions, negatives, max_groups, users,
 * options, seed) → (group_id, user_id, occurred_at, item_id, source,
 * label, features real[])
 */
Datum
ranker_examples(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ReplayOptions opts;
	ReplayExamples ex;
	MemoryContext run_cxt,
				old;
	int64		row = 0;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	ReplayOptionsFromArgs(fcinfo, "ranker_examples", EX_EVENTS, EX_SEED, &opts);
	ReplayOptionsParse(&opts, PG_ARGISNULL(EX_OPTIONS) ? NULL : PG_GETARG_JSONB_P(EX_OPTIONS),
					   NULL, NULL);
	run_cxt = AllocSetContextCreate(CurrentMemoryContext, "rerank ranker_examples",
									ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(run_cxt);
	RankerReplay(&opts, &ex);
	MemoryContextSwitchTo(old);
	for (int g = 0; g < ex.groups; g++)
	{
		for (uint32 k = 0; k < ex.group_sizes[g]; k++, row++)
		{
			Datum		values[7];
			bool		nulls[7] = {false, false, false, false, false, false, false};
			Datum		features[FEATURE_COUNT];
			bool		fnulls[FEATURE_COUNT];
			int			dims[1] = {FEATURE_COUNT};
			int			lbs[1] = {1};

			for (int f = 0; f < FEATURE_COUNT; f++)
			{
				float		v = ex.x[row * FEATURE_COUNT + f];

				fnulls[f] = isnan(v);
				features[f] = Float4GetDatum(fnulls[f] ? 0.0f : v);
			}
			values[0] = Int32GetDatum(g + 1);
			values[1] = Int64GetDatum(ex.group_user[g]);
			values[2] = TimestampTzGetDatum(FeatTimeToTimestamp(ex.group_time[g]));
			values[3] = Int64GetDatum(ex.row_item[row]);
			values[4] = CStringGetTextDatum(replay_source_names[ex.row_source[row]]);
			values[5] = Float4GetDatum(ex.labels[row]);
			values[6] = PointerGetDatum(construct_md_array(features, fnulls, 1, dims, lbs,
														   FLOAT4OID, 4, true, TYPALIGN_INT));
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(run_cxt);
	return (Datum) 0;
}
