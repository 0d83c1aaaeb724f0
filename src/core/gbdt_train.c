/*
 * gbdt_train.c
 *	  LambdaMART training and reference predictions through XGBoost's C
 *	  API, loaded with dlopen (see gbdt_train.h).
 */
#include "core/gbdt_train.h"

#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "core/gbdt_forest.h"
#include "core/interrupt.h"

/* The library's name as Debian's libxgboost0 installs it. */
#ifndef RERANK_XGBOOST_LIBRARY
#define RERANK_XGBOOST_LIBRARY "libxgboost.so.0"
#endif

/* Highest label: NDCG's gain 2^label − 1 must stay exact in a float. */
#define GBDT_MAX_LABEL 31

/*
 * Feature values per batch handed to XGBoost while it builds the training
 * matrix (four passes over the batches).  The check runs between batches:
 * some 20 to 70 ms apart here.  The longest gap is XGBoost's merge of the
 * batches' sketches between its passes (0.3 s at a million rows of 30
 * features, test/bench/gbdt.sh); batches of a quarter of this size made
 * the build twice as slow without shortening that gap.
 */
#define GBDT_BATCH_VALUES (1 << 20)

/*
 * The functions used, resolved once.  Their types are those of the
 * header's declarations, so a changed signature fails the build.
 */
#define XGB_FUNCTIONS(X) \
	X(XGBoostVersion) \
	X(XGBGetLastError) \
	X(XGBSetGlobalConfig) \
	X(XGDMatrixCreateFromMat_omp) \
	X(XGProxyDMatrixCreate) \
	X(XGProxyDMatrixSetDataDense) \
	X(XGQuantileDMatrixCreateFromCallback) \
	X(XGDMatrixSetFloatInfo) \
	X(XGDMatrixSetUIntInfo) \
	X(XGDMatrixFree) \
	X(XGBoosterCreate) \
	X(XGBoosterFree) \
	X(XGBoosterSetParam) \
	X(XGBoosterUpdateOneIter) \
	X(XGBoosterSaveModelToBuffer) \
	X(XGBoosterLoadModelFromBuffer) \
	X(XGBoosterPredictFromDMatrix) \
	X(XGBoosterPredictFromDense)

#define XGB_FIELD(name) __typeof__(name) *name;
#define XGB_RESOLVE(name) \
	if ((xgb.name = (__typeof__(name) *) dlsym(handle, #name)) == NULL) \
		return LoadFail(err, errlen, "XGBoost lacks " #name);

static struct
{
	bool		loaded;
	char		version[32];
	XGB_FUNCTIONS(XGB_FIELD)
}			xgb;

/* Formats a message into err; returns status. */
static GbdtStatus Fail(char *err, size_t errlen, GbdtStatus status,
					   const char *fmt,...)
			__attribute__((format(printf, 4, 5)));

static GbdtStatus
Fail(char *err, size_t errlen, GbdtStatus status, const char *fmt,...)
{
	va_list		args;

	if (err != NULL && errlen > 0)
	{
		va_start(args, fmt);
		vsnprintf(err, errlen, fmt, args);
		va_end(args);
	}
	return status;
}

static GbdtStatus
LoadFail(char *err, size_t errlen, const char *what)
{
	return Fail(err, errlen, GBDT_NO_LIBRARY, "%s", what);
}

/*
 * XGBoost's message for a failed call, without the stack trace it appends
 * (and without the time stamp and source position it starts with).
 */
static GbdtStatus
XgbFail(GbdtTrainer *trainer, const char *call)
{
	const char *msg = xgb.XGBGetLastError();
	const char *trace;
	const char *text;
	int			len;

	if (msg == NULL)
		msg = "";
	/* "[15:09:50] ./src/file.cc:81: message\nStack trace: …" */
	text = msg;
	if (msg[0] == '[' && (text = strstr(msg, "] ")) != NULL &&
		(text = strstr(text + 2, ": ")) != NULL)
		text += 2;
	else
		text = msg;
	trace = strstr(text, "\nStack trace:");
	len = trace != NULL ? (int) (trace - text) : (int) strlen(text);
	return Fail(trainer->error, sizeof(trainer->error), GBDT_XGBOOST,
				"XGBoost %s failed: %.*s", call, len, text);
}

GbdtStatus
GbdtXgboostLoad(char *err, size_t errlen)
{
	void	   *handle;
	void		(*omp_set_threads) (int);
	int			major,
				minor,
				patch;

	if (xgb.loaded)
		return GBDT_OK;
	/* RTLD_LOCAL: XGBoost's and libstdc++'s symbols stay out of the backend's namespace */
	handle = dlopen(RERANK_XGBOOST_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL)
	{
		const char *why = dlerror();

		return Fail(err, errlen, GBDT_NO_LIBRARY,
					"cannot load XGBoost (%s): %s; install Debian's libxgboost0",
					RERANK_XGBOOST_LIBRARY, why != NULL ? why : "");
	}
	XGB_FUNCTIONS(XGB_RESOLVE)

	/*
	 * OpenMP's default team size for regions without a num_threads clause
	 * (XGBoost passes nthread to most, not necessarily all): 1.  libgomp
	 * starts no thread at load; only a region with more than one thread
	 * would.
	 */
	omp_set_threads = (void (*) (int)) dlsym(handle, "omp_set_num_threads");
	if (omp_set_threads == NULL)
		return LoadFail(err, errlen, "XGBoost's OpenMP runtime lacks omp_set_num_threads");
	omp_set_threads(1);

	/* no log output: errors come back through XGBGetLastError */
	if (xgb.XGBSetGlobalConfig("{\"verbosity\": 0}") != 0)
		return Fail(err, errlen, GBDT_XGBOOST, "XGBoost global config failed: %s",
					xgb.XGBGetLastError());
	xgb.XGBoostVersion(&major, &minor, &patch);
	snprintf(xgb.version, sizeof(xgb.version), "%d.%d.%d", major, minor, patch);
	xgb.loaded = true;
	return GBDT_OK;
}

const char *
GbdtXgboostVersion(void)
{
	return GbdtXgboostLoad(NULL, 0) == GBDT_OK ? xgb.version : NULL;
}

void
GbdtParamsDefault(GbdtParams *params)
{
	params->objective = "rank:ndcg";
	params->trees = 100;
	params->max_depth = 6;
	params->learning_rate = 0.1;
	params->min_child_weight = 1;
	params->lambda = 1;
	params->alpha = 0;
	params->gamma = 0;
	params->subsample = 1;
	params->colsample_bytree = 1;
	params->max_bin = 256;
	params->seed = 0;
}

/* Whether v lies in [lo, hi] (false for NaN). */
static bool
InRange(double v, double lo, double hi)
{
	return v >= lo && v <= hi;
}

/* Formats a message about a parameter; returns false. */
static bool ParamFail(char *err, size_t errlen, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));

static bool
ParamFail(char *err, size_t errlen, const char *fmt,...)
{
	va_list		args;

	if (err != NULL && errlen > 0)
	{
		va_start(args, fmt);
		vsnprintf(err, errlen, fmt, args);
		va_end(args);
	}
	return false;
}

bool
GbdtParamsCheck(const GbdtParams *p, char *err, size_t errlen)
{
	if (p->objective == NULL ||
		(strcmp(p->objective, "rank:ndcg") != 0 &&
		 strcmp(p->objective, "rank:pairwise") != 0 &&
		 strcmp(p->objective, "rank:map") != 0))
		return ParamFail(err, errlen,
						 "objective must be rank:ndcg, rank:pairwise or rank:map");
	if (p->trees < 1 || p->trees > GBDT_TRAIN_MAX_TREES)
		return ParamFail(err, errlen, "trees must be between 1 and %d, not %d",
					GBDT_TRAIN_MAX_TREES, p->trees);
	if (p->max_depth < 1 || p->max_depth > GBDT_TRAIN_MAX_DEPTH)
		return ParamFail(err, errlen, "max_depth must be between 1 and %d, not %d",
					GBDT_TRAIN_MAX_DEPTH, p->max_depth);
	if (!(p->learning_rate > 0 && p->learning_rate <= 1))
		return ParamFail(err, errlen, "learning_rate must be in (0, 1]");
	if (!InRange(p->min_child_weight, 0, 1e9) || !InRange(p->lambda, 0, 1e9) ||
		!InRange(p->alpha, 0, 1e9) || !InRange(p->gamma, 0, 1e9))
		return ParamFail(err, errlen,
						 "min_child_weight, lambda, alpha and gamma must be between 0 and 1e9");
	if (!(p->subsample > 0 && p->subsample <= 1) ||
		!(p->colsample_bytree > 0 && p->colsample_bytree <= 1))
		return ParamFail(err, errlen,
						 "subsample and colsample_bytree must be in (0, 1]");
	if (p->max_bin < 2 || p->max_bin > 65536)
		return ParamFail(err, errlen, "max_bin must be between 2 and 65536");
	return true;
}

/*
 * Checks the training data: shapes, groups adding up to the rows, finite
 * labels in range, no infinite feature, and at least one group whose rows
 * differ in relevance (else there is nothing to learn).
 */
static GbdtStatus
CheckData(const GbdtTrainData *d, char *err, size_t errlen)
{
	int64_t		total = 0;
	int64_t		start = 0;
	int			informative = 0;
	size_t		cells;

	if (d->x == NULL || d->label == NULL || d->group_sizes == NULL)
		return Fail(err, errlen, GBDT_INVALID, "no training data");
	if (d->rows < 1 || d->features < 1 || d->features > GBDT_MAX_FEATURES ||
		d->groups < 1)
		return Fail(err, errlen, GBDT_INVALID,
					"training data needs rows, 1 to %d features and groups, not %lld rows, %d features, %d groups",
					GBDT_MAX_FEATURES, (long long) d->rows, d->features, d->groups);
	if ((uint64_t) d->rows > SIZE_MAX / sizeof(float) / (uint64_t) d->features)
		return Fail(err, errlen, GBDT_INVALID, "too many training rows");
	for (int g = 0; g < d->groups; g++)
	{
		uint32_t	n = d->group_sizes[g];

		if (n == 0 || total + n > d->rows)
			return Fail(err, errlen, GBDT_INVALID,
						"group sizes must be positive and add up to the %lld rows",
						(long long) d->rows);
		for (int64_t i = start + 1; i < start + n; i++)
			if (d->label[i] != d->label[start])
			{
				informative++;
				break;
			}
		total += n;
		start = total;
	}
	if (total != d->rows)
		return Fail(err, errlen, GBDT_INVALID,
					"group sizes add up to %lld, not to the %lld rows",
					(long long) total, (long long) d->rows);
	for (int64_t i = 0; i < d->rows; i++)
		if (!InRange(d->label[i], 0, GBDT_MAX_LABEL))
			return Fail(err, errlen, GBDT_INVALID,
						"label %g of row %lld is not a relevance between 0 and %d",
						(double) d->label[i], (long long) i, GBDT_MAX_LABEL);
	cells = (size_t) d->rows * (size_t) d->features;
	for (size_t i = 0; i < cells; i++)
		if (isinf(d->x[i]))
			return Fail(err, errlen, GBDT_INVALID,
						"feature %d of row %lld is infinite",
						(int) (i % d->features), (long long) (i / d->features));
	if (informative == 0)
		return Fail(err, errlen, GBDT_INVALID,
					"no group has rows of different relevance: nothing to learn");
	return GBDT_OK;
}

bool
GbdtCheckInterrupts(void *arg, int round)
{
	(void) arg;
	if (round != GBDT_LOADING)
		CoreCheckInterrupts();
	return false;
}

void
GbdtTrainerInit(GbdtTrainer *trainer)
{
	memset(trainer, 0, sizeof(*trainer));
}

void
GbdtTrainerRelease(GbdtTrainer *trainer)
{
	/* handles exist only if XGBoost was loaded */
	if (trainer->booster != NULL)
		xgb.XGBoosterFree(trainer->booster);
	if (trainer->dmatrix != NULL)
		xgb.XGDMatrixFree(trainer->dmatrix);
	if (trainer->proxy != NULL)
		xgb.XGDMatrixFree(trainer->proxy);
	trainer->booster = NULL;
	trainer->dmatrix = NULL;
	trainer->proxy = NULL;
	trainer->model = NULL;
	trainer->model_len = 0;
}

/* Sets one booster parameter. */
static GbdtStatus
SetParam(GbdtTrainer *trainer, const char *name, const char *value)
{
	if (xgb.XGBoosterSetParam(trainer->booster, name, value) != 0)
		return XgbFail(trainer, name);
	return GBDT_OK;
}

/* Sets a numeric booster parameter, printed exactly. */
static GbdtStatus
SetNumber(GbdtTrainer *trainer, const char *name, double value)
{
	char		buf[40];

	snprintf(buf, sizeof(buf), "%.17g", value);
	return SetParam(trainer, name, buf);
}

/* The booster parameters of a training. */
static GbdtStatus
SetParams(GbdtTrainer *trainer, const GbdtParams *p)
{
	char		seed[24];
	GbdtStatus	s;

	/*
	 * XGBoost seeds its generator with the seed's low 32 bits only: fold
	 * the high half in, so that seeds differing anywhere differ there.
	 */
	snprintf(seed, sizeof(seed), "%u",
			 (unsigned) ((p->seed ^ (p->seed >> 32)) & 0xFFFFFFFFu));
	if ((s = SetParam(trainer, "nthread", "1")) != GBDT_OK ||
		(s = SetParam(trainer, "verbosity", "0")) != GBDT_OK ||
		(s = SetParam(trainer, "booster", "gbtree")) != GBDT_OK ||
		(s = SetParam(trainer, "tree_method", "hist")) != GBDT_OK ||
		(s = SetParam(trainer, "objective", p->objective)) != GBDT_OK ||
		(s = SetNumber(trainer, "max_depth", p->max_depth)) != GBDT_OK ||
		(s = SetNumber(trainer, "eta", p->learning_rate)) != GBDT_OK ||
		(s = SetNumber(trainer, "min_child_weight", p->min_child_weight)) != GBDT_OK ||
		(s = SetNumber(trainer, "lambda", p->lambda)) != GBDT_OK ||
		(s = SetNumber(trainer, "alpha", p->alpha)) != GBDT_OK ||
		(s = SetNumber(trainer, "gamma", p->gamma)) != GBDT_OK ||
		(s = SetNumber(trainer, "subsample", p->subsample)) != GBDT_OK ||
		(s = SetNumber(trainer, "colsample_bytree", p->colsample_bytree)) != GBDT_OK ||
		(s = SetNumber(trainer, "max_bin", p->max_bin)) != GBDT_OK ||
		(s = SetParam(trainer, "seed", seed)) != GBDT_OK)
		return s;
	return GBDT_OK;
}

/*
 * The rows handed to XGBoost batch by batch while it builds the training
 * matrix (a quantile matrix: the histogram bins of every value, built
 * without a copy of the rows).  Batches end at group boundaries.
 */
typedef struct BatchIterator
{
	GbdtTrainer *trainer;
	const GbdtTrainData *data;
	GbdtCheckFn check;
	void	   *arg;
	int64_t		batch_rows;		/* rows per batch, at least */
	int64_t		next_row;		/* first row of the next batch */
	int			next_group;		/* its group */
	GbdtStatus	status;			/* GBDT_OK, or why the batches ended */
} BatchIterator;

/* XGBoost asks for the data from the start again. */
static void
BatchReset(DataIterHandle handle)
{
	BatchIterator *it = handle;

	it->next_row = 0;
	it->next_group = 0;
}

/*
 * XGBoost asks for the next batch: hands it over through the proxy (rows,
 * labels, group sizes) and returns 1, or returns 0 at the end — also when
 * the check asks to stop or XGBoost refused the batch (it->status says
 * which).  Never leaves by longjmp: XGBoost's C++ frames are on the stack.
 */
static int
BatchNext(DataIterHandle handle)
{
	BatchIterator *it = handle;
	const GbdtTrainData *d = it->data;
	GbdtTrainer *t = it->trainer;
	int64_t		first = it->next_row;
	int64_t		rows = 0;
	int			g = it->next_group;
	char		array[160];

	if (it->status != GBDT_OK || first >= d->rows)
		return 0;
	if (it->check != NULL && it->check(it->arg, GBDT_LOADING))
	{
		it->status = Fail(t->error, sizeof(t->error), GBDT_CANCELLED,
						  "training stopped while building the training matrix");
		return 0;
	}
	while (g < d->groups && (rows == 0 || rows < it->batch_rows))
		rows += d->group_sizes[g++];

	/* __array_interface__ of the batch's rows */
	snprintf(array, sizeof(array),
			 "{\"data\": [%llu, true], \"shape\": [%lld, %d], \"typestr\": \"<f4\", \"version\": 3}",
			 (unsigned long long) (uintptr_t) (d->x + (size_t) first * d->features),
			 (long long) rows, d->features);
	if (xgb.XGProxyDMatrixSetDataDense(t->proxy, array) != 0 ||
		xgb.XGDMatrixSetFloatInfo(t->proxy, "label", d->label + first,
								  (bst_ulong) rows) != 0 ||
		xgb.XGDMatrixSetUIntInfo(t->proxy, "group",
								 d->group_sizes + it->next_group,
								 (bst_ulong) (g - it->next_group)) != 0)
	{
		it->status = XgbFail(t, "handing over a batch");
		return 0;
	}
	it->next_row = first + rows;
	it->next_group = g;
	return 1;
}

GbdtStatus
GbdtTrain(GbdtTrainer *trainer, const GbdtTrainData *data,
		  const GbdtParams *params, GbdtCheckFn check, void *arg)
{
	char	   *err = trainer->error;
	size_t		errlen = sizeof(trainer->error);
	GbdtStatus	s;
	DMatrixHandle dmatrix;
	BoosterHandle booster;
	BatchIterator it;
	bst_ulong	len;
	const char *buf;
	char		config[128];

	GbdtTrainerRelease(trainer);
	trainer->rounds = 0;
	trainer->error[0] = '\0';
	if (!GbdtParamsCheck(params, err, errlen))
		return GBDT_INVALID;
	if ((s = CheckData(data, err, errlen)) != GBDT_OK)
		return s;
	if ((s = GbdtXgboostLoad(err, errlen)) != GBDT_OK)
		return s;

	/* the training matrix, from batches (a check between them) */
	if (xgb.XGProxyDMatrixCreate(&trainer->proxy) != 0)
		return XgbFail(trainer, "proxy creation");
	memset(&it, 0, sizeof(it));
	it.trainer = trainer;
	it.data = data;
	it.check = check;
	it.arg = arg;
	it.batch_rows = data->batch_rows > 0 ? data->batch_rows :
		GBDT_BATCH_VALUES / data->features + 1;
	it.status = GBDT_OK;
	snprintf(config, sizeof(config),
			 "{\"missing\": NaN, \"nthread\": 1, \"max_bin\": %d}", params->max_bin);
	if (xgb.XGQuantileDMatrixCreateFromCallback(&it, trainer->proxy, NULL,
												BatchReset, BatchNext, config,
												&dmatrix) != 0)
		return it.status != GBDT_OK ? it.status :
			XgbFail(trainer, "building the training matrix");
	trainer->dmatrix = dmatrix;
	if (it.status != GBDT_OK)
		return it.status;
	xgb.XGDMatrixFree(trainer->proxy);
	trainer->proxy = NULL;

	if (xgb.XGBoosterCreate(&dmatrix, 1, &booster) != 0)
		return XgbFail(trainer, "booster creation");
	trainer->booster = booster;
	if ((s = SetParams(trainer, params)) != GBDT_OK)
		return s;

	for (int round = 0; round < params->trees; round++)
	{
		if (check != NULL && check(arg, round))
			return Fail(err, errlen, GBDT_CANCELLED,
						"training stopped before round %d", round + 1);
		if (xgb.XGBoosterUpdateOneIter(booster, round, dmatrix) != 0)
			return XgbFail(trainer, "boosting round");
		trainer->rounds = round + 1;
	}

	/* the training matrix is no longer needed: free it before saving */
	xgb.XGDMatrixFree(trainer->dmatrix);
	trainer->dmatrix = NULL;
	if (xgb.XGBoosterSaveModelToBuffer(booster, "{\"format\": \"json\"}",
									   &len, &buf) != 0)
		return XgbFail(trainer, "saving the model");
	trainer->model = buf;
	trainer->model_len = (size_t) len;
	return GBDT_OK;
}

GbdtStatus
GbdtXgboostLoadModel(GbdtTrainer *trainer, const char *model, size_t model_len)
{
	BoosterHandle booster;
	GbdtStatus	s;

	GbdtTrainerRelease(trainer);
	trainer->error[0] = '\0';
	if ((s = GbdtXgboostLoad(trainer->error, sizeof(trainer->error))) != GBDT_OK)
		return s;
	if (xgb.XGBoosterCreate(NULL, 0, &booster) != 0)
		return XgbFail(trainer, "booster creation");
	trainer->booster = booster;
	if (xgb.XGBoosterLoadModelFromBuffer(booster, model, (bst_ulong) model_len) != 0)
		return XgbFail(trainer, "loading the model");
	if ((s = SetParam(trainer, "nthread", "1")) != GBDT_OK)
		return s;
	return GBDT_OK;
}

GbdtStatus
GbdtXgboostPredict(GbdtTrainer *trainer, const float *x, int64_t rows,
				   int features, bool contributions, float *out)
{
	const bst_ulong *shape;
	bst_ulong	dim;
	const float *result;
	size_t		n;

	if (trainer->booster == NULL)
		return Fail(trainer->error, sizeof(trainer->error), GBDT_INVALID,
					"no model loaded");
	if (rows < 1 || features < 1)
		return Fail(trainer->error, sizeof(trainer->error), GBDT_INVALID,
					"no rows to predict");
	if (!contributions)
	{
		char		array[160];

		/* __array_interface__ of the rows; type 1 = margin */
		snprintf(array, sizeof(array),
				 "{\"data\": [%llu, true], \"shape\": [%lld, %d], \"typestr\": \"<f4\", \"version\": 3}",
				 (unsigned long long) (uintptr_t) x, (long long) rows, features);
		if (xgb.XGBoosterPredictFromDense(trainer->booster, array,
										  "{\"type\": 1, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}",
										  NULL, &shape, &dim, &result) != 0)
			return XgbFail(trainer, "prediction");
		n = (size_t) rows;
		if (dim < 1 || shape[0] != (bst_ulong) rows ||
			(dim == 2 && shape[1] != 1) || dim > 2)
			return Fail(trainer->error, sizeof(trainer->error), GBDT_INVALID,
						"XGBoost's margins have an unexpected shape");
	}
	else
	{
		DMatrixHandle dmatrix;
		int			rc;

		if (trainer->dmatrix != NULL)
			xgb.XGDMatrixFree(trainer->dmatrix);
		trainer->dmatrix = NULL;
		if (xgb.XGDMatrixCreateFromMat_omp(x, (bst_ulong) rows,
										   (bst_ulong) features, NAN,
										   &dmatrix, 1) != 0)
			return XgbFail(trainer, "DMatrix creation");
		trainer->dmatrix = dmatrix;
		/* type 2 = contributions (TreeSHAP) */
		rc = xgb.XGBoosterPredictFromDMatrix(trainer->booster, dmatrix,
											 "{\"type\": 2, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, \"strict_shape\": false}",
											 &shape, &dim, &result);
		if (rc != 0)
			return XgbFail(trainer, "contributions");
		n = (size_t) rows * ((size_t) features + 1);
		if (dim != 2 || shape[0] != (bst_ulong) rows ||
			shape[1] != (bst_ulong) features + 1)
			return Fail(trainer->error, sizeof(trainer->error), GBDT_INVALID,
						"XGBoost's contributions have an unexpected shape (does the model have %d features?)",
						features);
	}
	memcpy(out, result, sizeof(float) * n);
	return GBDT_OK;
}
