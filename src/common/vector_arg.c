/*
 * vector_arg.c
 *	  Validation and construction of real[] vectors for the SQL functions,
 *	  and of bigint[] id lists (arguments, and query parameters).
 *
 * A vector is a real[] with at most one dimension and no NULL elements; the
 * empty array '{}' is the vector of length 0.  The floats are read straight
 * from the array's data area (as contrib/cube does), never copied into a
 * Datum array.  Finiteness is checked separately because most callers can
 * test it for free on their result.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/vector_arg.h"
#include "core/vec.h"
#include "utils/memutils.h"

/*
 * Checks that the array is a usable vector and returns its length; "what"
 * names the argument in error messages.
 */
int
VectorArgLength(ArrayType *array, const char *what)
{
	int			ndim = ARR_NDIM(array);

	if (ARR_ELEMTYPE(array) != FLOAT4OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must be of type real[]", what)));
	if (ndim > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, not %d-dimensional",
						what, ndim)));
	if (ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain NULL elements", what)));
	return ndim == 0 ? 0 : ARR_DIMS(array)[0];
}

/* Raises an error naming the first NaN or infinite element, if any. */
void
CheckVectorFinite(const float *data, int length, const char *what)
{
	size_t		bad = VecFindNonFinite(data, (size_t) length);

	if (bad < (size_t) length)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must not contain %s", what,
						isnan(data[bad]) ? "NaN" : "infinite values"),
				 errdetail("Element %d is %s.", (int) bad + 1,
						   isnan(data[bad]) ? "NaN" :
						   data[bad] > 0 ? "Infinity" : "-Infinity")));
}

/* Raises the error for two vectors of different lengths. */
void
CheckVectorsSameLength(int length_a, int length_b)
{
	if (length_a != length_b)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("vectors have different dimensions %d and %d",
						length_a, length_b)));
}

/*
 * Allocates a zeroed one-dimensional array without NULLs of a fixed-width
 * element type (what vectors and aggregate states are); "what" names it in
 * the error for an array PostgreSQL cannot hold.
 */
ArrayType *
NewFlatArray(Oid elemtype, Size elemsize, int length, const char *what)
{
	Size		nbytes = add_size(ARR_OVERHEAD_NONULLS(1), mul_size(length, elemsize));
	ArrayType  *result;

	if (!AllocSizeIsValid(nbytes))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s of %d elements exceeds the maximum array size",
						what, length)));
	result = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(result, nbytes);
	result->ndim = 1;
	result->dataoffset = 0;
	result->elemtype = elemtype;
	ARR_DIMS(result)[0] = length;
	ARR_LBOUND(result)[0] = 1;
	return result;
}

/*
 * Allocates a one-dimensional real[] of the given length (the empty array
 * for 0) and returns where its floats go.
 */
ArrayType *
NewVector(int length, float **data)
{
	ArrayType  *result;

	if (length == 0)
	{
		*data = NULL;
		return construct_empty_array(FLOAT4OID);
	}
	result = NewFlatArray(FLOAT4OID, sizeof(float), length, "vector");
	*data = VECTOR_DATA(result);
	return result;
}

/* Builds a real[] holding a copy of the floats. */
ArrayType *
BuildVector(const float *data, int length)
{
	float	   *dest;
	ArrayType  *result = NewVector(length, &dest);

	if (length > 0)
		memcpy(dest, data, sizeof(float) * length);
	return result;
}

/* Checks a bigint[] argument; see vector_arg.h. */
int
IdArrayArgLength(ArrayType *array, const char *what, int max,
				 bool nulls_allowed)
{
	int			n;

	if (ARR_ELEMTYPE(array) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must be of type bigint[]", what)));
	if (ARR_NDIM(array) > 1 && nulls_allowed)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array, not %d-dimensional",
						what, ARR_NDIM(array))));
	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array without NULL elements",
						what)));
	if (!nulls_allowed && ARR_HASNULL(array) && array_contains_nulls(array))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must be a one-dimensional array without NULL elements",
						what)));
	n = ARR_NDIM(array) == 0 ? 0 : ARR_DIMS(array)[0];
	if (n > max)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has %d elements, more than the limit of %d",
						what, n, max)));
	return n;
}

/* The non-NULL elements of a bigint[]; see vector_arg.h. */
int
IdArrayValues(ArrayType *array, int n, int64 *ids)
{
	const int64 *data = (const int64 *) ARR_DATA_PTR(array);
	const bits8 *bitmap = ARR_NULLBITMAP(array);
	int			count = 0;

	if (bitmap == NULL)
	{
		memcpy(ids, data, sizeof(int64) * n);
		return n;
	}
	for (int i = 0; i < n; i++)
	{
		if (bitmap[i / 8] & (1 << (i % 8)))
			ids[count] = data[count], count++;
	}
	return count;
}

/* A one-dimensional bigint[] holding a copy of n ids. */
ArrayType *
BuildInt64Array(const int64 *values, int n)
{
	ArrayType  *a;

	if (n == 0)
		return construct_empty_array(INT8OID);
	a = NewFlatArray(INT8OID, sizeof(int64), n, "id array");
	memcpy(ARR_DATA_PTR(a), values, sizeof(int64) * n);
	return a;
}
