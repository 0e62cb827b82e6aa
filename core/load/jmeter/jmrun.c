/* jmrun.c: the external JMeter CLI (see jmrun.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "load/jmeter/jmrun.h"
#include "load/jmeter/jtl.h"

extern char **environ;

int jmr_find(const char *jmeter, char *out, size_t n, pg_err *e) {
    if (!jmeter || !jmeter[0])
        return pg_errf(e, 503, "jmeter_missing", "no JMeter CLI configured (load.jmeter)");
    struct stat st;
    if (strchr(jmeter, '/')) {
        if (stat(jmeter, &st) || !S_ISREG(st.st_mode) || access(jmeter, X_OK))
            return pg_errf(e, 503, "jmeter_missing", "JMeter CLI '%.300s' not found or not executable (load.jmeter)",
                           jmeter);
        snprintf(out, n, "%s", jmeter);
        return 0;
    }
    const char *path = getenv("PATH");
    if (!path || !path[0]) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t k = strcspn(path, ":");
        char cand[PATH_MAX];
        if (snprintf(cand, sizeof cand, "%.*s/%s", (int)k, k ? path : ".", jmeter) < (int)sizeof cand
            && !stat(cand, &st) && S_ISREG(st.st_mode) && !access(cand, X_OK)) {
            snprintf(out, n, "%s", cand);
            return 0;
        }
        path += k;
        if (*path == ':') path++;
    }
    return pg_errf(e, 503, "jmeter_missing", "JMeter CLI '%.100s' not found in PATH (install JMeter or set load.jmeter)",
                   jmeter);
}

/* The last lines (at most max) of a file, joined with " | ". */
static void tail_lines(const char *path, char *out, size_t n, int max) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char buf[4096];
    fseek(f, 0, SEEK_END);
    long size = ftell(f), from = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *lines[16];
    int nl = 0;
    for (char *save = NULL, *l = strtok_r(buf, "\r\n", &save); l; l = strtok_r(NULL, "\r\n", &save)) {
        while (*l == ' ' || *l == '\t') l++;
        if (!*l) continue;
        if (nl == 16) {
            memmove(lines, lines + 1, 15 * sizeof *lines);
            nl = 15;
        }
        lines[nl++] = l;
    }
    size_t used = 0;
    for (int i = nl > max ? nl - max : 0; i < nl && used + 4 < n; i++)
        used += (size_t)snprintf(out + used, n - used, "%s%s", used ? " | " : "", lines[i]);
}

/* What the logs say, for an error message. */
static void log_tail(const jmr_opts *o, char *out, size_t n) {
    char con[PATH_MAX + 8], a[200], b[200];
    snprintf(con, sizeof con, "%s.out", o->log);
    tail_lines(con, a, sizeof a, 2);
    tail_lines(o->log, b, sizeof b, 2);
    if (a[0] && b[0]) snprintf(out, n, "%.190s | %.190s", a, b);
    else snprintf(out, n, "%.390s", a[0] ? a : b[0] ? b : "(no log output)");
}

/* Wait for pid until deadline; 1 when it exited (*status set), 0 on timeout. */
static int wait_until(pid_t pid, double deadline, int *status) {
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) return 1;
        if (w < 0 && errno != EINTR) {
            *status = 0;
            return 1;                               /* reaped elsewhere: nothing to wait for */
        }
        if (pg_mono() >= deadline) return 0;
        pg_sleep(0.02);
    }
}

int jmr_run(const jmr_opts *o, ld_result *r, pg_err *e) {
    if (!(o->timeout_s > 0) || !isfinite(o->timeout_s) || (o->max_s > 0 && o->timeout_s > o->max_s))
        return pg_errf(e, 400, "bad_timeout", "timeout %g s (wants > 0 and <= load.max_duration_s)", o->timeout_s);
    char exe[PATH_MAX];
    if (jmr_find(o->jmeter, exe, sizeof exe, e)) return -1;
    struct stat st;
    if (!o->plan || !o->plan[0]) return pg_errf(e, 400, "bad_plan", "no plan given");
    if (stat(o->plan, &st)) return pg_errf(e, 404, "not_found", "plan '%.300s' not found", o->plan);
    if (!S_ISREG(st.st_mode)) return pg_errf(e, 400, "bad_plan", "plan '%.300s' is not a file", o->plan);
    for (size_t i = 0; i < o->nprops; i++)
        if (!o->props[i].name[0] || strpbrk(o->props[i].name, "= \t\r\n"))
            return pg_errf(e, 400, "bad_property", "bad property name '%.100s'", o->props[i].name);

    size_t argc = 0, max = 12 + o->nprops;
    char **argv = calloc(max, sizeof *argv);
    if (!argv) return pg_errf(e, 500, "no_memory", "out of memory");
    argv[argc++] = exe;
    argv[argc++] = "-n";
    argv[argc++] = "-t";
    argv[argc++] = (char *)o->plan;
    argv[argc++] = "-l";
    argv[argc++] = (char *)o->jtl;
    argv[argc++] = "-f";
    argv[argc++] = "-j";
    argv[argc++] = (char *)o->log;
    for (size_t i = 0; i < o->nprops; i++)
        if (asprintf(&argv[argc++], "-J%s=%s", o->props[i].name, o->props[i].value) < 0) argv[argc - 1] = NULL;

    char con[PATH_MAX + 8];
    snprintf(con, sizeof con, "%s.out", o->log);
    unlink(o->jtl);
    unlink(o->log);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, con, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);

    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (size_t i = 9; i < argc; i++) free(argv[i]);
    free(argv);
    if (rc) return pg_errf(e, 503, "jmeter_missing", "cannot start JMeter '%.300s': %s", exe, strerror(rc));

    int status = 0;
    char tail[400];
    if (!wait_until(pid, pg_mono() + o->timeout_s, &status)) {
        kill(-pid, SIGTERM);
        if (!wait_until(pid, pg_mono() + 5, &status)) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        log_tail(o, tail, sizeof tail);
        return pg_errf(e, 504, "timeout", "JMeter did not finish within %g s (stopped): %s", o->timeout_s, tail);
    }
    if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status))) {
        log_tail(o, tail, sizeof tail);
        if (WIFSIGNALED(status))
            return pg_errf(e, 502, "jmeter_failed", "JMeter was killed by signal %d: %s", WTERMSIG(status), tail);
        return pg_errf(e, 502, "jmeter_failed", "JMeter exited with status %d: %s", WEXITSTATUS(status), tail);
    }
    if (access(o->jtl, F_OK)) {
        log_tail(o, tail, sizeof tail);
        return pg_errf(e, 502, "jmeter_failed", "JMeter wrote no results file: %s", tail);
    }
    if (jtl_read(o->jtl, r, e)) return -1;
    if (r->n == 0) {
        log_tail(o, tail, sizeof tail);
        return pg_errf(e, 502, "jmeter_failed", "JMeter recorded no samples: %s", tail);
    }
    return 0;
}
