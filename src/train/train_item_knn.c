/*
 * train_item_knn.c
 *	  CALL rerank.train_item_knn(...): item-based collaborative filtering.
 *
 * For every item, the similarities to all items sharing a user are summed
 * through both CSR orientations (cost Σ over users of |history|²), and the
 * top K kept, the item itself included (as the implicit library's
 * ItemItemRecommender does; serving leaves it out).  A user is scored by
 * Σ over history items j of r_j · sim(j, i) for i among j's neighbors.
 */
#include "postgres.h"

#include <math.h>

#include "core/topk.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "model/model_write.h"
#include "portability/instr_time.h"
#include "train/train_common.h"
#include "train/train_source.h"
#include "utils/builtins.h"

#define MAX_NEIGHBORS 10000

PG_FUNCTION_INFO_V1(train_item_knn);

/*
 * train_item_knn(model_name, source, neighbors, similarity, activate,
 * replace, weight_column, description)
 */
Datum
train_item_knn(PG_FUNCTION_ARGS)
{
	TrainingRun run;
	int			K;
	char	   *similarity_name;
	ItemSimilarity similarity;
	Interactions data;
	instr_time	phase;
	double		read_seconds,
				train_seconds;
	double	   *norms,
			   *acc;
	int32	   *touched,
			   *neighbors;
	float	   *scratch,
			   *neighbor_sims;
	int64	   *offsets;
	int			per_item;
	int64		total = 0;
	StringInfoData params,
				metrics;
	int32		model_id;

	TrainingArgs(fcinfo, "train_item_knn", 4, 6, &run);
	K = PG_GETARG_INT32(2);
	similarity_name = text_to_cstring(PG_GETARG_TEXT_PP(3));
	if (K <= 0 || K > MAX_NEIGHBORS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("neighbors must be between 1 and %d, not %d", MAX_NEIGHBORS, K)));
	if (strcmp(similarity_name, "cosine") == 0)
		similarity = ITEM_SIMILARITY_COSINE;
	else if (strcmp(similarity_name, "jaccard") == 0)
		similarity = ITEM_SIMILARITY_JACCARD;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown similarity \"%s\"", similarity_name),
				 errhint("Use cosine or jaccard.")));
	CheckModelName(run.name, run.replace, 0);

	read_seconds = TrainingRead(&run, &data);

	INSTR_TIME_SET_CURRENT(phase);
	norms = palloc_extended(sizeof(double) * data.items, MCXT_ALLOC_HUGE);
	acc = palloc_extended(sizeof(double) * data.items, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	touched = palloc_extended(sizeof(int32) * data.items, MCXT_ALLOC_HUGE);
	scratch = palloc_extended(sizeof(float) * data.items, MCXT_ALLOC_HUGE);
	per_item = Min(K, data.items);
	offsets = palloc_extended(sizeof(int64) * ((Size) data.items + 1), MCXT_ALLOC_HUGE);
	neighbors = palloc_extended(sizeof(int32) * (Size) data.items * per_item,
								MCXT_ALLOC_HUGE);
	neighbor_sims = palloc_extended(sizeof(float) * (Size) data.items * per_item,
									MCXT_ALLOC_HUGE);
	for (int i = 0; i < data.items; i++)
	{
		double		s = 0.0;

		for (int64 e = data.by_item.indptr[i]; e < data.by_item.indptr[i + 1]; e++)
			s += (double) data.by_item.weights[e] * data.by_item.weights[e];
		norms[i] = sqrt(s);
	}
	for (int i = 0; i < data.items; i++)
	{
		CHECK_FOR_INTERRUPTS();
		offsets[i] = total;
		total += ItemNeighbors(&data.by_item, &data.by_user, norms, similarity, i,
							   per_item, acc, touched, scratch,
							   neighbors + total, neighbor_sims + total);
	}
	offsets[data.items] = total;
	train_seconds = SecondsSince(phase);

	initStringInfo(&params);
	appendStringInfo(&params, "{\"neighbors\": %d, \"similarity\": \"%s\", ",
					 K, similarity == ITEM_SIMILARITY_COSINE ? "cosine" : "jaccard");
	AppendSourceParams(&params, &data);
	model_id = PrepareModelRow(run.name, "item_knn", 0, run.replace, params.data,
							   run.description);
	WriteNeighbors(model_id, false, data.item_ids, data.items, offsets, neighbors,
				   neighbor_sims);
	WriteInteractions(model_id, data.user_ids, &data.by_user, data.item_ids);

	initStringInfo(&metrics);
	AppendTrainingCounts(&metrics, &data);
	appendStringInfo(&metrics, ", \"neighbor_pairs\": " INT64_FORMAT, total);
	AppendJsonField(&metrics, "read_seconds", read_seconds);
	AppendJsonField(&metrics, "train_seconds", train_seconds);
	appendStringInfoString(&metrics, "}}");
	FinishModelRow(model_id, NULL, 0, metrics.data, SecondsSince(run.start));
	ereport(NOTICE,
			(errmsg("train_item_knn \"%s\": " INT64_FORMAT " neighbor pairs in %.3f s (read %.3f s, neighbors %.3f s)",
					run.name, total, SecondsSince(run.start), read_seconds, train_seconds)));
	TrainingEnd(&run);
	PG_RETURN_VOID();
}
