/* router.c: method + path-template matching. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/router.h"

#define MAX_SEGS 16

typedef struct seg {
    char *text;                 /* literal text, or the parameter name */
    int param;
} seg;

typedef struct route {
    char method[16];
    char *tmpl;
    int id;
    int nsegs;
    seg segs[MAX_SEGS];
} route;

struct pg_router {
    route *v;
    size_t n, cap;
};

pg_router *router_new(void) { return calloc(1, sizeof(pg_router)); }

static void route_free(route *r) {
    for (int i = 0; i < r->nsegs; i++) free(r->segs[i].text);
    free(r->tmpl);
}

void router_free(pg_router *r) {
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) route_free(&r->v[i]);
    free(r->v);
    free(r);
}

static int valid_name(const char *s, size_t n) {
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (i > 0 && c >= '0' && c <= '9')))
            return 0;
    }
    return 1;
}

static int parse_tmpl(route *r, const char *tmpl, pg_err *e) {
    if (tmpl[0] != '/') return pg_errf(e, 500, "bad_route", "path '%s' must start with '/'", tmpl);
    const char *p = tmpl + 1;
    r->nsegs = 0;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 0) return pg_errf(e, 500, "bad_route", "path '%s' has an empty segment", tmpl);
        if (r->nsegs == MAX_SEGS) return pg_errf(e, 500, "bad_route", "path '%s' is too deep", tmpl);
        seg *s = &r->segs[r->nsegs];
        if (p[0] == '{') {
            if (p[len - 1] != '}' || !valid_name(p + 1, len - 2))
                return pg_errf(e, 500, "bad_route", "path '%s': bad parameter '%.*s'", tmpl, (int)len, p);
            s->param = 1;
            s->text = strndup(p + 1, len - 2);
        } else {
            if (memchr(p, '{', len) || memchr(p, '}', len))
                return pg_errf(e, 500, "bad_route", "path '%s': braces inside a segment", tmpl);
            s->param = 0;
            s->text = strndup(p, len);
        }
        r->nsegs++;
        p += len;
        if (*p == '/') {
            p++;
            if (!*p) return pg_errf(e, 500, "bad_route", "path '%s' has a trailing '/'", tmpl);
        }
    }
    return 0;
}

/* Same shape: same depth and the same literal segments where both have literals. */
static int same_shape(const route *a, const route *b) {
    if (a->nsegs != b->nsegs) return 0;
    for (int i = 0; i < a->nsegs; i++) {
        if (a->segs[i].param != b->segs[i].param) return 0;
        if (!a->segs[i].param && strcmp(a->segs[i].text, b->segs[i].text)) return 0;
    }
    return 1;
}

int router_add(pg_router *r, const char *method, const char *tmpl, int id, pg_err *e) {
    if (!method || !*method || strlen(method) >= sizeof r->v[0].method)
        return pg_errf(e, 500, "bad_route", "bad method for path '%s'", tmpl ? tmpl : "?");
    if (!tmpl) return pg_errf(e, 500, "bad_route", "route without a path");
    route nr = { .id = id };
    snprintf(nr.method, sizeof nr.method, "%s", method);
    for (char *c = nr.method; *c; c++)
        if (*c >= 'a' && *c <= 'z') *c -= 32;
    if (parse_tmpl(&nr, tmpl, e) < 0) {
        route_free(&nr);
        return -1;
    }
    for (size_t i = 0; i < r->n; i++) {
        if (same_shape(&r->v[i], &nr) &&
            (!strcmp(r->v[i].method, nr.method) || !strcmp(nr.method, "*") || !strcmp(r->v[i].method, "*"))) {
            pg_errf(e, 500, "duplicate_route", "%s %s is already served by %s %s", nr.method, tmpl,
                    r->v[i].method, r->v[i].tmpl);
            route_free(&nr);
            return -1;
        }
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        route *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            route_free(&nr);
            return pg_errf(e, 500, "no_memory", "out of memory");
        }
        r->v = v;
        r->cap = cap;
    }
    nr.tmpl = strdup(tmpl);
    r->v[r->n++] = nr;
    return 0;
}

/* Match path against rt; literal segments score higher, so the most specific template wins. */
static int match_path(const route *rt, const char *path, pg_match *m, int *score) {
    const char *p = path;
    if (*p != '/') return 0;
    p++;
    int n = 0, sc = 0;
    m->nparams = 0;
    if (!*p) return rt->nsegs == 0 ? (*score = 0, 1) : 0;
    while (1) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (n == rt->nsegs) return 0;
        const seg *s = &rt->segs[n];
        if (s->param) {
            if (len == 0 || m->nparams == ROUTER_MAX_PARAMS) return 0;
            m->params[m->nparams++] = (pg_param){ s->text, p, len };
        } else {
            if (strlen(s->text) != len || memcmp(s->text, p, len)) return 0;
            sc += 1 << (MAX_SEGS - n);
        }
        n++;
        if (!end) break;
        p = end + 1;
    }
    if (n != rt->nsegs) return 0;
    *score = sc;
    return 1;
}

int router_match(const pg_router *r, const char *method, const char *path, pg_match *m,
                 char *allow, size_t allow_len) {
    int best = -1, best_score = -1, path_hit = 0;
    pg_match tmp;
    size_t alen = 0;
    if (allow && allow_len) allow[0] = '\0';
    for (size_t i = 0; i < r->n; i++) {
        int score;
        if (!match_path(&r->v[i], path, &tmp, &score)) continue;
        path_hit = 1;
        if (strcmp(r->v[i].method, method) && strcmp(r->v[i].method, "*")) {
            if (allow && alen < allow_len && !strstr(allow, r->v[i].method)) {
                int w = snprintf(allow + alen, allow_len - alen, "%s%s", alen ? ", " : "", r->v[i].method);
                if (w > 0) alen += (size_t)w;
            }
            continue;
        }
        if (score > best_score) {
            best_score = score;
            best = (int)i;
            *m = tmp;
        }
    }
    if (best >= 0) {
        m->id = r->v[best].id;
        return 200;
    }
    return path_hit ? 405 : 404;
}

size_t router_count(const pg_router *r) { return r->n; }

int router_get(const pg_router *r, size_t i, const char **method, const char **tmpl, int *id) {
    if (i >= r->n) return -1;
    if (method) *method = r->v[i].method;
    if (tmpl) *tmpl = r->v[i].tmpl;
    if (id) *id = r->v[i].id;
    return 0;
}
