/* backend.h: the backend-independent view of the target Deployment.
 *
 * The Lua `k8s` module talks only to this table of operations; sim, docker
 * and kube each fill one. Every operation returns 0, or -1 with *e filled
 * (e->status is the HTTP status a route should answer with). Lists are
 * returned as malloc'ed arrays that the caller frees. */
#ifndef PG_BACKEND_H
#define PG_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "load/sample.h"

typedef struct pg_pod {
    char name[96];
    char phase[16];             /* Pending | Running | Succeeded | Failed | Unknown */
    char status[32];            /* kubectl STATUS column: Running, ContainerCreating, ... */
    int ready;
    int deleting;               /* deletionTimestamp set */
    int restarts;
    double created;             /* epoch s, backend clock */
    double req_cpu;             /* cores */
    double req_mem;             /* bytes */
    char ip[64];                /* endpoint of the pod's server, "" when none */
    int port;
} pg_pod;

typedef struct pg_metric {
    char name[96];
    double cpu;                 /* cores */
    double mem;                 /* bytes */
    double ts;                  /* epoch s of the sample, backend clock */
    double window_s;
} pg_metric;

/* Sums over the Deployment's pods (k8s.usage()): cpu and mem over the pods
 * that report metrics ("online"), with those pods' requests. */
typedef struct pg_usage {
    int total, ready, online, desired;
    double cpu, mem, req_cpu, req_mem;
    double oldest;              /* timestamp of the oldest metric; 0 when online == 0 */
    double now;
} pg_usage;

/* ready: the pods counted so far (Ready ones, or with pg_wait.metrics the
 * Ready ones reporting metrics). */
typedef void (*pg_progress_fn)(void *ud, int ready, int want, double elapsed_s);

typedef struct pg_wait {
    int ready;                  /* wait until this many pods are Ready ... */
    int settled;                /* ... and no other pod exists (none Terminating/starting) */
    int metrics;                /* ... and that many report metrics (the metrics API lists
                                 * them: what the original service waited for) */
    double timeout_s;           /* backend-clock seconds */
    pg_progress_fn progress;    /* may be NULL; called at most a few times a second */
    void *progress_ud;
} pg_wait;

typedef struct pg_backend pg_backend;

/* A tick of a virtual clock: tick k of a ticker, due at backend time t
 * (epoch s), with the backend's clock set to exactly t. Runs on the thread
 * that moved the clock, with no backend lock held, so it may call back into
 * the backend (a clock move it makes fires no tick). Return 0 to keep
 * ticking, non-zero to remove the ticker (fn is not called again). */
typedef int (*pg_tick_fn)(void *ud, long long k, double t);

typedef struct pg_backend_ops {
    const char *name;           /* "sim", "docker", "kube" */
    int (*pods)(pg_backend *b, pg_pod **out, size_t *n, pg_err *e);
    int (*metrics)(pg_backend *b, pg_metric **out, size_t *n, pg_err *e);
    int (*replicas)(pg_backend *b, int *desired, pg_err *e);
    int (*scale)(pg_backend *b, int replicas, pg_err *e);
    /* grace_s < 0: the backend's default grace period. */
    int (*delete_pod)(pg_backend *b, const char *name, double grace_s, pg_err *e);
    /* On timeout: -1 with e->status 504 and e->code "timeout". */
    int (*wait)(pg_backend *b, const pg_wait *w, double *waited_s, pg_err *e);
    double (*now)(pg_backend *b);           /* epoch seconds on the backend clock */
    int (*sleep)(pg_backend *b, double s);  /* backend-clock sleep (virtual on sim) */
    /* Optional (NULL when the backend has no model of its own): run a load
     * test inside the backend, filling r's samples and r->sum (ld_summarize).
     * Used by load.driver "sim". */
    int (*loadtest)(pg_backend *b, const ld_plan *p, ld_result *r, pg_err *e);
    /* Optional: the sums of pg_usage in one consistent look (else the caller
     * sums pods and metrics itself). */
    int (*usage)(pg_backend *b, pg_usage *u, pg_err *e);
    /* Optional, present only while the clock is virtual (it moves only when
     * a request moves it: the sim with speed 0). ticker_add: tick k is due at
     * start + k * interval_s, where *start (may be NULL) is the clock now;
     * tick 0 fires before ticker_add returns, every later one while the
     * clock moves past it: each path that moves the clock stops at every
     * due tick on its way, in order, one tick at a time, however many
     * threads move it. A tick the clock already passed when it comes up (a
     * callback moved the clock itself) is skipped: fn sees the gap in k. A
     * reset re-anchors every ticker: its next tick is due at the reset's
     * instant and fires then. Returns the ticker id (> 0), or -1.
     * ticker_remove: 1 when it removed the ticker (no callback of it is
     * running then, unless the caller is one), 0 when there is none. */
    int (*ticker_add)(pg_backend *b, double interval_s, pg_tick_fn fn, void *ud, double *start,
                      pg_err *e);
    int (*ticker_remove)(pg_backend *b, int id);
    void (*destroy)(pg_backend *b);
    /* Optional (NULL: the caller polls): change notification. The backend
     * keeps a state generation that moves (never backwards) whenever what
     * pods() or replicas() report may have changed (metrics refresh on
     * their own resolution and need not move it): a scale, a delete, a
     * pod's own timed transition (Pending -> ContainerCreating -> Ready, a
     * Terminating pod going away), a reset. Blocks until the
     * generation differs from `since` or timeout_s (wall seconds) pass, then
     * sets *gen to the generation now and returns 0 (on a timeout *gen ==
     * since); -1 with e filled when the backend cannot tell. since = 0 (or
     * any stale value) returns at once. Spurious moves are allowed: the
     * caller re-reads and compares. */
    int (*changes)(pg_backend *b, uint64_t since, double timeout_s, uint64_t *gen, pg_err *e);
} pg_backend_ops;

/* The usage sums of b: its own usage op, or pods() and metrics() summed. */
int pg_backend_usage(pg_backend *b, pg_usage *u, pg_err *e);

struct pg_backend {
    const pg_backend_ops *ops;
    void *impl;
};

#endif
