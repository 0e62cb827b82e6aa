/* sampler.c: drift-free sampling jobs (see sampler.h). */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "sampler/sampler.h"

#define NS 1000000000LL
#define SLEEP_CHUNK_NS (50 * 1000000LL)     /* a stop request is seen within this */
#define FLUSH_AGE_NS (500 * 1000000LL)      /* a buffered row is written before it is this old */
#define BUF_CAP 16384
#define FIRST_TICK_NS (1 * 1000000LL)       /* tick 0 is this far after the start */

/* Jitter histogram in microseconds, log-linear: values below 128 us are
 * exact, above that 64 sub-buckets per power of two (< 1.6 % wide). */
#define HIST_SUB 64
#define HIST_BUCKETS (HIST_SUB * 40)

const char smp_csv_header[] =
    "timestamp,cpu_pct,mem_pct,online_pods,total_pods,epoch_s,probe_ms,missed\n";

typedef struct smp_job {
    int id;
    smp_spec spec;              /* spec.file is not kept: see path */
    char path[PATH_MAX];
    int fd;
    long long iv_ns;
    long long n_ticks;
    pg_backend *clock;          /* spec.clock: NULL = the wall clock */
    int virt;                   /* its clock is virtual: the backend calls job_tick, no thread */
    pthread_t thread;
    atomic_int stop;
    atomic_int exited;          /* set last: nothing touches the job after it but its owner */
    atomic_int ticker;          /* virt: the backend's ticker id, 0 until registered */
    atomic_int in_cb;           /* virt: job_tick is running */
    long long next_k;           /* virt, in job_tick: the tick expected next */
    /* under the manager's mutex */
    int joined;
    int refs;
    /* under mu: what a snapshot copies */
    pthread_mutex_t mu;
    smp_status st;
    uint32_t hist[HIST_BUCKETS];
    long long first_wake, last_wake;
    long long first_k, last_k;
    double probe_ms_sum;
    double anchor;              /* clock time of tick 0 of the grid (moved back by a reset) */
    long long size0;            /* file size before this job */
    /* job thread only */
    char *buf;
    size_t len;
    long long oldest_ns;        /* wake time of the oldest buffered row */
    long long size;             /* file size as flushed */
} smp_job;

struct smp_manager {
    pthread_mutex_t mu;
    int max_jobs;
    char data_dir[PATH_MAX];
    int next_id;
    smp_job **jobs;
    size_t njobs, cap;
};

/* ---- time ---- */

/* Sleep until the absolute monotonic time due, in chunks so that a stop
 * request is noticed; the last chunk ends exactly at due. -1 when stopped. */
static int sleep_until(smp_job *j, long long due) {
    for (;;) {
        if (atomic_load(&j->stop)) return -1;
        long long now = pg_mono_ns();
        if (now >= due) return 0;
        long long t = due - now > SLEEP_CHUNK_NS ? now + SLEEP_CHUNK_NS : due;
        struct timespec ts = { .tv_sec = t / NS, .tv_nsec = t % NS };
        int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        if (r == 0 && t == due) return atomic_load(&j->stop) ? -1 : 0;
    }
}

/* Now on the job's clock. */
static double job_clock(const smp_job *j) {
    return j->clock ? j->clock->ops->now(j->clock) : pg_wall();
}

/* Best effort: the thread waits and wakes under SCHED_FIFO (priority 1) so
 * that a busy machine does not delay the wake-up, and runs the probe and
 * the write under the normal policy, so user code never runs real-time.
 * Without CAP_SYS_NICE or RLIMIT_RTPRIO the first call fails and the job
 * keeps the normal policy. */
static int sched_wait(int on) {
    struct sched_param sp = { .sched_priority = on ? 1 : 0 };
    return pthread_setschedparam(pthread_self(), on ? SCHED_FIFO : SCHED_OTHER, &sp);
}

/* ---- rows ---- */

static void fmt_iso(long long epoch_us, char *out, size_t n) {
    time_t sec = (time_t)(epoch_us / 1000000);
    int ms = (int)(epoch_us % 1000000 / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t k = strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + k, n - k, ".%03dZ", ms);
}

/* A value, or `null_text` when it is unknown. */
static const char *fmt_val(double v, char *buf, size_t n, const char *null_text) {
    if (!isfinite(v)) return null_text;
    snprintf(buf, n, "%.10g", v);
    return buf;
}

/* timestamp and epoch_s of clock time t (epoch s), to the microsecond */
static void stamp(smp_sample *s, double t) {
    long long us = llround(t * 1e6);
    fmt_iso(us, s->timestamp, sizeof s->timestamp);
    s->epoch_s = (double)us / 1e6;
}

int smp_format_row(smp_format f, const smp_sample *s, char *buf, size_t n) {
    char a[4][32];
    const char *nul = f == SMP_JSONL ? "null" : "";
    const char *cpu = fmt_val(s->v.cpu_pct, a[0], sizeof a[0], nul);
    const char *mem = fmt_val(s->v.mem_pct, a[1], sizeof a[1], nul);
    const char *onl = fmt_val(s->v.online_pods, a[2], sizeof a[2], nul);
    const char *tot = fmt_val(s->v.total_pods, a[3], sizeof a[3], nul);
    int k;
    if (f == SMP_JSONL)
        k = snprintf(buf, n,
                     "{\"timestamp\":\"%s\",\"cpu_pct\":%s,\"mem_pct\":%s,\"online_pods\":%s,"
                     "\"total_pods\":%s,\"epoch_s\":%.6f,\"probe_ms\":%.3f,\"missed\":%" PRId64 "}\n",
                     s->timestamp, cpu, mem, onl, tot, s->epoch_s, s->probe_ms, s->missed);
    else
        k = snprintf(buf, n, "%s,%s,%s,%s,%s,%.6f,%.3f,%" PRId64 "\n", s->timestamp, cpu, mem, onl, tot,
                     s->epoch_s, s->probe_ms, s->missed);
    return k < 0 || (size_t)k >= n ? -1 : k;
}

/* ---- statistics ---- */

static int hist_index(long long us) {
    if (us < 0) us = 0;
    if (us < 2 * HIST_SUB) return (int)us;
    int msb = 63 - __builtin_clzll((unsigned long long)us);
    int shift = msb - 6;
    int i = (shift + 1) * HIST_SUB + (int)((us >> shift) - HIST_SUB);
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

/* Upper bound (us) of bucket i: percentiles are reported conservatively. */
static double hist_upper(int i) {
    if (i < 2 * HIST_SUB) return i + 1;
    int shift = i / HIST_SUB - 1;
    long long m = i % HIST_SUB + HIST_SUB;
    return (double)((m + 1) << shift);
}

static double hist_pct(const smp_job *j, int64_t n, double p) {
    if (n <= 0) return 0;
    int64_t rank = (int64_t)ceil(p * (double)n);
    if (rank < 1) rank = 1;
    int64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += j->hist[i];
        if (seen >= rank) {
            double ms = hist_upper(i) / 1000.0;
            return ms < j->st.jitter_max_ms ? ms : j->st.jitter_max_ms;
        }
    }
    return j->st.jitter_max_ms;
}

static void snapshot(smp_job *j, smp_status *out) {
    if (!out) return;
    double now = atomic_load(&j->exited) ? 0 : job_clock(j);     /* no job lock held */
    pthread_mutex_lock(&j->mu);
    *out = j->st;
    int64_t n = j->st.samples;
    out->running = !atomic_load(&j->exited);
    out->ticks = j->st.samples + j->st.missed;
    out->jitter_p50_ms = hist_pct(j, n, 0.50);
    out->jitter_p99_ms = hist_pct(j, n, 0.99);
    out->probe_ms_mean = n ? j->probe_ms_sum / (double)n : 0;
    if (j->last_k > j->first_k) {
        out->has_period = 1;
        out->mean_period_s = (double)(j->last_wake - j->first_wake) /
                             (double)(j->last_k - j->first_k) / 1e9;
        out->period_error_pct = (out->mean_period_s - j->spec.interval_s) /
                                j->spec.interval_s * 100.0;
    }
    if (out->running) out->elapsed_s = out->started > 0 ? fmax(0, now - j->anchor) : 0;
    pthread_mutex_unlock(&j->mu);
}

/* ---- the file ---- */

/* Write whole rows with one write(); on failure cut the file back so it
 * never ends inside a row. */
static int write_whole(smp_job *j, const char *p, size_t len, pg_err *e) {
    if (pg_write_whole(j->fd, p, len, (off_t)j->size, j->path, e)) return -1;
    j->size += (long long)len;
    return 0;
}

static int flush_buf(smp_job *j, pg_err *e) {
    if (j->len == 0) return 0;
    int rc = write_whole(j, j->buf, j->len, e);
    j->len = 0;
    pthread_mutex_lock(&j->mu);
    j->st.bytes = j->size - j->size0;
    pthread_mutex_unlock(&j->mu);
    return rc;
}

static void set_error(smp_job *j, const pg_err *e) {
    pthread_mutex_lock(&j->mu);
    snprintf(j->st.error, sizeof j->st.error, "%s: %s", e->code, e->message);
    pthread_mutex_unlock(&j->mu);
}

/* ---- the job thread ---- */

static void record(smp_job *j, const smp_sample *s, long long k, long long wake, long long due) {
    long long jit_ns = wake - due;
    double jit_ms = (double)jit_ns / 1e6;
    pthread_mutex_lock(&j->mu);
    j->st.samples++;
    j->hist[hist_index(jit_ns / 1000)]++;
    if (jit_ms > j->st.jitter_max_ms) j->st.jitter_max_ms = jit_ms;
    j->probe_ms_sum += s->probe_ms;
    if (s->probe_ms > j->st.probe_ms_max) j->st.probe_ms_max = s->probe_ms;
    if (j->st.samples == 1) {
        j->first_wake = wake;
        j->first_k = k;
    }
    j->last_wake = wake;
    j->last_k = k;
    j->st.last = *s;
    j->st.has_last = 1;
    pthread_mutex_unlock(&j->mu);
}

static void add_missed(smp_job *j, long long n) {
    if (n <= 0) return;
    pthread_mutex_lock(&j->mu);
    j->st.missed += n;
    pthread_mutex_unlock(&j->mu);
}

/* Run the probe into s->v (every value unknown when it fails: the error is
 * kept and counted) and time it. */
static void take_sample(smp_job *j, smp_sample *s) {
    pg_err e;
    memset(s, 0, sizeof *s);
    s->v.cpu_pct = s->v.mem_pct = s->v.online_pods = s->v.total_pods = NAN;
    pg_err_clear(&e);
    long long t0 = pg_mono_ns();
    int rc = j->spec.probe(j->spec.ud, &s->v, &e);
    s->probe_ms = (double)(pg_mono_ns() - t0) / 1e6;
    if (rc != 0) {
        s->v.cpu_pct = s->v.mem_pct = s->v.online_pods = s->v.total_pods = NAN;
        set_error(j, &e);
        pthread_mutex_lock(&j->mu);
        j->st.probe_errors++;
        pthread_mutex_unlock(&j->mu);
    }
}

/* The end of a job, on the thread that ends it: the buffer written, fsync,
 * close, the final state at clock time end; then the probe's data freed and
 * exited set, the last touch of j. */
static void job_end(smp_job *j, int failed, int stopped, double end) {
    pg_err e;
    if (!failed && flush_buf(j, &e)) {
        failed = 1;
        set_error(j, &e);
    }
    if (fsync(j->fd) != 0 && !failed) {
        pg_errf(&e, 500, "io", "fsync %s: %s", j->path, strerror(errno));
        set_error(j, &e);
        failed = 1;
    }
    close(j->fd);
    j->fd = -1;

    pthread_mutex_lock(&j->mu);
    snprintf(j->st.state, sizeof j->st.state, "%s", failed ? "failed" : stopped ? "stopped" : "done");
    j->st.finished = end;
    j->st.elapsed_s = j->st.started > 0 ? fmax(0, end - j->anchor) : 0;
    j->st.running = 0;
    pthread_mutex_unlock(&j->mu);

    if (j->spec.ud_free) j->spec.ud_free(j->spec.ud);
    j->spec.ud = NULL;
    atomic_store(&j->exited, 1);
}

static void *job_main(void *arg) {
    smp_job *j = arg;
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);    /* wake as close to the tick as the kernel can */

    /* Tick 0 is slept to like every other tick, so every sample's jitter is
     * measured the same way. epoch0 becomes the wall clock of t0; a row's
     * timestamp is the job's clock at its wake-up. */
    long long now = pg_mono_ns();
    long long epoch0 = pg_wall_ns();
    long long t0 = now + FIRST_TICK_NS;
    epoch0 += FIRST_TICK_NS;                /* wall clock of t0 */
    pthread_mutex_lock(&j->mu);
    j->st.started = j->anchor = j->clock ? job_clock(j) + FIRST_TICK_NS / 1e9 : (double)epoch0 / 1e9;
    pthread_mutex_unlock(&j->mu);

    const long long iv = j->iv_ns, n = j->n_ticks;
    long long k = 0, pending = 0;   /* pending: missed ticks not yet shown in a row */
    long long probe_max = 0;
    int failed = 0;
    pg_err e;
    char row[512];

    int rt = sched_wait(1) == 0;            /* permitted here? */
    if (rt) sched_wait(0);
    while (k < n) {
        long long due = t0 + k * iv;
        if (rt) sched_wait(1);
        int stopped = sleep_until(j, due);
        long long wake = pg_mono_ns();
        if (rt) sched_wait(0);
        if (stopped) break;
        if (wake - t0 >= (k + 1) * iv) {        /* woke after later ticks were due */
            long long late = (wake - t0) / iv;
            if (late >= n) {
                add_missed(j, n - k);
                break;
            }
            add_missed(j, late - k);
            pending += late - k;
            k = late;
            due = t0 + k * iv;
        }

        smp_sample s;
        double at = j->clock ? job_clock(j) : (double)(epoch0 + (wake - t0)) / 1e9;
        take_sample(j, &s);
        long long done = pg_mono_ns();
        stamp(&s, at);
        s.probe_ms = (double)(done - wake) / 1e6;
        s.missed = pending;
        pending = 0;

        int len = smp_format_row(j->spec.format, &s, row, sizeof row);
        if (len < 0) len = 0;   /* cannot happen: every field is bounded */
        if (j->len + (size_t)len > BUF_CAP && flush_buf(j, &e)) {
            failed = 1;
            set_error(j, &e);
            break;
        }
        if (j->len == 0) j->oldest_ns = wake;
        memcpy(j->buf + j->len, row, (size_t)len);
        j->len += (size_t)len;
        record(j, &s, k, wake, due);

        /* The next tick of the grid that is still ahead. */
        long long next = k + 1;
        if (done > t0 + next * iv) next = (done - t0 + iv - 1) / iv;
        long long skipped = (next < n ? next : n) - (k + 1);
        add_missed(j, skipped);
        pending += skipped;

        /* Flush now unless every buffered row will still be younger than
         * FLUSH_AGE_NS after the next tick's probe (estimated by the slowest
         * probe so far): a hanging backend never holds rows back for long. */
        if (done - wake > probe_max) probe_max = done - wake;
        if ((next >= n || t0 + next * iv + probe_max - j->oldest_ns >= FLUSH_AGE_NS) &&
            flush_buf(j, &e)) {
            failed = 1;
            set_error(j, &e);
            break;
        }
        k = next;
    }

    job_end(j, failed, k < n && atomic_load(&j->stop),
            j->clock ? job_clock(j) : (double)(epoch0 + (pg_mono_ns() - t0)) / 1e9);
    return NULL;
}

/* ---- a job on a virtual clock ---- */

/* Tick k at clock time t (k < n_ticks): its row, written at once. 0, or -1
 * when the write failed (the error is kept). */
static int tick_row(smp_job *j, long long k, double t) {
    smp_sample s;
    take_sample(j, &s);
    stamp(&s, t);
    s.missed = k - j->next_k;
    j->next_k = k + 1;
    pthread_mutex_lock(&j->mu);
    if (j->st.samples == 0 && j->st.missed == 0) j->st.started = t - (double)k * j->spec.interval_s;
    j->anchor = t - (double)k * j->spec.interval_s;    /* moves back only at a reset */
    pthread_mutex_unlock(&j->mu);
    add_missed(j, s.missed);

    char row[512];
    pg_err e;
    int len = smp_format_row(j->spec.format, &s, row, sizeof row);
    if (len < 0) len = 0;       /* cannot happen: every field is bounded */
    if (write_whole(j, row, (size_t)len, &e)) {
        set_error(j, &e);
        return -1;
    }
    pthread_mutex_lock(&j->mu);
    j->st.bytes = j->size - j->size0;
    pthread_mutex_unlock(&j->mu);
    record(j, &s, k, k * j->iv_ns, k * j->iv_ns);     /* on the grid exactly: no jitter */
    return 0;
}

/* The backend's tick (pg_tick_fn), on the thread that moved its clock. Tick
 * n_ticks, the first at or past start + duration, ends the job. */
static int job_tick(void *ud, long long k, double t) {
    smp_job *j = ud;
    atomic_store(&j->in_cb, 1);
    long long n = j->n_ticks;
    int failed = 0;
    if (k < n && !atomic_load(&j->stop)) failed = tick_row(j, k, t) != 0;
    if (!failed && k < n && !atomic_load(&j->stop)) {
        atomic_store(&j->in_cb, 0);
        return 0;
    }
    if (k >= n) add_missed(j, n - j->next_k);         /* ticks skipped before the end */
    job_end(j, failed, !failed && k < n, t);
    return 1;                                         /* j may be gone: touch nothing */
}

/* Stop a virtual job (the caller holds a reference). 1 when it has ended,
 * here or before, or ends as soon as its own tick (running further up this
 * thread's stack: a probe stopped it) returns; 0 when another thread ends
 * it: smp_start's, whose ticker is not registered yet. */
static int stop_virtual(smp_job *j) {
    atomic_store(&j->stop, 1);
    if (atomic_load(&j->exited)) return 1;
    int id = atomic_load(&j->ticker);
    if (id <= 0) return 0;
    pg_backend *b = j->clock;
    int removed = b->ops->ticker_remove(b, id);       /* waits for a move calling it */
    if (atomic_load(&j->in_cb)) return 1;             /* its tick ends it */
    if (removed) job_end(j, 0, 1, job_clock(j));
    return removed || atomic_load(&j->exited);
}

static void wait_exited(smp_job *j) {
    while (!atomic_load(&j->exited)) pg_sleep(0.005);
}

/* ---- paths ---- */

/* Syntax only, nothing touched on disk. */
static int check_name(const char *file, pg_err *e) {
    if (!file || !*file) return pg_errf(e, 400, "bad_file", "empty file name");
    size_t len = strlen(file);
    if (len >= PATH_MAX - 1) return pg_errf(e, 400, "bad_file", "file name too long");
    for (const unsigned char *p = (const unsigned char *)file; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return pg_errf(e, 400, "bad_file", "file name contains a control character");
    if (file[len - 1] == '/') return pg_errf(e, 400, "bad_file", "'%s' names a directory", file);
    /* components */
    const char *p = file;
    while (*p) {
        while (*p == '/') p++;
        const char *q = p;
        while (*q && *q != '/') q++;
        if (q - p == 2 && p[0] == '.' && p[1] == '.')
            return pg_errf(e, 400, "bad_file", "'..' is not allowed in a file name");
        if (!*q && q - p == 1 && p[0] == '.')
            return pg_errf(e, 400, "bad_file", "'%s' names a directory", file);
        p = q;
    }
    return 0;
}

/* Lexically normalize path into out: absolute (prefixed with the working
 * directory when relative), no "." or empty components, ".." popped. */
static int normalize(const char *path, char *out, size_t n) {
    char tmp[PATH_MAX];
    if (path[0] == '/') {
        if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp) return -1;
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd)) return -1;
        if (snprintf(tmp, sizeof tmp, "%s/%s", cwd, path) >= (int)sizeof tmp) return -1;
    }
    size_t o = 0;
    const char *p = tmp;
    while (*p) {
        while (*p == '/') p++;
        const char *q = p;
        while (*q && *q != '/') q++;
        size_t l = (size_t)(q - p);
        if (l == 0 || (l == 1 && p[0] == '.')) {
            /* skip */
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            while (o > 0 && out[o - 1] != '/') o--;
            if (o > 0) o--;
        } else {
            if (o + 1 + l + 1 > n) return -1;
            out[o++] = '/';
            memcpy(out + o, p, l);
            o += l;
        }
        p = q;
    }
    if (o == 0) {
        if (n < 2) return -1;
        out[o++] = '/';
    }
    out[o] = '\0';
    return 0;
}

/* rel = path below dir when path is inside dir (both normalized). */
static const char *below(const char *path, const char *dir) {
    size_t l = strlen(dir);
    if (l == 1) return path[0] == '/' ? path + 1 : NULL;   /* dir is "/" */
    if (strncmp(path, dir, l) != 0 || path[l] != '/') return NULL;
    return path + l + 1;
}

static int mkdir_p(const char *dir) {
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(tmp, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int smp_resolve_path(const char *data_dir, const char *file, char *out, size_t n, pg_err *e) {
    if (check_name(file, e)) return -1;
    char dabs[PATH_MAX], dreal[PATH_MAX], fabs_[PATH_MAX], rel[PATH_MAX];
    if (normalize(data_dir && *data_dir ? data_dir : "./data", dabs, sizeof dabs))
        return pg_errf(e, 500, "io", "bad data directory '%s'", data_dir);

    if (file[0] == '/') {
        if (normalize(file, fabs_, sizeof fabs_))
            return pg_errf(e, 400, "bad_file", "file name too long");
        const char *r = below(fabs_, dabs);
        if (!r && realpath(dabs, dreal)) r = below(fabs_, dreal);
        if (!r || !*r)
            return pg_errf(e, 400, "bad_file", "'%s' is outside the data directory %s", file, dabs);
        snprintf(rel, sizeof rel, "%s", r);
    } else {
        snprintf(rel, sizeof rel, "%s", file);
    }

    if (mkdir_p(dabs) != 0)
        return pg_errf(e, 500, "io", "cannot create data directory %s: %s", dabs,
                       strerror(errno));
    if (!realpath(dabs, dreal))
        return pg_errf(e, 500, "io", "data directory %s: %s", dabs, strerror(errno));

    /* Walk the parent directories below dreal without following symlinks,
     * creating them on demand. */
    int dfd = open(dreal, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return pg_errf(e, 500, "io", "data directory %s: %s", dreal, strerror(errno));
    char walked[PATH_MAX];
    snprintf(walked, sizeof walked, "%s", dreal);
    const char *p = rel, *base = NULL;
    for (;;) {
        while (*p == '/') p++;
        const char *q = p;
        while (*q && *q != '/') q++;
        if (!*q) {
            base = p;
            break;
        }
        char comp[NAME_MAX + 1];
        size_t l = (size_t)(q - p);
        if (l > NAME_MAX) {
            close(dfd);
            return pg_errf(e, 400, "bad_file", "file name component too long");
        }
        memcpy(comp, p, l);
        comp[l] = '\0';
        p = q;
        if (l == 1 && comp[0] == '.') continue;
        if (mkdirat(dfd, comp, 0755) != 0 && errno != EEXIST) {
            int err = errno;
            close(dfd);
            return pg_errf(e, 400, "bad_file", "cannot create directory '%s': %s", comp,
                           strerror(err));
        }
        int nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close(dfd);
        if (nfd < 0)
            return pg_errf(e, 400, "bad_file", "'%s' is not a directory inside the data directory",
                           comp);
        dfd = nfd;
        size_t wl = strlen(walked);
        if (wl + 1 + l + 1 > sizeof walked) {
            close(dfd);
            return pg_errf(e, 400, "bad_file", "file name too long");
        }
        walked[wl] = '/';
        memcpy(walked + wl + 1, comp, l + 1);
    }
    close(dfd);
    if (strlen(base) > NAME_MAX) return pg_errf(e, 400, "bad_file", "file name too long");
    if (snprintf(out, n, "%s/%s", walked, base) >= (int)n)
        return pg_errf(e, 400, "bad_file", "file name too long");
    return 0;
}

/* ---- the manager ---- */

smp_manager *smp_manager_new(int max_jobs, const char *data_dir, pg_err *e) {
    if (max_jobs < 1) {
        pg_errf(e, 400, "bad_config", "sampler.max_jobs must be at least 1");
        return NULL;
    }
    smp_manager *m = calloc(1, sizeof *m);
    if (!m) {
        pg_errf(e, 500, "no_memory", "out of memory");
        return NULL;
    }
    pthread_mutex_init(&m->mu, NULL);
    m->max_jobs = max_jobs;
    snprintf(m->data_dir, sizeof m->data_dir, "%s", data_dir && *data_dir ? data_dir : "./data");
    m->next_id = 1;
    return m;
}

static void job_free(smp_job *j) {
    if (j->spec.ud && j->spec.ud_free) j->spec.ud_free(j->spec.ud);
    if (j->fd >= 0) close(j->fd);
    pthread_mutex_destroy(&j->mu);
    free(j->buf);
    free(j);
}

static int running_locked(smp_manager *m) {
    int r = 0;
    for (size_t i = 0; i < m->njobs; i++) r += !atomic_load(&m->jobs[i]->exited);
    return r;
}

/* Join threads that have ended; drop the oldest finished jobs beyond
 * SMP_KEEP_FINISHED. Called with m->mu held. */
static void reap_locked(smp_manager *m) {
    size_t finished = 0;
    for (size_t i = 0; i < m->njobs; i++) {
        smp_job *j = m->jobs[i];
        if (atomic_load(&j->exited) && !j->joined && j->refs == 0) {
            if (!j->virt) pthread_join(j->thread, NULL);
            j->joined = 1;
        }
        finished += j->joined;
    }
    size_t o = 0;
    for (size_t i = 0; i < m->njobs; i++) {
        smp_job *j = m->jobs[i];
        if (finished > SMP_KEEP_FINISHED && j->joined && j->refs == 0) {
            finished--;
            job_free(j);
            continue;
        }
        m->jobs[o++] = j;
    }
    m->njobs = o;
}

static smp_job *find_locked(smp_manager *m, int id) {
    for (size_t i = 0; i < m->njobs; i++)
        if (m->jobs[i]->id == id) return m->jobs[i];
    return NULL;
}

static int start_fail(const smp_spec *spec, int rc) {
    if (spec->ud_free && spec->ud) spec->ud_free(spec->ud);
    return rc;
}

static int valid_spec(const smp_spec *spec, pg_err *e) {
    double iv = spec->interval_s, d = spec->duration_s;
    if (!isfinite(iv) || iv < SMP_INTERVAL_MIN - 1e-12 || iv > SMP_INTERVAL_MAX)
        return pg_errf(e, 400, "bad_interval", "interval must be between %g and %g seconds",
                       SMP_INTERVAL_MIN, SMP_INTERVAL_MAX);
    if (!isfinite(d) || d <= 0 || d > SMP_DURATION_MAX)
        return pg_errf(e, 400, "bad_duration",
                       "duration must be more than 0 and at most %g seconds (7 days)",
                       SMP_DURATION_MAX);
    if (spec->format != SMP_CSV && spec->format != SMP_JSONL)
        return pg_errf(e, 400, "bad_format", "format must be csv or jsonl");
    if (!spec->probe) return pg_errf(e, 400, "bad_probe", "no probe");
    return check_name(spec->file, e);
}

/* Open path for appending: a regular file, never through a symlink. */
static int open_out(smp_job *j, int *created, pg_err *e) {
    int fd = open(j->path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    *created = 0;
    if (fd < 0 && errno == ENOENT) {
        fd = open(j->path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        *created = fd >= 0;
    }
    if (fd < 0) {
        int err = errno;
        if (err == EISDIR || err == ELOOP || err == ENOTDIR || err == ENXIO || err == EEXIST)
            return pg_errf(e, 400, "bad_file", "%s: not a regular file", j->path);
        return pg_errf(e, 500, "io", "open %s: %s", j->path, strerror(err));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return pg_errf(e, 400, "bad_file", "%s: not a regular file", j->path);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    j->fd = fd;
    j->size = j->size0 = (long long)st.st_size;
    return 0;
}

/* Register job j (listed, one reference held) with its clock, whose
 * ticker_add takes tick 0 at once; then drop the reference. A stop that came
 * before the ticker id was known is carried out here. */
static int start_virtual(smp_manager *m, smp_job *j, smp_status *out, pg_err *e) {
    pg_backend *b = j->clock;
    int rc = j->id;
    int id = b->ops->ticker_add(b, j->spec.interval_s, job_tick, j, NULL, e);
    if (id < 0) {
        set_error(j, e);
        job_end(j, 1, 0, job_clock(j));
        rc = -1;
    } else {
        atomic_store(&j->ticker, id);
        if (atomic_load(&j->stop)) stop_virtual(j);
    }
    pthread_mutex_lock(&m->mu);
    j->refs--;
    snapshot(j, out);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int smp_start(smp_manager *m, const smp_spec *spec, smp_status *out, pg_err *e) {
    if (valid_spec(spec, e)) return start_fail(spec, -1);

    smp_job *j = calloc(1, sizeof *j);
    char *buf = malloc(BUF_CAP);
    if (!j || !buf) {
        free(j);
        free(buf);
        pg_errf(e, 500, "no_memory", "out of memory");
        return start_fail(spec, -1);
    }
    j->buf = buf;
    j->fd = -1;
    j->spec = *spec;
    j->spec.file = NULL;
    j->clock = spec->clock;
    j->virt = spec->clock && spec->clock->ops->ticker_add && spec->clock->ops->ticker_remove;
    j->iv_ns = llround(spec->interval_s * 1e9);
    long long dur_ns = llround(spec->duration_s * 1e9);
    j->n_ticks = (dur_ns + j->iv_ns - 1) / j->iv_ns;
    pthread_mutex_init(&j->mu, NULL);

    pthread_mutex_lock(&m->mu);
    reap_locked(m);
    int rc = -1, created = 0;
    if (running_locked(m) >= m->max_jobs) {
        pg_errf(e, 429, "too_many_jobs", "%d sampling jobs are running already (the maximum)",
                m->max_jobs);
        goto fail;
    }
    if (smp_resolve_path(m->data_dir, spec->file, j->path, sizeof j->path, e)) goto fail;
    for (size_t i = 0; i < m->njobs; i++)
        if (!atomic_load(&m->jobs[i]->exited) && strcmp(m->jobs[i]->path, j->path) == 0) {
            pg_errf(e, 409, "file_busy", "job %d is writing %s", m->jobs[i]->id, j->path);
            goto fail;
        }
    if (open_out(j, &created, e)) goto fail;
    if (j->size > 0 && !spec->append) {   /* an earlier run's file: never mixed with this one's rows */
        pg_errf(e, 409, "exists", "%s exists (%lld bytes); mode=append adds to it", j->path, j->size);
        goto fail;
    }

    if (j->size > 0) {          /* appending: never glue a row onto a partial line */
        char c = '\n';
        if (pread(j->fd, &c, 1, (off_t)(j->size - 1)) == 1 && c != '\n' && write_whole(j, "\n", 1, e))
            goto fail;
    } else if (spec->format == SMP_CSV && write_whole(j, smp_csv_header, strlen(smp_csv_header), e)) {
        goto fail;
    }

    if (m->njobs == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        smp_job **nj = realloc(m->jobs, cap * sizeof *nj);
        if (!nj) {
            pg_errf(e, 500, "no_memory", "out of memory");
            goto fail;
        }
        m->jobs = nj;
        m->cap = cap;
    }

    j->id = m->next_id;
    j->st.job = j->id;
    j->st.running = 1;
    snprintf(j->st.state, sizeof j->st.state, "running");
    snprintf(j->st.file, sizeof j->st.file, "%s", j->path);
    snprintf(j->st.format, sizeof j->st.format, "%s", spec->format == SMP_JSONL ? "jsonl" : "csv");
    j->st.interval_s = spec->interval_s;
    j->st.duration_s = spec->duration_s;
    j->st.started = j->anchor = job_clock(j);
    if (j->virt) {
        m->next_id++;
        m->jobs[m->njobs++] = j;
        j->refs++;                      /* held across the registration */
        pthread_mutex_unlock(&m->mu);
        return start_virtual(m, j, out, e);
    }

    /* Signals are the main thread's business. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int perr = pthread_create(&j->thread, NULL, job_main, j);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (perr != 0) {
        pg_errf(e, 500, "internal", "cannot start a sampler thread: %s", strerror(perr));
        goto fail;
    }
    m->next_id++;
    m->jobs[m->njobs++] = j;
    rc = j->id;
    if (out) {
        pthread_mutex_lock(&j->mu);
        *out = j->st;
        pthread_mutex_unlock(&j->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return rc;

fail:
    if (j->fd >= 0 && created) unlink(j->path);
    pthread_mutex_unlock(&m->mu);
    job_free(j);                /* frees spec->ud through j->spec */
    return -1;
}

int smp_status_get(smp_manager *m, int job, smp_status *out, pg_err *e) {
    pthread_mutex_lock(&m->mu);
    reap_locked(m);
    smp_job *j = find_locked(m, job);
    if (j) snapshot(j, out);
    pthread_mutex_unlock(&m->mu);
    return j ? 0 : pg_errf(e, 404, "not_found", "no sampling job %d", job);
}

size_t smp_status_all(smp_manager *m, smp_status **out) {
    *out = NULL;
    pthread_mutex_lock(&m->mu);
    reap_locked(m);
    size_t n = m->njobs, o = 0;
    smp_status *st = n ? calloc(n, sizeof *st) : NULL;
    if (st) {
        for (int pass = 0; pass < 2; pass++)      /* running first */
            for (size_t i = 0; i < n; i++)
                if (!atomic_load(&m->jobs[i]->exited) == !pass) snapshot(m->jobs[i], &st[o++]);
    }
    pthread_mutex_unlock(&m->mu);
    *out = st;
    return st ? o : 0;
}

static void join_job(smp_manager *m, smp_job *j) {
    /* refs > 0 keeps reap_locked from joining or freeing j meanwhile. */
    pthread_join(j->thread, NULL);
    pthread_mutex_lock(&m->mu);
    j->joined = 1;
    j->refs--;
    pthread_mutex_unlock(&m->mu);
}

int smp_stop(smp_manager *m, int job, smp_status *out, pg_err *e) {
    pthread_mutex_lock(&m->mu);
    reap_locked(m);
    smp_job *j = find_locked(m, job);
    if (!j) {
        pthread_mutex_unlock(&m->mu);
        return pg_errf(e, 404, "not_found", "no sampling job %d", job);
    }
    if (j->virt) {
        j->refs++;
        pthread_mutex_unlock(&m->mu);
        if (!stop_virtual(j)) wait_exited(j);
        pthread_mutex_lock(&m->mu);
        j->refs--;
        snapshot(j, out);
        pthread_mutex_unlock(&m->mu);
        return 0;
    }
    int joiner = !j->joined && j->refs == 0;
    if (joiner) j->refs++;
    atomic_store(&j->stop, 1);
    pthread_mutex_unlock(&m->mu);
    if (joiner) join_job(m, j);
    else wait_exited(j);                        /* another caller is joining it */
    pthread_mutex_lock(&m->mu);
    snapshot(j, out);
    pthread_mutex_unlock(&m->mu);
    return 0;
}

int smp_stop_all(smp_manager *m) {
    pthread_mutex_lock(&m->mu);
    reap_locked(m);
    size_t n = 0;
    smp_job **mine = m->njobs ? malloc(m->njobs * sizeof *mine) : NULL;
    int running = 0;
    for (size_t i = 0; i < m->njobs; i++) {
        smp_job *j = m->jobs[i];
        if (atomic_load(&j->exited) && j->joined) continue;
        running += !atomic_load(&j->exited);
        atomic_store(&j->stop, 1);                 /* all stop in parallel */
        if (mine && (j->virt ? !atomic_load(&j->exited) : !j->joined && j->refs == 0)) {
            j->refs++;
            mine[n++] = j;
        }
    }
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < n; i++) {
        if (!mine[i]->virt) {
            join_job(m, mine[i]);
            continue;
        }
        stop_virtual(mine[i]);
        pthread_mutex_lock(&m->mu);
        mine[i]->refs--;
        pthread_mutex_unlock(&m->mu);
    }
    free(mine);
    /* Jobs joined by a concurrent smp_stop, or still being started: wait
     * until their files are closed (not for one whose tick runs further up
     * this thread's stack: it ends when that returns). */
    for (;;) {
        pthread_mutex_lock(&m->mu);
        int busy = 0;
        for (size_t i = 0; i < m->njobs; i++)
            busy += !atomic_load(&m->jobs[i]->exited) &&
                    !(m->jobs[i]->virt && atomic_load(&m->jobs[i]->in_cb));
        pthread_mutex_unlock(&m->mu);
        if (!busy) break;
        pg_sleep(0.005);
    }
    return running;
}

int smp_running(smp_manager *m) {
    pthread_mutex_lock(&m->mu);
    int r = running_locked(m);
    pthread_mutex_unlock(&m->mu);
    return r;
}

void smp_manager_free(smp_manager *m) {
    if (!m) return;
    smp_stop_all(m);
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->njobs; i++) {
        smp_job *j = m->jobs[i];
        if (!j->joined && !j->virt) pthread_join(j->thread, NULL);
        job_free(j);
    }
    free(m->jobs);
    pthread_mutex_unlock(&m->mu);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
