/* sampler.h: drift-free periodic metrics sampling to CSV / JSON Lines.
 *
 * A job follows the clock of the backend it samples (spec.clock), and every
 * timestamp it writes or reports is on that clock (b->ops->now; the wall
 * clock without a backend).
 *
 * On a real clock a job owns one thread. Tick k is due at start + k *
 * interval on CLOCK_MONOTONIC and the thread sleeps with
 * clock_nanosleep(TIMER_ABSTIME) until it, so the period never drifts with
 * the probe's response time. A probe that runs past the next tick does not
 * stretch the schedule: the ticks it overran are counted as missed and the
 * next sample is taken at the next tick of the same grid.
 *
 * On a virtual clock (the backend has ticker_add: the sim with speed 0) a
 * job has no thread and never sleeps: the backend calls it at every tick
 * its clock passes, as the clock moves, on the thread that moves it, with
 * the clock at exactly the tick's time. Tick 0 is taken at once by
 * smp_start. Each tick runs the probe and appends its row at once. The job
 * ends when the clock reaches the first tick at or past start + duration;
 * a reset of the backend's clock re-anchors the grid (the rows' timestamps
 * start again from the reset's time) and the ticks already taken count.
 *
 * Every row is built whole and reaches the file in one write() together with
 * other whole rows (O_APPEND; on a real clock a userspace buffer written
 * before its oldest row is 0.5 s old, as far as the slowest probe so far
 * allows, and on stop; fsync on stop). A failed write is truncated back, so
 * the file never ends with a partial row, and ends the job ("failed").
 *
 * Files are written only under the manager's data directory: a relative name
 * is resolved below it (parent directories created on demand), an absolute
 * name must lie inside it; "..", control characters, empty names, symlinks
 * and directories are refused with 400 "bad_file".
 *
 * No Lua here: the probe is a C callback (the Lua glue is bindings/lb_sampler.c). */
#ifndef PG_SAMPLER_H
#define PG_SAMPLER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "cluster/backend.h"

#define SMP_INTERVAL_MIN 0.01           /* s */
#define SMP_INTERVAL_MAX 3600.0         /* s */
#define SMP_DURATION_MAX (7 * 86400.0)  /* s */
#define SMP_KEEP_FINISHED 32            /* finished jobs kept for status */

typedef struct smp_manager smp_manager;

/* The seed's four values. NAN = unknown (no metrics yet): an empty CSV
 * field, null in JSON Lines. */
typedef struct smp_row {
    double cpu_pct;
    double mem_pct;
    double online_pods;
    double total_pods;
} smp_row;

/* Fill *row (every field starts as NAN). Return 0, or -1 with e filled: the
 * row is still written, with empty values, and counted in probe_errors.
 * Runs on the job's thread, or on a virtual clock on the thread that moved
 * the clock, with no backend lock held (it may call the backend). */
typedef int (*smp_probe_fn)(void *ud, smp_row *row, pg_err *e);

typedef enum { SMP_CSV = 0, SMP_JSONL = 1 } smp_format;

typedef struct smp_spec {
    double interval_s;          /* SMP_INTERVAL_MIN .. SMP_INTERVAL_MAX */
    double duration_s;          /* > 0 and <= SMP_DURATION_MAX */
    const char *file;           /* relative to data_dir, or absolute inside it */
    smp_format format;
    int append;                 /* a file that is not empty is appended to; else 409 "exists" */
    smp_probe_fn probe;
    void *ud;                   /* owned by the job once smp_start is called */
    void (*ud_free)(void *ud);  /* may be NULL; called on the job's thread when it ends,
                                 * or by smp_start itself when it fails */
    pg_backend *clock;          /* the clock the job follows (not owned; must outlive the
                                 * manager's jobs); NULL = the wall clock */
} smp_spec;

/* One written row. */
typedef struct smp_sample {
    char timestamp[32];         /* ISO-8601 UTC with ms: 2026-11-27T21:30:00.200Z */
    double epoch_s;
    smp_row v;
    double probe_ms;
    int64_t missed;             /* ticks skipped just before this row */
} smp_sample;

/* A snapshot of one job. */
typedef struct smp_status {
    int job;
    int running;                /* still sampling */
    char state[12];             /* running | done | stopped | failed */
    char file[PATH_MAX];        /* absolute */
    char format[8];             /* csv | jsonl */
    double interval_s;
    double duration_s;
    double started;             /* epoch s of tick 0, on the job's clock */
    double finished;            /* epoch s, on the job's clock; 0 while running */
    double elapsed_s;           /* on the job's clock, since tick 0 (of the grid re-anchored
                                 * by the last reset) */
    int64_t ticks;              /* ticks due so far (samples + missed) */
    int64_t samples;            /* rows written */
    int64_t missed;             /* ticks skipped because a probe overran (or moved a virtual
                                 * clock past them) */
    int64_t probe_errors;       /* probe calls that failed (their rows have empty values) */
    int64_t bytes;              /* bytes in the file written by this job (flushed) */
    int has_period;             /* at least two samples */
    double mean_period_s;       /* (last wake - first wake) / ticks between them */
    double period_error_pct;    /* (mean_period - interval) / interval * 100 */
    double jitter_p50_ms;       /* wake time - scheduled tick (0 on a virtual clock) */
    double jitter_p99_ms;
    double jitter_max_ms;
    double probe_ms_mean;
    double probe_ms_max;
    int has_last;
    smp_sample last;
    char error[520];            /* last probe or write error "code: message", "" when none */
} smp_status;

/* max_jobs: concurrent running jobs (>= 1). data_dir is created on demand
 * by the first start. Returns NULL with e filled on a bad argument. */
smp_manager *smp_manager_new(int max_jobs, const char *data_dir, pg_err *e);

/* Stop every job (flush, fsync, close) and free everything. NULL is a no-op. */
void smp_manager_free(smp_manager *m);

/* Start a job. Returns the job id (> 0) with *out (may be NULL) filled, or
 * -1 with e filled: 400 bad_interval / bad_duration / bad_format / bad_file /
 * bad_probe, 409 file_busy (another running job writes that file), 409
 * exists (the file holds rows of an earlier run and spec->append is 0), 429
 * too_many_jobs, 500 io. Nothing is created on disk unless the
 * arguments are valid. Takes ownership of spec->ud in every case. */
int smp_start(smp_manager *m, const smp_spec *spec, smp_status *out, pg_err *e);

/* Snapshot of one job: 0, or -1 with 404 not_found. */
int smp_status_get(smp_manager *m, int job, smp_status *out, pg_err *e);

/* Snapshots of every job kept (running first, then finished, by id).
 * *out is malloc'ed (caller frees; NULL when none); returns the count. */
size_t smp_status_all(smp_manager *m, smp_status **out);

/* Stop one job and wait until its file is flushed, fsync'ed and closed.
 * Stopping a finished job just reports it. 0 and *out (may be NULL)
 * filled, or -1 with 404 not_found. */
int smp_stop(smp_manager *m, int job, smp_status *out, pg_err *e);

/* Stop every running job, as smp_stop. Returns how many were running.
 * For SIGTERM/SIGINT: call from the main thread once the server loop has
 * returned, never from a signal handler. */
int smp_stop_all(smp_manager *m);

/* Number of running jobs. */
int smp_running(smp_manager *m);

/* Resolve file under data_dir as smp_start does (creating data_dir and the
 * parent directories), writing the absolute path to out. 0 or -1 with 400
 * bad_file. Exposed for tests. */
int smp_resolve_path(const char *data_dir, const char *file, char *out, size_t n, pg_err *e);

/* Format one row (no header) into buf; returns the length, or -1 when it
 * does not fit. Exposed for tests. */
int smp_format_row(smp_format f, const smp_sample *s, char *buf, size_t n);

/* The CSV header line, with its newline. */
extern const char smp_csv_header[];

#endif
