/* main.c: the podgym command line: serve, repl, run, check. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua.h>

#include "base/clock.h"
#include "base/hash.h"
#include "cluster/registry.h"
#include "config/config.h"
#include "engine.h"
#include "facade/facade.h"
#include "server/http.h"
#include "modules/lb.h"
#include "base/log.h"
#include "cli/repl.h"
#include "runtime/runtime.h"
#include "sampler/sampler.h"
#include "runtime/serve.h"
#include "shared/shared.h"

static const char usage[] =
    "usage: podgym serve [-c podgym.yaml] [--listen HOST:PORT] [--backend sim|docker|kube] [--kubeconfig FILE] [--quiet]\n"
    "       podgym repl  [-c podgym.yaml] [--backend ...]\n"
    "       podgym repl  --attach [SOCKET] [-c podgym.yaml]\n"
    "       podgym run   FILE.lua [ARGS...] [-c podgym.yaml] [--backend ...]\n"
    "       podgym check [-c podgym.yaml]\n"
    "       podgym --version | --help\n"
    "\n"
    "serve   serve the HTTP API (default 127.0.0.1:6000, simulated cluster)\n"
    "repl    a Lua prompt with every module loaded (k8s, loadgen, jmeter, sampler, json, log,\n"
    "        clock, shared); --attach: statements run inside a running `podgym serve`, on its\n"
    "        cluster (SOCKET: default <data_dir>/repl.sock of the config)\n"
    "run     run a Lua script with every module; exits with the script's status\n"
    "check   validate the config and compile every script and policy; exit 0 or 1\n";

typedef struct opts {
    const char *cmd;
    const char *config;
    const char *listen;
    const char *backend;
    const char *kubeconfig;         /* --kubeconfig: kube.kubeconfig */
    int quiet;
    const char *file;           /* run */
    int attach;                 /* repl --attach [SOCKET] */
    const char *attach_path;
    int argc;                   /* script arguments (run) */
    char **argv;
} opts;

static int bad_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "podgym: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(see podgym --help)\n");
    return 2;
}

static int parse_args(int argc, char **argv, opts *o) {
    memset(o, 0, sizeof *o);
    if (argc < 2) return bad_usage("missing command%s", "");
    o->cmd = argv[1];
    if (!strcmp(o->cmd, "--help") || !strcmp(o->cmd, "-h")) {
        fputs(usage, stdout);
        exit(0);
    }
    if (!strcmp(o->cmd, "--version")) {
        printf("podgym %s\n", PODGYM_VERSION);
        exit(0);
    }
    if (strcmp(o->cmd, "serve") && strcmp(o->cmd, "repl") && strcmp(o->cmd, "run") && strcmp(o->cmd, "check"))
        return bad_usage("unknown command '%s'", o->cmd);
    int is_run = !strcmp(o->cmd, "run");
    o->argv = calloc((size_t)argc + 1, sizeof *o->argv);
    int no_more_opts = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!no_more_opts && !strcmp(a, "--") && is_run && o->file) {
            no_more_opts = 1;
            continue;
        }
        if (!no_more_opts && (!strcmp(a, "-c") || !strcmp(a, "--config") || !strcmp(a, "--listen") ||
                              !strcmp(a, "--backend") || !strcmp(a, "--kubeconfig"))) {
            if (i + 1 >= argc) return bad_usage("option '%s' needs a value", a);
            const char *v = argv[++i];
            if (!strcmp(a, "--listen")) {
                if (strcmp(o->cmd, "serve")) return bad_usage("--listen is only for serve%s", "");
                o->listen = v;
            } else if (!strcmp(a, "--backend")) o->backend = v;
            else if (!strcmp(a, "--kubeconfig")) o->kubeconfig = v;
            else o->config = v;
            continue;
        }
        if (!no_more_opts && !strcmp(a, "--attach")) {
            if (strcmp(o->cmd, "repl")) return bad_usage("--attach is only for repl%s", "");
            o->attach = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-') o->attach_path = argv[++i];
            continue;
        }
        if (!no_more_opts && (!strcmp(a, "--quiet") || !strcmp(a, "-q"))) {
            o->quiet = 1;
            continue;
        }
        if (!no_more_opts && !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        }
        if (is_run && !o->file) {
            o->file = a;
            continue;
        }
        if (is_run) {
            o->argv[o->argc++] = argv[i];
            continue;
        }
        return bad_usage(a[0] == '-' ? "unknown option '%s'" : "unexpected argument '%s'", a);
    }
    if (is_run && !o->file) return bad_usage("run needs a FILE.lua%s", "");
    return 0;
}

/* Config, shared dict, backend. Exit status 2 on a bad config. */
static int engine_config(pg_engine *eng, const opts *o) {
    pg_err e;
    pg_config_defaults(&eng->cfg);
    const char *path = o->config;
    struct stat st;
    if (!path && stat("podgym.yaml", &st) == 0) path = "podgym.yaml";
    if (path && pg_config_load(&eng->cfg, path, &e) < 0) {
        fprintf(stderr, "podgym: %s\n", e.message);
        return 2;
    }
    if (o->listen && pg_config_listen(&eng->cfg, o->listen, &e) < 0) {
        fprintf(stderr, "podgym: --listen: %s\n", e.message);
        return 2;
    }
    if (o->backend) snprintf(eng->cfg.backend, sizeof eng->cfg.backend, "%s", o->backend);
    if (o->kubeconfig) {                /* as kube.kubeconfig: that file only, as kubectl's flag */
        if (strlen(o->kubeconfig) >= sizeof eng->cfg.kube.kubeconfig) {
            fprintf(stderr, "podgym: --kubeconfig: file name too long\n");
            return 2;
        }
        snprintf(eng->cfg.kube.kubeconfig, sizeof eng->cfg.kube.kubeconfig, "%s", o->kubeconfig);
    }
    if (pg_config_env(&eng->cfg, &e) < 0 || pg_config_validate(&eng->cfg, &e) < 0) {
        fprintf(stderr, "%s\n", e.message);
        return 2;
    }
    return 0;
}

static void engine_close(pg_engine *eng);

/* The run id (UTC start time and 32 random bits) and the config's hash,
 * which every episode file records. */
static void engine_identity(pg_engine *eng) {
    time_t t = (time_t)eng->started;
    struct tm tm;
    gmtime_r(&t, &tm);
    char stamp[20];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd = (uint32_t)(pg_mono_ns() ^ getpid());
    snprintf(eng->run_id, sizeof eng->run_id, "%s-%08x", stamp, rnd);
    /* What shapes the environment, not where it is served or written:
     * the file's path, listen address, TLS files, data_dir, the token and the script
     * folders' paths (their files are hashed per generation) are left out. */
    pg_config c = eng->cfg;                 /* padding is zero: pg_config_defaults memsets */
    memset(c.path, 0, sizeof c.path);
    memset(c.listen_host, 0, sizeof c.listen_host);
    c.listen_port = 0;
    memset(c.data_dir, 0, sizeof c.data_dir);
    memset(&c.tls, 0, sizeof c.tls);
    memset(c.auth_token, 0, sizeof c.auth_token);
    memset(&c.facade, 0, sizeof c.facade);
    memset(c.scripts, 0, sizeof c.scripts);
    memset(c.policies, 0, sizeof c.policies);
    c.repl_attach = 0;
    eng->config_hash = pg_hash(PG_HASH_INIT, &c, sizeof c);
}

static int engine_open(pg_engine *eng, const opts *o) {
    pg_err e;
    eng->started = pg_wall();
    engine_identity(eng);
    eng->shared = pg_shared_new(10000);
    eng->backend = pg_backend_open(&eng->cfg, &e);
    if (!eng->backend) {
        fprintf(stderr, "podgym: backend %s: %s\n", eng->cfg.backend, e.message);
        engine_close(eng);
        return e.status == 2 ? 2 : 1;
    }
    if (!rt_new(eng, RT_SANDBOX, &e)) {
        fprintf(stderr, "podgym: %s\n", e.message);
        engine_close(eng);
        return e.status == 2 ? 2 : 1;
    }
    return 0;
}

static void engine_close(pg_engine *eng) {
    if (eng->sampler) smp_manager_free(eng->sampler);   /* stops and flushes every job */
    eng->sampler = NULL;
    rt_free(eng->rt);
    eng->rt = NULL;
    lb_envs_free(eng);
    if (eng->backend) eng->backend->ops->destroy(eng->backend);
    eng->backend = NULL;
    if (eng->shared) pg_shared_free(eng->shared);
    eng->shared = NULL;
}

/* The sampler's rows are flushed when this starts: a request still running
 * (waiting on a backend, or stuck where no deadline reaches) after
 * STOP_GRACE_MS keeps the process no longer. */
#define STOP_GRACE_MS 1200

static void *stop_timer(void *ud) {
    (void)ud;
    pg_sleep(STOP_GRACE_MS / 1000.0);
    pg_log(PG_LOG_WARN, "requests still running %d ms after the stop; exiting without them", STOP_GRACE_MS);
    _exit(0);
    return NULL;
}

/* The Kubernetes API facade (config facade.*) over the engine's backend. */
static kf_facade *facade_start(pg_engine *eng) {
    const pg_facade_conf *fc = &eng->cfg.facade;
    char host[PG_NAME_MAX], err[256];
    int port;
    pg_err e;
    if (pg_config_hostport(fc->listen, host, sizeof host, &port, &e) < 0) {
        fprintf(stderr, "podgym: facade.listen: %s\n", e.message);
        return NULL;
    }
    kf_opts fo = {
        .host = host, .port = port, .tls_cert = fc->tls.cert, .tls_key = fc->tls.key, .token = fc->token,
        .ns = eng->cfg.ns, .deployment = eng->cfg.deployment, .node = fc->node,
        .body_bytes = eng->cfg.limits.body_bytes, .connections = eng->cfg.limits.connections,
        .timeout_s = eng->cfg.limits.connection_timeout_s,
    };
    kf_facade *f = kf_start(eng->backend, &fo, err, sizeof err);
    if (!f) {
        fprintf(stderr, "podgym: facade: %s\n", err);
        return NULL;
    }
    int v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "podgym: Kubernetes API facade on %s://%s%s%s:%d (namespace %s, deployment %s)\n",
            kf_tls(f) ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", kf_port(f), eng->cfg.ns,
            eng->cfg.deployment);
    if (!fc->token[0])
        pg_log(PG_LOG_WARN, "the Kubernetes API facade has no facade.token: anyone who reaches it can scale "
               "and delete pods");
    return f;
}

static int cmd_serve(pg_engine *eng, const opts *o) {
    /* Block the signals we wait for before any thread starts. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    pg_log_set_quiet(o->quiet);
    int rc = engine_open(eng, o);
    if (rc) return rc;
    pg_err e;
    if (rt_watch(eng->rt, &e) < 0) pg_log(PG_LOG_WARN, "hot reload disabled: %s", e.message);
    http_opts ho = {
        .host = eng->cfg.listen_host,
        .port = eng->cfg.listen_port,
        .body_bytes = eng->cfg.limits.body_bytes,
        .connections = eng->cfg.limits.connections,
        .timeout_s = eng->cfg.limits.connection_timeout_s,
        .token = eng->cfg.auth_token[0] ? eng->cfg.auth_token : NULL,
        .tls_cert = eng->cfg.tls.cert,
        .tls_key = eng->cfg.tls.key,
        .handler = pg_serve_request,
        .after = pg_serve_after,
        .ud = eng,
    };
    char err[256];
    http_server *srv = http_start(&ho, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "podgym: %s\n", err);
        engine_close(eng);
        return 1;
    }
    const char *h = eng->cfg.listen_host;
    if (!ho.token && !http_loopback(srv))
        pg_log(PG_LOG_WARN, "listening on %s with no auth.token: anyone who reaches it can scale and delete "
               "pods; set auth.token or PODGYM_TOKEN", h);
    attach_server *att = attach_start(eng);             /* podgym repl --attach; in place when "listening" shows */
    int v6 = strchr(h, ':') != NULL;
    fprintf(stderr, "podgym: listening on %s://%s%s%s:%d (backend %s, generation %d)\n",
            http_tls(srv) ? "https" : "http", v6 ? "[" : "", h,
            v6 ? "]" : "", http_port(srv), eng->backend->ops->name, rt_generation(eng->rt));
    kf_facade *facade = NULL;
    if (eng->cfg.facade.listen[0] && !(facade = facade_start(eng))) {
        http_stop(srv);
        engine_close(eng);
        return 1;
    }
    fflush(stderr);
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig)) continue;
        if (sig == SIGHUP) {
            if (rt_reload(eng->rt, &e) < 0)
                pg_log(PG_LOG_ERROR, "reload failed, previous version keeps serving: %s", e.message);
            continue;
        }
        pg_log(PG_LOG_INFO, "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    rt_stop_calls();                                    /* running requests end now, with 504 */
    smp_manager *sm = lb_sampler_started(eng);         /* created by a request thread */
    if (sm) smp_stop_all(sm);                           /* every row flushed before anything else */
    pthread_t t;                                        /* a request waiting in a call bounds nothing */
    if (pthread_create(&t, NULL, stop_timer, NULL) == 0) pthread_detach(t);
    kf_stop(facade);
    attach_stop(att);                                   /* attached sessions interrupted and closed */
    http_stop(srv);
    engine_close(eng);
    return 0;
}

static int cmd_check(pg_engine *eng, const opts *o) {
    pg_err e;
    eng->started = pg_wall();
    eng->shared = pg_shared_new(16);
    eng->backend = pg_backend_open(&eng->cfg, &e);
    if (!eng->backend) {
        fprintf(stderr, "podgym: backend %s: %s\n", eng->cfg.backend, e.message);
        engine_close(eng);
        return 1;
    }
    if (!rt_new(eng, RT_SANDBOX, &e)) {
        fprintf(stderr, "podgym: %s\n", e.message);
        engine_close(eng);
        return e.status == 2 ? 2 : 1;
    }
    lua_State *L = NULL;
    rt_state *s = rt_checkout(eng->rt);
    size_t n = s ? router_count(rt_router(s)) : 0;
    (void)L;
    rt_checkin(eng->rt, s);
    printf("podgym: config %s ok; %zu routes compiled; backend %s\n",
           eng->cfg.path[0] ? eng->cfg.path : "(defaults)", n, eng->cfg.backend);
    engine_close(eng);
    return 0;
}

/* repl and run: a full-library Lua state over an open engine. */
static int cmd_lua(pg_engine *eng, const opts *o) {
    signal(SIGPIPE, SIG_IGN);
    eng->interactive = isatty(2);
    int rc = engine_open(eng, o);
    if (rc) return rc;
    lua_State *L = rt_open_state(eng, 0);
    if (!L) {
        engine_close(eng);
        return 1;
    }
    rc = o->file ? repl_run_file(L, o->file, o->argc, o->argv) : repl_loop(L);
    rt_close_state(L);
    engine_close(eng);
    return rc;
}

/* repl --attach: no engine of its own, the server's. */
static int cmd_attach(pg_engine *eng, const opts *o) {
    signal(SIGPIPE, SIG_IGN);
    char path[4096];
    if (o->attach_path) snprintf(path, sizeof path, "%s", o->attach_path);
    else attach_default_path(&eng->cfg, path, sizeof path);
    return attach_client(path);
}

/* glibc gives each new thread its own malloc arena, up to 8 per core; with a
 * thread per connection (libmicrohttpd) and Lua states moving between
 * threads, a long run's RSS then creeps up with fragmentation across
 * arenas (make soak: +12 % over 20 s under wrk, flat with 2 arenas, at no
 * cost in requests/s). MALLOC_ARENA_MAX, when set, still decides. */
#define PG_MALLOC_ARENAS 2

int main(int argc, char **argv) {
    if (!getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, PG_MALLOC_ARENAS);
    opts o;
    int rc = parse_args(argc, argv, &o);
    static pg_engine eng;
    if (!rc) rc = engine_config(&eng, &o);
    if (!rc) {
        if (!strcmp(o.cmd, "serve")) rc = cmd_serve(&eng, &o);
        else if (o.attach) rc = cmd_attach(&eng, &o);
        else if (!strcmp(o.cmd, "check")) rc = cmd_check(&eng, &o);
        else rc = cmd_lua(&eng, &o);                /* repl, or run with o.file */
    }
    free(o.argv);
    return rc;
}
