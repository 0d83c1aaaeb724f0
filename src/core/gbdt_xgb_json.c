/*
 * gbdt_xgb_json.c
 *	  Builds a flat forest (gbdt_forest.h) from an XGBoost model saved as
 *	  JSON, without XGBoost.
 *
 * The JSON comes from a table and is untrusted: the reader is a small
 * bounds-checked scanner over len bytes (no NUL needed), nesting is
 * limited, numbers are read with strtof/strtoll from a bounded copy, and
 * every tree is checked for structure (each node reached once, children in
 * range) before its nodes are laid out.  The document looks like
 *
 *	{"learner": {"gradient_booster": {"name": "gbtree",
 *	   "model": {"tree_info": [0, …], "trees": [{"left_children": […],
 *	     "right_children": […], "split_indices": […], "split_conditions": […],
 *	     "default_left": […], "sum_hessian": […], "split_type": […], …}, …]}},
 *	  "learner_model_param": {"base_score": "5E-1", "num_feature": "30", …},
 *	  "objective": {"name": "rank:ndcg", …}}, "version": [1, 7, 4]}
 *
 * with members in any order.  A leaf's value is its split_conditions entry.
 * XGBoost writes floats in their shortest round-trip form, so strtof gives
 * back XGBoost's floats exactly.
 */
#include "core/gbdt_forest.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Floats round as XGBoost's do, whatever the build's math flags: no
 * contraction into fused multiply-adds, no reassociation of sums.
 */
#if defined(__clang__)
#pragma clang fp contract(off) reassociate(off)
#elif defined(__GNUC__)
#pragma GCC optimize ("fp-contract=off", "no-associative-math")
#endif

/* Deepest nesting of JSON values the reader skips over. */
#define JSON_MAX_NESTING 64

/* Longest number token (or numeric string) read. */
#define JSON_MAX_NUMBER 63

/* A cursor over the document and the first error met. */
typedef struct JsonReader
{
	const char *start;
	const char *p;
	const char *end;
	char	   *err;
	size_t		errlen;
} JsonReader;

/* Records an error (the first only) and returns false. */
static bool JsonFail(JsonReader *r, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));

static bool
JsonFail(JsonReader *r, const char *fmt,...)
{
	va_list		args;

	if (r->err != NULL && r->errlen > 0)
	{
		va_start(args, fmt);
		vsnprintf(r->err, r->errlen, fmt, args);
		va_end(args);
		r->errlen = 0;			/* keep the first message */
	}
	return false;
}

static void
JsonSkipSpace(JsonReader *r)
{
	while (r->p < r->end &&
		   (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

/* Consumes c, after white space; false when something else comes. */
static bool
JsonExpect(JsonReader *r, char c)
{
	JsonSkipSpace(r);
	if (r->p >= r->end || *r->p != c)
		return JsonFail(r, "invalid model JSON: '%c' expected at byte %ld",
						c, (long) (r->p - r->start));
	r->p++;
	return true;
}

/*
 * Reads a string; *s and *len give its raw contents (escapes kept, which
 * none of the names compared here has).
 */
static bool
JsonString(JsonReader *r, const char **s, size_t *len)
{
	if (!JsonExpect(r, '"'))
		return false;
	*s = r->p;
	while (r->p < r->end && *r->p != '"')
	{
		if ((unsigned char) *r->p < 0x20)
			return JsonFail(r, "invalid model JSON: control character in a string");
		if (*r->p == '\\')
			r->p++;
		r->p++;
	}
	if (r->p >= r->end)
		return JsonFail(r, "invalid model JSON: unterminated string");
	*len = (size_t) (r->p - *s);
	r->p++;
	return true;
}

/* Whether a raw string equals the name. */
static bool
JsonNameIs(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(s, name, len) == 0;
}

/*
 * Whether c can be part of a number or of true, false and null: digits,
 * letters, '-', '+' and '.', by table (the reader's inner loops).
 */
static const unsigned char json_scalar_char[256] = {
	['+'] = 1, ['-'] = 1, ['.'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
	['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
	['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
	['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static inline bool
JsonScalarChar(char c)
{
	return json_scalar_char[(unsigned char) c] != 0;
}

/*
 * Skips one value of any kind, nested ones included (iteratively, with a
 * bounded stack of open brackets).  Lenient about commas and colons inside
 * what it skips, strict about brackets matching and the end of input.
 * Most of a model is skipped at least once, so this runs on a local
 * cursor.
 */
static bool
JsonSkipValue(JsonReader *r)
{
	char		closers[JSON_MAX_NESTING];
	int			depth = 0;
	const char *p = r->p;
	const char *const end = r->end;

	for (;;)
	{
		char		c;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		if (p >= end)
			break;
		c = *p;
		if (c == '{' || c == '[')
		{
			if (depth == JSON_MAX_NESTING)
			{
				r->p = p;
				return JsonFail(r, "invalid model JSON: nested too deeply");
			}
			closers[depth++] = c == '{' ? '}' : ']';
			p++;
			continue;
		}
		else if (c == '}' || c == ']')
		{
			if (depth == 0 || closers[depth - 1] != c)
			{
				r->p = p;
				return JsonFail(r, "invalid model JSON: unbalanced '%c'", c);
			}
			depth--;
			p++;
		}
		else if (c == '"')
		{
			for (p++; p < end && *p != '"'; p++)
			{
				if ((unsigned char) *p < 0x20)
				{
					r->p = p;
					return JsonFail(r, "invalid model JSON: control character in a string");
				}
				if (*p == '\\')
					p++;
			}
			if (p >= end)
				break;
			p++;
		}
		else if (c == ',' || c == ':')
		{
			if (depth == 0)
			{
				r->p = p;
				return JsonFail(r, "invalid model JSON: unexpected '%c'", c);
			}
			p++;
			continue;
		}
		else if (JsonScalarChar(c))
		{
			while (p < end && JsonScalarChar(*p))
				p++;
		}
		else
		{
			r->p = p;
			return JsonFail(r, "invalid model JSON: unexpected character");
		}
		if (depth == 0)
		{
			r->p = p;
			return true;
		}
	}
	r->p = end;
	return JsonFail(r, "invalid model JSON: unexpected end");
}

/*
 * Iterates over an object's members: *first true before the first call.
 * Returns 1 with the key read and its colon consumed, 0 after the closing
 * brace, -1 on error.  JsonExpect(r, '{') starts the object.
 */
static int
JsonNextMember(JsonReader *r, bool *first, const char **key, size_t *keylen)
{
	JsonSkipSpace(r);
	if (r->p < r->end && *r->p == '}')
	{
		r->p++;
		return 0;
	}
	if (!*first && !JsonExpect(r, ','))
		return -1;
	*first = false;
	if (!JsonString(r, key, keylen) || !JsonExpect(r, ':'))
		return -1;
	return 1;
}

/*
 * Iterates over an array's elements like JsonNextMember: 1 when an element
 * follows (the reader is at it), 0 after the closing bracket, -1 on error.
 */
static int
JsonNextElement(JsonReader *r, bool *first)
{
	JsonSkipSpace(r);
	if (r->p < r->end && *r->p == ']')
	{
		r->p++;
		return 0;
	}
	if (!*first && !JsonExpect(r, ','))
		return -1;
	*first = false;
	JsonSkipSpace(r);
	return 1;
}

/* Copies a bounded number token into buf (NUL-terminated). */
static bool
JsonNumberToken(JsonReader *r, const char *s, size_t len, char *buf)
{
	if (len == 0 || len > JSON_MAX_NUMBER)
		return JsonFail(r, "invalid model JSON: bad number");
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '+' ||
			  s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
			return JsonFail(r, "invalid model JSON: bad number");
	memcpy(buf, s, len);
	buf[len] = '\0';
	return true;
}

/* Parses a float from len bytes at s (a number token or a string's body). */
static bool
JsonParseFloat(JsonReader *r, const char *s, size_t len, float *out)
{
	char		buf[JSON_MAX_NUMBER + 1];
	char	   *endp;

	if (!JsonNumberToken(r, s, len, buf))
		return false;
	errno = 0;
	*out = strtof(buf, &endp);
	if (*endp != '\0')
		return JsonFail(r, "invalid model JSON: bad number \"%s\"", buf);
	return true;
}

/* Parses an integer in [lo, hi] like JsonParseFloat. */
static bool
JsonParseInt(JsonReader *r, const char *s, size_t len, int64_t lo, int64_t hi,
			 int64_t *out)
{
	char		buf[JSON_MAX_NUMBER + 1];
	char	   *endp;
	long long	v;

	if (!JsonNumberToken(r, s, len, buf))
		return false;
	errno = 0;
	v = strtoll(buf, &endp, 10);
	if (*endp != '\0' || errno != 0 || v < lo || v > hi)
		return JsonFail(r, "invalid model JSON: integer \"%s\" out of range", buf);
	*out = v;
	return true;
}

/* Reads a number token at the reader. */
static bool
JsonScanNumber(JsonReader *r, const char **s, size_t *len)
{
	JsonSkipSpace(r);
	*s = r->p;
	while (r->p < r->end && JsonScalarChar(*r->p))
		r->p++;
	*len = (size_t) (r->p - *s);
	return *len > 0 || JsonFail(r, "invalid model JSON: number expected");
}

/* Reads a number (or a numeric string, as XGBoost writes parameters) as float. */
static bool
JsonReadFloat(JsonReader *r, float *out)
{
	const char *s;
	size_t		len;

	JsonSkipSpace(r);
	if (r->p < r->end && *r->p == '"')
	{
		if (!JsonString(r, &s, &len))
			return false;
		/* XGBoost 2 writes base_score as "[5E-1]" */
		if (len >= 2 && s[0] == '[' && s[len - 1] == ']')
		{
			s++;
			len -= 2;
		}
	}
	else if (!JsonScanNumber(r, &s, &len))
		return false;
	return JsonParseFloat(r, s, len, out);
}

/* Reads an integer (or a numeric string) in [lo, hi]. */
static bool
JsonReadInt(JsonReader *r, int64_t lo, int64_t hi, int64_t *out)
{
	const char *s;
	size_t		len;

	JsonSkipSpace(r);
	if (r->p < r->end && *r->p == '"')
	{
		if (!JsonString(r, &s, &len))
			return false;
	}
	else if (!JsonScanNumber(r, &s, &len))
		return false;
	return JsonParseInt(r, s, len, lo, hi, out);
}

/*
 * Reads an array of numbers: with ints non-NULL into ints (range [lo,
 * hi]), with floats non-NULL into floats, else only counts.  At most max
 * elements; *count gets their number.
 */
static bool
JsonReadNumbers(JsonReader *r, int64_t max, int32_t *ints, int64_t lo,
				int64_t hi, float *floats, int64_t *count)
{
	bool		first = true;
	int			more;
	int64_t		n = 0;

	if (!JsonExpect(r, '['))
		return false;
	while ((more = JsonNextElement(r, &first)) == 1)
	{
		const char *s;
		size_t		len;

		if (n == max)
			return JsonFail(r, "invalid model JSON: array longer than %lld",
							(long long) max);
		if (!JsonScanNumber(r, &s, &len))
			return false;
		if (ints != NULL)
		{
			int64_t		v;

			if (!JsonParseInt(r, s, len, lo, hi, &v))
				return false;
			ints[n] = (int32_t) v;
		}
		else if (floats != NULL && !JsonParseFloat(r, s, len, &floats[n]))
			return false;
		n++;
	}
	*count = n;
	return more == 0;
}

/* What the model's header says, and where its trees are. */
typedef struct ModelInfo
{
	const char *trees;			/* the trees array, or NULL */
	int64_t		tree_info_count;
	int64_t		num_features;
	bool		gbtree;
	bool		objective_ok;
	bool		have_base_score;
	float		base_score;
} ModelInfo;

/* Objectives whose margin transform of base_score is the identity. */
static const char *const identity_objectives[] = {
	"rank:ndcg", "rank:pairwise", "rank:map", "reg:squarederror"
};

/* learner.objective: its name must be one the forest serves. */
static bool
ReadObjective(JsonReader *r, ModelInfo *info)
{
	bool		first = true;
	const char *key;
	size_t		keylen;
	int			more;

	if (!JsonExpect(r, '{'))
		return false;
	while ((more = JsonNextMember(r, &first, &key, &keylen)) == 1)
	{
		if (JsonNameIs(key, keylen, "name"))
		{
			const char *s;
			size_t		len;

			if (!JsonString(r, &s, &len))
				return false;
			for (size_t i = 0; i < sizeof(identity_objectives) / sizeof(identity_objectives[0]); i++)
				if (JsonNameIs(s, len, identity_objectives[i]))
					info->objective_ok = true;
			if (!info->objective_ok)
				return JsonFail(r, "unsupported objective \"%.*s\" (a ranking or squared-error objective is needed)",
								(int) (len > 40 ? 40 : len), s);
		}
		else if (!JsonSkipValue(r))
			return false;
	}
	return more == 0;
}

/* learner.learner_model_param: base_score, num_feature, one output. */
static bool
ReadModelParam(JsonReader *r, ModelInfo *info)
{
	bool		first = true;
	const char *key;
	size_t		keylen;
	int			more;

	if (!JsonExpect(r, '{'))
		return false;
	while ((more = JsonNextMember(r, &first, &key, &keylen)) == 1)
	{
		int64_t		v;

		if (JsonNameIs(key, keylen, "base_score"))
		{
			if (!JsonReadFloat(r, &info->base_score))
				return false;
			info->have_base_score = true;
		}
		else if (JsonNameIs(key, keylen, "num_feature"))
		{
			if (!JsonReadInt(r, 1, GBDT_MAX_FEATURES, &info->num_features))
				return false;
		}
		else if (JsonNameIs(key, keylen, "num_class"))
		{
			if (!JsonReadInt(r, 0, INT32_MAX, &v))
				return false;
			if (v > 1)
				return JsonFail(r, "multi-class models are not supported");
		}
		else if (JsonNameIs(key, keylen, "num_target"))
		{
			if (!JsonReadInt(r, 0, INT32_MAX, &v))
				return false;
			if (v != 1)
				return JsonFail(r, "multi-target models are not supported");
		}
		else if (!JsonSkipValue(r))
			return false;
	}
	return more == 0;
}

/* model.tree_info: every tree belongs to output group 0. */
static bool
ReadTreeInfo(JsonReader *r, ModelInfo *info)
{
	bool		first = true;
	int			more;
	int64_t		n = 0;

	if (!JsonExpect(r, '['))
		return false;
	while ((more = JsonNextElement(r, &first)) == 1)
	{
		int64_t		group;

		if (!JsonReadInt(r, 0, INT32_MAX, &group))
			return false;
		if (group != 0)
			return JsonFail(r, "multi-output models are not supported");
		n++;
	}
	info->tree_info_count = n;
	return more == 0;
}

/* learner.gradient_booster.model: records where the trees are. */
static bool
ReadBoosterModel(JsonReader *r, ModelInfo *info)
{
	bool		first = true;
	const char *key;
	size_t		keylen;
	int			more;

	if (!JsonExpect(r, '{'))
		return false;
	while ((more = JsonNextMember(r, &first, &key, &keylen)) == 1)
	{
		if (JsonNameIs(key, keylen, "trees"))
		{
			JsonSkipSpace(r);
			info->trees = r->p;
			if (!JsonSkipValue(r))
				return false;
		}
		else if (JsonNameIs(key, keylen, "tree_info"))
		{
			if (!ReadTreeInfo(r, info))
				return false;
		}
		else if (!JsonSkipValue(r))
			return false;
	}
	return more == 0;
}

/* learner.gradient_booster: a gbtree (not dart, not gblinear). */
static bool
ReadBooster(JsonReader *r, ModelInfo *info)
{
	bool		first = true;
	const char *key;
	size_t		keylen;
	int			more;

	if (!JsonExpect(r, '{'))
		return false;
	while ((more = JsonNextMember(r, &first, &key, &keylen)) == 1)
	{
		if (JsonNameIs(key, keylen, "name"))
		{
			const char *s;
			size_t		len;

			if (!JsonString(r, &s, &len))
				return false;
			if (!JsonNameIs(s, len, "gbtree"))
				return JsonFail(r, "unsupported booster \"%.*s\" (gbtree is needed)",
								(int) (len > 40 ? 40 : len), s);
			info->gbtree = true;
		}
		else if (JsonNameIs(key, keylen, "model"))
		{
			if (!ReadBoosterModel(r, info))
				return false;
		}
		else if (!JsonSkipValue(r))
			return false;
	}
	return more == 0;
}

/* The document's learner member. */
static bool
ReadLearner(JsonReader *r, ModelInfo *info)
{
	bool		first = true;
	const char *key;
	size_t		keylen;
	int			more;

	if (!JsonExpect(r, '{'))
		return false;
	while ((more = JsonNextMember(r, &first, &key, &keylen)) == 1)
	{
		bool		ok;

		if (JsonNameIs(key, keylen, "gradient_booster"))
			ok = ReadBooster(r, info);
		else if (JsonNameIs(key, keylen, "learner_model_param"))
			ok = ReadModelParam(r, info);
		else if (JsonNameIs(key, keylen, "objective"))
			ok = ReadObjective(r, info);
		else
			ok = JsonSkipValue(r);
		if (!ok)
			return false;
	}
	return more == 0;
}

/* Reads the whole document: the header fields and where the trees are. */
static bool
ReadModel(JsonReader *r, ModelInfo *info)
{
	bool		first = true;
	const char *key;
	size_t		keylen;
	int			more;
	bool		have_learner = false;

	memset(info, 0, sizeof(*info));
	info->tree_info_count = -1;
	if (!JsonExpect(r, '{'))
		return false;
	while ((more = JsonNextMember(r, &first, &key, &keylen)) == 1)
	{
		if (JsonNameIs(key, keylen, "learner"))
		{
			if (!ReadLearner(r, info))
				return false;
			have_learner = true;
		}
		else if (!JsonSkipValue(r))
			return false;
	}
	if (more != 0)
		return false;
	JsonSkipSpace(r);
	if (r->p != r->end)
		return JsonFail(r, "invalid model JSON: data after the document");
	if (!have_learner || info->trees == NULL || !info->gbtree ||
		info->num_features == 0 || !info->have_base_score ||
		!info->objective_ok)
		return JsonFail(r, "not an XGBoost gbtree model: learner, booster, trees, objective, num_feature or base_score missing");
	if (!isfinite(info->base_score))
		return JsonFail(r, "base_score is not finite");
	return true;
}

/* The arrays of one tree, read into scratch (n entries each). */
typedef struct TreeArrays
{
	int32_t    *left;
	int32_t    *right;
	int32_t    *feature;
	int32_t    *default_left;
	int32_t    *split_type;
	float	   *cond;
	float	   *cover;
	int32_t    *order;			/* breadth-first position → source node */
	int32_t    *seen;			/* source node reached already */
	int32_t    *depth;			/* breadth-first position → depth */
} TreeArrays;

/* Which arrays of a tree were present, and their lengths. */
enum
{
	TA_LEFT, TA_RIGHT, TA_FEATURE, TA_DEFAULT_LEFT, TA_COND, TA_COVER,
	TA_SPLIT_TYPE, TA_COUNT
};

static const char *const tree_array_names[TA_COUNT] = {
	"left_children", "right_children", "split_indices", "default_left",
	"split_conditions", "sum_hessian", "split_type"
};

/*
 * Reads one tree object, at most max_nodes nodes.  With a NULL ta, only
 * counts its nodes (the left_children array); else reads every array into
 * ta, all of the same length.  *nodes gets the count.  Children are only
 * checked against max_nodes here; LayOutTree checks them against the count.
 */
static bool
ReadTree(JsonReader *r, int t, int max_nodes, int64_t *nodes,
		 const TreeArrays *ta)
{
	bool		first = true;
	const char *key;
	size_t		keylen;
	int			more;
	int64_t		len[TA_COUNT];

	for (int a = 0; a < TA_COUNT; a++)
		len[a] = -1;
	if (!JsonExpect(r, '{'))
		return false;
	while ((more = JsonNextMember(r, &first, &key, &keylen)) == 1)
	{
		int			a;
		bool		ok;

		for (a = 0; a < TA_COUNT; a++)
			if (JsonNameIs(key, keylen, tree_array_names[a]))
				break;
		if (a == TA_COUNT)
			ok = JsonSkipValue(r);
		else if (len[a] >= 0)
			ok = JsonFail(r, "tree %d: %s given twice", t, tree_array_names[a]);
		else if (ta == NULL)
			ok = a == TA_LEFT ?
				JsonReadNumbers(r, max_nodes, NULL, 0, 0, NULL, &len[a]) :
				JsonSkipValue(r);
		else
		{
			int32_t    *ints = NULL;
			float	   *floats = NULL;
			int64_t		lo = 0,
						hi = 0;

			switch (a)
			{
				case TA_LEFT:
					ints = ta->left, lo = -1, hi = max_nodes - 1;
					break;
				case TA_RIGHT:
					ints = ta->right, lo = -1, hi = max_nodes - 1;
					break;
				case TA_FEATURE:
					ints = ta->feature, lo = 0, hi = INT32_MAX;
					break;
				case TA_DEFAULT_LEFT:
					ints = ta->default_left, lo = 0, hi = 1;
					break;
				case TA_SPLIT_TYPE:
					/* 0: numerical; categorical splits are not served */
					ints = ta->split_type, lo = 0, hi = 0;
					break;
				case TA_COND:
					floats = ta->cond;
					break;
				case TA_COVER:
					floats = ta->cover;
					break;
			}
			ok = JsonReadNumbers(r, max_nodes, ints, lo, hi, floats, &len[a]);
		}
		if (!ok)
			return false;
	}
	if (more != 0)
		return false;
	if (len[TA_LEFT] < 1)
		return JsonFail(r, "tree %d has no nodes", t);
	*nodes = len[TA_LEFT];
	if (ta == NULL)
		return true;
	for (int a = 0; a < TA_COUNT; a++)
		if (len[a] != *nodes && !(a == TA_SPLIT_TYPE && len[a] < 0))
			return JsonFail(r, "tree %d: %s has %lld entries, not %lld", t,
							tree_array_names[a], (long long) len[a],
							(long long) *nodes);
	return true;
}

bool
GbdtXgboostJsonShape(const char *json, size_t len, GbdtJsonShape *shape,
					 char *err, size_t errlen)
{
	JsonReader	r = {json, json, json + len, err, errlen};
	ModelInfo	info;
	bool		first = true;
	int			more;
	int64_t		total = 0;
	int			trees = 0,
				max_nodes = 0;

	memset(shape, 0, sizeof(*shape));
	if (json == NULL)
		return JsonFail(&r, "no model");
	if (!ReadModel(&r, &info))
		return false;
	r.p = info.trees;
	if (!JsonExpect(&r, '['))
		return false;
	while ((more = JsonNextElement(&r, &first)) == 1)
	{
		int64_t		nodes;

		if (trees == GBDT_MAX_TREES)
			return JsonFail(&r, "more than %d trees", GBDT_MAX_TREES);
		if (!ReadTree(&r, trees, GBDT_MAX_NODES, &nodes, NULL))
			return false;
		total += nodes;
		if (total > GBDT_MAX_NODES)
			return JsonFail(&r, "more than %d nodes", GBDT_MAX_NODES);
		if (nodes > max_nodes)
			max_nodes = (int) nodes;
		trees++;
	}
	if (more != 0)
		return false;
	if (info.tree_info_count >= 0 && info.tree_info_count != trees)
		return JsonFail(&r, "tree_info has %lld entries for %d trees",
						(long long) info.tree_info_count, trees);
	shape->num_features = (int) info.num_features;
	shape->trees_offset = (size_t) (info.trees - json);
	shape->num_trees = trees;
	shape->total_nodes = total;
	shape->max_tree_nodes = max_nodes;
	shape->base_score = info.base_score;
	return true;
}

size_t
GbdtXgboostJsonScratch(const GbdtJsonShape *shape)
{
	/* the ten int32 or float arrays of TreeArrays */
	return sizeof(int32_t) * 10 * (size_t) (shape->max_tree_nodes > 0 ?
											shape->max_tree_nodes : 1);
}

/*
 * Lays out source tree t (n nodes in ta) at the end of f's nodes,
 * breadth-first from node 0, and computes its mean values.
 */
static bool
LayOutTree(JsonReader *r, GbdtForest *f, int t, int n, const TreeArrays *ta)
{
	GbdtNode   *nodes = (GbdtNode *) GbdtNodes(f);
	float	   *value = (float *) GbdtValue(f);
	float	   *cover = (float *) GbdtCover(f);
	float	   *mean = (float *) GbdtMean(f);
	int32_t    *first = (int32_t *) GbdtTreeFirst(f);
	int32_t    *tree_depth = (int32_t *) GbdtTreeDepth(f);
	const int32_t base = f->num_nodes;
	int32_t		count = 1;
	int32_t		max_depth = 0;

	memset(ta->seen, 0, sizeof(int32_t) * n);
	ta->order[0] = 0;
	ta->seen[0] = 1;
	ta->depth[0] = 0;
	for (int32_t pos = 0; pos < count; pos++)
	{
		const int32_t src = ta->order[pos];
		const int32_t i = base + pos;
		GbdtNode   *node = &nodes[i];

		if (!isfinite(ta->cover[src]) || ta->cover[src] < 0)
			return JsonFail(r, "tree %d: node %d has an invalid sum_hessian", t, src);
		cover[i] = ta->cover[src];
		if (ta->depth[pos] > max_depth)
			max_depth = ta->depth[pos];
		if (ta->left[src] < 0)
		{
			if (ta->right[src] >= 0)
				return JsonFail(r, "tree %d: node %d has one child", t, src);
			if (!isfinite(ta->cond[src]))
				return JsonFail(r, "tree %d: leaf %d has no finite value", t, src);
			node->threshold = NAN;
			node->column = 0;
			node->left = i - 1;
			node->missing = i;
			value[i] = ta->cond[src];
		}
		else
		{
			const int32_t l = ta->left[src];
			const int32_t rt = ta->right[src];

			if (rt < 0 || l >= n || rt >= n || l == rt || ta->seen[l] ||
				ta->seen[rt])
				return JsonFail(r, "tree %d: node %d has invalid children", t, src);
			if (ta->depth[pos] >= GBDT_MAX_DEPTH)
				return JsonFail(r, "tree %d is deeper than %d", t, GBDT_MAX_DEPTH);
			if (ta->feature[src] >= f->num_features)
				return JsonFail(r, "tree %d: node %d splits on feature %d of %d",
								t, src, (int) ta->feature[src], f->num_features);
			if (!isfinite(ta->cond[src]))
				return JsonFail(r, "tree %d: node %d has no finite threshold", t, src);
			if (!(ta->cover[src] > 0))
				return JsonFail(r, "tree %d: split %d has no cover", t, src);
			ta->seen[l] = ta->seen[rt] = 1;
			ta->order[count] = l;
			ta->order[count + 1] = rt;
			ta->depth[count] = ta->depth[count + 1] = ta->depth[pos] + 1;
			node->threshold = ta->cond[src];
			/* NaN goes left: the column of the row with NaN as −∞ */
			node->column = ta->feature[src] +
				(ta->default_left[src] ? f->num_features : 0);
			node->left = base + count;
			node->missing = ta->default_left[src] ? node->left : node->left + 1;
			value[i] = 0;
			count += 2;
		}
	}

	/* children come after their parent: one backward pass, as XGBoost rounds */
	for (int32_t pos = count - 1; pos >= 0; pos--)
	{
		const int32_t i = base + pos;

		if (GbdtIsLeaf(nodes, i))
			mean[i] = value[i];
		else
		{
			const int32_t l = nodes[i].left;
			float		m;

			m = mean[l] * cover[l];
			m += mean[l + 1] * cover[l + 1];
			m /= cover[i];
			mean[i] = m;
		}
	}

	first[t] = base;
	first[t + 1] = base + count;
	tree_depth[t] = max_depth;
	if (max_depth > f->max_depth)
		f->max_depth = max_depth;
	f->num_nodes = base + count;
	return true;
}

bool
GbdtForestFromXgboostJson(const char *json, size_t len,
						  const GbdtJsonShape *shape, GbdtForest *f,
						  size_t size, void *scratch, char *err,
						  size_t errlen)
{
	JsonReader	r = {json, json, json + len, err, errlen};
	TreeArrays	ta;
	bool		first = true;
	int			more;
	int			t = 0;
	int32_t    *s = scratch;
	size_t		m = (size_t) (shape->max_tree_nodes > 0 ? shape->max_tree_nodes : 1);

	if (size != GbdtForestSize(shape->num_trees, (int) shape->total_nodes) ||
		size == 0)
		return JsonFail(&r, "forest block of the wrong size");
	/* the header was read by the first pass; the trees are read again */
	if (shape->trees_offset >= len)
		return JsonFail(&r, "model changed between passes");
	GbdtForestInit(f, size, shape->num_features, shape->num_trees,
				   (int) shape->total_nodes, shape->base_score);

	ta.left = s;
	ta.right = s + m;
	ta.feature = s + 2 * m;
	ta.default_left = s + 3 * m;
	ta.split_type = s + 4 * m;
	ta.cond = (float *) (s + 5 * m);
	ta.cover = (float *) (s + 6 * m);
	ta.order = s + 7 * m;
	ta.seen = s + 8 * m;
	ta.depth = s + 9 * m;

	r.p = json + shape->trees_offset;
	if (!JsonExpect(&r, '['))
		return false;
	while ((more = JsonNextElement(&r, &first)) == 1)
	{
		int64_t		n;

		if (t == shape->num_trees)
			return JsonFail(&r, "model changed between passes");
		if (!ReadTree(&r, t, shape->max_tree_nodes, &n, &ta))
			return false;
		if (f->num_nodes + n > shape->total_nodes)
			return JsonFail(&r, "model changed between passes");
		if (!LayOutTree(&r, f, t, (int) n, &ta))
			return false;
		t++;
	}
	if (more != 0)
		return false;
	if (t != shape->num_trees)
		return JsonFail(&r, "model changed between passes");
	if (!GbdtForestCheck(f, size, err, errlen))
		return false;
	/* the AVX-512 evaluator's codes, from the checked trees, then checked */
	GbdtForestBuildCodes(f);
	return GbdtForestCheck(f, size, err, errlen);
}
