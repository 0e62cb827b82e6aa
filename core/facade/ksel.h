/* ksel.h: Kubernetes label and field selectors, and the patch formats of
 * PATCH requests (JSON merge patch, strategic merge patch on objects
 * without merge keys, JSON patch). */
#ifndef PG_FACADE_KSEL_H
#define PG_FACADE_KSEL_H

#include <jansson.h>

#include "base/err.h"

#define KSEL_MAX 8
#define KSEL_VALS 8

typedef struct ksel_req {
    char key[128];
    int op;                     /* KSEL_EQ ... */
    char vals[KSEL_VALS][64];
    int nvals;
} ksel_req;

typedef struct ksel {
    ksel_req r[KSEL_MAX];
    int n;                      /* 0 = everything */
} ksel;

enum { KSEL_EQ, KSEL_NE, KSEL_IN, KSEL_NOTIN, KSEL_EXISTS, KSEL_NOTEXISTS };

/* A labelSelector ("app=web,tier!=db,env in (a,b),!canary"); NULL or "" =
 * everything. -1 with e (400) on a bad one. */
int ksel_labels(ksel *s, const char *text, pg_err *e);
/* A fieldSelector: = == != only, keys among fields ("metadata.name|..."). */
int ksel_fields(ksel *s, const char *text, const char *const *fields, pg_err *e);
/* Whether labels (an object of strings) match. */
int ksel_match_labels(const ksel *s, const json_t *labels);
/* Whether the field values match: get(ud, key) returns the value of a field. */
int ksel_match_fields(const ksel *s, const char *(*get)(void *ud, const char *key), void *ud);

/* RFC 7386: a new reference, target unchanged. */
json_t *kpatch_merge(const json_t *target, const json_t *patch);
/* RFC 6902 over a copy of target: the result (new reference), or NULL with
 * e filled (422 for a failed test or a bad path, 400 for a malformed patch). */
json_t *kpatch_json(const json_t *target, const json_t *patch, pg_err *e);

#endif
