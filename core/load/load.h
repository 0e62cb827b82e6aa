/* load.h: the native load generator (one event loop, no thread per
 * request; libcurl multi, or the plain HTTP/1.1 client of h1.h).
 *
 * Modes, chosen from the ld_plan (sample.h):
 *
 *   open loop    rate > 0 (or a rate profile) and loops == 0: arrivals at
 *                absolute intended send times t0 + i/rate on CLOCK_MONOTONIC
 *                for duration_s, whatever the server does (wrk2's model).
 *                timeStamp, elapsed and Latency are measured from the
 *                intended send time, so a slow server cannot hide behind
 *                coordinated omission. At most max_inflight requests are in
 *                flight (connections); an arrival that waits for a free
 *                connection still counts from its intended time, and one
 *                that has waited timeout_s is a failed "timeout" sample.
 *                `threads` is not used; threadName is the connection slot.
 *
 *   closed loop  otherwise (or when target.closed is set): `threads` virtual users, each running `loops`
 *                samples (or until duration_s when loops == 0), started
 *                ramp_s/threads apart, waiting think_ms before each sample
 *                (JMeter's Thread Group + Constant Timer). With rate > 0 the
 *                threads also share one schedule of rate samples/s (JMeter's
 *                Constant Throughput Timer, "all active threads, shared"):
 *                a sample starts at max(now, previous slot + 1/rate).
 *                Times are measured from the actual send, as JMeter does.
 *
 * Every planned request ends as one sample: no answer within timeout_s is
 * a failed sample (message "timeout"), never a missing one. */
#ifndef PG_LOAD_H
#define PG_LOAD_H

#include <stddef.h>

#include "base/err.h"
#include "load/sample.h"

typedef struct load_progress {
    double elapsed_s;
    double total_s;             /* planned duration; 0 when unknown (loops) */
    size_t requests;            /* samples recorded so far */
    size_t planned;             /* 0 when unknown (closed loop for a duration) */
    size_t errors;
    size_t inflight;
    double rate;                /* samples/s over the last second */
    double p99_ms;              /* elapsed p99 so far (log histogram, ~2 %) */
} load_progress;

/* Called about 4 times a second from the generator's loop (same thread). */
typedef void (*load_progress_fn)(void *ud, const load_progress *p);
/* Polled from the loop; non-zero stops the run (in-flight requests are
 * recorded as failed "aborted" samples and load_run fails "interrupted"). */
typedef int (*load_stop_fn)(void *ud);

/* A step of a rate profile: from t_s on (seconds since start), rps. */
typedef struct load_step {
    double t_s;
    double rps;
} load_step;

/* What to hit, and how. Everything is owned by the target (copied in by the
 * setters below) and freed by load_target_free. */
typedef struct load_target {
    char **urls;                /* round robin, one URL per request */
    size_t nurls;
    char method[16];            /* GET, POST, PUT, DELETE, ... */
    char **headers;             /* "Name: value" */
    size_t nheaders;
    char *body;                 /* raw body, NULL = none */
    size_t body_len;
    char *file_path;            /* multipart/form-data upload, NULL = none */
    char *file_param;           /* form field name ("file") */
    char *file_mime;            /* "image/jpeg"; NULL = application/octet-stream */
    int keepalive;              /* 0: Connection: close, a new connection per request */
    int follow_redirects;
    int client;                 /* LOAD_CLIENT_*: which HTTP client carries the requests */
    int max_inflight;           /* open loop: connections; 0 = ceil(rate*timeout)+1, within
                                 * [1, LD_MAX_CONNECTIONS] */
    int closed;                 /* closed loop even with rate > 0 and loops == 0 (a JMeter Thread
                                 * Group with a duration and a Constant Throughput Timer) */
    load_step *profile;         /* open loop rate profile (steps), NULL = constant plan->rate */
    size_t nprofile;
    load_progress_fn progress;  /* may be NULL */
    void *progress_ud;
    load_stop_fn stop;          /* may be NULL */
    void *stop_ud;
} load_target;

/* The HTTP clients. AUTO: h1 (h1.h) for plain http:// without file upload
 * or redirects, libcurl otherwise. Both record the same samples. */
enum { LOAD_CLIENT_AUTO = 0, LOAD_CLIENT_CURL, LOAD_CLIENT_H1 };
/* The client a run of t uses (LOAD_CLIENT_CURL or LOAD_CLIENT_H1). */
int load_client(const load_target *t);

void load_target_init(load_target *t);
void load_target_free(load_target *t);
/* http:// or https:// with a host; anything else fails with status 400. */
int load_target_add_url(load_target *t, const char *url, pg_err *e);
int load_target_set_method(load_target *t, const char *method, pg_err *e);
int load_target_add_header(load_target *t, const char *name, const char *value, pg_err *e);
int load_target_set_body(load_target *t, const void *body, size_t len, pg_err *e);
/* mime may be NULL. The file is read when the run starts. */
int load_target_set_file(load_target *t, const char *path, const char *param, const char *mime,
                         pg_err *e);
/* Steps must start at t_s = 0 and increase; rps >= 0. */
int load_target_set_profile(load_target *t, const load_step *steps, size_t n, pg_err *e);

/* The limits of a plan, whichever driver runs it. */
#define LD_MAX_THREADS 10000
#define LD_MAX_LOOPS 1000000000
#define LD_MAX_CONNECTIONS 1000
#define LD_MAX_SAMPLES 20000000u

/* In the functions below t may be NULL: a plan without a target (the
 * simulated cluster's model, a plan before it runs), open loop when
 * rate > 0 and loops == 0. */

/* 1 when p and t make an open-loop run, 0 for closed loop. */
int load_is_open(const ld_plan *p, const load_target *t);
/* Wall-clock seconds the plan asks for when known beforehand (open loop:
 * duration; closed loop: duration, or (threads*loops-1)/rate when paced,
 * plus ramp and think); 0 when it depends on the server. */
double load_planned_s(const ld_plan *p, const load_target *t);
/* Number of samples the plan will produce when known beforehand, else 0. */
size_t load_planned_count(const ld_plan *p, const load_target *t);

/* The one check of a load plan and its limits, for every driver (native
 * generator, simulated cluster, the bindings before either): -1 with e
 * filled, status 400 and code bad_rate, bad_duration, bad_timeout,
 * bad_ramp, bad_think, bad_loops, bad_threads, bad_plan (nothing ends a
 * closed loop), too_many (over LD_MAX_SAMPLES requests) or too_long (over
 * p->max_duration_s). With a target, also bad_target (no URL), bad_method
 * and bad_connections. */
int ld_plan_check(const ld_plan *p, const load_target *t, pg_err *e);

/* Run the load test (checked by ld_plan_check first). r must be zeroed (or
 * hold earlier samples: new ones are appended); on return r->sum is
 * computed. On failure (bad plan, unreadable upload file, interrupted,
 * p->max_duration_s exceeded) -1 with e filled; r then holds whatever
 * samples were recorded. */
int load_run(const ld_plan *p, const load_target *t, ld_result *r, pg_err *e);

#endif
