/* test_facade: the facade's selectors and patch formats (core/facade/ksel.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/sim/sim.h"
#include "config/config.h"
#include "facade/kobj.h"
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
                                 /* a value of 64 characters: one over the limit */
                                 "app=0123456789012345678901234567890123456789012345678901234567890123" };
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

/* The change history over a sim on the virtual clock: ADDED, MODIFIED,
 * DELETED events with rising resourceVersions, the Deployment's
 * generation, nothing recorded when nothing changed; with the backend's
 * changes op and without it (the poll path). */
static void history(int with_changes) {
    pg_config c;
    pg_config_defaults(&c);
    c.sim.speed = 0;
    c.sim.replicas = 2;
    c.sim.start_jitter_s = 0;
    c.sim.grace_s = 0;
    pg_err e;
    pg_backend *b = sim_backend_new(&c, &e);
    assert_non_null(b);
    pg_backend_ops ops = *b->ops;
    if (!with_changes) ops.changes = NULL;
    pg_backend view = { &ops, b->impl };
    sim *sm = sim_from_backend(b);
    kf_state st;
    assert_int_equal(kf_state_init(&st, &view, "default", "app", "n1", &e), 0);
    assert_int_equal(st.npods, 2);
    assert_int_equal(st.hcount, 3);                             /* 2 pods and the Deployment ADDED */
    assert_int_equal(st.rv, 3);
    assert_int_equal(kf_event_at(&st, 2)->res, KF_DEPLOYMENTS);
    assert_int_equal(kf_refresh(&st, &e), 0);
    assert_int_equal(st.hcount, 3);                             /* nothing changed: nothing recorded */
    assert_int_equal(sim_scale(sm, 3, &e), 0);
    assert_int_equal(kf_wait_refresh(&st, 1, &e), 0);
    assert_int_equal(st.npods, 3);
    assert_int_equal(st.dep.desired, 3);
    assert_int_equal(st.dep.generation, 2);
    const kf_event *ev = kf_event_at(&st, 3);
    assert_int_equal(ev->type, KF_ADDED);
    assert_string_equal(ev->pod.p.status, "Pending");
    assert_int_equal(kf_event_at(&st, st.hcount - 1)->res, KF_DEPLOYMENTS);
    uint64_t rv = st.rv;
    assert_int_equal(sim_advance(sm, 10, &e), 0);               /* -> Ready */
    assert_int_equal(kf_wait_refresh(&st, 1, &e), 0);
    ev = kf_event_at(&st, st.hcount - 2);
    assert_int_equal(ev->type, KF_MODIFIED);
    assert_true(ev->pod.p.ready && ev->rv > rv);
    assert_int_equal(st.dep.ready, 3);
    char name[96];
    snprintf(name, sizeof name, "%s", st.pods[0].p.name);
    assert_int_equal(sim_delete_pod(sm, name, 0, &e), 0);
    assert_int_equal(kf_refresh(&st, &e), 0);
    assert_null(kf_find_pod(&st, name));
    int deleted = 0;
    for (size_t i = 0; i < st.hcount; i++) {
        ev = kf_event_at(&st, i);
        if (i) assert_true(ev->rv > kf_event_at(&st, i - 1)->rv);
        deleted += ev->type == KF_DELETED && !strcmp(ev->pod.p.name, name);
    }
    assert_int_equal(deleted, 1);
    assert_int_equal(st.floor, 0);
    assert_int_equal(sim_scale(sm, 1000, &e), 0);               /* more changes than the history holds */
    assert_int_equal(kf_refresh(&st, &e), 0);
    assert_int_equal(sim_scale(sm, 0, &e), 0);
    assert_int_equal(kf_refresh(&st, &e), 0);
    assert_int_equal(sim_scale(sm, 1000, &e), 0);
    assert_int_equal(kf_refresh(&st, &e), 0);
    assert_int_equal(st.hcount, KF_HISTORY);
    assert_true(st.floor > 0 && kf_event_at(&st, 0)->rv == st.floor + 1);
    json_t *pod = kobj_pod(&st, &st.pods[0]);
    assert_string_equal(json_string_value(json_object_get(json_object_get(pod, "spec"), "nodeName")), "n1");
    json_decref(pod);
    kf_state_free(&st);
    b->ops->destroy(b);
}

static void test_history(void **st) {
    (void)st;
    history(1);
    history(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_selectors),
        cmocka_unit_test(test_field_selectors),
        cmocka_unit_test(test_merge_patch),
        cmocka_unit_test(test_json_patch),
        cmocka_unit_test(test_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
