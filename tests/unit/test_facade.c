/* test_facade: the facade's selectors and patch formats (core/facade/ksel.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "facade/ksel.h"

static int labels_match(const char *sel, const char *labels_json) {
    ksel s;
    pg_err e;
    if (ksel_labels(&s, sel, &e) != 0) fail_msg("selector '%s': %s", sel, e.message);
    json_t *l = json_loads(labels_json, 0, NULL);
    int ok = ksel_match_labels(&s, l);
    json_decref(l);
    return ok;
}

static void test_label_selectors(void **st) {
    (void)st;
    const char *l = "{\"app\": \"web\", \"tier\": \"front\"}";
    assert_true(labels_match("", l));
    assert_false(labels_match("app=", l));                      /* an empty value is a value */
    assert_true(labels_match("app=web", l));
    assert_true(labels_match("app==web,tier=front", l));
    assert_false(labels_match("app=db", l));
    assert_true(labels_match("app!=db", l));
    assert_true(labels_match("env!=prod", l));                 /* missing key: != matches */
    assert_true(labels_match("app in (db, web)", l));
    assert_false(labels_match("app notin (db,web)", l));
    assert_true(labels_match("tier, !canary", l));
    assert_false(labels_match("!tier", l));
    assert_false(labels_match("app=web,env in (prod)", l));
    static const char *bad[] = { "app in (", "=web", "app=web,", "a b c", "app in web", "app=we b",
                                 "app=" "0123456789012345678901234567890123456789012345678901234567890123" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ksel s;
        pg_err e;
        if (ksel_labels(&s, bad[i], &e) != -1) fail_msg("selector '%s' accepted", bad[i]);
        assert_int_equal(e.status, 400);
    }
}

static const char *get_field(void *ud, const char *key) {
    (void)ud;
    return !strcmp(key, "metadata.name") ? "web-1" : !strcmp(key, "status.phase") ? "Running" : NULL;
}

static void test_field_selectors(void **st) {
    (void)st;
    static const char *const fields[] = { "metadata.name", "status.phase", NULL };
    ksel s;
    pg_err e;
    assert_int_equal(ksel_fields(&s, "metadata.name=web-1", fields, &e), 0);
    assert_true(ksel_match_fields(&s, get_field, NULL));
    assert_int_equal(ksel_fields(&s, "metadata.name==web-2", fields, &e), 0);
    assert_false(ksel_match_fields(&s, get_field, NULL));
    assert_int_equal(ksel_fields(&s, "status.phase!=Pending,metadata.name=web-1", fields, &e), 0);
    assert_true(ksel_match_fields(&s, get_field, NULL));
    assert_int_equal(ksel_fields(&s, "spec.nodeName=x", fields, &e), -1);
    assert_non_null(strstr(e.message, "field label not supported: spec.nodeName"));
    assert_int_equal(ksel_fields(&s, "metadata.name", fields, &e), -1);
}

static char *apply(const char *target, const char *patch, int json_patch, pg_err *e) {
    json_t *t = json_loads(target, 0, NULL), *p = json_loads(patch, JSON_DECODE_ANY, NULL);
    assert_non_null(t);
    assert_non_null(p);
    json_t *r = json_patch ? kpatch_json(t, p, e) : kpatch_merge(t, p);
    char *out = r ? json_dumps(r, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(t);
    json_decref(p);
    json_decref(r);
    return out;
}

static void expect_patch(const char *target, const char *patch, int json_patch, const char *want) {
    pg_err e = { 0 };
    char *got = apply(target, patch, json_patch, &e);
    if (!got) fail_msg("patch %s failed: %s", patch, e.message);
    assert_string_equal(got, want);
    free(got);
}

static void test_merge_patch(void **st) {
    (void)st;
    const char *t = "{\"spec\":{\"replicas\":2},\"metadata\":{\"name\":\"app\",\"labels\":{\"a\":\"1\"}}}";
    expect_patch(t, "{\"spec\":{\"replicas\":5}}", 0,
                 "{\"metadata\":{\"labels\":{\"a\":\"1\"},\"name\":\"app\"},\"spec\":{\"replicas\":5}}");
    expect_patch(t, "{\"metadata\":{\"labels\":null}}", 0, "{\"metadata\":{\"name\":\"app\"},\"spec\":{\"replicas\":2}}");
    expect_patch(t, "{\"$patch\":\"merge\",\"spec\":{\"replicas\":1}}", 0,
                 "{\"metadata\":{\"labels\":{\"a\":\"1\"},\"name\":\"app\"},\"spec\":{\"replicas\":1}}");
}

static void test_json_patch(void **st) {
    (void)st;
    const char *t = "{\"spec\":{\"replicas\":2},\"a\":[1,2]}";
    expect_patch(t, "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":4}]", 1,
                 "{\"a\":[1,2],\"spec\":{\"replicas\":4}}");
    expect_patch(t, "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":2},{\"op\":\"remove\",\"path\":\"/a/0\"},"
                    "{\"op\":\"add\",\"path\":\"/a/-\",\"value\":3}]", 1, "{\"a\":[2,3],\"spec\":{\"replicas\":2}}");
    expect_patch(t, "[{\"op\":\"copy\",\"from\":\"/spec/replicas\",\"path\":\"/n\"},{\"op\":\"move\",\"from\":\"/a\","
                    "\"path\":\"/b\"}]", 1, "{\"b\":[1,2],\"n\":2,\"spec\":{\"replicas\":2}}");
    static const struct { const char *patch; int status; } bad[] = {
        { "{\"op\":\"replace\"}", 400 },
        { "[{\"op\":\"replace\",\"value\":1}]", 400 },
        { "[{\"op\":\"jump\",\"path\":\"/a\"}]", 400 },
        { "[{\"op\":\"add\",\"path\":\"/x\"}]", 400 },
        { "[{\"op\":\"test\",\"path\":\"/spec/replicas\",\"value\":3}]", 422 },
        { "[{\"op\":\"replace\",\"path\":\"/spec/nope\",\"value\":3}]", 422 },
        { "[{\"op\":\"remove\",\"path\":\"/no/such\"}]", 422 },
        { "[{\"op\":\"add\",\"path\":\"/a/9\",\"value\":3}]", 422 },
        { "[{\"op\":\"add\",\"path\":\"spec\",\"value\":3}]", 422 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pg_err e = { 0 };
        char *got = apply(t, bad[i].patch, 1, &e);
        if (got) fail_msg("patch %s applied: %s", bad[i].patch, got);
        assert_int_equal(e.status, bad[i].status);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_selectors),
        cmocka_unit_test(test_field_selectors),
        cmocka_unit_test(test_merge_patch),
        cmocka_unit_test(test_json_patch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
