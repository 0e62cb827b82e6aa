/* router.h: method + path-template matching ("/pod/set-pod-count/{n}").
 *
 * Templates are split into segments once, at add time; a literal segment
 * beats a parameter at the same depth, so "/metrics/status" wins over
 * "/metrics/{job}". Matching does not allocate. */
#ifndef PG_ROUTER_H
#define PG_ROUTER_H

#include <stddef.h>

#include "base/err.h"

#define ROUTER_MAX_PARAMS 8

typedef struct pg_router pg_router;

typedef struct pg_param {
    const char *name;           /* points into the router, NUL-terminated */
    const char *val;            /* points into the path being matched */
    size_t len;
} pg_param;

typedef struct pg_match {
    int id;                     /* as given to router_add */
    int nparams;
    pg_param params[ROUTER_MAX_PARAMS];
} pg_match;

pg_router *router_new(void);
void router_free(pg_router *r);

/* Add a route. A malformed template, or one whose method and shape are
 * already taken, fails with e filled. method "*" matches any method. */
int router_add(pg_router *r, const char *method, const char *tmpl, int id, pg_err *e);

/* 200 and *m filled; 404 when no template matches the path; 405 when
 * templates match the path but not the method, with allow filled
 * ("GET, POST"). The path must not contain the query string. */
int router_match(const pg_router *r, const char *method, const char *path, pg_match *m,
                 char *allow, size_t allow_len);

size_t router_count(const pg_router *r);
/* Route i in insertion order (for status and OpenAPI). */
int router_get(const pg_router *r, size_t i, const char **method, const char **tmpl, int *id);

#endif
