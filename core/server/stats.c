/* stats.c: request, latency, Lua and backend counters. One mutex for the
 * requests (a small fixed table: routes are few); the backend counters are
 * atomics, counted on every step. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "server/stats.h"

#define MAX_SERIES 256

static const double buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                   0.25, 0.5, 1, 2.5, 5, 10, 30, 90 };
#define NB (sizeof buckets / sizeof buckets[0])

typedef struct series {
    char method[16];
    char route[160];
    int status;
    unsigned long count;
} series;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static series req[MAX_SERIES];
static size_t nreq;
static unsigned long hist[NB + 1];
static double hist_sum;
static unsigned long hist_count;
static unsigned long lua_errors, lua_timeouts;
static const char *const op_names[PG_OP_COUNT] = {
    [PG_OP_PODS] = "pods",     [PG_OP_METRICS] = "metrics", [PG_OP_REPLICAS] = "replicas",
    [PG_OP_SCALE] = "scale",   [PG_OP_DELETE_POD] = "delete_pod", [PG_OP_WAIT] = "wait",
    [PG_OP_USAGE] = "usage",   [PG_OP_SLEEP] = "sleep",   [PG_OP_REQUEST] = "request",
};
static atomic_ulong op_calls[PG_OP_COUNT], op_errors[PG_OP_COUNT];

void pg_stats_request(const char *method, const char *route, int status, double seconds) {
    pthread_mutex_lock(&mu);
    size_t i;
    for (i = 0; i < nreq; i++)
        if (req[i].status == status && !strcmp(req[i].route, route) && !strcmp(req[i].method, method)) break;
    if (i == nreq && nreq < MAX_SERIES) {
        snprintf(req[i].method, sizeof req[i].method, "%s", method);
        snprintf(req[i].route, sizeof req[i].route, "%s", route);
        req[i].status = status;
        nreq++;
    }
    if (i < nreq) req[i].count++;
    size_t b = 0;
    while (b < NB && seconds > buckets[b]) b++;
    hist[b]++;
    hist_sum += seconds;
    hist_count++;
    pthread_mutex_unlock(&mu);
}

void pg_stats_lua_error(int timed_out) {
    pthread_mutex_lock(&mu);
    if (timed_out) lua_timeouts++;
    else lua_errors++;
    pthread_mutex_unlock(&mu);
}

void pg_stats_backend_call(pg_backend_op op, int failed) {
    if ((unsigned)op >= PG_OP_COUNT) return;
    atomic_fetch_add_explicit(&op_calls[op], 1, memory_order_relaxed);
    if (failed) atomic_fetch_add_explicit(&op_errors[op], 1, memory_order_relaxed);
}

char *pg_stats_render(size_t *len) {
    pg_buf b = PG_BUF_INIT;
    pthread_mutex_lock(&mu);
    pg_buf_printf(&b, "# HELP podgym_requests_total HTTP requests answered, by method, route and status.\n"
            "# TYPE podgym_requests_total counter\n");
    for (size_t i = 0; i < nreq; i++)
        pg_buf_printf(&b, "podgym_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %lu\n", req[i].method,
            req[i].route, req[i].status, req[i].count);
    pg_buf_printf(&b, "# HELP podgym_request_duration_seconds Time from a complete request to its answer.\n"
            "# TYPE podgym_request_duration_seconds histogram\n");
    unsigned long cum = 0;
    for (size_t i = 0; i < NB; i++) {
        cum += hist[i];
        pg_buf_printf(&b, "podgym_request_duration_seconds_bucket{le=\"%g\"} %lu\n", buckets[i], cum);
    }
    cum += hist[NB];
    pg_buf_printf(&b, "podgym_request_duration_seconds_bucket{le=\"+Inf\"} %lu\n", cum);
    pg_buf_printf(&b, "podgym_request_duration_seconds_sum %.6f\npodgym_request_duration_seconds_count %lu\n", hist_sum,
        hist_count);
    pg_buf_printf(&b, "# HELP podgym_lua_errors_total Lua runtime errors in route scripts.\n"
            "# TYPE podgym_lua_errors_total counter\npodgym_lua_errors_total %lu\n", lua_errors);
    pg_buf_printf(&b, "# HELP podgym_lua_deadline_exceeded_total Requests stopped by the Lua CPU deadline.\n"
            "# TYPE podgym_lua_deadline_exceeded_total counter\npodgym_lua_deadline_exceeded_total %lu\n",
        lua_timeouts);
    pg_buf_printf(&b, "# HELP podgym_backend_calls_total Backend operations, by operation.\n"
            "# TYPE podgym_backend_calls_total counter\n");
    for (int i = 0; i < PG_OP_COUNT; i++)
        pg_buf_printf(&b, "podgym_backend_calls_total{op=\"%s\"} %lu\n", op_names[i],
                      atomic_load_explicit(&op_calls[i], memory_order_relaxed));
    pg_buf_printf(&b, "# HELP podgym_backend_errors_total Failed backend operations, by operation.\n"
            "# TYPE podgym_backend_errors_total counter\n");
    for (int i = 0; i < PG_OP_COUNT; i++)
        pg_buf_printf(&b, "podgym_backend_errors_total{op=\"%s\"} %lu\n", op_names[i],
                      atomic_load_explicit(&op_errors[i], memory_order_relaxed));
    pthread_mutex_unlock(&mu);
    return pg_buf_take(&b, len);
}
