/*
 * als_fold_in.c
 *	  The rerank.als_fold_in(item_factors, weight, model_name) aggregate: the
 *	  ALS user vector for one user's rows, that is one ALS half-step in SQL.
 *
 * The state is a plain float8[] (agg_state.h header, then model_id, k, the
 * sums S = Σ r·y yᵀ (upper triangle), Σ y and Σ r·y): sums that add up, so
 * partial states from parallel workers or distributed shards combine by
 * addition.  The final function adds the model's YᵀY, λ and α and solves by
 * Cholesky through the same core function as the last step of training
 * (AlsSolveSums), so for a user's training rows it gives the stored user
 * vector to float tolerance.  The confidence of a row is c = 1 + α·r with r
 * its weight: rows must be one per (user, item), weights summed.
 */
#include "postgres.h"

#include <math.h>

#include "cache/model_cache.h"
#include "common/agg_state.h"
#include "common/vector_arg.h"
#include "core/als_train.h"
#include "fmgr.h"
#include "utils/builtins.h"

#define FOLD_IN_NAME "als_fold_in"

/* The model a state function last looked up. */
typedef struct FoldInModel
{
	char		name[NAMEDATALEN];
	int32		model_id;
	int			dimensions;
} FoldInModel;

/*
 * Checks the payload of a non-empty state against the model (model_id and
 * k; model_id 0: only the state's own layout) and returns its k.
 */
static int
FoldInStateK(ArrayType *state, int payload, int32 model_id, int k,
			 const char *model_name)
{
	double	   *values = AGG_STATE_VALUES(state) + AGG_HEADER;
	int32		state_model;
	int			state_k;
	AggCheck	check = model_id > 0 ?
		AggFoldInCheck(values, (size_t) payload, model_id, k) :
		AggFoldInLayout(values, (size_t) payload, &state_model, &state_k);

	if (check == AGG_OTHER_MODEL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg(FOLD_IN_NAME ": the state is about model id %d, not model \"%s\"",
						(int32) values[0], model_name),
				 errdetail("The rows of one group name different models.")));
	if (check == AGG_OTHER_DIMENSIONS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg(FOLD_IN_NAME ": the state has %d dimensions, model \"%s\" has %d",
						(int) values[1], model_name, k)));
	if (check != AGG_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid transition state for " FOLD_IN_NAME),
				 errdetail("The state does not hold a model id, dimensions and their sums.")));
	return model_id > 0 ? k : state_k;
}

/* The model of the state function's name argument, looked up once per name. */
static FoldInModel *
FoldInLookup(FunctionCallInfo fcinfo, const char *name)
{
	FoldInModel *model = (FoldInModel *) fcinfo->flinfo->fn_extra;

	if (model == NULL || strcmp(model->name, name) != 0)
	{
		int			dimensions;
		int32		model_id = ModelIdByName(name, &dimensions);

		if (dimensions < 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no factors", name)));
		if (model == NULL)
			model = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FoldInModel));
		strlcpy(model->name, name, NAMEDATALEN);
		model->model_id = model_id;
		model->dimensions = dimensions;
		fcinfo->flinfo->fn_extra = model;
	}
	return model;
}

PG_FUNCTION_INFO_V1(als_fold_in_accum);

/*
 * State function: adds one (item vector, weight) row.  The model is looked
 * up first and a non-empty state checked against it (model id, dimensions,
 * length) before anything else reads or writes it.
 */
Datum
als_fold_in_accum(PG_FUNCTION_ARGS)
{
	ArrayType  *state;
	ArrayType  *factors;
	double		weight;
	char	   *name;
	FoldInModel *model;
	bool		in_aggregate = AggCheckCallContext(fcinfo, NULL) != 0;
	int			payload;
	int			k;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg(FOLD_IN_NAME " state must not be NULL")));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg(FOLD_IN_NAME ": model name must not be NULL")));
	state = PG_GETARG_ARRAYTYPE_P(0);
	payload = AggStatePayloadLength(state, FOLD_IN_NAME, !in_aggregate);
	name = text_to_cstring(PG_GETARG_TEXT_PP(3));
	model = FoldInLookup(fcinfo, name);
	k = model->dimensions;
	if (payload >= 0)
		(void) FoldInStateK(state, payload, model->model_id, k, name);

	/* rows without a vector or weight (outer joins) are skipped */
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_ARRAYTYPE_P(state);
	weight = PG_GETARG_FLOAT4(2);
	if (isnan(weight) || isinf(weight) || weight < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg(FOLD_IN_NAME ": weight must be finite and not negative, not %g", weight)));
	if (weight == 0)
		PG_RETURN_ARRAYTYPE_P(state);	/* preference 0: no row */
	factors = PG_GETARG_ARRAYTYPE_P(1);
	if (VectorArgLength(factors, "item_factors") != k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg(FOLD_IN_NAME ": item_factors have %d dimensions, model \"%s\" has %d",
						VectorArgLength(factors, "item_factors"), name, k)));
	CheckVectorFinite(VECTOR_DATA(factors), k, "item_factors");

	state = AggStateForUpdate(fcinfo, state, (int) AggFoldInPayload(k));
	if (payload < 0)
		AggFoldInInit(AGG_STATE_VALUES(state) + AGG_HEADER, model->model_id, k);
	if (AggFoldInAdd(AGG_STATE_VALUES(state), AggFoldInPayload(k) + AGG_HEADER,
					 VECTOR_DATA(factors), weight) != AGG_OK)
		elog(ERROR, FOLD_IN_NAME " state of the wrong length");
	PG_RETURN_ARRAYTYPE_P(state);
}

PG_FUNCTION_INFO_V1(als_fold_in_combine);

/*
 * Combine function: adds the sums of two states of the same model.  It has
 * no model argument: each state's own layout is checked here, their keys
 * (model id, dimensions) must be equal, and the final function checks them
 * against the model before solving.
 */
Datum
als_fold_in_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *s1 = PG_GETARG_ARRAYTYPE_P(0);
	ArrayType  *s2 = PG_GETARG_ARRAYTYPE_P(1);
	/* lengths only: AggStateCombine checks the values */
	int			p1 = AggStatePayloadLength(s1, FOLD_IN_NAME, false);
	int			p2 = AggStatePayloadLength(s2, FOLD_IN_NAME, false);

	if (p1 >= 0)
		(void) FoldInStateK(s1, p1, 0, 0, NULL);
	if (p2 >= 0)
		(void) FoldInStateK(s2, p2, 0, 0, NULL);
	/* model id and dimensions are the keys; the sums add up */
	PG_RETURN_ARRAYTYPE_P(AggStateCombine(fcinfo, s1, s2, FOLD_IN_NAME,
										  AGG_FOLD_IN_KEYS, "models"));
}

PG_FUNCTION_INFO_V1(als_fold_in_final);

/* Final function: the user vector, NULL for no rows. */
Datum
als_fold_in_final(PG_FUNCTION_ARGS)
{
	ArrayType  *state = PG_GETARG_ARRAYTYPE_P(0);
	int			payload = AggStatePayloadLength(state, FOLD_IN_NAME, true);
	const CachedModel *model = (const CachedModel *) fcinfo->flinfo->fn_extra;
	double	   *v;
	double	   *S;
	double	   *work;
	int			k;
	int32		model_id;
	float	   *x;
	ArrayType  *result;

	if (payload < 0)
		PG_RETURN_NULL();
	k = FoldInStateK(state, payload, 0, 0, NULL);
	v = AGG_STATE_VALUES(state) + AGG_HEADER;
	model_id = (int32) v[0];
	if (model == NULL || model->model_id != model_id)
	{
		model = ModelById(model_id);
		if (model->gram == NULL && model->dimensions > 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("model \"%s\" has no item factors", model->name)));
		fcinfo->flinfo->fn_extra = (void *) model;
	}
	(void) FoldInStateK(state, payload, model->model_id, model->dimensions,
						model->name);
	S = v + AGG_FOLD_IN_KEYS;
	work = palloc(sizeof(double) * (k * k + k));
	result = NewVector(k, &x);
	if (!AlsSolveSums(model->gram, k, model->regularization, model->alpha,
					  S, S + k * k, S + k * k + k, x, work))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg(FOLD_IN_NAME ": the system of model \"%s\" is not positive definite",
						model->name),
				 errhint("The model needs a positive regularization.")));
	pfree(work);
	PG_RETURN_ARRAYTYPE_P(result);
}
