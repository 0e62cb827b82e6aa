/* shared.h: the cross-worker key/value dict behind the Lua `shared` module
 * (as OpenResty's ngx.shared.DICT).
 *
 * One dict per engine, used from every worker thread: every call takes the
 * dict's one mutex. Keys are non-empty strings (at most PG_SHARED_KEY_MAX
 * bytes); values are nil, booleans, numbers (integer or float, kept apart
 * so Lua integers come back as integers) or strings (binary-safe, copied in
 * and out). A key may carry a time to live in seconds on the monotonic
 * clock; an expired key reads as absent. The dict holds at most `capacity`
 * live keys: storing one more fails with e->code "no_memory" and message
 * "no memory" (expired keys are dropped first). */
#ifndef PG_SHARED_H
#define PG_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PG_SHARED_CAPACITY 10000        /* keys, when pg_shared_new(0) */
#define PG_SHARED_KEY_MAX 65535         /* bytes of one key */

typedef struct pg_shared pg_shared;

typedef enum {
    PG_SHARED_NIL,                      /* absent (get) or delete (set) */
    PG_SHARED_BOOL,
    PG_SHARED_INT,
    PG_SHARED_NUM,
    PG_SHARED_STR,
} pg_shared_type;

typedef struct pg_shared_value {
    pg_shared_type type;
    union {
        int b;                          /* PG_SHARED_BOOL: 0 or 1 */
        int64_t i;                      /* PG_SHARED_INT */
        double n;                       /* PG_SHARED_NUM */
        struct { char *p; size_t len; } s;  /* PG_SHARED_STR: p[len] == '\0' */
    } u;
} pg_shared_value;

/* A dict of at most capacity keys (0 = PG_SHARED_CAPACITY). NULL when out of memory. */
pg_shared *pg_shared_new(size_t capacity);
void pg_shared_free(pg_shared *sh);

/* Replace the monotonic clock (seconds) used for TTLs; tests advance a fake one. */
void pg_shared_set_clock(pg_shared *sh, double (*now)(void *ud), void *ud);

/* Fill *out with key's value, type PG_SHARED_NIL when absent or expired.
 * A string value is a malloc'ed copy that the caller owns: release it with
 * pg_shared_value_free(out). Returns 0, or -1 for a bad key. */
int pg_shared_get(pg_shared *sh, const char *key, pg_shared_value *out, pg_err *e);
/* Free the string a get/incr put in v (no-op for other types); v becomes nil. */
void pg_shared_value_free(pg_shared_value *v);

/* Store v under key (copied; the caller keeps v). ttl_s > 0 expires the key
 * that many seconds from now; 0 = never. A nil v deletes the key.
 * -1 with "no_memory" when the dict is full, "bad_key"/"bad_ttl" on misuse. */
int pg_shared_set(pg_shared *sh, const char *key, const pg_shared_value *v, double ttl_s, pg_err *e);
/* set, only when key is absent: otherwise -1 with code "exists" (409). */
int pg_shared_add(pg_shared *sh, const char *key, const pg_shared_value *v, double ttl_s, pg_err *e);
/* set, only when key is present: otherwise -1 with code "not_found" (404). */
int pg_shared_replace(pg_shared *sh, const char *key, const pg_shared_value *v, double ttl_s, pg_err *e);

/* Add by (an INT or NUM value) to the number under key and store the sum in
 * *out. An absent key starts from *init when init is not NULL (no TTL), else
 * -1 "not_found"; a non-number value is -1 "not_a_number". INT + INT stays
 * INT unless it overflows (then NUM). The key's TTL is kept. */
int pg_shared_incr(pg_shared *sh, const char *key, const pg_shared_value *by,
                   const pg_shared_value *init, pg_shared_value *out, pg_err *e);

/* Remove key (absent is fine). */
int pg_shared_delete(pg_shared *sh, const char *key, pg_err *e);

/* The live keys, at most max of them (0 = all), in no particular order.
 * *out is a malloc'ed array of malloc'ed strings that the caller owns:
 * release with pg_shared_keys_free. */
int pg_shared_keys(pg_shared *sh, size_t max, char ***out, size_t *n, pg_err *e);
void pg_shared_keys_free(char **keys, size_t n);

/* Remove every key. */
void pg_shared_flush_all(pg_shared *sh);
/* Number of live (unexpired) keys. */
size_t pg_shared_count(pg_shared *sh);

#endif
