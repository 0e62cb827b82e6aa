/* ksel.c: label and field selectors; merge patch and JSON patch. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facade/ksel.h"

/* ---- selectors ---------------------------------------------------------- */

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t') p++;
    return p;
}

static int valid_key(const char *k) {
    if (!*k) return 0;
    for (const char *p = k; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_' || *p == '/')) return 0;
    return 1;
}

static int valid_value(const char *v) {
    size_t n = strlen(v);
    if (n > 63) return 0;
    for (const char *p = v; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_')) return 0;
    return 1;
}

/* Copy [a, b) trimmed into out. */
static int copy_trim(const char *a, const char *b, char *out, size_t n) {
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    if ((size_t)(b - a) >= n) return -1;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return 0;
}

static int bad(pg_err *e, const char *what, const char *text) {
    return pg_errf(e, 400, "bad_request", "unable to parse requirement: %s in selector '%.200s'", what, text);
}

/* One term [a, b) of a label selector. */
static int label_term(ksel_req *r, const char *a, const char *b, const char *text, pg_err *e) {
    char t[512];
    if (copy_trim(a, b, t, sizeof t) < 0 || !t[0]) return bad(e, "an empty or overlong term", text);
    memset(r, 0, sizeof *r);
    char *sp = strpbrk(t, " \t(");
    char *ops = strstr(t, "!=");
    char *eq = strchr(t, '=');
    if (t[0] == '!' && !ops) {
        r->op = KSEL_NOTEXISTS;
        if (copy_trim(t + 1, t + strlen(t), r->key, sizeof r->key) < 0 || !valid_key(r->key))
            return bad(e, "a bad key", text);
        return 0;
    }
    if (sp && (!eq || sp < eq)) {                 /* key in (..) / key notin (..) */
        if (copy_trim(t, sp, r->key, sizeof r->key) < 0 || !valid_key(r->key)) return bad(e, "a bad key", text);
        const char *p = skip_ws(sp);
        if (!strncmp(p, "notin", 5)) r->op = KSEL_NOTIN, p += 5;
        else if (!strncmp(p, "in", 2)) r->op = KSEL_IN, p += 2;
        else return bad(e, "an unknown operator", text);
        p = skip_ws(p);
        if (*p != '(') return bad(e, "'(' expected", text);
        const char *close = strchr(p, ')');
        if (!close || *skip_ws(close + 1)) return bad(e, "')' expected", text);
        p++;
        while (p < close) {
            const char *c = memchr(p, ',', (size_t)(close - p));
            const char *end = c ? c : close;
            if (r->nvals == KSEL_VALS) return bad(e, "too many values", text);
            if (copy_trim(p, end, r->vals[r->nvals], sizeof r->vals[0]) < 0 || !valid_value(r->vals[r->nvals]))
                return bad(e, "a bad value", text);
            r->nvals++;
            p = c ? c + 1 : close;
        }
        return 0;
    }
    if (!eq) {
        r->op = KSEL_EXISTS;
        if (copy_trim(t, t + strlen(t), r->key, sizeof r->key) < 0 || !valid_key(r->key))
            return bad(e, "a bad key", text);
        return 0;
    }
    char *kend = ops && ops < eq ? ops : eq;
    const char *v = ops && ops < eq ? ops + 2 : eq[1] == '=' ? eq + 2 : eq + 1;
    r->op = ops && ops < eq ? KSEL_NE : KSEL_EQ;
    if (copy_trim(t, kend, r->key, sizeof r->key) < 0 || !valid_key(r->key)) return bad(e, "a bad key", text);
    if (copy_trim(v, t + strlen(t), r->vals[0], sizeof r->vals[0]) < 0 || !valid_value(r->vals[0]))
        return bad(e, "a bad value", text);
    r->nvals = 1;
    return 0;
}

int ksel_labels(ksel *s, const char *text, pg_err *e) {
    memset(s, 0, sizeof *s);
    if (!text || !*skip_ws(text)) return 0;
    const char *p = text;
    while (*p) {
        const char *q = p;
        int depth = 0;
        while (*q && (depth || *q != ',')) {
            if (*q == '(') depth++;
            else if (*q == ')') depth--;
            q++;
        }
        if (s->n == KSEL_MAX) return bad(e, "too many terms", text);
        if (label_term(&s->r[s->n++], p, q, text, e) < 0) return -1;
        p = *q ? q + 1 : q;
        if (*q && !*p) return bad(e, "a trailing comma", text);
    }
    return 0;
}

int ksel_fields(ksel *s, const char *text, const char *const *fields, pg_err *e) {
    memset(s, 0, sizeof *s);
    if (!text || !*skip_ws(text)) return 0;
    const char *p = text;
    while (*p) {
        const char *q = strchr(p, ',');
        if (!q) q = p + strlen(p);
        if (s->n == KSEL_MAX) return bad(e, "too many terms", text);
        ksel_req *r = &s->r[s->n++];
        memset(r, 0, sizeof *r);
        char t[512];
        if (copy_trim(p, q, t, sizeof t) < 0) return bad(e, "an overlong term", text);
        char *ne = strstr(t, "!="), *eq = strchr(t, '=');
        if (!eq) return pg_errf(e, 400, "bad_request", "invalid field selector: '%.200s': no operator", text);
        char *kend = ne && ne < eq ? ne : eq;
        const char *v = ne && ne < eq ? ne + 2 : eq[1] == '=' ? eq + 2 : eq + 1;
        r->op = ne && ne < eq ? KSEL_NE : KSEL_EQ;
        if (copy_trim(t, kend, r->key, sizeof r->key) < 0 || copy_trim(v, t + strlen(t), r->vals[0], sizeof r->vals[0]) < 0)
            return bad(e, "an overlong term", text);
        r->nvals = 1;
        int known = 0;
        for (const char *const *f = fields; *f; f++) known |= !strcmp(*f, r->key);
        if (!known) return pg_errf(e, 400, "bad_request", "field label not supported: %.100s", r->key);
        p = *q ? q + 1 : q;
    }
    return 0;
}

static int req_match(const ksel_req *r, const char *v) {
    int in = 0;
    for (int i = 0; i < r->nvals; i++) in |= v && !strcmp(v, r->vals[i]);
    switch (r->op) {
    case KSEL_EQ: case KSEL_IN: return v && in;
    case KSEL_NE: case KSEL_NOTIN: return !in;
    case KSEL_EXISTS: return v != NULL;
    default: return v == NULL;
    }
}

int ksel_match_labels(const ksel *s, const json_t *labels) {
    for (int i = 0; i < s->n; i++)
        if (!req_match(&s->r[i], json_string_value(json_object_get(labels, s->r[i].key)))) return 0;
    return 1;
}

int ksel_match_fields(const ksel *s, const char *(*get)(void *ud, const char *key), void *ud) {
    for (int i = 0; i < s->n; i++)
        if (!req_match(&s->r[i], get(ud, s->r[i].key))) return 0;
    return 1;
}

/* ---- patches -------------------------------------------------------------- */

json_t *kpatch_merge(const json_t *target, const json_t *patch) {
    if (!json_is_object(patch)) return json_deep_copy(patch);
    json_t *t = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) {
        if (json_is_null(v)) {
            json_object_del(t, k);
        } else if (k[0] == '$') {
            continue;                               /* strategic-merge directives: no lists to direct here */
        } else {
            json_object_set_new(t, k, kpatch_merge(json_object_get(t, k), v));
        }
    }
    return t;
}

/* The parent of pointer ptr in doc and its last token (unescaped) in last. */
static json_t *pointer_parent(json_t *doc, const char *ptr, char *last, size_t n, pg_err *e) {
    if (*ptr != '/') {
        pg_errf(e, 422, "unprocessable", "JSON patch path '%.200s' does not start with '/'", ptr);
        return NULL;
    }
    json_t *cur = doc;
    const char *p = ptr + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        char tok[256];
        size_t j = 0;
        for (size_t i = 0; i < len && j + 1 < sizeof tok; i++) {
            if (p[i] == '~' && i + 1 < len && (p[i + 1] == '0' || p[i + 1] == '1')) {
                tok[j++] = p[i + 1] == '0' ? '~' : '/';
                i++;
            } else {
                tok[j++] = p[i];
            }
        }
        tok[j] = '\0';
        if (!slash) {
            snprintf(last, n, "%s", tok);
            return cur;
        }
        json_t *next = NULL;
        if (json_is_object(cur)) next = json_object_get(cur, tok);
        else if (json_is_array(cur) && isdigit((unsigned char)tok[0])) next = json_array_get(cur, strtoul(tok, NULL, 10));
        if (!next) {
            pg_errf(e, 422, "unprocessable", "JSON patch path '%.200s': no such member '%.100s'", ptr, tok);
            return NULL;
        }
        cur = next;
        p = slash + 1;
    }
}

static json_t *pointer_get(json_t *doc, const char *ptr, pg_err *e) {
    if (!*ptr) return doc;
    char last[256];
    json_t *par = pointer_parent(doc, ptr, last, sizeof last, e);
    if (!par) return NULL;
    json_t *v = json_is_object(par) ? json_object_get(par, last)
              : json_is_array(par) && isdigit((unsigned char)last[0]) ? json_array_get(par, strtoul(last, NULL, 10))
              : NULL;
    if (!v) pg_errf(e, 422, "unprocessable", "JSON patch path '%.200s' does not exist", ptr);
    return v;
}

/* add (replace = 0) or replace (1): takes a reference to v. */
static int pointer_put(json_t *doc, const char *ptr, json_t *v, int replace, pg_err *e) {
    char last[256];
    json_t *par = pointer_parent(doc, ptr, last, sizeof last, e);
    if (!par) return json_decref(v), -1;
    if (json_is_object(par)) {
        if (replace && !json_object_get(par, last)) {
            json_decref(v);
            return pg_errf(e, 422, "unprocessable", "JSON patch replace: '%.200s' does not exist", ptr);
        }
        return json_object_set_new(par, last, v) == 0 ? 0 : pg_errf(e, 500, "no_memory", "out of memory");
    }
    if (json_is_array(par)) {
        size_t n = json_array_size(par);
        if (!strcmp(last, "-") && !replace) return json_array_append_new(par, v) == 0 ? 0 : -1;
        char *end;
        unsigned long i = strtoul(last, &end, 10);
        if (!isdigit((unsigned char)last[0]) || *end || i > n || (replace && i == n)) {
            json_decref(v);
            return pg_errf(e, 422, "unprocessable", "JSON patch path '%.200s': index out of range", ptr);
        }
        return replace ? json_array_set_new(par, i, v) : json_array_insert_new(par, i, v);
    }
    json_decref(v);
    return pg_errf(e, 422, "unprocessable", "JSON patch path '%.200s': parent is not a container", ptr);
}

static int pointer_remove(json_t *doc, const char *ptr, pg_err *e) {
    char last[256];
    json_t *par = pointer_parent(doc, ptr, last, sizeof last, e);
    if (!par) return -1;
    if (json_is_object(par) && json_object_del(par, last) == 0) return 0;
    if (json_is_array(par) && isdigit((unsigned char)last[0]) && json_array_remove(par, strtoul(last, NULL, 10)) == 0)
        return 0;
    return pg_errf(e, 422, "unprocessable", "JSON patch remove: '%.200s' does not exist", ptr);
}

json_t *kpatch_json(const json_t *target, const json_t *patch, pg_err *e) {
    if (!json_is_array(patch)) {
        pg_errf(e, 400, "bad_request", "a JSON patch is an array of operations");
        return NULL;
    }
    json_t *doc = json_deep_copy(target);
    size_t i;
    json_t *op;
    json_array_foreach((json_t *)patch, i, op) {
        const char *name = json_string_value(json_object_get(op, "op"));
        const char *path = json_string_value(json_object_get(op, "path"));
        const char *from = json_string_value(json_object_get(op, "from"));
        json_t *value = json_object_get(op, "value");
        int rc = -1;
        if (!name || !path) {
            pg_errf(e, 400, "bad_request", "JSON patch operation %zu needs 'op' and 'path'", i);
        } else if (!strcmp(name, "add") || !strcmp(name, "replace")) {
            rc = value ? pointer_put(doc, path, json_deep_copy(value), name[0] == 'r', e)
                       : pg_errf(e, 400, "bad_request", "JSON patch %s needs a 'value'", name);
        } else if (!strcmp(name, "remove")) {
            rc = pointer_remove(doc, path, e);
        } else if (!strcmp(name, "test")) {
            json_t *cur = pointer_get(doc, path, e);
            rc = !cur ? -1 : value && json_equal(cur, value) ? 0
               : pg_errf(e, 422, "unprocessable", "JSON patch test failed at '%.200s'", path);
        } else if (!strcmp(name, "copy") || !strcmp(name, "move")) {
            json_t *src = from ? pointer_get(doc, from, e) : NULL;
            if (!from) pg_errf(e, 400, "bad_request", "JSON patch %s needs 'from'", name);
            if (src) {
                json_t *v = json_deep_copy(src);
                rc = name[0] == 'm' ? pointer_remove(doc, from, e) : 0;
                rc = rc == 0 ? pointer_put(doc, path, v, 0, e) : (json_decref(v), -1);
            }
        } else {
            pg_errf(e, 400, "bad_request", "unknown JSON patch operation '%.40s'", name);
        }
        if (rc != 0) {
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}
