/*
 * features_fn.c
 *	  rerank.candidate_features(user_id, item_ids, as_of, model): the rows
 *	  of features rerank() scores the candidates from, and
 *	  rerank.blend_weights(): the blend's weight of each feature.
 *
 * candidate_features runs rerank()'s gathering with every feature asked
 * for (scoring.h), so its values are the ones rerank() and explain() use.
 */
#include "postgres.h"

#include <math.h>

#include "cache/model_cache.h"
#include "common/vector_arg.h"
#include "core/features.h"
#include "core/id_index.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "serve/scoring.h"
#include "serve/settings.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

/* Arguments of candidate_features(), in SQL order. */
enum
{
	ARG_USER_ID = 0,
	ARG_ITEM_IDS,
	ARG_AS_OF,
	ARG_MODEL
};

PG_FUNCTION_INFO_V1(candidate_features);

/*
 * candidate_features(user_id, item_ids, as_of, model) → (item_id,
 * upstream_position, feature, value): NULL and duplicate ids are dropped
 * (the first position wins), as rerank() does.
 */
Datum
candidate_features(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext call;
	MemoryContext old;
	ScoringRequest req;
	ScoringContext ctx;
	ArrayType  *array;
	int			nelems;
	int64	   *ids;
	int32	   *positions;
	int			n;
	IdIndex		seen;
	size_t		slots;
	const char *model_name = NULL;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	memset(&req, 0, sizeof(req));
	req.as_of = ServeAsOf(fcinfo, ARG_AS_OF);
	if (!PG_ARGISNULL(ARG_MODEL))
		model_name = text_to_cstring(PG_GETARG_TEXT_PP(ARG_MODEL));
	req.model = ModelByName(model_name);
	if (PG_ARGISNULL(ARG_USER_ID) || PG_ARGISNULL(ARG_ITEM_IDS))
		return (Datum) 0;
	req.user_id = PG_GETARG_INT64(ARG_USER_ID);
	array = PG_GETARG_ARRAYTYPE_P(ARG_ITEM_IDS);
	nelems = IdArrayArgLength(array, "item_ids", RERANK_MAX_CANDIDATES, true);

	call = AllocSetContextCreate(CurrentMemoryContext, "rerank candidate features",
								 ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(call);

	/* distinct non-NULL ids with their upstream positions */
	ids = CandidateAlloc(Max(nelems, 1), sizeof(int64));
	positions = CandidateAlloc(Max(nelems, 1), sizeof(int32));
	n = IdArrayValues(array, nelems, ids);
	slots = IdIndexSlots((size_t) n);
	IdIndexInit(&seen, CandidateAlloc(slots, sizeof(int64)),
				CandidateAlloc(slots, sizeof(int32)), slots);
	{
		int			kept = 0;

		for (int i = 0; i < n; i++)
		{
			if (!IdIndexAdd(&seen, ids[i], i))
				continue;
			ids[kept] = ids[i];
			positions[kept] = kept + 1;
			kept++;
		}
		n = kept;
	}

	req.explain = true;
	ScoringGather(&ctx, &req, ids, n, positions);
	ScoringCompute(&ctx);
	MemoryContextSwitchTo(old);

	for (int i = 0; i < ctx.n; i++)
	{
		for (int f = 0; f < FEATURE_COUNT; f++)
		{
			Datum		values[4];
			bool		nulls[4] = {false, false, false, false};
			double		value = ctx.features[(Size) i * FEATURE_COUNT + f];

			values[0] = Int64GetDatum(ctx.feat_items[i].item_id);
			values[1] = Int32GetDatum(ctx.feat_items[i].position);
			values[2] = CStringGetTextDatum(FeatureName(f));
			values[3] = Float8GetDatum(value);
			nulls[3] = isnan(value);
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		}
		CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(call);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(blend_weights);

/* blend_weights() → (feature, setting, weight), in feature order. */
Datum
blend_weights(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (int f = 0; f < FEATURE_COUNT; f++)
	{
		const char *name = psprintf("rerank.%s", BlendWeightSetting(f));
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(FeatureName(f));
		values[1] = CStringGetTextDatum(name);
		values[2] = Float8GetDatum(strtod(GetConfigOption(name, false, false), NULL));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
