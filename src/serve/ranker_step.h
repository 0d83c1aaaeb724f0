/*
 * ranker_step.h
 *	  The learned ranker's step of the scoring pipeline (ranker_step.c): the
 *	  forest of the serving ranker scores the candidates' feature rows in
 *	  place of the hand-weighted blend.
 */
#ifndef RERANK_RANKER_STEP_H
#define RERANK_RANKER_STEP_H

#include "postgres.h"

#include "serve/scoring.h"

/*
 * Scores ctx's candidates with ctx->req.ranker over ctx->features (all
 * rows at once, GbdtForestPredict); with ctx->terms (explain), each
 * candidate's exact TreeSHAP contributions into its terms and its bias
 * into ctx->ranker_bias, which add up to its score.  Sets ctx->bad.
 */
extern void RankerStep(ScoringContext *ctx);

#endif							/* RERANK_RANKER_STEP_H */
