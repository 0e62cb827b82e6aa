/* config.h: podgym.yaml, read with libyaml.
 *
 * Every key is optional and has a documented default (pg_config_defaults).
 * The reader is table driven: one descriptor per dotted key ("sim.seed"),
 * so a new key is one line in config.c. An unknown key or a value of the
 * wrong type fails with "FILE:LINE: unknown key 'listn'". */
#ifndef PG_CONFIG_H
#define PG_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PG_NAME_MAX 128
#define PG_URL_MAX 1024

typedef struct pg_workload_conf {
    char kind[16];              /* constant | step | sine | trace */
    double rps;                 /* constant level; base of step and sine */
    double step_rps;            /* step: level after step_at_s */
    double step_at_s;
    double amplitude_rps;       /* sine: amplitude around rps */
    double period_s;            /* sine: period (86400 = diurnal) */
    char trace[PATH_MAX];       /* trace: CSV file of `t,rps` rows */
} pg_workload_conf;

typedef struct pg_sim_conf {
    uint64_t seed;
    double speed;               /* 0 = never sleep, 1 = real time */
    int replicas;               /* initial replicas */
    double start_delay_s;       /* Pending+ContainerCreating until Running */
    double start_jitter_s;
    double pending_s;           /* share of start_delay_s spent Pending */
    double p_crash;             /* probability a new pod goes CrashLoopBackOff */
    double p_image_pull;        /* probability of ErrImagePull/ImagePullBackOff */
    double p_slow_start;        /* probability a start takes slow_factor x longer */
    double slow_factor;
    double grace_s;             /* Terminating period after delete */
    double metrics_window_s;    /* Running this long before metrics appear */
    double metrics_resolution_s;/* metrics refresh period */
    char req_cpu[32];           /* pod requests, Kubernetes quantities */
    char req_mem[32];
    double capacity_rps;        /* requests/s one pod serves at its cpu request */
    double service_ms;          /* mean service time of one request on an idle pod */
    int queue_limit;            /* per-pod queue bound in the load simulation */
    double timeout_s;           /* load-test request timeout in the simulation */
    double base_mem_mib;        /* memory of an idle pod */
    double mem_per_rps_mib;     /* memory growth per request/s */
    double idle_cpu;            /* cores used by an idle pod */
    pg_workload_conf workload;
} pg_sim_conf;

typedef struct pg_kube_conf {
    char kubeconfig[PATH_MAX];  /* "" = $KUBECONFIG, then ~/.kube/config, then in-cluster */
    char context[PG_NAME_MAX];  /* "" = current-context */
    char ns[PG_NAME_MAX];       /* kube.namespace: "" = the context's (or the service account's),
                                 * else target.namespace */
    double timeout_s;           /* every API call */
    int retries;                /* retries of a call answered 409, 429, 5xx or not at all */
    int insecure;               /* skip TLS verification (as insecure-skip-tls-verify) */
    char serviceaccount_dir[PATH_MAX]; /* in-cluster token, ca.crt, namespace */
} pg_kube_conf;

typedef struct pg_docker_conf {
    char socket[PATH_MAX];      /* "" = $DOCKER_HOST (unix://...), then /var/run/docker.sock */
    char image[PG_NAME_MAX];
    char command[PG_URL_MAX];   /* "" = the image's own; split like a shell line, {port} replaced */
    char env[PG_URL_MAX];       /* "K=V K2=V2", added to PORT=<the replica's port> */
    double cpu;                 /* cores per replica (NanoCpus); also the pod's cpu request */
    char memory[32];            /* memory limit per replica; also the pod's memory request */
    int port_base;              /* replica in slot i serves on port_base + i */
    char network[16];           /* host | bridge (port published on 127.0.0.1) */
    int replicas;               /* desired count when the daemon holds none yet */
    double grace_s;             /* stop timeout before SIGKILL */
    char readiness[256];        /* HTTP path of the readiness probe; "" = ready when running */
    char restart[16];           /* no | on-failure | always | unless-stopped */
    double stats_resolution_s;  /* one metrics sample per resolution */
    double stats_window_s;      /* metrics over this window; none before the first full one */
    double timeout_s;           /* every Engine API call */
} pg_docker_conf;

typedef struct pg_load_conf {
    char driver[16];            /* native | jmeter | sim */
    char url[PG_URL_MAX];       /* "" = the backend's ready endpoints, round robin */
    char method[16];
    double rate;                /* requests/s, open loop */
    double duration_s;
    int threads;                /* closed loop when rate == 0 */
    int loops;
    double timeout_s;           /* per request */
    double max_duration_s;      /* refuse longer load tests */
    char plan[PATH_MAX];        /* .jmx for driver jmeter (or native import) */
    char jmeter[PATH_MAX];      /* JMeter CLI executable */
    char body[PG_URL_MAX];
} pg_load_conf;

typedef struct pg_sampler_conf {
    double interval_s;
    double duration_s;
    char file[PATH_MAX];        /* relative to data_dir */
    char format[8];             /* csv | jsonl */
    int max_jobs;
} pg_sampler_conf;

typedef struct pg_limits_conf {
    long body_bytes;
    int lua_deadline_ms;
    int lua_memory_mb;          /* each route/policy state's Lua heap; 0 = no cap */
    int connections;
    double connection_timeout_s;
    int states;                 /* idle Lua states kept for reuse; more are made under load */
    int envs;                   /* vector envs (POST /envs) at most */
} pg_limits_conf;

typedef struct pg_tls_conf {
    char cert[PATH_MAX];        /* PEM certificate (chain); "" = plain HTTP */
    char key[PATH_MAX];         /* PEM private key; set with cert or not at all */
} pg_tls_conf;

typedef struct pg_facade_conf {
    char listen[PG_NAME_MAX];   /* HOST:PORT of the Kubernetes API facade; "" = none */
    pg_tls_conf tls;            /* both set: it serves HTTPS */
    char token[256];            /* bearer token every request needs; "" = none */
    char node[PG_NAME_MAX];     /* spec.nodeName of the pods it serves */
} pg_facade_conf;

typedef struct pg_config {
    char path[PATH_MAX];        /* the file read; "" when none */
    char listen_host[PG_NAME_MAX];
    int listen_port;
    pg_tls_conf tls;            /* both set: the front end serves HTTPS */
    char backend[16];           /* sim | docker | kube */
    char ns[PG_NAME_MAX];       /* target.namespace */
    char deployment[PG_NAME_MAX]; /* target.deployment */
    pg_kube_conf kube;
    pg_docker_conf docker;
    pg_sim_conf sim;
    pg_load_conf load;
    pg_sampler_conf sampler;
    char data_dir[PATH_MAX];
    char auth_token[256];
    pg_limits_conf limits;
    char scripts[PATH_MAX];
    char policies[PATH_MAX];
    double hpa_target_pct;      /* hpa.target_cpu_percent */
    pg_facade_conf facade;      /* facade.* */
    int repl_attach;            /* repl.attach: serve listens on <data_dir>/repl.sock (podgym repl --attach) */
} pg_config;

/* Fill c with every default. */
void pg_config_defaults(pg_config *c);

/* Read path over the defaults already in c. On failure e->message is one
 * line "path:line: what" and -1 is returned; c may be partly filled. */
int pg_config_load(pg_config *c, const char *path, pg_err *e);

/* Parse "HOST:PORT" (or ":PORT", or "PORT") into c. */
int pg_config_listen(pg_config *c, const char *hostport, pg_err *e);

/* Parse "HOST:PORT" (or ":PORT", or "PORT"; host 127.0.0.1 when left
 * out) into host (hostn bytes) and *port. */
int pg_config_hostport(const char *hostport, char *host, size_t hostn, int *port, pg_err *e);

/* The environment over the file: PODGYM_TOKEN (when set and not empty)
 * becomes auth.token. -1 with e filled when it does not fit. */
int pg_config_env(pg_config *c, pg_err *e);

/* Cross-field checks (backend name, driver name, ranges; tls.cert and
 * tls.key both or neither, and both readable). */
int pg_config_validate(const pg_config *c, pg_err *e);

#endif
