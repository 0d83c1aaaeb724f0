/*
 * ranker_step.c
 *	  The learned ranker's step of the scoring pipeline (see ranker_step.h).
 *
 * The rows are the features the pipeline computed (doubles, NaN missing);
 * the forest reads floats, as XGBoost does and as training fed it: each
 * value is rounded to float once, here as in the trainer, so the margins
 * are what XGBoost would give for the same rows.
 */
#include "postgres.h"

#include <math.h>

#include "core/features.h"
#include "core/gbdt_forest.h"
#include "miscadmin.h"
#include "serve/ranker_step.h"

/* Rows per call of the evaluator: bounds the float copy. */
#define RANKER_BLOCK_ROWS 1024

void
RankerStep(ScoringContext *ctx)
{
	const GbdtForest *forest = ctx->req.ranker;
	int			n = ctx->n;
	float	   *x = CandidateAlloc(Min(n, RANKER_BLOCK_ROWS), sizeof(float) * FEATURE_COUNT);
	float	   *out = CandidateAlloc(Min(n, RANKER_BLOCK_ROWS), sizeof(float));
	void	   *work = palloc(GbdtPredictWorkspace(forest));

	ctx->bad = n;
	for (int start = 0; start < n; start += RANKER_BLOCK_ROWS)
	{
		int			rows = Min(RANKER_BLOCK_ROWS, n - start);
		const double *row = ctx->features + (Size) start * FEATURE_COUNT;

		for (Size v = 0; v < (Size) rows * FEATURE_COUNT; v++)
			x[v] = (float) row[v];
		GbdtForestPredict(forest, x, rows, out, work);
		for (int i = 0; i < rows; i++)
		{
			ctx->items[start + i].score = out[i];
			if (!isfinite(out[i]) && ctx->bad == n)
				ctx->bad = start + i;
		}
		CHECK_FOR_INTERRUPTS();
	}

	/* explain(): each feature's exact share (TreeSHAP) and the bias */
	if (ctx->terms != NULL)
	{
		float	   *contribs = palloc(sizeof(float) * (FEATURE_COUNT + 1));
		void	   *shap_work = palloc(GbdtContributionsWorkspace(forest));

		ctx->ranker_bias = CandidateAlloc(n, sizeof(double));
		for (int i = 0; i < n; i++)
		{
			const double *row = ctx->features + (Size) i * FEATURE_COUNT;

			for (int f = 0; f < FEATURE_COUNT; f++)
				x[f] = (float) row[f];
			GbdtForestContributions(forest, x, contribs, shap_work);
			for (int f = 0; f < FEATURE_COUNT; f++)
				ctx->terms[(Size) i * FEATURE_COUNT + f] = contribs[f];
			ctx->ranker_bias[i] = contribs[FEATURE_COUNT];
			if ((i & 63) == 63)
				CHECK_FOR_INTERRUPTS();
		}
	}
}
