/*
 * user_neighbors.h
 *	  Serving a user-kNN model (user_neighbors.c): a user's neighbors, either the
 *	  trained list or, for a user whose history changed since training or
 *	  whom training did not see, the list computed at serving time from the
 *	  current history through the model's inverted index (the real-time
 *	  path, at most rerank.user_knn_max_postings posting entries per call);
 *	  for predict, recommend, similar_users, evaluate, rerank() and
 *	  explain() alike.
 */
#ifndef RERANK_MODEL_USER_NEIGHBORS_H
#define RERANK_MODEL_USER_NEIGHBORS_H

#include "postgres.h"

#include "cache/model_cache.h"
#include "core/user_knn.h"
#include "model/user_features.h"

/* Setting: posting entries one real-time neighbor search may visit. */
extern int	rerank_user_knn_max_postings;

/* Registers the setting; called by _PG_init. */
extern void UserKnnInit(void);

/* A user's neighbors in a user-kNN model, and how they were found. */
typedef struct UserNeighbors
{
	int			n;
	const int32 *users;			/* indexes into the model's index */
	const float *similarities;	/* best first, all positive */
	double		total;			/* Σ similarities, every score's denominator */
	int32		self;			/* the user's index; -1: not in training */
	bool		realtime;		/* found from the current history */
	int			history;		/* history items in the model's catalog */
	int64		postings;		/* real time: posting entries visited */
	int			skipped;		/* real time: history items left out */
} UserNeighbors;

/*
 * The neighbors of a user whose current history is the n items ids
 * (ascending, distinct) with their weights, as UserKnnHistory gives it
 * (training interactions merged with rerank.user_features): the trained
 * list when the history, restricted to the model's catalog and to positive
 * weights, is the one the model was trained on; else the real-time search
 * (none for a history without any catalog item: the cold start).  The
 * lists point into the index or the current memory context.
 */
extern void UserKnnNeighborsOf(const UserKnnIndex *index, int64 user_id,
							   const int64 *ids, const float *weights, int n,
							   UserNeighbors *out);

/*
 * A user's current history under a user-kNN model: the training
 * interactions the index holds merged with the features' recent history
 * and purchases (MergeUserHistory): what LoadUserHistory reads, without a
 * query.  Ascending ids, each once; returns the count.
 */
extern int	UserKnnHistory(const UserKnnIndex *index, int64 user_id,
						   const UserFeatures *features, int64 **ids,
						   float **weights);

/*
 * UserKnnNeighborsOf the user's current history (UserKnnHistory of
 * features, NULL: read by LoadUserFeatures), which is also returned, for
 * callers that leave it out of rankings.
 */
extern void UserKnnNeighborsOfUser(const UserKnnIndex *index, int64 user_id,
								   const UserFeatures *features,
								   UserNeighbors *out, int64 **ids,
								   float **weights, int *n);

#endif							/* RERANK_MODEL_USER_NEIGHBORS_H */
