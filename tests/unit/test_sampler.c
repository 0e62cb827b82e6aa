/* test_sampler: the drift-free sampler with a C probe: row counts, whole
 * lines, one header, the tick grid under a slow probe, path and range
 * checks (nothing created on bad input), job limits, stop flushes. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cluster/sim/sim.h"
#include "config/config.h"
#include "sampler/sampler.h"

/* Test paths are short; the buffers are PATH_MAX. (clang has no such warning.) */
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

static char root[] = "/tmp/podgym-test-sampler-XXXXXX";
static char data_dir[PATH_MAX];

/* ---- probes ---- */

typedef struct probe_ud {
    _Atomic int calls;          /* read by the test while the job runs */
    long sleep_ms;              /* per call */
    int fail;                   /* return an error */
    int no_metrics;             /* leave cpu/mem/online unknown */
    int *freed;                 /* set when ud_free runs */
} probe_ud;

static int probe(void *p, smp_row *row, pg_err *e) {
    probe_ud *u = p;
    u->calls++;
    if (u->sleep_ms) {
        struct timespec ts = { u->sleep_ms / 1000, (u->sleep_ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    }
    if (u->fail) return pg_errf(e, 502, "backend", "cluster unreachable");
    if (!u->no_metrics) {
        row->cpu_pct = 12.5;
        row->mem_pct = 40.25;
        row->online_pods = 3;
    }
    row->total_pods = 3;
    return 0;
}

static void ud_free(void *p) {
    probe_ud *u = p;
    if (u->freed) *u->freed = 1;
}

static smp_spec spec_of(probe_ud *u, double interval, double duration, const char *file) {
    smp_spec s = { .interval_s = interval, .duration_s = duration, .file = file,
                   .format = SMP_CSV, .probe = probe, .ud = u, .ud_free = ud_free };
    return s;
}

/* ---- helpers ---- */

static void path_in(char *out, size_t n, const char *name) {
    snprintf(out, n, "%s/%s", data_dir, name);
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Wait (bounded) until the job is no longer running. */
static void wait_done(smp_manager *m, int job, smp_status *st) {
    pg_err e;
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(smp_status_get(m, job, st, &e), 0);
        if (!st->running) return;
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    fail_msg("job %d still running after 30 s", job);
}

typedef struct csv_check {
    int rows;                   /* data rows */
    long missed_sum;            /* sum of the missed column */
    int min_missed_after_first; /* smallest missed value after the first row */
    char first_ts[32], last_ts[32];
} csv_check;

/* Every line complete and well formed, the header exactly once at the top,
 * timestamps and epoch_s strictly increasing. */
static csv_check check_csv(const char *path) {
    csv_check c = { .min_missed_after_first = 1 << 30 };
    char *text = slurp(path);
    size_t len = strlen(text);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');              /* no partial last line */
    size_t hl = strlen(smp_csv_header);
    assert_memory_equal(text, smp_csv_header, hl);
    assert_null(strstr(text + hl, "timestamp,"));       /* header once */
    double prev_epoch = -1;
    char prev_ts[32] = "";
    char *save = NULL;
    for (char *line = strtok_r(text + hl, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        int commas = 0;
        for (char *p = line; *p; p++) commas += *p == ',';
        assert_int_equal(commas, 7);
        char ts[32];
        double epoch, probe_ms;
        long missed;
        const char *p = line;
        size_t tl = strcspn(p, ",");
        assert_true(tl == 24);                          /* 2026-11-27T21:30:00.200Z */
        memcpy(ts, p, tl);
        ts[tl] = '\0';
        assert_int_equal(ts[10], 'T');
        assert_int_equal(ts[23], 'Z');
        for (int f = 0; f < 5; f++) p = strchr(p, ',') + 1;
        assert_int_equal(sscanf(p, "%lf,%lf,%ld", &epoch, &probe_ms, &missed), 3);
        assert_true(epoch > prev_epoch);
        assert_true(strcmp(ts, prev_ts) > 0);
        assert_true(probe_ms >= 0);
        assert_true(missed >= 0);
        if (c.rows > 0 && missed < c.min_missed_after_first) c.min_missed_after_first = (int)missed;
        if (c.rows == 0) snprintf(c.first_ts, sizeof c.first_ts, "%s", ts);
        snprintf(c.last_ts, sizeof c.last_ts, "%s", ts);
        c.missed_sum += missed;
        prev_epoch = epoch;
        snprintf(prev_ts, sizeof prev_ts, "%s", ts);
        c.rows++;
    }
    free(text);
    return c;
}

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* ---- tests ---- */

static void test_short_run_rows(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    assert_non_null(m);
    int freed = 0;
    probe_ud u = { .freed = &freed };
    smp_spec s = spec_of(&u, 0.05, 0.5, "short.csv");
    smp_status st;
    pg_err e;
    int job = smp_start(m, &s, &st, &e);
    assert_true(job > 0);
    char want[PATH_MAX];
    path_in(want, sizeof want, "short.csv");
    char real[PATH_MAX];
    assert_non_null(realpath(want, real));
    assert_string_equal(st.file, real);                 /* absolute path reported */
    assert_string_equal(st.format, "csv");
    assert_true(st.running);

    wait_done(m, job, &st);
    assert_string_equal(st.state, "done");
    assert_int_equal(st.ticks, 10);                     /* 0.5 s / 0.05 s, every tick accounted */
    assert_int_equal(st.samples + st.missed, 10);
    assert_true(st.samples >= 1);
    assert_int_equal(u.calls, st.samples);
    assert_true(freed);                                 /* probe data released when the job ends */
    assert_true(st.has_last);
    assert_true(st.last.v.cpu_pct == 12.5);

    csv_check c = check_csv(real);
    assert_int_equal(c.rows, st.samples);               /* nothing sampled is lost */
    assert_int_equal(c.missed_sum, st.missed);
    assert_string_equal(c.last_ts, st.last.timestamp);
    smp_manager_free(m);
}

static void test_slow_probe_keeps_grid(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    probe_ud u = { .sleep_ms = 130 };                   /* overruns two 50 ms ticks every time */
    smp_spec s = spec_of(&u, 0.05, 1.0, "slow.csv");
    smp_status st;
    pg_err e;
    int job = smp_start(m, &s, NULL, &e);
    assert_true(job > 0);
    wait_done(m, job, &st);
    /* A stretched schedule would take ~8 samples and miss nothing; on the
     * grid every tick of the 20 is either sampled or counted missed. */
    assert_int_equal(st.samples + st.missed, 20);
    assert_true(st.samples >= 2);
    assert_true(st.missed >= 2 * (st.samples - 1));
    csv_check c = check_csv(st.file);
    assert_int_equal(c.rows, st.samples);
    assert_true(c.min_missed_after_first >= 2);         /* each later row says what was skipped */
    assert_true(st.probe_ms_max >= 130);
    smp_manager_free(m);
}

static void test_stop_flushes(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    probe_ud u = { 0 };
    smp_spec s = spec_of(&u, 0.02, 600, "stopped.csv");
    smp_status st = { 0 };
    pg_err e;
    int job = smp_start(m, &s, NULL, &e);
    assert_true(job > 0);
    for (int i = 0; i < 500 && u.calls < 30; i++) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    /* 30 ticks = 0.6 s of grid: rows reach the file while the job runs,
     * not only when it stops. */
    struct stat sb;
    char path[PATH_MAX];
    path_in(path, sizeof path, "stopped.csv");
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > (off_t)strlen(smp_csv_header));
    assert_int_equal(smp_stop(m, job, &st, &e), 0);
    assert_false(st.running);
    assert_string_equal(st.state, "stopped");
    assert_true(st.samples >= 5);
    csv_check c = check_csv(st.file);                   /* complete last row */
    assert_int_equal(c.rows, st.samples);               /* every sampled row is in the file */
    assert_int_equal(stat(st.file, &sb), 0);
    assert_int_equal(st.bytes, (long)sb.st_size);      /* a new file: all of it is this job's */
    /* Stopping again reports the same final state. */
    smp_status again;
    assert_int_equal(smp_stop(m, job, &again, &e), 0);
    assert_int_equal(again.samples, st.samples);
    assert_int_equal(smp_stop(m, 999, NULL, &e), -1);
    assert_int_equal(e.status, 404);
    assert_string_equal(e.code, "not_found");
    smp_manager_free(m);
}

static void test_stop_all_and_free(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    probe_ud u1 = { 0 }, u2 = { 0 };
    smp_spec s1 = spec_of(&u1, 0.02, 600, "all1.csv");
    smp_spec s2 = spec_of(&u2, 0.03, 600, "all2.jsonl");
    s2.format = SMP_JSONL;
    pg_err e;
    int j1 = smp_start(m, &s1, NULL, &e), j2 = smp_start(m, &s2, NULL, &e);
    assert_true(j1 > 0 && j2 > 0);
    for (int i = 0; i < 500 && (u1.calls < 3 || u2.calls < 3); i++) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    assert_int_equal(smp_stop_all(m), 2);
    assert_int_equal(smp_running(m), 0);
    smp_status *all = NULL;
    size_t n = smp_status_all(m, &all);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) assert_string_equal(all[i].state, "stopped");
    char p1[PATH_MAX], p2[PATH_MAX];
    snprintf(p1, sizeof p1, "%s", all[0].job == j1 ? all[0].file : all[1].file);
    snprintf(p2, sizeof p2, "%s", all[0].job == j2 ? all[0].file : all[1].file);
    int64_t s1n = all[0].job == j1 ? all[0].samples : all[1].samples;
    int64_t s2n = all[0].job == j2 ? all[0].samples : all[1].samples;
    free(all);
    assert_int_equal(check_csv(p1).rows, s1n);
    char *text = slurp(p2);                             /* JSON Lines: whole lines, no header */
    int lines = 0;
    for (char *p = text; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, s2n);
    assert_int_equal(text[strlen(text) - 1], '\n');
    assert_memory_equal(text, "{\"timestamp\":\"", 14);
    free(text);
    smp_manager_free(m);
}

static void test_bad_ranges_create_nothing(void **state) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/never", root);
    smp_manager *m = smp_manager_new(4, dir, NULL);
    struct { double iv, dur; const char *code; } bad[] = {
        { 0.009, 10, "bad_interval" }, { 3601, 10, "bad_interval" }, { 0, 10, "bad_interval" },
        { -0.2, 10, "bad_interval" }, { NAN, 10, "bad_interval" }, { INFINITY, 10, "bad_interval" },
        { 0.2, 0, "bad_duration" }, { 0.2, -1, "bad_duration" }, { 0.2, 8 * 86400.0, "bad_duration" },
        { 0.2, NAN, "bad_duration" }, { 0.2, INFINITY, "bad_duration" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int freed = 0;
        probe_ud u = { .freed = &freed };
        smp_spec s = spec_of(&u, bad[i].iv, bad[i].dur, "x.csv");
        pg_err e;
        assert_int_equal(smp_start(m, &s, NULL, &e), -1);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.code, bad[i].code);
        assert_true(freed);                             /* ownership taken even on failure */
    }
    probe_ud u = { 0 };
    smp_spec s = spec_of(&u, 0.2, 1, "x.csv");
    s.format = (smp_format)7;
    pg_err e;
    assert_int_equal(smp_start(m, &s, NULL, &e), -1);
    assert_string_equal(e.code, "bad_format");
    assert_false(exists(dir));                          /* not even the data directory */
    assert_int_equal(smp_running(m), 0);
    smp_manager_free(m);
}

static void test_bad_paths_refused(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    char outside[PATH_MAX], inside_dir[PATH_MAX], link[PATH_MAX], abs_out[PATH_MAX];
    snprintf(outside, sizeof outside, "%s/outside", root);
    assert_int_equal(mkdir(outside, 0755), 0);
    path_in(inside_dir, sizeof inside_dir, "adir");
    assert_int_equal(mkdir(inside_dir, 0755), 0);
    path_in(link, sizeof link, "escape");
    assert_int_equal(symlink(outside, link), 0);        /* a directory symlink leading out */
    char flink[PATH_MAX], ftarget[PATH_MAX];
    path_in(flink, sizeof flink, "flink.csv");
    snprintf(ftarget, sizeof ftarget, "%s/target.csv", outside);
    assert_int_equal(symlink(ftarget, flink), 0);       /* a file symlink leading out */
    snprintf(abs_out, sizeof abs_out, "%s/abs.csv", outside);
    char sneaky[PATH_MAX];
    snprintf(sneaky, sizeof sneaky, "%s/../outside/sneaky.csv", data_dir);

    const char *bad[] = {
        "../../etc/passwd", "../x.csv", "sub/../../x.csv", "..", "/etc/passwd", abs_out, sneaky,
        "", "a\x01" "b.csv", "tab\there.csv", "new\nline.csv", "del\x7f.csv", "dir/", ".", "sub/.",
        "adir", "escape/x.csv", "flink.csv",
    };
    int before = count_entries(data_dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        probe_ud u = { 0 };
        smp_spec s = spec_of(&u, 0.2, 1, bad[i]);
        pg_err e;
        pg_err_clear(&e);
        int rc = smp_start(m, &s, NULL, &e);
        if (rc != -1 || e.status != 400 || strcmp(e.code, "bad_file") != 0)
            fail_msg("file '%s': rc %d status %d code %s", bad[i], rc, e.status, e.code);
        assert_int_equal(u.calls, 0);
    }
    assert_int_equal(count_entries(data_dir), before);
    assert_int_equal(count_entries(outside), 0);        /* nothing written through the links */
    smp_status *all = NULL;
    assert_int_equal(smp_status_all(m, &all), 0);
    assert_null(all);

    /* An absolute path inside the data directory, and a new subdirectory, are fine. */
    char abs_in[PATH_MAX];
    path_in(abs_in, sizeof abs_in, "abs-in.csv");
    probe_ud u1 = { 0 }, u2 = { 0 };
    smp_spec s1 = spec_of(&u1, 0.05, 0.1, abs_in);
    smp_spec s2 = spec_of(&u2, 0.05, 0.1, "runs/exp1/m.csv");
    smp_status st1, st2;
    pg_err e;
    int j1 = smp_start(m, &s1, &st1, &e);
    assert_true(j1 > 0);
    int j2 = smp_start(m, &s2, &st2, &e);
    assert_true(j2 > 0);
    wait_done(m, j1, &st1);
    wait_done(m, j2, &st2);
    assert_true(exists(abs_in));
    char sub[PATH_MAX];
    path_in(sub, sizeof sub, "runs/exp1/m.csv");
    assert_true(exists(sub));
    smp_manager_free(m);
}

static void test_max_jobs_and_busy_file(void **state) {
    smp_manager *m = smp_manager_new(2, data_dir, NULL);
    probe_ud u1 = { 0 }, u2 = { 0 }, u3 = { 0 }, u4 = { 0 };
    smp_spec s1 = spec_of(&u1, 0.05, 600, "busy.csv");
    smp_spec s2 = spec_of(&u2, 0.05, 600, "j2.csv");
    pg_err e;
    int j1 = smp_start(m, &s1, NULL, &e), j2 = smp_start(m, &s2, NULL, &e);
    assert_true(j1 > 0 && j2 > 0 && j1 != j2);

    smp_spec s3 = spec_of(&u3, 0.05, 1, "j3.csv");
    assert_int_equal(smp_start(m, &s3, NULL, &e), -1);
    assert_int_equal(e.status, 429);
    assert_string_equal(e.code, "too_many_jobs");
    char p3[PATH_MAX];
    path_in(p3, sizeof p3, "j3.csv");
    assert_false(exists(p3));

    assert_int_equal(smp_stop(m, j2, NULL, &e), 0);
    smp_spec s4 = spec_of(&u4, 0.05, 1, "./busy.csv");  /* same file as job 1 */
    assert_int_equal(smp_start(m, &s4, NULL, &e), -1);
    assert_int_equal(e.status, 409);
    assert_string_equal(e.code, "file_busy");
    probe_ud u5 = { 0 };
    smp_spec s5 = spec_of(&u5, 0.05, 0.1, "j3.csv");
    assert_true(smp_start(m, &s5, NULL, &e) > 0);       /* a slot is free again */
    for (int i = 0; i < 500 && u1.calls < 1; i++) {
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    smp_manager_free(m);                                /* stops job 1 and flushes */
    char p1[PATH_MAX];
    path_in(p1, sizeof p1, "busy.csv");
    assert_true(check_csv(p1).rows >= 1);
}

static void test_append_and_null_values(void **state) {
    smp_manager *m = smp_manager_new(2, data_dir, NULL);
    char p[PATH_MAX];
    path_in(p, sizeof p, "append.csv");
    FILE *f = fopen(p, "w");
    fputs(smp_csv_header, f);
    fputs("2026-01-01T00:00:00.000Z,1,2,3,3,1767225600.000000,1.000,0\n", f);
    fputs("2026-01-01T00:00:00.200Z,1,2", f);          /* a crash left a partial line */
    fclose(f);
    probe_ud u = { .no_metrics = 1 };
    smp_spec s = spec_of(&u, 0.05, 0.1, "append.csv");
    smp_status st;
    pg_err e;
    /* without append, an earlier run's file is refused and left as it was */
    assert_int_equal(smp_start(m, &s, NULL, &e), -1);
    assert_int_equal(e.status, 409);
    assert_string_equal(e.code, "exists");
    char *before = slurp(p);
    assert_non_null(strstr(before, "0.200Z,1,2"));
    assert_null(strstr(before, "0.200Z,1,2\n"));       /* not even the partial line was touched */
    free(before);
    probe_ud ua = { .no_metrics = 1 };
    s = spec_of(&ua, 0.05, 0.1, "append.csv");
    s.append = 1;
    int job = smp_start(m, &s, NULL, &e);
    assert_true(job > 0);
    wait_done(m, job, &st);
    char *text = slurp(p);
    assert_int_equal(text[strlen(text) - 1], '\n');
    char *hdr2 = strstr(text + 1, "timestamp,");
    assert_null(hdr2);                                  /* header not repeated */
    char *partial = strstr(text, "0.200Z,1,2\n");      /* the old partial line was closed */
    assert_non_null(partial);
    char *row = partial + strlen("0.200Z,1,2\n");
    assert_non_null(strstr(row, "Z,,,,3,"));           /* unknown values: empty fields */
    free(text);

    /* JSON Lines: null for unknown values. */
    probe_ud u2 = { .no_metrics = 1 };
    smp_spec s2 = spec_of(&u2, 0.05, 0.1, "nulls.jsonl");
    s2.format = SMP_JSONL;
    job = smp_start(m, &s2, NULL, &e);
    assert_true(job > 0);
    wait_done(m, job, &st);
    text = slurp(st.file);
    assert_non_null(strstr(text, "\"cpu_pct\":null,\"mem_pct\":null,\"online_pods\":null,"
                                 "\"total_pods\":3,"));
    free(text);
    smp_manager_free(m);
}

static void test_probe_errors_counted(void **state) {
    smp_manager *m = smp_manager_new(2, data_dir, NULL);
    probe_ud u = { .fail = 1 };
    smp_spec s = spec_of(&u, 0.05, 0.2, "errors.csv");
    smp_status st;
    pg_err e;
    int job = smp_start(m, &s, NULL, &e);
    assert_true(job > 0);
    wait_done(m, job, &st);
    assert_int_equal(st.probe_errors, st.samples);
    assert_non_null(strstr(st.error, "cluster unreachable"));
    assert_int_equal(check_csv(st.file).rows, st.samples);    /* the grid keeps its rows */
    smp_manager_free(m);
}

static void test_format_row(void **state) {
    smp_sample s = { .timestamp = "2026-11-27T21:30:00.200Z", .epoch_s = 1795815000.2,
                     .v = { 12.34, NAN, 2, 3 }, .probe_ms = 1.5, .missed = 0 };
    char buf[512];
    assert_true(smp_format_row(SMP_CSV, &s, buf, sizeof buf) > 0);
    assert_string_equal(buf, "2026-11-27T21:30:00.200Z,12.34,,2,3,1795815000.200000,1.500,0\n");
    assert_true(smp_format_row(SMP_JSONL, &s, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{\"timestamp\":\"2026-11-27T21:30:00.200Z\",\"cpu_pct\":12.34,"
                             "\"mem_pct\":null,\"online_pods\":2,\"total_pods\":3,"
                             "\"epoch_s\":1795815000.200000,\"probe_ms\":1.500,\"missed\":0}\n");
    assert_int_equal(smp_format_row(SMP_CSV, &s, buf, 10), -1);
}

/* ---- on the backend's clock ---- */

static pg_backend *sim_clock(double speed) {
    pg_config cfg;
    pg_config_defaults(&cfg);
    cfg.sim.speed = speed;
    cfg.sim.replicas = 2;
    pg_err e;
    pg_backend *b = sim_backend_new(&cfg, &e);
    if (!b) fail_msg("sim: %s", e.message);
    return b;
}

/* The probe as the Lua one does it (k8s.usage), noting the clock it saw. */
typedef struct sim_probe {
    pg_backend *b;
    int calls;
    double seen[1024];
} sim_probe;

static sim_probe *sim_probe_new(double speed) {
    sim_probe *u = calloc(1, sizeof *u);
    assert_non_null(u);
    u->b = sim_clock(speed);
    return u;
}

static void sim_probe_free(sim_probe *u) {
    u->b->ops->destroy(u->b);
    free(u);
}

static int probe_sim(void *p, smp_row *row, pg_err *e) {
    sim_probe *u = p;
    pg_usage us;
    if (pg_backend_usage(u->b, &us, e)) return -1;
    if (u->calls < 1024) u->seen[u->calls] = us.now;
    u->calls++;
    row->online_pods = us.online;
    row->total_pods = us.total;
    row->cpu_pct = us.req_cpu > 0 ? us.cpu / us.req_cpu * 100 : NAN;
    return 0;
}

typedef struct vrow { double epoch; int online, total; long missed; } vrow;

/* The data rows of a CSV file (header checked). */
static int read_rows(const char *path, vrow *out, int max) {
    char *text = slurp(path);
    size_t hl = strlen(smp_csv_header);
    assert_memory_equal(text, smp_csv_header, hl);
    assert_int_equal(text[strlen(text) - 1], '\n');
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text + hl, "\n", &save); line && n < max; line = strtok_r(NULL, "\n", &save)) {
        char ts[32], cpu[32];
        double on, tot, probe;
        int got = sscanf(line, "%24[^,],%31[^,],,%lf,%lf,%lf,%lf,%ld", ts, cpu, &on, &tot, &out[n].epoch,
                         &probe, &out[n].missed);
        if (got != 7) fail_msg("row %d: '%s'", n, line);
        out[n].online = (int)on;
        out[n].total = (int)tot;
        n++;
    }
    free(text);
    return n;
}

static smp_spec sim_spec(sim_probe *u, double interval, double duration, const char *file) {
    smp_spec s = { .interval_s = interval, .duration_s = duration, .file = file, .format = SMP_CSV,
                   .probe = probe_sim, .ud = u, .clock = u->b };
    return s;
}

/* A virtual clock: no thread, a row for every tick the clock passes, as it
 * moves, each showing the cluster at that tick's time. */
static void test_virtual_clock_rows(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    sim_probe *u = sim_probe_new(0);
    sim *s = sim_from_backend(u->b);
    smp_spec sp = sim_spec(u, 0.2, 60, "virtual.csv");
    smp_status st;
    pg_err e;
    int job = smp_start(m, &sp, &st, &e);
    assert_true(job > 0);
    assert_int_equal(st.samples, 1);                    /* tick 0 at the start */
    assert_true(st.started == SIM_EPOCH);
    struct timespec ts = { 0, 300 * 1000000L };
    nanosleep(&ts, NULL);
    assert_int_equal(smp_status_get(m, job, &st, &e), 0);
    assert_int_equal(st.samples, 1);                    /* the wall clock moves nothing */
    assert_true(st.running);

    assert_int_equal(sim_advance(s, 1.0, &e), 0);
    assert_int_equal(smp_status_get(m, job, &st, &e), 0);
    assert_int_equal(st.samples, 6);
    assert_true(fabs(st.elapsed_s - 1.0) < 1e-6);
    assert_int_equal(sim_scale(s, 3, &e), 0);
    pg_wait w = { .ready = 3, .metrics = 1, .timeout_s = 90 };
    double waited;
    assert_int_equal(sim_wait(s, &w, &waited, &e), 0);
    double t_wait = sim_time(s);
    assert_int_equal(smp_stop(m, job, &st, &e), 0);
    assert_string_equal(st.state, "stopped");
    assert_true(st.finished == SIM_EPOCH + t_wait);

    static vrow rows[1024];
    int n = read_rows(st.file, rows, 1024);
    assert_int_equal(n, (int)llround(t_wait / 0.2) + 1);    /* one row per tick, none repeated */
    assert_int_equal(n, st.samples);
    assert_int_equal(st.missed, 0);
    assert_int_equal(st.ticks, st.samples);
    assert_true(st.jitter_max_ms == 0 && st.has_period && fabs(st.mean_period_s - 0.2) < 1e-9);
    int first3 = -1;
    for (int i = 0; i < n; i++) {
        double want = SIM_EPOCH + 0.2 * i;
        if (fabs(rows[i].epoch - want) > 1e-6 || fabs(u->seen[i] - want) > 1e-6)
            fail_msg("row %d at %.6f, probe saw %.6f, want %.6f", i, rows[i].epoch, u->seen[i], want);
        assert_int_equal(rows[i].missed, 0);
        assert_int_equal(rows[i].total, i <= 5 ? 2 : 3);    /* scaled at 1.0, after its row */
        if (first3 < 0 && rows[i].online == 3) first3 = i;
    }
    assert_true(fabs(rows[first3].epoch - (SIM_EPOCH + t_wait)) < 1e-6);  /* online at the wait's end */
    assert_int_equal(first3, n - 1);
    int calls = u->calls;
    assert_int_equal(sim_advance(s, 5, &e), 0);
    assert_int_equal(u->calls, calls);                  /* stopped: no more ticks */
    smp_manager_free(m);
    sim_probe_free(u);
}

/* The job ends when the clock reaches the tick at start + duration, however
 * far one move jumps; a reset re-anchors the grid. */
static void test_virtual_clock_end_and_reset(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    sim_probe *u = sim_probe_new(0);
    sim *s = sim_from_backend(u->b);
    smp_spec sp = sim_spec(u, 0.25, 1, "vend.csv");
    pg_err e;
    smp_status st;
    int job = smp_start(m, &sp, &st, &e);
    assert_true(job > 0);
    assert_int_equal(sim_advance(s, 0.5, &e), 0);       /* ticks 1, 2 */
    assert_int_equal(sim_reset(s, 5, 1, &e), 0);        /* tick 3 at SIM_EPOCH, one pod */
    assert_int_equal(smp_status_get(m, job, &st, &e), 0);
    assert_true(st.running);
    assert_int_equal(st.samples, 4);
    assert_true(fabs(st.last.epoch_s - SIM_EPOCH) < 1e-6 && st.last.v.total_pods == 1);
    assert_int_equal(sim_advance(s, 100, &e), 0);       /* tick 4 = start + duration: done */
    assert_int_equal(smp_status_get(m, job, &st, &e), 0);
    assert_false(st.running);
    assert_string_equal(st.state, "done");
    assert_true(fabs(st.finished - (SIM_EPOCH + 0.25)) < 1e-6);
    assert_true(fabs(st.elapsed_s - 1.0) < 1e-6);       /* clock time sampled, across the reset */
    assert_int_equal(u->calls, 4);
    vrow rows[8];
    assert_int_equal(read_rows(st.file, rows, 8), 4);
    double want[] = { 0, 0.25, 0.5, 0 };
    for (int i = 0; i < 4; i++) assert_true(fabs(rows[i].epoch - (SIM_EPOCH + want[i])) < 1e-6);

    /* A job started and stopped at once: one row, stopped, file whole. */
    smp_spec sp2 = sim_spec(u, 0.2, 60, "vstop.csv");
    job = smp_start(m, &sp2, NULL, &e);
    assert_true(job > 0);
    assert_int_equal(smp_stop(m, job, &st, &e), 0);
    assert_string_equal(st.state, "stopped");
    assert_int_equal(read_rows(st.file, rows, 8), 1);
    smp_manager_free(m);
    sim_probe_free(u);
}

/* Jobs started, read and stopped while another thread keeps moving the
 * clock: every job's file holds exactly its samples, on its grid. */
typedef struct mover_arg { sim *s; _Atomic int stop; } mover_arg;

static void *move_clock(void *p) {
    mover_arg *a = p;
    pg_err e;
    while (!atomic_load(&a->stop)) sim_advance(a->s, 0.3, &e);
    return NULL;
}

static void test_virtual_clock_concurrent(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    sim_probe *u = sim_probe_new(0);
    mover_arg a = { .s = sim_from_backend(u->b) };
    pthread_t t;
    pthread_create(&t, NULL, move_clock, &a);
    static vrow rows[20000];
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "conc-%d.csv", i);
        smp_spec sp = sim_spec(u, 0.1, i % 3 ? 600 : 2, name);
        pg_err e;
        smp_status st;
        int job = smp_start(m, &sp, NULL, &e);
        assert_true(job > 0);
        for (int k = 0; k < 5000; k++) {                /* until ticks came from the other thread */
            assert_int_equal(smp_status_get(m, job, &st, &e), 0);
            if (st.samples >= 12 || !st.running) break;
            struct timespec ts = { 0, 1000000L };
            nanosleep(&ts, NULL);
        }
        assert_true(st.samples >= 12);
        assert_int_equal(smp_stop(m, job, &st, &e), 0);
        assert_false(st.running);
        assert_true(!strcmp(st.state, "stopped") || !strcmp(st.state, "done"));
        int n = read_rows(st.file, rows, 20000);
        assert_int_equal(n, st.samples);
        assert_int_equal(st.samples + st.missed, st.ticks);
        for (int r = 1; r < n; r++)                     /* stamps are rounded to the microsecond */
            if (fabs(rows[r].epoch - rows[0].epoch - 0.1 * r) > 2.5e-6 || rows[r].missed)
                fail_msg("job %d row %d off its grid: %.7f after %.7f", job, r, rows[r].epoch, rows[0].epoch);
    }
    atomic_store(&a.stop, 1);
    pthread_join(t, NULL);
    smp_manager_free(m);
    sim_probe_free(u);
}

/* A real clock (sim speed 1): the thread as before, timestamps on the
 * backend's clock (SIM_EPOCH-based), not the wall clock. */
static void test_real_clock_stamps(void **state) {
    smp_manager *m = smp_manager_new(4, data_dir, NULL);
    sim_probe *u = sim_probe_new(1);
    assert_null(u->b->ops->ticker_add);
    smp_spec sp = sim_spec(u, 0.05, 0.3, "real.csv");
    pg_err e;
    smp_status st;
    int job = smp_start(m, &sp, &st, &e);
    assert_true(job > 0);
    wait_done(m, job, &st);
    assert_string_equal(st.state, "done");
    assert_int_equal(st.samples + st.missed, 6);
    csv_check c = check_csv(st.file);
    assert_int_equal(c.rows, st.samples);
    assert_memory_equal(c.first_ts, "2023-11-14T22:13:2", 18);  /* SIM_EPOCH = 22:13:20Z */
    assert_true(st.started >= SIM_EPOCH && st.started < SIM_EPOCH + 5);
    assert_true(st.finished >= st.started + 0.25 && st.finished < SIM_EPOCH + 5);
    assert_true(st.last.epoch_s >= SIM_EPOCH && st.last.epoch_s < SIM_EPOCH + 5);
    smp_manager_free(m);
    sim_probe_free(u);
}

static int setup(void **state) {
    if (!mkdtemp(root)) return -1;
    snprintf(data_dir, sizeof data_dir, "%s/data", root);
    return 0;
}

static int teardown(void **state) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_row),
        cmocka_unit_test(test_bad_ranges_create_nothing),
        cmocka_unit_test(test_short_run_rows),
        cmocka_unit_test(test_slow_probe_keeps_grid),
        cmocka_unit_test(test_stop_flushes),
        cmocka_unit_test(test_stop_all_and_free),
        cmocka_unit_test(test_bad_paths_refused),
        cmocka_unit_test(test_max_jobs_and_busy_file),
        cmocka_unit_test(test_append_and_null_values),
        cmocka_unit_test(test_probe_errors_counted),
        cmocka_unit_test(test_virtual_clock_rows),
        cmocka_unit_test(test_virtual_clock_end_and_reset),
        cmocka_unit_test(test_virtual_clock_concurrent),
        cmocka_unit_test(test_real_clock_stamps),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
