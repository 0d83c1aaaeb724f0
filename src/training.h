/*
 * training.h
 *	  Declarations shared by the training, evaluation and recommendation glue
 *	  (train_als.c, train_item_knn.c, evaluate.c, recommend.c,
 *	  als_fold_in.c): id maps, reading interaction sources, what trained
 *	  models keep beside their item vectors (which come from model_cache.h),
 *	  the common parts of the training procedures, and writing models.
 */
#ifndef RERANK_TRAINING_H
#define RERANK_TRAINING_H

#include "postgres.h"

#include "core/als_train.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "model_cache.h"
#include "portability/instr_time.h"

/* ---- id_map.c: int64 id → dense int32 index (simplehash) ---- */

typedef struct IdMapEntry
{
	int64		id;
	int32		index;
	char		status;
} IdMapEntry;

#define SH_PREFIX idmap
#define SH_ELEMENT_TYPE IdMapEntry
#define SH_KEY_TYPE int64
#define SH_SCOPE extern
#define SH_DECLARE
#include "lib/simplehash.h"

/* Index of an id, or -1. */
extern int32 IdMapGet(idmap_hash *map, int64 id);

/* Index of an id, adding it with the next index when new. */
extern int32 IdMapAdd(idmap_hash *map, int64 id, int32 *count);

/* A map of ids[0..n) to their positions. */
extern idmap_hash *IdMapFromArray(MemoryContext cxt, const int64 *ids, int n);

/* ---- train_source.c: reading interaction sources ---- */

/* Called for each row of a source: ids and weight (1 without a weight column). */
typedef void (*SourceRowFn) (void *arg, int64 user_id, int64 item_id, double weight);

/*
 * Reads the user_id, item_id and weight columns of a table or view,
 * validating types and values (NULL ids or weights, NaN, infinite or
 * negative weights are errors naming the row).  weight_column NULL means
 * the column "weight" when the source has one, else weight 1; "what" names
 * the argument in messages ("source", "test").  Returns the row count.
 */
extern int64 ReadSourceRows(Oid source, const char *weight_column,
							const char *what, SourceRowFn fn, void *arg);

/* The interactions of a training source, ids mapped to dense indexes. */
typedef struct Interactions
{
	int			users;
	int			items;
	int64		rows;			/* rows read */
	int64	   *user_ids;		/* users, ascending: index → id */
	int64	   *item_ids;		/* items, ascending */
	AlsCsr		by_user;		/* users × items, rows sorted, no duplicates */
	AlsCsr		by_item;		/* its transpose */
	char	   *source_name;	/* qualified name, for params */
	char	   *weight_name;	/* weight column used, or NULL */
} Interactions;

/*
 * Reads a source into both CSR orientations (duplicates summed, zero
 * weights dropped), ids numbered in ascending order so that training does
 * not depend on the row order.  Errors when no row has a positive weight.
 */
extern void ReadInteractions(Oid source, const char *weight_column,
							 Interactions *out);

/* The qualified, quoted name of a relation (error 42P01 when it is gone). */
extern char *QualifiedRelationName(Oid relid);

/* ---- model_access.c: what trained models keep beside item vectors ---- */

/* A user's vector (dimensions floats); false when the model has none. */
extern bool LoadUserVector(const CachedModel *model, int64 user_id, float *out);

/*
 * A user's history: the interactions the model was trained on (merged with
 * the recent history of rerank.user_features when with_recent), as parallel
 * arrays of item ids and summed weights.  Returns the count.
 */
extern int	LoadUserHistory(const CachedModel *model, int64 user_id,
							bool with_recent, int64 **item_ids,
							float **weights);

/*
 * fold_in_history.c: a user without a stored vector, folded in from the
 * stored history; false when that gives no vector.
 */
extern bool FoldInStoredHistory(const CachedModel *model, int64 user_id,
								float *x);

/* Called with each neighbor list ForEachNeighborList finds. */
typedef void (*NeighborListFn) (int64 item_id, const NeighborList *list,
								void *arg);

/*
 * Calls fn once for the neighbor list of each distinct id that has one (in
 * no particular order): from the model cache, or for a model over its
 * budget from one query of rerank.item_neighbors (malformed rows left out,
 * see NeighborRow).  fn may run inside SPI: what it allocates must go to a
 * context of its own (repalloc keeps a block's context).
 */
extern void ForEachNeighborList(const CachedModel *model, const int64 *ids,
								int n, NeighborListFn fn, void *arg);

/*
 * known[i]: whether ids[i] (distinct) has a neighbor list; without the cache, one
 * index-only scan that reads no list.
 */
extern void NeighborListsKnown(const CachedModel *model, const int64 *ids,
							   int n, bool *known);

/* The neighbors of one item, copied (n = 0 when it has none). */
extern NeighborList LoadNeighbors(const CachedModel *model, int64 item_id);

/* ---- train_common.c: what the training procedures share ---- */

/* One run of a training procedure: its common arguments and its memory. */
typedef struct TrainingRun
{
	const char *procedure;		/* "train_als", for messages */
	char	   *name;			/* model_name */
	Oid			source;
	bool		activate;
	bool		replace;
	char	   *weight_column;	/* NULL: the default */
	char	   *description;
	MemoryContext cxt;			/* the run's memory, from TrainingRead on */
	MemoryContext caller_cxt;
	instr_time	start;			/* when reading began */
} TrainingRun;

/*
 * Reads the arguments every training procedure takes: model_name and
 * source first, activate and replace at activate_arg, weight_column and
 * description at weight_arg; the arguments before weight_arg must not be
 * NULL (error 22004 naming the argument's position).  Checks the name's
 * length.
 */
extern void TrainingArgs(FunctionCallInfo fcinfo, const char *procedure,
						 int activate_arg, int weight_arg, TrainingRun *run);

/*
 * Switches into a new memory context for the run, starts its clock and
 * reads its source (NOTICE with the counts); returns the seconds reading
 * took.
 */
extern double TrainingRead(TrainingRun *run, Interactions *data);

/* Seconds since an instr_time start, for progress and metrics. */
extern double SecondsSince(instr_time start);

/*
 * Back to the caller's memory, freeing the run's, then activates the model
 * when the run asked to.
 */
extern void TrainingEnd(TrainingRun *run);

/* Appends "source" and "weight_column" and closes the params object. */
extern void AppendSourceParams(StringInfo buf, const Interactions *data);

/* Opens the metrics: {"training": {"users": …, "items": …, … "rows_read": … */
extern void AppendTrainingCounts(StringInfo buf, const Interactions *data);

/* The JSON number of a double (null when not finite), for params and metrics. */
extern void AppendJsonNumber(StringInfo buf, double value);

/* Appends a number member (, "key": value) to a JSON object. */
extern void AppendJsonField(StringInfo buf, const char *key, double value);

/* ---- model_write.c: registering trained models ---- */

/*
 * Checks before training that a model name may be used: an existing model
 * without replace is an error (42710), as is replacing the active model by
 * one of other dimensions (55006).
 */
extern void CheckModelName(const char *name, bool replace, int dimensions);

/*
 * Creates the model row, or with replace empties the existing one (keeping
 * its id, activation state and history when the dimensions agree; else
 * deleting and re-creating it).  Returns the model_id.
 */
extern int32 PrepareModelRow(const char *name, const char *algorithm,
							 int dimensions, bool replace,
							 const char *params_json, const char *description);

/* Writes n vectors of k floats for the given ids (item or user table). */
extern void WriteFactors(int32 model_id, bool items, const int64 *ids,
						 const float *vectors, int n, int k);

/* Writes the training interactions, one row per user. */
extern void WriteInteractions(int32 model_id, const Interactions *data);

/*
 * Writes neighbor lists: item i has the neighbors item_ids[neighbors[e]],
 * e in [offsets[i], offsets[i+1]).
 */
extern void WriteNeighbors(int32 model_id, const int64 *item_ids, int n,
						   const int64 *offsets, const int32 *neighbors,
						   const float *similarities);

/* Sets gram (may be NULL), metrics, trained_at and training_seconds. */
extern void FinishModelRow(int32 model_id, const float *gram, int k,
						   const char *metrics_json, double seconds);

/* Activates a model through rerank.activate_model(). */
extern void ActivateModelByName(const char *name);

#endif							/* RERANK_TRAINING_H */
