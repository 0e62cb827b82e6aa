/* shared.c: the cross-worker key/value dict (see shared.h).
 *
 * A chained hash table under one mutex. Buckets double when the table holds
 * as many entries as buckets, so memory follows use rather than capacity.
 * Expired entries are dropped when met, and all at once when the dict is
 * full or counted. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/hash.h"
#include "shared/shared.h"

typedef struct sh_entry {
    struct sh_entry *next;
    uint64_t hash;
    double expires;             /* monotonic s; 0 = never */
    pg_shared_value v;          /* a string value is owned by the entry */
    size_t klen;
    char key[];                 /* klen bytes + NUL */
} sh_entry;

struct pg_shared {
    pthread_mutex_t mu;
    sh_entry **buckets;
    size_t nbuckets;            /* a power of two */
    size_t count;               /* entries, expired ones included until dropped */
    size_t capacity;
    uint64_t seed;
    double (*now)(void *ud);
    void *now_ud;
};

static double mono_now(void *ud) {
    (void)ud;
    return pg_mono();
}

static uint64_t hash_key(const pg_shared *sh, const char *k, size_t n) {
    uint64_t h = pg_hash(PG_HASH_INIT ^ sh->seed, k, n);    /* seeded per dict */
    return h ^ (h >> 29);
}

pg_shared *pg_shared_new(size_t capacity) {
    pg_shared *sh = calloc(1, sizeof *sh);
    if (!sh) return NULL;
    sh->nbuckets = 64;
    sh->buckets = calloc(sh->nbuckets, sizeof *sh->buckets);
    if (!sh->buckets) { free(sh); return NULL; }
    pthread_mutex_init(&sh->mu, NULL);
    sh->capacity = capacity ? capacity : PG_SHARED_CAPACITY;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sh->seed = ((uint64_t)ts.tv_nsec << 32) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)sh;
    sh->now = mono_now;
    return sh;
}

static void entry_free(sh_entry *en) {
    if (en->v.type == PG_SHARED_STR) free(en->v.u.s.p);
    free(en);
}

static void flush_locked(pg_shared *sh) {
    for (size_t i = 0; i < sh->nbuckets; i++) {
        for (sh_entry *en = sh->buckets[i], *next; en; en = next) {
            next = en->next;
            entry_free(en);
        }
        sh->buckets[i] = NULL;
    }
    sh->count = 0;
}

void pg_shared_free(pg_shared *sh) {
    if (!sh) return;
    flush_locked(sh);
    free(sh->buckets);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

void pg_shared_set_clock(pg_shared *sh, double (*now)(void *ud), void *ud) {
    pthread_mutex_lock(&sh->mu);
    sh->now = now ? now : mono_now;
    sh->now_ud = now ? ud : NULL;
    pthread_mutex_unlock(&sh->mu);
}

static int expired(const sh_entry *en, double now) { return en->expires > 0 && now >= en->expires; }

static void purge_locked(pg_shared *sh) {
    double now = sh->now(sh->now_ud);
    for (size_t i = 0; i < sh->nbuckets; i++) {
        for (sh_entry **pp = &sh->buckets[i]; *pp;) {
            sh_entry *en = *pp;
            if (expired(en, now)) { *pp = en->next; entry_free(en); sh->count--; }
            else pp = &en->next;
        }
    }
}

/* The live entry for key, or NULL (an expired one met on the way is dropped). */
static sh_entry *find_locked(pg_shared *sh, const char *key, size_t klen, uint64_t h) {
    for (sh_entry **pp = &sh->buckets[h & (sh->nbuckets - 1)]; *pp; pp = &(*pp)->next) {
        sh_entry *en = *pp;
        if (en->hash != h || en->klen != klen || memcmp(en->key, key, klen) != 0) continue;
        if (expired(en, sh->now(sh->now_ud))) {
            *pp = en->next;
            entry_free(en);
            sh->count--;
            return NULL;
        }
        return en;
    }
    return NULL;
}

static void grow_locked(pg_shared *sh) {
    size_t n = sh->nbuckets * 2;
    sh_entry **b = calloc(n, sizeof *b);
    if (!b) return;                 /* keep the longer chains; still correct */
    for (size_t i = 0; i < sh->nbuckets; i++) {
        for (sh_entry *en = sh->buckets[i], *next; en; en = next) {
            next = en->next;
            en->next = b[en->hash & (n - 1)];
            b[en->hash & (n - 1)] = en;
        }
    }
    free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = n;
}

static int no_memory(pg_err *e) { return pg_errf(e, 503, "no_memory", "no memory"); }

static int check_key(const char *key, size_t *klen, pg_err *e) {
    *klen = key ? strlen(key) : 0;
    if (!*klen) return pg_errf(e, 400, "bad_key", "key must not be empty");
    if (*klen > PG_SHARED_KEY_MAX)
        return pg_errf(e, 400, "bad_key", "key is too long (%zu bytes, at most %d)", *klen, PG_SHARED_KEY_MAX);
    return 0;
}

/* Copy v into *dst (a string gets its own buffer). */
static int copy_value(pg_shared_value *dst, const pg_shared_value *v) {
    *dst = *v;
    if (v->type != PG_SHARED_STR) return 0;
    dst->u.s.p = malloc(v->u.s.len + 1);
    if (!dst->u.s.p) return -1;
    if (v->u.s.len) memcpy(dst->u.s.p, v->u.s.p, v->u.s.len);
    dst->u.s.p[v->u.s.len] = '\0';
    return 0;
}

void pg_shared_value_free(pg_shared_value *v) {
    if (v && v->type == PG_SHARED_STR) free(v->u.s.p);
    if (v) v->type = PG_SHARED_NIL;
}

int pg_shared_get(pg_shared *sh, const char *key, pg_shared_value *out, pg_err *e) {
    size_t klen;
    out->type = PG_SHARED_NIL;
    if (check_key(key, &klen, e) < 0) return -1;
    int rc = 0;
    pthread_mutex_lock(&sh->mu);
    sh_entry *en = find_locked(sh, key, klen, hash_key(sh, key, klen));
    if (en && copy_value(out, &en->v) < 0) {
        out->type = PG_SHARED_NIL;
        rc = no_memory(e);
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

/* A new entry for key (known absent) holding *v; takes ownership of v's
 * string on success and then leaves *v nil. */
static int insert_locked(pg_shared *sh, const char *key, size_t klen, uint64_t h,
                         pg_shared_value *v, double expires) {
    if (sh->count >= sh->capacity) purge_locked(sh);
    if (sh->count >= sh->capacity) return -1;
    sh_entry *en = malloc(sizeof *en + klen + 1);
    if (!en) return -1;
    en->hash = h;
    en->klen = klen;
    memcpy(en->key, key, klen + 1);
    en->v = *v;
    v->type = PG_SHARED_NIL;
    en->expires = expires;
    en->next = sh->buckets[h & (sh->nbuckets - 1)];
    sh->buckets[h & (sh->nbuckets - 1)] = en;
    if (++sh->count > sh->nbuckets) grow_locked(sh);
    return 0;
}

enum { SET_ANY, SET_ADD, SET_REPLACE };

static int store(pg_shared *sh, const char *key, const pg_shared_value *v, double ttl_s, int mode, pg_err *e) {
    size_t klen;
    if (check_key(key, &klen, e) < 0) return -1;
    if (!(ttl_s >= 0) || !isfinite(ttl_s))
        return pg_errf(e, 400, "bad_ttl", "ttl must be a finite number of seconds >= 0");
    if (v->type > PG_SHARED_STR) return pg_errf(e, 400, "bad_value", "unknown value type");
    pg_shared_value copy = { .type = PG_SHARED_NIL };
    if (v->type != PG_SHARED_NIL && copy_value(&copy, v) < 0) return no_memory(e);
    uint64_t h = hash_key(sh, key, klen);
    int rc = 0;
    pthread_mutex_lock(&sh->mu);
    double now = sh->now(sh->now_ud);
    sh_entry *en = find_locked(sh, key, klen, h);
    if (mode == SET_ADD && en) {
        rc = pg_errf(e, 409, "exists", "exists");
    } else if (mode == SET_REPLACE && !en) {
        rc = pg_errf(e, 404, "not_found", "not found");
    } else if (v->type == PG_SHARED_NIL) {           /* set(k, nil) = delete */
        if (en) {
            for (sh_entry **pp = &sh->buckets[h & (sh->nbuckets - 1)]; *pp; pp = &(*pp)->next)
                if (*pp == en) { *pp = en->next; break; }
            entry_free(en);
            sh->count--;
        }
    } else if (en) {                                  /* overwrite in place */
        pg_shared_value_free(&en->v);
        en->v = copy;
        copy.type = PG_SHARED_NIL;
        en->expires = ttl_s > 0 ? now + ttl_s : 0;
    } else if (insert_locked(sh, key, klen, h, &copy, ttl_s > 0 ? now + ttl_s : 0) < 0) {
        rc = no_memory(e);
    }
    pthread_mutex_unlock(&sh->mu);
    pg_shared_value_free(&copy);                      /* not stored: an error */
    return rc;
}

int pg_shared_set(pg_shared *sh, const char *key, const pg_shared_value *v, double ttl_s, pg_err *e) {
    return store(sh, key, v, ttl_s, SET_ANY, e);
}

int pg_shared_add(pg_shared *sh, const char *key, const pg_shared_value *v, double ttl_s, pg_err *e) {
    return store(sh, key, v, ttl_s, SET_ADD, e);
}

int pg_shared_replace(pg_shared *sh, const char *key, const pg_shared_value *v, double ttl_s, pg_err *e) {
    return store(sh, key, v, ttl_s, SET_REPLACE, e);
}

static int is_number(const pg_shared_value *v) {
    return v && (v->type == PG_SHARED_INT || v->type == PG_SHARED_NUM);
}

static double as_double(const pg_shared_value *v) {
    return v->type == PG_SHARED_INT ? (double)v->u.i : v->u.n;
}

/* a + b with Lua's rules: integers stay integers (here: unless they overflow). */
static pg_shared_value add_numbers(const pg_shared_value *a, const pg_shared_value *b) {
    pg_shared_value r = { .type = PG_SHARED_INT };
    if (a->type == PG_SHARED_INT && b->type == PG_SHARED_INT && !__builtin_add_overflow(a->u.i, b->u.i, &r.u.i))
        return r;
    r.type = PG_SHARED_NUM;
    r.u.n = as_double(a) + as_double(b);
    return r;
}

int pg_shared_incr(pg_shared *sh, const char *key, const pg_shared_value *by,
                   const pg_shared_value *init, pg_shared_value *out, pg_err *e) {
    out->type = PG_SHARED_NIL;
    if (!is_number(by)) return pg_errf(e, 400, "bad_value", "increment must be a number");
    if (init && !is_number(init)) return pg_errf(e, 400, "bad_value", "initial value must be a number");
    size_t klen;
    if (check_key(key, &klen, e) < 0) return -1;
    uint64_t h = hash_key(sh, key, klen);
    int rc = 0;
    pthread_mutex_lock(&sh->mu);
    sh_entry *en = find_locked(sh, key, klen, h);
    if (en && !is_number(&en->v)) {
        rc = pg_errf(e, 409, "not_a_number", "not a number");
    } else if (en) {
        en->v = add_numbers(&en->v, by);
        *out = en->v;
    } else if (!init) {
        rc = pg_errf(e, 404, "not_found", "not found");
    } else {
        pg_shared_value sum = add_numbers(init, by), stored = sum;
        if (insert_locked(sh, key, klen, h, &stored, 0) < 0) rc = no_memory(e);
        else *out = sum;
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

int pg_shared_delete(pg_shared *sh, const char *key, pg_err *e) {
    pg_shared_value nil = { .type = PG_SHARED_NIL };
    return store(sh, key, &nil, 0, SET_ANY, e);
}

void pg_shared_keys_free(char **keys, size_t n) {
    if (!keys) return;
    for (size_t i = 0; i < n; i++) free(keys[i]);
    free(keys);
}

int pg_shared_keys(pg_shared *sh, size_t max, char ***out, size_t *n, pg_err *e) {
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&sh->mu);
    purge_locked(sh);
    size_t want = max && max < sh->count ? max : sh->count, got = 0;
    char **keys = want ? calloc(want, sizeof *keys) : NULL;
    int rc = want && !keys ? no_memory(e) : 0;
    for (size_t i = 0; rc == 0 && i < sh->nbuckets && got < want; i++) {
        for (sh_entry *en = sh->buckets[i]; en && got < want; en = en->next) {
            if (!(keys[got] = malloc(en->klen + 1))) { rc = no_memory(e); break; }
            memcpy(keys[got++], en->key, en->klen + 1);
        }
    }
    pthread_mutex_unlock(&sh->mu);
    if (rc < 0) { pg_shared_keys_free(keys, got); return -1; }
    *out = keys;
    *n = got;
    return 0;
}

void pg_shared_flush_all(pg_shared *sh) {
    pthread_mutex_lock(&sh->mu);
    flush_locked(sh);
    pthread_mutex_unlock(&sh->mu);
}

size_t pg_shared_count(pg_shared *sh) {
    pthread_mutex_lock(&sh->mu);
    purge_locked(sh);
    size_t n = sh->count;
    pthread_mutex_unlock(&sh->mu);
    return n;
}
