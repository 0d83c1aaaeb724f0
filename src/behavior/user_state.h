/*
 * user_state.h
 *	  The per-user features the real-time behavior path keeps in
 *	  rerank.user_features, and the fold-in of the user's vector
 *	  (user_state.c): a batch of users (one trigger call, one statement's
 *	  transition table, or a rebuild), each locked, updated in memory and
 *	  written once.
 */
#ifndef RERANK_USER_STATE_H
#define RERANK_USER_STATE_H

#include "postgres.h"

#include "model/event_columns.h"
#include "cache/model_cache.h"
#include "model/fold_in.h"
#include "model/user_rows.h"

/* One user's features being updated (user_state.c). */
typedef struct UserFeatureState UserFeatureState;

/* What a batch of users shares: the model, workspaces, memory. */
typedef struct BehaviorBatch
{
	const CachedModel *model;	/* active model, NULL: features only */
	bool		replace;		/* start from empty features (rebuild) */
	bool		force_fold_in;	/* fold in even when the history did not change */
	int			history_limit;	/* rerank.history_size at the start */
	int			purchase_limit; /* rerank.purchase_history_size at the start */
	UserRows	rows;			/* user_features, user_factors */
	MemoryContext user_context; /* reset per user */
	bool		owns_kept_memory;	/* uses the backend's kept buffers */
	FoldInBuffers buffers;		/* for history_limit items */
	float	   *vector;			/* the solved user vector */
	int64		users;			/* users written */
	int64		folded;			/* user vectors written */
} BehaviorBatch;

extern int	behavior_history_size;
extern int	behavior_purchase_history_size;
extern bool behavior_fold_in;

extern void BehaviorInit(void);
extern void BehaviorBatchBegin(BehaviorBatch *batch, bool replace, bool fold_in);
extern void BehaviorBatchEnd(BehaviorBatch *batch);
extern UserFeatureState *UserStateLock(BehaviorBatch *batch, int64 user_id,
									   bool create);
extern void UserStateApply(BehaviorBatch *batch, UserFeatureState *state,
						   const BehaviorEvent *event);
extern void UserStateFinish(BehaviorBatch *batch, UserFeatureState *state);

#endif							/* RERANK_USER_STATE_H */
