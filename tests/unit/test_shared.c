/* test_shared: the cross-worker dict behind Lua's `shared` module. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shared/shared.h"

static double fake_now = 1000;
static double fake_clock(void *ud) { (void)ud; return fake_now; }

static pg_shared_value vbool(int b) { pg_shared_value v = { .type = PG_SHARED_BOOL, .u.b = b }; return v; }
static pg_shared_value vint(int64_t i) { pg_shared_value v = { .type = PG_SHARED_INT, .u.i = i }; return v; }
static pg_shared_value vnum(double n) { pg_shared_value v = { .type = PG_SHARED_NUM, .u.n = n }; return v; }
static pg_shared_value vstr(const char *s, size_t len) {
    pg_shared_value v = { .type = PG_SHARED_STR };
    v.u.s.p = (char *)s;
    v.u.s.len = len;
    return v;
}

static pg_shared_type type_of(pg_shared *sh, const char *key) {
    pg_shared_value v;
    pg_err e;
    assert_int_equal(pg_shared_get(sh, key, &v, &e), 0);
    pg_shared_type t = v.type;
    pg_shared_value_free(&v);
    return t;
}

static int64_t int_of(pg_shared *sh, const char *key) {
    pg_shared_value v;
    pg_err e;
    assert_int_equal(pg_shared_get(sh, key, &v, &e), 0);
    assert_int_equal(v.type, PG_SHARED_INT);
    return v.u.i;
}

static void test_types(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(0);
    pg_shared_value v, in;
    pg_err e;
    assert_non_null(sh);
    assert_int_equal(type_of(sh, "nothing"), PG_SHARED_NIL);

    in = vbool(1);
    assert_int_equal(pg_shared_set(sh, "b", &in, 0, &e), 0);
    assert_int_equal(pg_shared_get(sh, "b", &v, &e), 0);
    assert_int_equal(v.type, PG_SHARED_BOOL);
    assert_int_equal(v.u.b, 1);

    in = vint(-42);
    assert_int_equal(pg_shared_set(sh, "i", &in, 0, &e), 0);
    assert_int_equal(int_of(sh, "i"), -42);

    in = vnum(2.5);
    assert_int_equal(pg_shared_set(sh, "n", &in, 0, &e), 0);
    assert_int_equal(pg_shared_get(sh, "n", &v, &e), 0);
    assert_int_equal(v.type, PG_SHARED_NUM);
    assert_true(v.u.n == 2.5);

    /* strings are binary-safe and copied both ways */
    char buf[] = "a\0b";
    in = vstr(buf, 3);
    assert_int_equal(pg_shared_set(sh, "s", &in, 0, &e), 0);
    buf[0] = 'X';
    assert_int_equal(pg_shared_get(sh, "s", &v, &e), 0);
    assert_int_equal(v.type, PG_SHARED_STR);
    assert_int_equal(v.u.s.len, 3);
    assert_memory_equal(v.u.s.p, "a\0b", 4);
    v.u.s.p[0] = 'Y';                       /* the caller's copy */
    pg_shared_value_free(&v);
    assert_int_equal(v.type, PG_SHARED_NIL);
    assert_int_equal(pg_shared_get(sh, "s", &v, &e), 0);
    assert_int_equal(v.u.s.p[0], 'a');
    pg_shared_value_free(&v);

    in = vstr("", 0);
    assert_int_equal(pg_shared_set(sh, "empty", &in, 0, &e), 0);
    assert_int_equal(type_of(sh, "empty"), PG_SHARED_STR);

    /* overwriting changes the type; a nil value deletes */
    in = vint(7);
    assert_int_equal(pg_shared_set(sh, "s", &in, 0, &e), 0);
    assert_int_equal(int_of(sh, "s"), 7);
    assert_int_equal(pg_shared_count(sh), 5);
    in.type = PG_SHARED_NIL;
    assert_int_equal(pg_shared_set(sh, "s", &in, 0, &e), 0);
    assert_int_equal(type_of(sh, "s"), PG_SHARED_NIL);
    assert_int_equal(pg_shared_count(sh), 4);
    assert_int_equal(pg_shared_delete(sh, "i", &e), 0);
    assert_int_equal(pg_shared_delete(sh, "i", &e), 0);    /* absent is fine */
    assert_int_equal(pg_shared_count(sh), 3);
    pg_shared_free(sh);
}

static void test_add_replace(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(0);
    pg_shared_value a = vint(1), b = vint(2);
    pg_err e;
    assert_int_equal(pg_shared_replace(sh, "k", &a, 0, &e), -1);
    assert_string_equal(e.code, "not_found");
    assert_string_equal(e.message, "not found");
    assert_int_equal(type_of(sh, "k"), PG_SHARED_NIL);
    assert_int_equal(pg_shared_add(sh, "k", &a, 0, &e), 0);
    assert_int_equal(pg_shared_add(sh, "k", &b, 0, &e), -1);
    assert_string_equal(e.code, "exists");
    assert_string_equal(e.message, "exists");
    assert_int_equal(int_of(sh, "k"), 1);                  /* add did not overwrite */
    assert_int_equal(pg_shared_replace(sh, "k", &b, 0, &e), 0);
    assert_int_equal(int_of(sh, "k"), 2);
    pg_shared_free(sh);
}

static void test_incr(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(0);
    pg_shared_value by = vint(5), init = vint(10), out, s = vstr("x", 1);
    pg_err e;
    assert_int_equal(pg_shared_incr(sh, "c", &by, NULL, &out, &e), -1);
    assert_string_equal(e.code, "not_found");
    assert_int_equal(type_of(sh, "c"), PG_SHARED_NIL);
    assert_int_equal(pg_shared_incr(sh, "c", &by, &init, &out, &e), 0);
    assert_int_equal(out.type, PG_SHARED_INT);
    assert_int_equal(out.u.i, 15);
    assert_int_equal(pg_shared_incr(sh, "c", &by, &init, &out, &e), 0);   /* init only when absent */
    assert_int_equal(out.u.i, 20);
    by = vint(-25);
    assert_int_equal(pg_shared_incr(sh, "c", &by, NULL, &out, &e), 0);
    assert_int_equal(out.u.i, -5);
    assert_int_equal(int_of(sh, "c"), -5);
    by = vnum(0.5);                                           /* a float makes it a float */
    assert_int_equal(pg_shared_incr(sh, "c", &by, NULL, &out, &e), 0);
    assert_int_equal(out.type, PG_SHARED_NUM);
    assert_true(out.u.n == -4.5);

    pg_shared_value big = vint(INT64_MAX), one = vint(1);
    assert_int_equal(pg_shared_set(sh, "big", &big, 0, &e), 0);
    assert_int_equal(pg_shared_incr(sh, "big", &one, NULL, &out, &e), 0);
    assert_int_equal(out.type, PG_SHARED_NUM);                /* overflow: no wrap-around */
    assert_true(out.u.n > 9.2e18);

    assert_int_equal(pg_shared_set(sh, "s", &s, 0, &e), 0);
    assert_int_equal(pg_shared_incr(sh, "s", &one, NULL, &out, &e), -1);
    assert_string_equal(e.code, "not_a_number");
    assert_int_equal(type_of(sh, "s"), PG_SHARED_STR);
    assert_int_equal(pg_shared_incr(sh, "c", &s, NULL, &out, &e), -1);
    assert_string_equal(e.code, "bad_value");
    pg_shared_free(sh);
}

static void test_ttl(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(0);
    pg_shared_value v = vint(1), by = vint(1), out;
    pg_err e;
    fake_now = 1000;
    pg_shared_set_clock(sh, fake_clock, NULL);
    assert_int_equal(pg_shared_set(sh, "t", &v, 10, &e), 0);
    assert_int_equal(pg_shared_set(sh, "forever", &v, 0, &e), 0);
    fake_now = 1009.9;
    assert_int_equal(int_of(sh, "t"), 1);
    assert_int_equal(pg_shared_incr(sh, "t", &by, NULL, &out, &e), 0);   /* keeps the TTL */
    assert_int_equal(pg_shared_count(sh), 2);
    fake_now = 1010;
    assert_int_equal(type_of(sh, "t"), PG_SHARED_NIL);
    assert_int_equal(type_of(sh, "forever"), PG_SHARED_INT);
    assert_int_equal(pg_shared_count(sh), 1);
    assert_int_equal(pg_shared_add(sh, "t", &v, 5, &e), 0);           /* expired = absent */
    assert_int_equal(pg_shared_set(sh, "t", &v, 0, &e), 0);           /* set clears the TTL */
    fake_now = 5000;
    assert_int_equal(int_of(sh, "t"), 1);
    assert_int_equal(pg_shared_set(sh, "t", &v, -1, &e), -1);
    assert_string_equal(e.code, "bad_ttl");
    pg_shared_free(sh);
}

static void test_capacity(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(3);
    pg_shared_value v = vint(1), init = vint(0), out;
    pg_err e;
    fake_now = 1000;
    pg_shared_set_clock(sh, fake_clock, NULL);
    assert_int_equal(pg_shared_set(sh, "a", &v, 0, &e), 0);
    assert_int_equal(pg_shared_set(sh, "b", &v, 0, &e), 0);
    assert_int_equal(pg_shared_set(sh, "c", &v, 1, &e), 0);
    assert_int_equal(pg_shared_set(sh, "d", &v, 0, &e), -1);
    assert_string_equal(e.code, "no_memory");
    assert_string_equal(e.message, "no memory");
    assert_int_equal(pg_shared_incr(sh, "d", &v, &init, &out, &e), -1);
    assert_string_equal(e.message, "no memory");
    assert_int_equal(type_of(sh, "d"), PG_SHARED_NIL);
    assert_int_equal(pg_shared_set(sh, "a", &init, 0, &e), 0);         /* overwrite still fine */
    fake_now = 1001;                                                  /* "c" expires: room */
    assert_int_equal(pg_shared_set(sh, "d", &v, 0, &e), 0);
    assert_int_equal(pg_shared_delete(sh, "a", &e), 0);
    assert_int_equal(pg_shared_add(sh, "e", &v, 0, &e), 0);
    assert_int_equal(pg_shared_count(sh), 3);
    pg_shared_free(sh);
}

static int has_key(char **keys, size_t n, const char *k) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(keys[i], k)) return 1;
    return 0;
}

static void test_keys_flush(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(0);
    pg_shared_value v = vbool(0);
    pg_err e;
    char **keys;
    size_t n;
    assert_int_equal(pg_shared_keys(sh, 0, &keys, &n, &e), 0);
    assert_int_equal(n, 0);
    pg_shared_keys_free(keys, n);
    const char *names[] = { "alpha", "beta", "gamma", "delta" };
    for (size_t i = 0; i < 4; i++) assert_int_equal(pg_shared_set(sh, names[i], &v, 0, &e), 0);
    assert_int_equal(pg_shared_keys(sh, 0, &keys, &n, &e), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++) assert_true(has_key(keys, n, names[i]));
    pg_shared_keys_free(keys, n);
    assert_int_equal(pg_shared_keys(sh, 2, &keys, &n, &e), 0);
    assert_int_equal(n, 2);
    assert_true(has_key((char **)names, 4, keys[0]) && has_key((char **)names, 4, keys[1]));
    pg_shared_keys_free(keys, n);
    pg_shared_flush_all(sh);
    assert_int_equal(pg_shared_count(sh), 0);
    assert_int_equal(type_of(sh, "alpha"), PG_SHARED_NIL);
    pg_shared_free(sh);
}

static void test_bad_keys(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(0);
    pg_shared_value v = vint(1);
    pg_err e;
    assert_int_equal(pg_shared_set(sh, "", &v, 0, &e), -1);
    assert_string_equal(e.code, "bad_key");
    assert_int_equal(e.status, 400);
    assert_int_equal(pg_shared_get(sh, "", &v, &e), -1);
    char *huge = malloc(PG_SHARED_KEY_MAX + 2);
    memset(huge, 'k', PG_SHARED_KEY_MAX + 1);
    huge[PG_SHARED_KEY_MAX + 1] = '\0';
    assert_int_equal(pg_shared_set(sh, huge, &v, 0, &e), -1);
    assert_string_equal(e.code, "bad_key");
    free(huge);
    assert_int_equal(pg_shared_count(sh), 0);
    pg_shared_free(sh);
}

static void test_many_keys(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(0);
    pg_err e;
    char k[32];
    for (int i = 0; i < PG_SHARED_CAPACITY; i++) {
        pg_shared_value v = vint(i);
        snprintf(k, sizeof k, "key:%d", i);
        assert_int_equal(pg_shared_set(sh, k, &v, 0, &e), 0);
    }
    assert_int_equal(pg_shared_count(sh), PG_SHARED_CAPACITY);
    for (int i = 0; i < PG_SHARED_CAPACITY; i += 7) {
        snprintf(k, sizeof k, "key:%d", i);
        assert_int_equal(int_of(sh, k), i);
    }
    pg_shared_value v = vint(0);
    assert_int_equal(pg_shared_set(sh, "one-too-many", &v, 0, &e), -1);   /* default capacity */
    assert_string_equal(e.code, "no_memory");
    pg_shared_free(sh);
}

#define THREADS 4
#define INCRS 2000

static void *incr_worker(void *arg) {
    pg_shared *sh = arg;
    pg_shared_value by = vint(1), init = vint(0), out;
    pg_err e;
    for (int i = 0; i < INCRS; i++) {
        if (pg_shared_incr(sh, "hits", &by, &init, &out, &e) != 0) return (void *)1;
        pg_shared_value s = vstr("worker", 6);
        if (pg_shared_set(sh, "last", &s, 0, &e) != 0) return (void *)1;
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    pg_shared *sh = pg_shared_new(0);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, incr_worker, sh), 0);
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        assert_null(rc);
    }
    assert_int_equal(int_of(sh, "hits"), THREADS * INCRS);   /* no lost update */
    pg_shared_free(sh);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_add_replace),
        cmocka_unit_test(test_incr),
        cmocka_unit_test(test_ttl),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_keys_flush),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
