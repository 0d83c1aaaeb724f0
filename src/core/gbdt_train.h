/*
 * gbdt_train.h
 *	  LambdaMART training through XGBoost's C API, for the learned ranker.
 *	  Pure C, no PostgreSQL headers.
 *
 * XGBoost (Debian's libxgboost0) is loaded with dlopen on the first call
 * that needs it, never at the backend's start: linking it into rerank.so
 * would cost every new connection that calls rerank the loading of
 * libxgboost, libstdc++, libgomp and libdmlc (measured: +21 ms for a
 * connection and its first call, +5.4 MB resident per backend) although
 * serving never calls it — serving uses gbdt_forest.h.  Nothing
 * here links against XGBoost; the prototypes come from its header, so a
 * changed API fails the build.
 *
 * Threads: XGBoost runs with nthread = 1 and OpenMP's default team size
 * is set to 1 when the library is loaded, so no OpenMP thread starts in
 * the calling process (the unit tests count the process's threads).
 *
 * Resources: every XGBoost handle is kept in a caller-owned GbdtTrainer,
 * so that GbdtTrainerRelease frees them whatever happened: after an error,
 * after a stop asked for by the check callback, and after the callback
 * left by a longjmp (a PostgreSQL ERROR).  XGBoost's own errors come back
 * as GBDT_XGBOOST with its message; nothing here aborts the process.
 *
 * From a backend (train_ranker):
 *
 *		GbdtTrainer t;
 *		GbdtTrainerInit(&t);
 *		PG_TRY();
 *		{
 *			if (GbdtTrain(&t, &data, &params, check, &state) == GBDT_CANCELLED)
 *				CHECK_FOR_INTERRUPTS();		   (then an error of its own)
 *			… other statuses: ereport(ERROR, … t.error) …
 *			… copy t.model (t.model_len bytes) into a bytea …
 *		}
 *		PG_FINALLY();
 *		{
 *			GbdtTrainerRelease(&t);
 *		}
 *		PG_END_TRY();
 *
 * where check returns InterruptPending when round is GBDT_LOADING and
 * otherwise calls GbdtCheckInterrupts (and reports progress).  The rows
 * are the caller's (palloc_extended(…, MCXT_ALLOC_HUGE)); XGBoost's memory
 * is its own (malloc), outside PostgreSQL's accounting: a peak of about
 * 240 MB per million rows of 30 features at 256 bins (test/bench/gbdt.sh).
 */
#ifndef RERANK_GBDT_TRAIN_H
#define RERANK_GBDT_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a call returns; the message is in the trainer's error. */
typedef enum GbdtStatus
{
	GBDT_OK = 0,
	GBDT_INVALID,				/* bad data or parameters */
	GBDT_NO_LIBRARY,			/* XGBoost cannot be loaded */
	GBDT_XGBOOST,				/* XGBoost reported an error */
	GBDT_CANCELLED				/* the check callback asked to stop */
} GbdtStatus;

#define GBDT_TRAIN_ERROR_LEN 512

/* Limits on the training parameters. */
#define GBDT_TRAIN_MAX_TREES	10000
#define GBDT_TRAIN_MAX_DEPTH	16

/*
 * Training examples: rows × features floats, row-major, NaN = missing
 * (±Infinity is rejected: XGBoost refuses it); one label per row, graded
 * relevance 0 … 31 (NDCG's gain 2^label − 1); groups ranking groups
 * (queries: one page view, one event) whose rows are adjacent, sizes in
 * order, summing to rows.
 */
typedef struct GbdtTrainData
{
	const float *x;
	const float *label;
	const uint32_t *group_sizes;
	int64_t		rows;
	int			features;
	int			groups;
	int64_t		batch_rows;		/* rows per batch handed to XGBoost (whole
								 * groups); 0: about a million values */
} GbdtTrainData;

/*
 * Booster parameters (XGBoost's names in brackets).  GbdtParamsDefault
 * gives a LambdaMART ranker: rank:ndcg, hist trees of depth 6, 100 rounds
 * of learning rate 0.1.
 */
typedef struct GbdtParams
{
	const char *objective;		/* rank:ndcg, rank:pairwise or rank:map */
	int			trees;			/* boosting rounds (num_boost_round) */
	int			max_depth;		/* [max_depth] */
	double		learning_rate;	/* [eta] */
	double		min_child_weight;	/* [min_child_weight] */
	double		lambda;			/* L2 on leaf weights [lambda] */
	double		alpha;			/* L1 on leaf weights [alpha] */
	double		gamma;			/* minimum loss reduction to split [gamma] */
	double		subsample;		/* rows sampled per tree [subsample] */
	double		colsample_bytree;	/* features sampled per tree */
	int			max_bin;		/* histogram bins per feature [max_bin] */
	uint64_t	seed;			/* [seed], folded to the 32 bits XGBoost
								 * uses: same seed, same data → same bytes */
} GbdtParams;

/*
 * The check a training calls: while XGBoost builds the training matrix,
 * between batches of about a million values, with round = GBDT_LOADING;
 * then before every boosting round with the round's number (for progress
 * reports).  Returns true to stop training (GbdtTrain then returns
 * GBDT_CANCELLED).  Between rounds (round ≥ 0) it may instead leave by
 * longjmp, after which the caller must still call GbdtTrainerRelease; with
 * GBDT_LOADING it must return, since XGBoost's C++ frames are on the stack
 * then (a backend polls InterruptPending there and processes the
 * interrupt after GbdtTrain has returned).  A cancel waits at most one
 * batch or one round: on this 2-core VM a round takes 0.5 to 1 s per
 * million rows of 30 features at depth 6, and XGBoost's merge between its
 * passes over the batches up to 0.5 s (test/bench/gbdt.sh).
 */
typedef bool (*GbdtCheckFn) (void *arg, int round);

#define GBDT_LOADING (-1)

/*
 * The core's interrupt mechanism as a GbdtCheckFn, a thin adapter: between
 * rounds calls CoreCheckInterrupts (interrupt.h; the glue's hook runs
 * CHECK_FOR_INTERRUPTS), so a cancel or statement_timeout leaves by
 * longjmp; the caller's PG_FINALLY then releases the trainer.  The core's hook may jump, so it is not called
 * with GBDT_LOADING: a backend that wants the matrix build interruptible
 * passes its own check that polls there.  Never asks to stop by itself.
 */
extern bool GbdtCheckInterrupts(void *arg, int round);

/*
 * The XGBoost handles of one training and its result.  Caller-owned (on
 * the stack is fine): GbdtTrainerInit before use, GbdtTrainerRelease after,
 * always.  Fields are read-only for the caller.
 */
typedef struct GbdtTrainer
{
	void	   *proxy;			/* XGBoost DMatrixHandle of the batches */
	void	   *dmatrix;		/* XGBoost DMatrixHandle, or NULL */
	void	   *booster;		/* XGBoost BoosterHandle, or NULL */
	const char *model;			/* after GBDT_OK: the booster as JSON, */
	size_t		model_len;		/* owned by the booster (until release) */
	int			rounds;			/* boosting rounds done */
	char		error[GBDT_TRAIN_ERROR_LEN];
} GbdtTrainer;

extern void GbdtParamsDefault(GbdtParams *params);

/* Checks parameters; a message in err (GBDT_TRAIN_ERROR_LEN) when invalid. */
extern bool GbdtParamsCheck(const GbdtParams *params, char *err, size_t errlen);

/*
 * Loads XGBoost once per process (dlopen; never unloaded) and sets it up
 * for one thread and no log output.  Called by the functions below; a
 * caller may call it first to report a missing library early.
 */
extern GbdtStatus GbdtXgboostLoad(char *err, size_t errlen);

/* XGBoost's version, "1.7.4", or NULL when it cannot be loaded. */
extern const char *GbdtXgboostVersion(void);

extern void GbdtTrainerInit(GbdtTrainer *trainer);

/*
 * Trains a LambdaMART booster on data with params, one thread, calling
 * check (may be NULL) as described above.  XGBoost reads the rows in
 * batches into a quantile matrix (the histogram bins of the values, a
 * quarter of the rows' size at 256 bins) and keeps no copy of them.  On
 * GBDT_OK the model is in trainer->model (JSON,
 * XGBoosterSaveModelToBuffer).  Deterministic: the same data, parameters
 * and seed give the same bytes.
 *
 * JSON rather than UBJSON: serving reads it without XGBoost through a
 * small text reader (gbdt_xgb_json.c); a DBA can read the stored model in
 * SQL (convert_from(model, 'UTF8')::jsonb); XGBoost writes each float in
 * its shortest round-trip form, so nothing is lost (the forest's margins
 * equal XGBoost's bit for bit).  The price is size: 567 kB for 100 trees
 * of depth 6 on 30 features against 363 kB as UBJSON (158 kB gzipped), in
 * a bytea that TOAST compresses.
 */
extern GbdtStatus GbdtTrain(GbdtTrainer *trainer, const GbdtTrainData *data,
							const GbdtParams *params, GbdtCheckFn check,
							void *arg);

/* Frees every XGBoost handle of the trainer; safe to call at any point. */
extern void GbdtTrainerRelease(GbdtTrainer *trainer);

/*
 * Loads a saved model (JSON, as trained above) into the trainer's booster,
 * for XGBoost's own predictions below: the reference the forest is checked
 * against in the unit tests and the baseline of the benchmark.
 */
extern GbdtStatus GbdtXgboostLoadModel(GbdtTrainer *trainer,
									   const char *model, size_t model_len);

/*
 * XGBoost's predictions with the trainer's booster for rows × features
 * floats (NaN = missing), one thread: with contributions false the margin
 * of each row into out[rows] (in-place prediction from the dense rows,
 * XGBoost's fastest path); else pred_contribs through a DMatrix, rows ×
 * (features + 1) floats, bias last.
 */
extern GbdtStatus GbdtXgboostPredict(GbdtTrainer *trainer, const float *x,
									 int64_t rows, int features,
									 bool contributions, float *out);

#endif							/* RERANK_GBDT_TRAIN_H */
