/*
 * train_user_knn.c
 *	  CALL rerank.train_user_knn(...): user-based collaborative filtering.
 *
 * For every user, the similarities to all users sharing an item are summed
 * through both CSR orientations (cost Σ over items of |users of it|²) and
 * the top K kept, by the core's UserKnnNeighbors: the function serving
 * uses for users whose history changed since training, so a list computed
 * at serving time from an unchanged history is the stored one.  The lists
 * go to rerank.user_neighbors, the interactions they score from to
 * rerank.model_interactions.
 */
#include "postgres.h"

#include <math.h>

#include "core/user_knn.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "model/model_write.h"
#include "portability/instr_time.h"
#include "train/train_common.h"
#include "train/train_source.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* Limits of the parameters. */
#define MAX_NEIGHBORS 10000
#define MAX_MIN_OVERLAP 1000000

/* Arguments of train_user_knn, in SQL order. */
enum
{
	ARG_MODEL_NAME = 0,
	ARG_SOURCE,
	ARG_NEIGHBORS,
	ARG_SIMILARITY,
	ARG_SHRINKAGE,
	ARG_MIN_OVERLAP,
	ARG_ACTIVATE,
	ARG_REPLACE,
	ARG_WEIGHT_COLUMN,
	ARG_DESCRIPTION
};

/* Reads and checks the model's own parameters (errors 22023). */
static void
UserKnnArgs(FunctionCallInfo fcinfo, UserKnnParams *params)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_SIMILARITY));

	memset(params, 0, sizeof(UserKnnParams));
	params->neighbors = PG_GETARG_INT32(ARG_NEIGHBORS);
	params->shrinkage = PG_GETARG_FLOAT8(ARG_SHRINKAGE);
	params->min_overlap = PG_GETARG_INT32(ARG_MIN_OVERLAP);
	if (params->neighbors <= 0 || params->neighbors > MAX_NEIGHBORS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("neighbors must be between 1 and %d, not %d",
						MAX_NEIGHBORS, params->neighbors)));
	if (!UserSimilarityFromName(name, &params->similarity))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown similarity \"%s\"", name),
				 errhint("Use cosine, jaccard or pearson.")));
	if (!(params->shrinkage >= 0 && params->shrinkage <= 1e9))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shrinkage must be between 0 and 1e9, not %g", params->shrinkage)));
	if (params->min_overlap < 1 || params->min_overlap > MAX_MIN_OVERLAP)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_overlap must be between 1 and %d, not %d",
						MAX_MIN_OVERLAP, params->min_overlap)));
}

/* A zeroed (or not) array of n elements of size bytes, of any size. */
static void *
HugeArray(Size n, Size size, bool zero)
{
	return palloc_extended(mul_size(Max(n, 1), size),
						   MCXT_ALLOC_HUGE | (zero ? MCXT_ALLOC_ZERO : 0));
}

PG_FUNCTION_INFO_V1(train_user_knn);

/*
 * train_user_knn(model_name, source, neighbors, similarity, shrinkage,
 * min_overlap, activate, replace, weight_column, description)
 */
Datum
train_user_knn(PG_FUNCTION_ARGS)
{
	TrainingRun run;
	UserKnnParams params;
	Interactions data;
	instr_time	phase;
	double		read_seconds,
				train_seconds,
				train_cpu,
				write_seconds;
	UserStats  *stats;
	UserKnnScratch scratch;
	int64		longest = 0;
	int			per_user;
	int64	   *offsets;
	int32	   *neighbors;
	float	   *similarities;
	int64		total = 0;
	int			lonely = 0;
	StringInfoData json;
	int32		model_id;

	TrainingArgs(fcinfo, "train_user_knn", ARG_ACTIVATE, ARG_WEIGHT_COLUMN, &run);
	UserKnnArgs(fcinfo, &params);
	CheckModelName(run.name, run.replace, 0);

	read_seconds = TrainingRead(&run, &data);
	if (data.users < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("source \"%s\" has interactions of one user only", get_rel_name(run.source)),
				 errdetail("User-based collaborative filtering needs at least two users.")));
	params.catalog = data.items;

	INSTR_TIME_SET_CURRENT(phase);
	train_cpu = CpuSeconds();
	stats = HugeArray(data.users, sizeof(UserStats), false);
	for (int u = 0; u < data.users; u++)
	{
		int64		n = data.by_user.indptr[u + 1] - data.by_user.indptr[u];

		stats[u] = UserStatsOf(data.by_user.weights + data.by_user.indptr[u], n);
		longest = Max(longest, n);
	}
	scratch.dot = HugeArray(data.users, sizeof(double), true);
	scratch.overlap = HugeArray(data.users, sizeof(int32), true);
	scratch.touched = HugeArray(data.users, sizeof(int32), false);
	scratch.similarity = HugeArray(data.users, sizeof(float), false);
	scratch.keys = HugeArray(longest, sizeof(uint64), false);
	per_user = Min(params.neighbors, data.users - 1);
	offsets = HugeArray((Size) data.users + 1, sizeof(int64), false);
	neighbors = HugeArray(mul_size(data.users, per_user), sizeof(int32), false);
	similarities = HugeArray(mul_size(data.users, per_user), sizeof(float), false);
	for (int u = 0; u < data.users; u++)
	{
		int64		start = data.by_user.indptr[u];
		int			found;

		/* one user costs Σ over its items of their users: well under 100 ms */
		CHECK_FOR_INTERRUPTS();
		offsets[u] = total;
		found = UserKnnNeighbors(&data.by_item, stats, &params,
								 data.by_user.indices + start,
								 data.by_user.weights + start,
								 (int) (data.by_user.indptr[u + 1] - start), u, -1,
								 &scratch, neighbors + total, similarities + total,
								 NULL);
		lonely += found == 0;
		total += found;
	}
	offsets[data.users] = total;
	train_seconds = SecondsSince(phase);
	train_cpu = CpuSeconds() - train_cpu;

	INSTR_TIME_SET_CURRENT(phase);
	initStringInfo(&json);
	appendStringInfo(&json, "{\"neighbors\": %d, \"similarity\": \"%s\"",
					 params.neighbors, UserSimilarityName(params.similarity));
	AppendJsonField(&json, "shrinkage", params.shrinkage);
	appendStringInfo(&json, ", \"min_overlap\": %d, \"catalog_items\": %d, ",
					 params.min_overlap, params.catalog);
	AppendSourceParams(&json, &data);
	model_id = PrepareModelRow(run.name, "user_knn", 0, run.replace, json.data,
							   run.description);
	WriteNeighbors(model_id, true, data.user_ids, data.users, offsets, neighbors,
				   similarities);
	WriteInteractions(model_id, data.user_ids, &data.by_user, data.item_ids);
	write_seconds = SecondsSince(phase);

	resetStringInfo(&json);
	AppendTrainingCounts(&json, &data);
	appendStringInfo(&json, ", \"neighbor_pairs\": " INT64_FORMAT
					 ", \"users_without_neighbors\": %d", total, lonely);
	AppendJsonField(&json, "read_seconds", read_seconds);
	AppendJsonField(&json, "train_seconds", train_seconds);
	AppendJsonField(&json, "train_cpu_seconds", train_cpu);
	AppendJsonField(&json, "write_seconds", write_seconds);
	appendStringInfoString(&json, "}}");
	FinishModelRow(model_id, NULL, 0, json.data, SecondsSince(run.start));
	ereport(NOTICE,
			(errmsg("train_user_knn \"%s\": " INT64_FORMAT " neighbor pairs in %.3f s (read %.3f s, neighbors %.3f s, write %.3f s)",
					run.name, total, SecondsSince(run.start), read_seconds,
					train_seconds, write_seconds)));
	TrainingEnd(&run);
	PG_RETURN_VOID();
}
