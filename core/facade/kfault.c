/* kfault.c: the facade's fault rules. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "facade/kfault.h"

void kf_faults_init(kf_faults *fs) {
    memset(fs, 0, sizeof *fs);
    pthread_mutex_init(&fs->mu, NULL);
}

void kf_faults_free(kf_faults *fs) { pthread_mutex_destroy(&fs->mu); }

static int fault_parse(const json_t *j, kf_fault *x, pg_err *e) {
    memset(x, 0, sizeof *x);
    x->times = 1;
    const char *k;
    json_t *v;
    if (!json_is_object(j)) return pg_errf(e, 400, "bad_request", "a fault is an object");
    json_object_foreach((json_t *)j, k, v) {
        if (!strcmp(k, "method") && json_is_string(v)) snprintf(x->method, sizeof x->method, "%s", json_string_value(v));
        else if (!strcmp(k, "path") && json_is_string(v)) snprintf(x->path, sizeof x->path, "%s", json_string_value(v));
        else if (!strcmp(k, "status") && json_is_integer(v)) x->status = (int)json_integer_value(v);
        else if (!strcmp(k, "retry_after") && json_is_number(v)) x->retry_after = json_number_value(v);
        else if (!strcmp(k, "delay_s") && json_is_number(v)) x->delay_s = json_number_value(v);
        else if (!strcmp(k, "drop") && json_is_boolean(v)) x->drop = json_is_true(v);
        else if (!strcmp(k, "garbage") && json_is_boolean(v)) x->garbage = json_is_true(v);
        else if (!strcmp(k, "times") && json_is_integer(v)) x->times = (int)json_integer_value(v);
        else return pg_errf(e, 400, "bad_request", "fault: unknown key or wrong type '%.60s' (method, path, status, "
                            "retry_after, delay_s, drop, garbage, times)", k);
    }
    if (x->status && (x->status < 400 || x->status > 599))
        return pg_errf(e, 400, "bad_request", "fault: status %d, want 400..599", x->status);
    if (!x->status && !x->drop && !x->garbage && !(x->delay_s > 0))
        return pg_errf(e, 400, "bad_request", "fault: give a status, drop, garbage or delay_s");
    if (x->delay_s < 0 || x->delay_s > 600 || x->retry_after < 0 || x->retry_after > 3600 || x->times < -1 || !x->times)
        return pg_errf(e, 400, "bad_request", "fault: delay_s in 0..600, retry_after in 0..3600, times -1 or >= 1");
    return 0;
}

int kf_faults_set(kf_faults *fs, int replace, const char *body, size_t len, pg_err *e) {
    json_error_t je;
    json_t *j = json_loadb(body, len, 0, &je);
    json_t *list = json_is_object(j) && json_object_get(j, "faults") ? json_object_get(j, "faults") : j;
    kf_fault tmp[KF_FAULTS];
    size_t n = 0;
    int rc = 0;
    if (!j) rc = pg_errf(e, 400, "bad_request", "faults: invalid JSON: %s", je.text);
    else if (json_is_object(list)) rc = fault_parse(list, &tmp[n++], e);
    else if (!json_is_array(list)) rc = pg_errf(e, 400, "bad_request", "faults: want {\"faults\": [...]}");
    else if (json_array_size(list) > KF_FAULTS) rc = pg_errf(e, 400, "bad_request", "faults: at most %d", KF_FAULTS);
    else
        for (; n < json_array_size(list) && rc == 0; n++) rc = fault_parse(json_array_get(list, n), &tmp[n], e);
    json_decref(j);
    if (rc) return -1;
    pthread_mutex_lock(&fs->mu);
    if (replace) fs->n = 0;
    if (fs->n + (int)n > KF_FAULTS) {
        rc = pg_errf(e, 400, "bad_request", "faults: at most %d", KF_FAULTS);
    } else {
        memcpy(&fs->v[fs->n], tmp, n * sizeof *tmp);
        fs->n += (int)n;
    }
    pthread_mutex_unlock(&fs->mu);
    return rc;
}

void kf_faults_clear(kf_faults *fs) {
    pthread_mutex_lock(&fs->mu);
    fs->n = 0;
    pthread_mutex_unlock(&fs->mu);
}

json_t *kf_faults_json(kf_faults *fs) {
    json_t *a = json_array();
    pthread_mutex_lock(&fs->mu);
    for (int i = 0; i < fs->n; i++) {
        kf_fault *x = &fs->v[i];
        json_array_append_new(a, json_pack("{s:s,s:s,s:i,s:f,s:f,s:b,s:b,s:i,s:i}", "method", x->method, "path", x->path,
                                           "status", x->status, "retry_after", x->retry_after, "delay_s", x->delay_s,
                                           "drop", x->drop, "garbage", x->garbage, "times", x->times,
                                           "hits", x->hits));
    }
    pthread_mutex_unlock(&fs->mu);
    return json_pack("{s:o}", "faults", a);
}

int kf_fault_take(kf_faults *fs, const char *method, const char *path, kf_fault *out) {
    int hit = 0;
    pthread_mutex_lock(&fs->mu);
    for (int i = 0; i < fs->n && !hit; i++) {
        kf_fault *x = &fs->v[i];
        if (!x->times || (x->method[0] && strcasecmp(x->method, method)) || (x->path[0] && !strstr(path, x->path)))
            continue;
        if (x->times > 0) x->times--;
        x->hits++;
        *out = *x;
        hit = 1;
    }
    pthread_mutex_unlock(&fs->mu);
    return hit;
}
