/*
 * item_vector.c
 *	  rerank.item_vector(item_id, model): an item's vector served from the
 *	  backend's model cache.
 */
#include "postgres.h"

#include "cache/model_cache.h"
#include "common/vector_arg.h"
#include "fmgr.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(item_vector);

/* The item's vector in the model (NULL: the active one); NULL if it has none. */
Datum
item_vector(PG_FUNCTION_ARGS)
{
	int64		item_id;
	const CachedModel *model;
	const float *vector;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	item_id = PG_GETARG_INT64(0);
	model = ModelByName(PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)));
	if (model == NULL)
		PG_RETURN_NULL();
	vector = ModelItemVector(model, item_id, NULL);
	if (vector == NULL)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(BuildVector(vector, model->dimensions));
}
