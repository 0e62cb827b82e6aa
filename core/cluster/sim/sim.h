/* sim.h: the simulated cluster, a deterministic in-process Deployment.
 *
 * One seeded PRNG (splitmix64) drives everything, so the same seed and the
 * same sequence of calls give the same pod names, timings, metrics and
 * load-test samples. Time is virtual: seconds since the last reset on a
 * clock that starts at SIM_EPOCH (epoch seconds). With conf.speed == 0 the
 * clock only moves when told to (waits jump to the next event, load tests
 * and sleeps jump by their duration, sim_advance); with speed > 0 it
 * follows the wall clock times speed and waits really sleep.
 *
 * On the virtual clock, tickers (sim_ticker_add, the backend's ticker_add)
 * follow it: every path that moves the clock (waits, load tests, sleeps,
 * sim_advance, a reset) stops at each tick due on its way, sets the clock
 * to exactly that time and calls the ticker's callback without the lock;
 * ticks are delivered by the thread that moves the clock, one at a time, in
 * order. See backend.h for the contract.
 *
 * Pods follow the Kubernetes lifecycle: Pending -> ContainerCreating ->
 * Running (Ready) after start_delay_s +- start_jitter_s (x slow_factor for a
 * slow start); new pods may be drawn to crash (CrashLoopBackOff with
 * restarts and back-off 10 s, 20 s, ... 300 s, status flipping between
 * Error and CrashLoopBackOff) or to fail their image pull (ErrImagePull /
 * ImagePullBackOff, phase Pending). A deleted pod is Terminating for its
 * grace period and the ReplicaSet creates its replacement at once; scaling
 * down deletes not-ready pods first, then the newest.
 *
 * Metrics appear once a pod has been Ready for metrics_window_s, refresh
 * every metrics_resolution_s (the timestamp is the refresh tick) and
 * follow the workload: the offered requests/s (constant, step, sine or a
 * CSV trace, plus the last load test while it ran) spread over the ready
 * pods.
 *
 * Every function is thread-safe (one mutex per sim). Functions returning
 * int give 0, or -1 with *e filled (e->status is the HTTP status). */
#ifndef PG_SIM_H
#define PG_SIM_H

#include <stdint.h>

#include "cluster/backend.h"
#include "config/config.h"
#include "base/err.h"
#include "load/sample.h"

#define SIM_EPOCH 1700000000.0      /* backend clock at every reset */
#define SIM_MAX_PODS 1000           /* replicas above this: 422 */
#define SIM_MAX_SAMPLES 1000000     /* requests in one load test */

typedef struct sim sim;

/* Create a cluster of conf->replicas Ready pods (see sim_reset). The
 * deployment name prefixes pod names. A trace workload is loaded here.
 * Errors: status 400, code "config" (bad value) or "bad_trace". */
sim *sim_new(const pg_sim_conf *conf, const char *deployment, pg_err *e);
void sim_free(sim *s);

/* A fresh cluster: clock back to SIM_EPOCH, PRNG reseeded, `replicas`
 * pods Ready and reporting metrics at once. Injected probabilities and the
 * workload are settings and survive a reset. Tickers survive it too,
 * re-anchored: each one's next tick is due at SIM_EPOCH and fires at once
 * (on the fresh cluster), the following ones every interval after it. */
int sim_reset(sim *s, uint64_t seed, int replicas, pg_err *e);

/* Probability for NEW pods: what = "crash", "image_pull" or "slow". */
int sim_inject(sim *s, const char *what, double probability, pg_err *e);

/* Force pod `name` into status "CrashLoopBackOff" (or "Error"),
 * "ImagePullBackOff" (or "ErrImagePull") or "Pending" (stuck: never
 * scheduled). 404 when there is no such pod, 409 when it is terminating. */
int sim_fail_pod(sim *s, const char *name, const char *status, pg_err *e);

/* Replace the workload (a trace file is read now; on error the old
 * workload stays). sim_workload copies the current one out. */
int sim_set_workload(sim *s, const pg_workload_conf *w, pg_err *e);
void sim_workload(sim *s, pg_workload_conf *out);
/* Offered background requests/s at sim time t (seconds since reset). */
double sim_workload_rps(sim *s, double t);

/* Move the virtual clock forward (with speed > 0: shift it forward). */
int sim_advance(sim *s, double seconds, pg_err *e);
double sim_time(sim *s);                /* seconds since the last reset */
double sim_now(sim *s);                 /* SIM_EPOCH + sim_time */
uint64_t sim_seed(sim *s);              /* seed of the last reset */
const pg_sim_conf *sim_conf(sim *s);    /* the configuration given to sim_new */

/* The backend operations (backend.h), callable directly. Lists are
 * malloc'ed and owned by the caller. grace_s < 0 = conf.grace_s. */
int sim_pods(sim *s, pg_pod **out, size_t *n, pg_err *e);
int sim_metrics(sim *s, pg_metric **out, size_t *n, pg_err *e);
/* What k8s.usage() sums from sim_pods and sim_metrics, in one look. */
int sim_usage(sim *s, pg_usage *u, pg_err *e);
int sim_replicas(sim *s, int *desired, pg_err *e);
int sim_scale(sim *s, int replicas, pg_err *e);
int sim_delete_pod(sim *s, const char *name, double grace_s, pg_err *e);
int sim_wait(sim *s, const pg_wait *w, double *waited_s, pg_err *e);
int sim_sleep(sim *s, double seconds, pg_err *e);
/* The backend's changes op (backend.h): block until the state generation
 * differs from since (a scale, a delete, a reset, a failure injected, or a
 * pod's own timed transition passing on the clock) or timeout_s wall
 * seconds pass; *gen is the generation then. Generations start at 1. */
int sim_changes(sim *s, uint64_t since, double timeout_s, uint64_t *gen, pg_err *e);
/* Discrete-event load test against the ready pods; appends to r (owned by
 * the caller, ld_result_free) and computes r->sum. */
int sim_loadtest(sim *s, const ld_plan *p, ld_result *r, pg_err *e);

/* speed 0 only (else 409 "real_clock"): a ticker, as the backend's
 * ticker_add / ticker_remove (backend.h). */
int sim_ticker_add(sim *s, double interval_s, pg_tick_fn fn, void *ud, double *start, pg_err *e);
int sim_ticker_remove(sim *s, int id);

/* The backend over a new sim (cfg->sim, cfg->deployment). */
pg_backend *sim_backend_new(const pg_config *cfg, pg_err *e);
/* The sim behind b, or NULL when b is another backend. */
sim *sim_from_backend(pg_backend *b);

#endif
