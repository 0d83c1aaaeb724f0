/*
 * train_als.c
 *	  CALL rerank.train_als(...): implicit-feedback ALS trained inside the
 *	  backend and written into the model registry.
 *
 * The source is read once into both CSR orientations (train_source.c);
 * then each iteration solves all users against the items and all items
 * against the users (the implicit library's order), by conjugate gradient
 * (default) or Cholesky, and reports its loss.  After the last iteration the
 * users are solved once more, exactly, against the final item factors: the
 * solve of rerank.als_fold_in (both end in AlsSolveSums), so a stored user
 * vector is what that aggregate gives from the same history.  The real-time
 * fold-in (AlsFoldIn) solves the same system with the history's part summed
 * in single precision, so it agrees to float rounding.
 * Interrupts are checked between blocks of rows; all writes happen at the
 * end, in the caller's transaction.
 */
#include "postgres.h"

#include <math.h>

#include "common/vector_arg.h"
#include "core/als_solve.h"
#include "core/vec.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "model/model_write.h"
#include "portability/instr_time.h"
#include "train/train_common.h"
#include "train/train_source.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* Largest iterations and CG steps accepted. */
#define MAX_ITERATIONS 10000
#define MAX_CG_STEPS 100

/* Hyper-parameters of one training run. */
typedef struct AlsOptions
{
	int			factors;
	double		regularization;
	double		alpha;
	int			iterations;
	bool		cholesky;
	int			cg_steps;
	int64		seed;
} AlsOptions;

/* Gram matrix of n rows of Y (upper triangle, doubles), block by block. */
static void
ComputeGram(const float *Y, int n, int k, double *G, double *work)
{
	/* blocks of about 2^28 multiply-adds between interrupt checks */
	int			block = Max(1, (int) Min(4096, (1 << 28) / ((int64) k * k)));

	memset(G, 0, sizeof(double) * k * k);
	for (int start = 0; start < n; start += block)
	{
		CHECK_FOR_INTERRUPTS();
		AlsGramAccumulate(Y, start, Min(n, start + block), k, G, work);
	}
}

/*
 * Solves every row of X against Y exactly (Cholesky) with YᵀY in gram;
 * returns the objective Σ (xᵀAx − 2bᵀx).
 */
static double
ExactSolve(const AlsCsr *m, float *X, const float *Y, int k, const float *gram,
		   const AlsOptions *o, double *dwork)
{
	double		objective = 0.0;

	for (int r = 0; r < m->rows; r++)
	{
		double		part;

		CHECK_FOR_INTERRUPTS();
		part = AlsExactRow(m, r, X, Y, k, gram, o->regularization, o->alpha,
						   dwork);
		if (isnan(part))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("the ALS system is not positive definite"),
					 errhint("Use a positive regularization.")));
		objective += part;
	}
	return objective;
}

/*
 * Solves every row of X against Y (m->cols rows); returns the half-step
 * objective Σ (xᵀAx − 2bᵀx), which costs CG one more pass and is 0 without
 * with_objective.  gram receives YᵀY as the solver wants it: plus λI for
 * CG, without for the exact solve (which adds λ in double precision).
 */
static double
HalfStep(const AlsCsr *m, float *X, const float *Y, const AlsOptions *o,
		 bool with_objective, double *G, double *dwork, float *gram,
		 float *fwork)
{
	int			k = o->factors;
	double		objective = 0.0;

	ComputeGram(Y, m->cols, k, G, dwork);
	if (o->cholesky)
	{
		AlsGramToFloat(G, k, 0.0, gram);
		return ExactSolve(m, X, Y, k, gram, o, dwork);
	}
	AlsGramToFloat(G, k, o->regularization, gram);
	for (int b = 0; b < m->rows; b += ALS_BLOCK_ROWS)
	{
		CHECK_FOR_INTERRUPTS();
		objective += AlsCgBlock(m, b, Min(m->rows, b + ALS_BLOCK_ROWS), X, Y,
								k, gram, o->alpha, o->cg_steps, with_objective,
								fwork);
	}
	return objective;
}

/* Validates the arguments that are known before reading the source. */
static void
ValidateOptions(const AlsOptions *o)
{
	if (o->factors <= 0 || o->factors > RERANK_MAX_DIMENSIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("factors must be between 1 and %d, not %d",
						RERANK_MAX_DIMENSIONS, o->factors)));
	if (!(o->regularization >= 0) || !isfinite(o->regularization))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("regularization must be finite and not negative, not %g",
						o->regularization)));
	if (o->regularization > ALS_MAX_REGULARIZATION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("regularization must be at most %g, not %g",
						ALS_MAX_REGULARIZATION, o->regularization),
				 errdetail("A larger regularization leaves every vector at zero.")));
	if (!(o->alpha >= 0) || !isfinite(o->alpha))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha must be finite and not negative, not %g", o->alpha)));
	if (o->alpha > ALS_MAX_ALPHA)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("alpha must be at most %g, not %g", ALS_MAX_ALPHA, o->alpha),
				 errdetail("The confidence 1 + alpha * weight of a (user, item) pair must be at most %g.",
						   ALS_MAX_CONFIDENCE)));
	if (o->iterations <= 0 || o->iterations > MAX_ITERATIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("iterations must be between 1 and %d, not %d",
						MAX_ITERATIONS, o->iterations)));
	if (o->cg_steps <= 0 || o->cg_steps > MAX_CG_STEPS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cg_steps must be between 1 and %d, not %d",
						MAX_CG_STEPS, o->cg_steps)));
	if (o->cholesky && o->regularization == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the cholesky solver needs a positive regularization")));
}

/*
 * A float matrix of rows × k, checked against the allocation limit and
 * aligned to a cache line, so that a row of 64 floats is 4 lines, not 5.
 */
static float *
AllocFactors(int64 rows, int k, const char *what)
{
	Size		bytes = mul_size(mul_size((Size) rows, (Size) k), sizeof(float));

	if (bytes > MaxAllocHugeSize / 2)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s factors of " INT64_FORMAT " × %d floats are too large",
						what, rows, k)));
	return (float *) TYPEALIGN(PG_CACHE_LINE_SIZE,
							   palloc_extended(bytes + PG_CACHE_LINE_SIZE, MCXT_ALLOC_HUGE));
}

/* Appends a member (, "key": [numbers]) to a JSON object. */
static void
AppendJsonArray(StringInfo buf, const char *key, const double *v, int n)
{
	appendStringInfo(buf, ", \"%s\": [", key);
	for (int i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		AppendJsonNumber(buf, v[i]);
	}
	appendStringInfoString(buf, "]");
}

PG_FUNCTION_INFO_V1(train_als);

/*
 * train_als(model_name, source, factors, regularization, alpha, iterations,
 * activate, replace, solver, cg_steps, seed, weight_column, description)
 */
Datum
train_als(PG_FUNCTION_ARGS)
{
	TrainingRun run;
	AlsOptions	o;
	char	   *solver;
	Interactions data;
	instr_time	phase;
	double		read_seconds,
				train_seconds,
				cpu_start,
				read_cpu,
				train_cpu,
				write_seconds,
				final_objective,
				final_loss,
				total_conf;
	double	   *losses,
			   *seconds;
	int			k;
	float	   *X,
			   *Y,
			   *gram,
			   *fwork;
	double	   *G,
			   *dwork;
	StringInfoData params,
				metrics;
	int32		model_id;

	TrainingArgs(fcinfo, "train_als", 6, 11, &run);
	o.factors = PG_GETARG_INT32(2);
	o.regularization = PG_GETARG_FLOAT8(3);
	o.alpha = PG_GETARG_FLOAT8(4);
	o.iterations = PG_GETARG_INT32(5);
	solver = text_to_cstring(PG_GETARG_TEXT_PP(8));
	o.cg_steps = PG_GETARG_INT32(9);
	o.seed = PG_GETARG_INT64(10);
	if (strcmp(solver, "cg") == 0)
		o.cholesky = false;
	else if (strcmp(solver, "cholesky") == 0)
		o.cholesky = true;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown solver \"%s\"", solver),
				 errhint("Use cg or cholesky.")));
	ValidateOptions(&o);
	k = o.factors;
	CheckModelName(run.name, run.replace, k);

	cpu_start = CpuSeconds();
	read_seconds = TrainingRead(&run, &data);
	read_cpu = CpuSeconds() - cpu_start;
	CheckInteractionWeights(&data, o.alpha);

	/* implicit's initialization: uniform [0, 1) · 0.01, both sides */
	INSTR_TIME_SET_CURRENT(phase);
	X = AllocFactors(data.users, k, "user");
	Y = AllocFactors(data.items, k, "item");
	AlsRandomFill(X, (size_t) data.users * k, (uint64) o.seed * 2 + 1, 0.01f);
	AlsRandomFill(Y, (size_t) data.items * k, (uint64) o.seed * 2 + 2, 0.01f);
	G = palloc(sizeof(double) * k * k);
	gram = palloc(sizeof(float) * k * k);
	fwork = palloc(sizeof(float) * AlsCgWorkspace(k));
	dwork = palloc(sizeof(double) * Max(AlsExactWorkspace(k), (size_t) ALS_GATHER_ROWS * k));
	losses = palloc(sizeof(double) * o.iterations);
	seconds = palloc(sizeof(double) * o.iterations);
	total_conf = AlsTotalConfidence(&data.by_user, o.alpha);

	for (int it = 0; it < o.iterations; it++)
	{
		instr_time	it_start;
		double		objective;

		INSTR_TIME_SET_CURRENT(it_start);
		/* the loss needs the objective of the second half-step only */
		(void) HalfStep(&data.by_user, X, Y, &o, false, G, dwork, gram, fwork);
		objective = HalfStep(&data.by_item, Y, X, &o, true, G, dwork, gram, fwork);
		losses[it] = AlsLoss(&data.by_item, objective,
							 AlsSquaredNorms(X, data.users, k),
							 o.regularization, total_conf);
		seconds[it] = SecondsSince(it_start);
		ereport(NOTICE,
				(errmsg("train_als \"%s\": iteration %d of %d, loss %.6f, %.3f s",
						run.name, it + 1, o.iterations, losses[it], seconds[it])));
	}

	/*
	 * The final exact user solve against the final items, with the YᵀY that
	 * is stored (double sums rounded to float), as fold-in computes it.
	 */
	ComputeGram(Y, data.items, k, G, dwork);
	AlsGramToFloat(G, k, 0.0, gram);
	final_objective = ExactSolve(&data.by_user, X, Y, k, gram, &o, dwork);
	final_loss = AlsLoss(&data.by_user, final_objective,
						 AlsSquaredNorms(Y, data.items, k),
						 o.regularization, total_conf);
	train_seconds = SecondsSince(phase);
	train_cpu = CpuSeconds() - cpu_start - read_cpu;
	/* the inputs are checked; this only keeps a diverged run unregistered */
	if (!isfinite(final_loss) ||
		VecFindNonFinite(X, (size_t) data.users * k) < (size_t) data.users * k ||
		VecFindNonFinite(Y, (size_t) data.items * k) < (size_t) data.items * k)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("train_als \"%s\": training diverged (final loss %g)",
						run.name, final_loss),
				 errhint("Lower alpha or the weights, or raise the regularization.")));

	/* register: the model row, vectors, interactions, then YᵀY */
	INSTR_TIME_SET_CURRENT(phase);
	initStringInfo(&params);
	appendStringInfo(&params, "{\"factors\": %d, \"regularization\": ", k);
	AppendJsonNumber(&params, o.regularization);
	appendStringInfoString(&params, ", \"alpha\": ");
	AppendJsonNumber(&params, o.alpha);
	appendStringInfo(&params, ", \"confidence\": \"1 + alpha * r\", \"iterations\": %d, "
					 "\"solver\": \"%s\", \"cg_steps\": %d, \"seed\": " INT64_FORMAT ", "
					 "\"final_user_solve\": \"exact\", ",
					 o.iterations, o.cholesky ? "cholesky" : "cg", o.cg_steps, o.seed);
	AppendSourceParams(&params, &data);

	model_id = PrepareModelRow(run.name, "als", k, run.replace, params.data,
							   run.description);
	WriteFactors(model_id, true, data.item_ids, Y, data.items, k);
	WriteFactors(model_id, false, data.user_ids, X, data.users, k);
	WriteInteractions(model_id, data.user_ids, &data.by_user, data.item_ids);
	write_seconds = SecondsSince(phase);

	initStringInfo(&metrics);
	AppendTrainingCounts(&metrics, &data);
	AppendJsonArray(&metrics, "loss", losses, o.iterations);
	AppendJsonArray(&metrics, "iteration_seconds", seconds, o.iterations);
	AppendJsonField(&metrics, "final_loss", final_loss);
	AppendJsonField(&metrics, "read_seconds", read_seconds);
	AppendJsonField(&metrics, "train_seconds", train_seconds);
	AppendJsonField(&metrics, "read_cpu_seconds", read_cpu);
	AppendJsonField(&metrics, "train_cpu_seconds", train_cpu);
	AppendJsonField(&metrics, "write_seconds", write_seconds);
	appendStringInfoString(&metrics, "}}");
	FinishModelRow(model_id, gram, k, metrics.data, SecondsSince(run.start));
	ereport(NOTICE,
			(errmsg("train_als \"%s\": trained in %.3f s (read %.3f s, train %.3f s, write %.3f s), final loss %.6f",
					run.name, SecondsSince(run.start), read_seconds, train_seconds,
					write_seconds, final_loss)));
	TrainingEnd(&run);
	PG_RETURN_VOID();
}
