/*
 * categories.h
 *	  The categories of a call's items as dense local numbers, with the
 *	  user's affinity to each (categories.c): read from the category cache
 *	  (or by a query when the categories do not fit in its budget), the
 *	  affinity computed in the core (RankCategoryAffinity).
 */
#ifndef RERANK_CATEGORIES_H
#define RERANK_CATEGORIES_H

#include "postgres.h"

#include "utils/jsonb.h"

/*
 * The categories of n items as dense numbers (categories[i], -1: unknown),
 * with the affinity of the user to each (NULL when weights is NULL or has
 * no positive weight).  Returns the number of distinct categories.
 */
extern int	LoadCategories(const int64 *item_ids, int n, const Jsonb *weights,
						   int32 *categories, double **affinity);

/*
 * LoadCategories for items whose category numbers in the category cache
 * are known (global[i], -1: none), as ModelItemDetails gives them; the
 * cache must not have been reloaded since.
 */
extern int	CategoriesFromNumbers(const int32 *global, int n, const Jsonb *weights,
								  int32 *categories, double **affinity);

#endif							/* RERANK_CATEGORIES_H */
