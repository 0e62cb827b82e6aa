/* config.c: podgym.yaml, read with libyaml, one descriptor per key.
 *
 * The table `keys` below is the whole configuration: each row names a
 * dotted key ("sim.seed"), its type, where it lives in pg_config, its
 * default (written as it would be in the file, so the defaults go through
 * the same parser as a file) and the range pg_config_validate enforces.
 * Sections are implied by the dots: "sim.workload.kind" makes `sim` and
 * `sim.workload` sections whose values must be mappings.
 *
 * Every error is one line, "FILE:LINE: what", with status 2 and code
 * "config" (the CLI exits with the status). */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <yaml.h>

#include "config/config.h"
#include "base/names.h"

typedef enum { CFG_STR, CFG_INT, CFG_LONG, CFG_U64, CFG_DBL, CFG_BOOL, CFG_LISTEN } cfg_type;
typedef enum { CK_NONE, CK_GE, CK_GT, CK_IN } cfg_check;   /* >= lo, > lo, lo..hi */

typedef struct cfg_key {
    const char *name;           /* dotted key, as written in the file */
    cfg_type type;
    size_t off, size;           /* member of pg_config; size bounds CFG_STR */
    const char *def;            /* default, parsed like a value in the file */
    const char *choices;        /* CFG_STR: "a|b|c", or NULL for any string */
    cfg_check check;
    double lo, hi;
} cfg_key;

#define MEMBER(m) offsetof(pg_config, m), sizeof(((pg_config *)0)->m)
#define ANY CK_NONE, 0, 0
#define GE(x) CK_GE, (x), 0
#define GT(x) CK_GT, (x), 0
#define IN(a, b) CK_IN, (a), (b)
#define STR(k, m, d) { k, CFG_STR, MEMBER(m), d, NULL, ANY }
#define ONE_OF(k, m, d, ch) { k, CFG_STR, MEMBER(m), d, ch, ANY }
#define NUM(k, t, m, d, ck) { k, t, MEMBER(m), d, NULL, ck }
#define BOOL(k, m, d) { k, CFG_BOOL, MEMBER(m), d, NULL, ANY }

static const cfg_key keys[] = {
    /* listen: loopback only unless told otherwise; port 0 = any free port */
    { "listen", CFG_LISTEN, MEMBER(listen_host), "127.0.0.1:6000", NULL, ANY },
    /* tls: both set = HTTPS; the PEM files are read once, at start */
    STR("tls.cert", tls.cert, ""),
    STR("tls.key", tls.key, ""),
    ONE_OF("backend", backend, "sim", "sim|docker|kube"),
    STR("target.namespace", ns, "default"),
    STR("target.deployment", deployment, "app"),

    /* kube: "" kubeconfig = $KUBECONFIG, ~/.kube/config, then in-cluster */
    STR("kube.kubeconfig", kube.kubeconfig, ""),
    STR("kube.context", kube.context, ""),                  /* "" = current-context */
    STR("kube.namespace", kube.ns, ""),                     /* "" = the context's, else target's */
    NUM("kube.timeout_s", CFG_DBL, kube.timeout_s, "10", GT(0)),    /* every API call */
    NUM("kube.retries", CFG_INT, kube.retries, "4", IN(0, 20)),     /* on 409, 429, 5xx, no answer */
    BOOL("kube.insecure", kube.insecure, "false"),          /* skip TLS verification */
    STR("kube.serviceaccount_dir", kube.serviceaccount_dir, "/var/run/secrets/kubernetes.io/serviceaccount"),

    /* docker: socket "" = $DOCKER_HOST, then /var/run/docker.sock */
    STR("docker.socket", docker.socket, ""),
    STR("docker.image", docker.image, "podgym-demo:latest"),
    STR("docker.command", docker.command, ""),              /* "" = the image's own */
    STR("docker.env", docker.env, ""),                      /* "K=V K2=V2" */
    NUM("docker.cpu", CFG_DBL, docker.cpu, "0.5", GT(0)),   /* cores per replica */
    STR("docker.memory", docker.memory, "512Mi"),           /* memory limit per replica */
    NUM("docker.port_base", CFG_INT, docker.port_base, "18080", IN(1, 65535)),
    ONE_OF("docker.network", docker.network, "host", "host|bridge"),
    NUM("docker.replicas", CFG_INT, docker.replicas, "1", IN(0, 64)),  /* when the daemon holds none */
    NUM("docker.grace_s", CFG_DBL, docker.grace_s, "10", GE(0)),     /* stop timeout, then SIGKILL */
    STR("docker.readiness", docker.readiness, "/"),         /* "" = ready once running */
    ONE_OF("docker.restart", docker.restart, "always", "no|on-failure|always|unless-stopped"),
    NUM("docker.stats_resolution_s", CFG_DBL, docker.stats_resolution_s, "1", GT(0)),
    NUM("docker.stats_window_s", CFG_DBL, docker.stats_window_s, "2", GT(0)),
    NUM("docker.timeout_s", CFG_DBL, docker.timeout_s, "10", GT(0)),   /* every API call */

    NUM("sim.seed", CFG_U64, sim.seed, "1", ANY),
    NUM("sim.speed", CFG_DBL, sim.speed, "0", GE(0)),       /* 0 = never wait, 1 = real time */
    NUM("sim.replicas", CFG_INT, sim.replicas, "1", GE(0)),
    NUM("sim.start_delay_s", CFG_DBL, sim.start_delay_s, "6", GE(0)),
    NUM("sim.start_jitter_s", CFG_DBL, sim.start_jitter_s, "2", GE(0)),
    NUM("sim.pending_s", CFG_DBL, sim.pending_s, "1", GE(0)),
    NUM("sim.p_crash", CFG_DBL, sim.p_crash, "0", IN(0, 1)),
    NUM("sim.p_image_pull", CFG_DBL, sim.p_image_pull, "0", IN(0, 1)),
    NUM("sim.p_slow_start", CFG_DBL, sim.p_slow_start, "0", IN(0, 1)),
    NUM("sim.slow_factor", CFG_DBL, sim.slow_factor, "4", GE(1)),
    NUM("sim.grace_s", CFG_DBL, sim.grace_s, "5", GE(0)),
    NUM("sim.metrics_window_s", CFG_DBL, sim.metrics_window_s, "5", GE(0)),
    NUM("sim.metrics_resolution_s", CFG_DBL, sim.metrics_resolution_s, "1", GT(0)),
    STR("sim.req_cpu", sim.req_cpu, "500m"),
    STR("sim.req_mem", sim.req_mem, "512Mi"),
    NUM("sim.capacity_rps", CFG_DBL, sim.capacity_rps, "40", GT(0)),
    NUM("sim.service_ms", CFG_DBL, sim.service_ms, "20", GT(0)),
    NUM("sim.queue_limit", CFG_INT, sim.queue_limit, "64", GE(0)),
    NUM("sim.timeout_s", CFG_DBL, sim.timeout_s, "5", GT(0)),
    NUM("sim.base_mem_mib", CFG_DBL, sim.base_mem_mib, "96", GE(0)),
    NUM("sim.mem_per_rps_mib", CFG_DBL, sim.mem_per_rps_mib, "1.5", GE(0)),
    NUM("sim.idle_cpu", CFG_DBL, sim.idle_cpu, "0.01", GE(0)),
    ONE_OF("sim.workload.kind", sim.workload.kind, "constant", "constant|step|sine|trace"),
    NUM("sim.workload.rps", CFG_DBL, sim.workload.rps, "60", GE(0)),
    NUM("sim.workload.step_rps", CFG_DBL, sim.workload.step_rps, "120", GE(0)),
    NUM("sim.workload.step_at_s", CFG_DBL, sim.workload.step_at_s, "300", GE(0)),
    NUM("sim.workload.amplitude_rps", CFG_DBL, sim.workload.amplitude_rps, "40", GE(0)),
    NUM("sim.workload.period_s", CFG_DBL, sim.workload.period_s, "600", GT(0)),
    STR("sim.workload.trace", sim.workload.trace, ""),     /* CSV of `t,rps` rows */

    /* load.driver auto = sim on the sim backend, native otherwise */
    ONE_OF("load.driver", load.driver, "auto", "auto|native|jmeter|sim"),
    STR("load.url", load.url, ""),                          /* "" = ready endpoints */
    STR("load.method", load.method, "GET"),
    NUM("load.rate", CFG_DBL, load.rate, "20", GE(0)),      /* 0 = closed loop */
    NUM("load.duration_s", CFG_DBL, load.duration_s, "5", GT(0)),
    NUM("load.threads", CFG_INT, load.threads, "1", GE(1)),
    NUM("load.loops", CFG_INT, load.loops, "0", GE(0)),     /* 0 = until duration */
    NUM("load.timeout_s", CFG_DBL, load.timeout_s, "5", GT(0)),
    NUM("load.max_duration_s", CFG_DBL, load.max_duration_s, "600", GT(0)),
    STR("load.plan", load.plan, ""),                        /* .jmx */
    STR("load.jmeter", load.jmeter, "jmeter"),              /* looked up in PATH */
    STR("load.body", load.body, ""),

    NUM("sampler.interval_s", CFG_DBL, sampler.interval_s, "0.2", GT(0)),
    NUM("sampler.duration_s", CFG_DBL, sampler.duration_s, "1500", GT(0)),  /* 25 min */
    STR("sampler.file", sampler.file, "metrics.csv"),       /* under data_dir */
    ONE_OF("sampler.format", sampler.format, "csv", "csv|jsonl"),
    NUM("sampler.max_jobs", CFG_INT, sampler.max_jobs, "4", GE(1)),

    STR("data_dir", data_dir, "./data"),
    STR("auth.token", auth_token, ""),                      /* "" = no auth; PODGYM_TOKEN */

    NUM("limits.body_bytes", CFG_LONG, limits.body_bytes, "1048576", GT(0)),  /* 1 MiB */
    NUM("limits.lua_deadline_ms", CFG_INT, limits.lua_deadline_ms, "5000", GE(0)), /* 0 = none */
    NUM("limits.lua_memory_mb", CFG_INT, limits.lua_memory_mb, "64", GE(0)),       /* per state; 0 = none */
    NUM("limits.connections", CFG_INT, limits.connections, "256", GE(1)),
    NUM("limits.connection_timeout_s", CFG_DBL, limits.connection_timeout_s, "30", GT(0)),
    NUM("limits.states", CFG_INT, limits.states, "32", GE(1)),
    NUM("limits.envs", CFG_INT, limits.envs, "1024", GE(1)),

    STR("scripts", scripts, "scripts"),
    STR("policies", policies, "policies"),
    NUM("hpa.target_cpu_percent", CFG_DBL, hpa_target_pct, "50", GT(0)),

    /* facade: the Kubernetes API served over the backend; "" listen = off */
    STR("facade.listen", facade.listen, ""),                /* HOST:PORT, e.g. 127.0.0.1:6443 */
    STR("facade.tls.cert", facade.tls.cert, ""),            /* both set = HTTPS */
    STR("facade.tls.key", facade.tls.key, ""),
    STR("facade.token", facade.token, ""),                  /* "" = no bearer token asked */
    STR("facade.node", facade.node, "podgym-node"),         /* spec.nodeName of every pod */
    BOOL("repl.attach", repl_attach, "true"),              /* <data_dir>/repl.sock, mode 0600 */
};
#define NKEYS (sizeof keys / sizeof keys[0])

/* ---- helpers ---------------------------------------------------------- */

static int cfg_fail(pg_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cfg_fail(pg_err *e, const char *fmt, ...) {
    char msg[sizeof e->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return pg_errf(e, 2, "config", "%s", msg);
}

/* A value from the file, made safe for a one-line message: control bytes
 * escaped, cut after 60 bytes. */
static const char *shown(const char *s, size_t len, char *buf, size_t n) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i == 60) { memcpy(buf + o, "...", 3); o += 3; break; }
        if (ch < 0x20 || ch == 0x7f) o += (size_t)snprintf(buf + o, n - o, "\\x%02x", ch);
        else buf[o++] = (char)ch;
    }
    buf[o] = '\0';
    return buf;
}

static const cfg_key *find_key(const char *name) {
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(keys[i].name, name) == 0) return &keys[i];
    return NULL;
}

/* "sim" and "sim.workload" are sections: some key starts with "name.". */
static int is_section(const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < NKEYS; i++)
        if (strncmp(keys[i].name, name, n) == 0 && keys[i].name[n] == '.') return 1;
    return 0;
}

static const char *type_name(cfg_type t) {
    switch (t) {
    case CFG_STR: return "a string";
    case CFG_INT: case CFG_LONG: case CFG_U64: return "an integer";
    case CFG_DBL: return "a number";
    case CFG_BOOL: return "a boolean (true/false)";
    case CFG_LISTEN: return "HOST:PORT";
    }
    return "a value";
}

static int parse_ll(const char *s, long long lo, long long hi, long long *out) {
    if (!(isdigit((unsigned char)*s) || *s == '-' || *s == '+')) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out) {
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int parse_double(const char *s, double *out) {
    if (!(isdigit((unsigned char)*s) || *s == '-' || *s == '+' || *s == '.')) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out) {
    static const char *yes[] = { "true", "yes", "on" }, *no[] = { "false", "no", "off" };
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
    }
    return -1;
}

/* Store the text s (len bytes) as the value of k. On failure *why says
 * what is wrong ("too long ...") or stays "" for a plain type mismatch. */
static int set_value(pg_config *c, const cfg_key *k, const char *s, size_t len,
                     char *why, size_t whyn) {
    char *p = (char *)c + k->off;
    long long ll;
    why[0] = '\0';
    switch (k->type) {
    case CFG_STR:
        if (len >= k->size) {
            snprintf(why, whyn, "is too long (%zu bytes, at most %zu)", len, k->size - 1);
            return -1;
        }
        memcpy(p, s, len);
        p[len] = '\0';
        return 0;
    case CFG_INT:
        if (parse_ll(s, INT_MIN, INT_MAX, &ll) < 0) return -1;
        *(int *)p = (int)ll;
        return 0;
    case CFG_LONG:
        if (parse_ll(s, LONG_MIN, LONG_MAX, &ll) < 0) return -1;
        *(long *)p = (long)ll;
        return 0;
    case CFG_U64: return parse_u64(s, (uint64_t *)p);
    case CFG_DBL: return parse_double(s, (double *)p);
    case CFG_BOOL: return parse_bool(s, (int *)p);
    case CFG_LISTEN: {
        pg_err le;
        if (pg_config_listen(c, s, &le) == 0) return 0;
        /* le.message is "invalid listen address 'x': reason"; keep the reason */
        const char *r = strstr(le.message, "': ");
        char sv[80];
        snprintf(why, whyn, "wants HOST:PORT, got '%s'", shown(s, len, sv, sizeof sv));
        if (r) snprintf(why + strlen(why), whyn - strlen(why), " (%s)", r + 3);
        return -1;
    }
    }
    return -1;
}

/* Range/choice check of k's current value in c. On failure writes
 * "invalid value for 'k': V (expected)" to msg. */
static int check_value(const pg_config *c, const cfg_key *k, char *msg, size_t n) {
    const char *p = (const char *)c + k->off;
    char v[96], sv[80];
    double x;
    if (k->type == CFG_STR) {
        if (!k->choices) return 0;
        size_t kl = strlen(p);
        for (const char *q = k->choices;; q++) {
            size_t ql = strcspn(q, "|");
            if (ql == kl && strncmp(q, p, kl) == 0) return 0;
            q += ql;
            if (!*q) break;
        }
        char list[96];
        size_t o = 0;
        for (const char *q = k->choices; *q && o + 3 < sizeof list; q++) {
            if (*q == '|') { list[o++] = ','; list[o++] = ' '; }
            else list[o++] = *q;
        }
        list[o] = '\0';
        snprintf(msg, n, "invalid value for '%s': '%s' (%s)", k->name, shown(p, kl, sv, sizeof sv), list);
        return -1;
    }
    switch (k->type) {
    case CFG_INT: x = *(const int *)p; snprintf(v, sizeof v, "%d", *(const int *)p); break;
    case CFG_LONG: x = (double)*(const long *)p; snprintf(v, sizeof v, "%ld", *(const long *)p); break;
    case CFG_DBL: x = *(const double *)p; snprintf(v, sizeof v, "%g", x); break;
    default: return 0;
    }
    switch (k->check) {
    case CK_NONE: return 0;
    case CK_GE: if (x >= k->lo) return 0; snprintf(msg, n, "invalid value for '%s': %s (wants >= %g)", k->name, v, k->lo); return -1;
    case CK_GT: if (x > k->lo) return 0; snprintf(msg, n, "invalid value for '%s': %s (wants > %g)", k->name, v, k->lo); return -1;
    case CK_IN: if (x >= k->lo && x <= k->hi) return 0; snprintf(msg, n, "invalid value for '%s': %s (wants %g..%g)", k->name, v, k->lo, k->hi); return -1;
    }
    return 0;
}

void pg_config_defaults(pg_config *c) {
    char why[128];
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < NKEYS; i++) {
        int rc = set_value(c, &keys[i], keys[i].def, strlen(keys[i].def), why, sizeof why);
        assert(rc == 0);    /* a default that does not parse is a bug in the table */
        (void)rc;
    }
}

int pg_config_env(pg_config *c, pg_err *e) {
    const char *tok = getenv("PODGYM_TOKEN");
    if (!tok || !*tok) return 0;
    if (strlen(tok) >= sizeof c->auth_token)
        return cfg_fail(e, "podgym: PODGYM_TOKEN is too long (%zu bytes, at most %zu)", strlen(tok),
                        sizeof c->auth_token - 1);
    snprintf(c->auth_token, sizeof c->auth_token, "%s", tok);
    return 0;
}

/* ---- pg_config_listen -------------------------------------------------- */

int pg_config_listen(pg_config *c, const char *hostport, pg_err *e) {
    return pg_config_hostport(hostport, c->listen_host, sizeof c->listen_host, &c->listen_port, e);
}

int pg_config_hostport(const char *hostport, char *out_host, size_t hostn, int *out_port, pg_err *e) {
    char sv[80];
    const char *s = hostport ? hostport : "";
    const char *host = "127.0.0.1", *port;
    size_t hl = strlen(host);
#define BAD(why) cfg_fail(e, "invalid listen address '%s': %s", shown(s, strlen(s), sv, sizeof sv), why)
    if (s[0] == '[') {                          /* [v6]:PORT */
        const char *rb = strchr(s, ']');
        if (!rb || rb[1] != ':') return BAD("wants [ADDR]:PORT");
        host = s + 1;
        hl = (size_t)(rb - host);
        port = rb + 2;
        if (hl == 0) return BAD("empty address");
    } else {
        const char *colon = strrchr(s, ':');
        if (colon && memchr(s, ':', (size_t)(colon - s))) return BAD("an IPv6 address needs brackets: [ADDR]:PORT");
        if (colon) {
            port = colon + 1;
            if (colon > s) { host = s; hl = (size_t)(colon - s); }
        } else {
            port = s;                           /* bare PORT */
        }
    }
    for (size_t i = 0; i < hl; i++) {
        unsigned char ch = (unsigned char)host[i];
        if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '%'))
            return BAD("bad character in host");
    }
    if (hl >= hostn) return BAD("host is too long");
    long long p;
    if (!*port || !isdigit((unsigned char)*port) || parse_ll(port, 0, 65535, &p) < 0)
        return BAD("port must be a number in 0..65535");
    memcpy(out_host, host, hl);
    out_host[hl] = '\0';
    *out_port = (int)p;
    return 0;
#undef BAD
}

/* ---- reading the file -------------------------------------------------- */

typedef struct cfg_reader {
    yaml_document_t *doc;
    const char *path;
    pg_config *c;
    pg_err *e;
} cfg_reader;

static unsigned long line_of(const yaml_node_t *n) { return (unsigned long)n->start_mark.line + 1; }

static int is_null(const yaml_node_t *n) {
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *got(const yaml_node_t *n, char *buf, size_t len) {
    if (n->type == YAML_MAPPING_NODE) return "a mapping";
    if (n->type == YAML_SEQUENCE_NODE) return "a list";
    char sv[80];
    snprintf(buf, len, "'%s'", shown((const char *)n->data.scalar.value, n->data.scalar.length, sv, sizeof sv));
    return buf;
}

/* The closest known name next to key under prefix, as a dotted name in
 * out, or "" when none is close (a typo costs at most two edits). */
static void suggest(const char *prefix, const char *key, char *out, size_t n) {
    size_t pl = prefix ? strlen(prefix) : 0, best = 3, kl = strlen(key);
    out[0] = '\0';
    for (size_t i = 0; i < NKEYS; i++) {
        const char *name = keys[i].name;
        if (pl && (strncmp(name, prefix, pl) != 0 || name[pl] != '.')) continue;
        const char *leaf = pl ? name + pl + 1 : name;
        size_t ll = strcspn(leaf, ".");
        size_t d = names_distance(key, leaf, ll);
        if (d < best && d < kl) {
            best = d;
            snprintf(out, n, "%s%s%.*s", pl ? prefix : "", pl ? "." : "", (int)ll, leaf);
        }
    }
}

static int unknown_key(cfg_reader *r, const yaml_node_t *kn, const yaml_node_t *vn,
                       const char *prefix, const char *key, const char *full) {
    char sv[80], hint[160] = "", near[128];
    const char *what = vn->type == YAML_MAPPING_NODE && !prefix ? "section" : "key";
    const char *dot = strchr(key, '.');
    if (dot && (find_key(full) || is_section(full)))
        snprintf(hint, sizeof hint, " (nest it: %.*s: {%s: ...})", (int)(dot - key), key, dot + 1);
    else {
        suggest(prefix, key, near, sizeof near);
        if (*near) snprintf(hint, sizeof hint, " (did you mean '%s'?)", near);
    }
    return cfg_fail(r->e, "%s:%lu: unknown %s '%s'%s", r->path, line_of(kn), what,
                    shown(full, strlen(full), sv, sizeof sv), hint);
}

static int read_value(cfg_reader *r, const cfg_key *k, const yaml_node_t *vn) {
    char buf[96], why[256], msg[sizeof r->e->message];
    if (vn->type != YAML_SCALAR_NODE)
        return cfg_fail(r->e, "%s:%lu: key '%s' wants %s, got %s", r->path, line_of(vn), k->name,
                        type_name(k->type), got(vn, buf, sizeof buf));
    const char *s = (const char *)vn->data.scalar.value;
    size_t len = vn->data.scalar.length;
    if (strlen(s) != len)
        return cfg_fail(r->e, "%s:%lu: key '%s' contains a NUL byte", r->path, line_of(vn), k->name);
    if (k->type == CFG_STR && is_null(vn)) {    /* `token:` or `token: ~` = "" */
        s = "";
        len = 0;
    }
    if (set_value(r->c, k, s, len, why, sizeof why) < 0) {
        if (*why)
            return cfg_fail(r->e, "%s:%lu: key '%s' %s", r->path, line_of(vn), k->name, why);
        return cfg_fail(r->e, "%s:%lu: key '%s' wants %s, got %s", r->path, line_of(vn), k->name,
                        type_name(k->type), got(vn, buf, sizeof buf));
    }
    if (check_value(r->c, k, msg, sizeof msg) < 0)
        return cfg_fail(r->e, "%s:%lu: %s", r->path, line_of(vn), msg);
    return 0;
}

/* Read the mapping map whose keys sit under prefix (NULL at the top). */
static int read_mapping(cfg_reader *r, const yaml_node_t *map, const char *prefix) {
    yaml_node_pair_t *first = map->data.mapping.pairs.start, *top = map->data.mapping.pairs.top;
    char full[256], sv[80], buf[96];
    for (yaml_node_pair_t *pair = first; pair < top; pair++) {
        yaml_node_t *kn = yaml_document_get_node(r->doc, pair->key);
        yaml_node_t *vn = yaml_document_get_node(r->doc, pair->value);
        if (!kn || !vn) continue;
        if (kn->type != YAML_SCALAR_NODE)
            return cfg_fail(r->e, "%s:%lu: a key must be a plain name, got %s", r->path, line_of(kn),
                            got(kn, buf, sizeof buf));
        const char *key = (const char *)kn->data.scalar.value;
        snprintf(full, sizeof full, "%s%s%s", prefix ? prefix : "", prefix ? "." : "", key);
        for (yaml_node_pair_t *q = first; q < pair; q++) {
            yaml_node_t *qk = yaml_document_get_node(r->doc, q->key);
            if (qk && qk->type == YAML_SCALAR_NODE && strcmp((const char *)qk->data.scalar.value, key) == 0)
                return cfg_fail(r->e, "%s:%lu: duplicate key '%s' (first at line %lu)", r->path,
                                line_of(kn), shown(full, strlen(full), sv, sizeof sv), line_of(qk));
        }
        const cfg_key *k = strchr(key, '.') ? NULL : find_key(full);
        if (k) {
            if (read_value(r, k, vn) < 0) return -1;
        } else if (!strchr(key, '.') && is_section(full)) {
            if (vn->type == YAML_MAPPING_NODE) {
                if (read_mapping(r, vn, full) < 0) return -1;
            } else if (!is_null(vn)) {      /* `sim:` with nothing below is an empty section */
                return cfg_fail(r->e, "%s:%lu: '%s' is a section and wants a mapping, got %s", r->path,
                                line_of(vn), full, got(vn, buf, sizeof buf));
            }
        } else {
            return unknown_key(r, kn, vn, prefix, key, full);
        }
    }
    return 0;
}

static int syntax_error(const yaml_parser_t *p, FILE *f, const char *path, pg_err *e) {
    const char *problem = p->problem ? p->problem : "cannot parse";
    unsigned long line = (unsigned long)p->problem_mark.line + 1;
    if (p->error == YAML_READER_ERROR) {        /* bad encoding: only a byte offset is known */
        line = 1;
        rewind(f);
        for (size_t i = 0; i < p->problem_offset; i++) {
            int ch = getc(f);
            if (ch == EOF) break;
            line += ch == '\n';
        }
    }
    if (p->context)
        return cfg_fail(e, "%s:%lu: YAML syntax error: %s (%s at line %lu)", path, line, problem,
                        p->context, (unsigned long)p->context_mark.line + 1);
    return cfg_fail(e, "%s:%lu: YAML syntax error: %s", path, line, problem);
}

int pg_config_load(pg_config *c, const char *path, pg_err *e) {
    struct stat st;
    if (strlen(path) >= sizeof c->path) return cfg_fail(e, "%s: cannot open: file name too long", path);
    FILE *f = fopen(path, "rb");
    if (!f) return cfg_fail(e, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return cfg_fail(e, "%s: cannot open: %s", path, strerror(EISDIR));
    }
    snprintf(c->path, sizeof c->path, "%s", path);

    yaml_parser_t parser;
    yaml_document_t doc;
    int rc = -1;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return cfg_fail(e, "%s: cannot read: out of memory", path);
    }
    yaml_parser_set_input_file(&parser, f);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&parser, f, path, e);
        goto out;
    }
    cfg_reader r = { &doc, path, c, e };
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    char buf[96];
    if (!root || is_null(root)) rc = 0;                 /* empty file: all defaults */
    else if (root->type == YAML_MAPPING_NODE) rc = read_mapping(&r, root, NULL);
    else rc = cfg_fail(e, "%s:%lu: wants a mapping of settings at the top level, got %s", path,
                       line_of(root), got(root, buf, sizeof buf));
    int had_root = root != NULL;
    yaml_document_delete(&doc);
    if (rc == 0 && had_root) {                          /* a second document is a mistake */
        if (!yaml_parser_load(&parser, &doc)) {
            rc = syntax_error(&parser, f, path, e);
        } else {
            yaml_node_t *more = yaml_document_get_root_node(&doc);
            if (more)
                rc = cfg_fail(e, "%s:%lu: more than one YAML document", path,
                              (unsigned long)doc.start_mark.line + 1);
            yaml_document_delete(&doc);
        }
    }
out:
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* ---- validation --------------------------------------------------------- */

int pg_config_validate(const pg_config *c, pg_err *e) {
    char msg[sizeof e->message];
    for (size_t i = 0; i < NKEYS; i++)
        if (check_value(c, &keys[i], msg, sizeof msg) < 0) return cfg_fail(e, "podgym: %s", msg);
    if (c->listen_port < 0 || c->listen_port > 65535)
        return cfg_fail(e, "podgym: invalid value for 'listen': port %d (wants 0..65535)", c->listen_port);
    if (!c->listen_host[0])
        return cfg_fail(e, "podgym: invalid value for 'listen': empty host");
    if (c->load.duration_s > c->load.max_duration_s)
        return cfg_fail(e, "podgym: invalid value for 'load.duration_s': %g (wants <= load.max_duration_s = %g)",
                        c->load.duration_s, c->load.max_duration_s);
    if (!strcmp(c->sim.workload.kind, "trace") && !c->sim.workload.trace[0])
        return cfg_fail(e, "podgym: invalid value for 'sim.workload.trace': '' (wants a CSV file when sim.workload.kind is trace)");
    if (!c->load.method[0] || strspn(c->load.method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(c->load.method))
        return cfg_fail(e, "podgym: invalid value for 'load.method': '%s' (wants an HTTP method such as GET)",
                        c->load.method);
    if (c->facade.listen[0]) {
        pg_err le;
        char host[PG_NAME_MAX];
        int port;
        if (pg_config_hostport(c->facade.listen, host, sizeof host, &port, &le) < 0)
            return cfg_fail(e, "podgym: invalid value for 'facade.listen': %s", le.message);
    }
    if (!c->facade.tls.cert[0] != !c->facade.tls.key[0])
        return cfg_fail(e, "podgym: invalid value for '%s': '' (wants a PEM file when %s is set)",
                        c->facade.tls.cert[0] ? "facade.tls.key" : "facade.tls.cert",
                        c->facade.tls.cert[0] ? "facade.tls.cert" : "facade.tls.key");
    if (!c->tls.cert[0] != !c->tls.key[0])
        return cfg_fail(e, "podgym: invalid value for '%s': '' (wants a PEM file when %s is set)",
                        c->tls.cert[0] ? "tls.key" : "tls.cert", c->tls.cert[0] ? "tls.cert" : "tls.key");
    static const struct { const char *name; size_t off; } pems[] = {
        { "tls.cert", offsetof(pg_config, tls.cert) },
        { "tls.key", offsetof(pg_config, tls.key) },
        { "facade.tls.cert", offsetof(pg_config, facade.tls.cert) },
        { "facade.tls.key", offsetof(pg_config, facade.tls.key) },
    };
    for (size_t i = 0; i < sizeof pems / sizeof pems[0]; i++) {
        const char *p = (const char *)c + pems[i].off;
        if (!p[0]) continue;
        char sv[80];
        struct stat st;
        FILE *f = fopen(p, "rb");
        int err = !f ? errno : fstat(fileno(f), &st) < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
        if (f) fclose(f);
        if (err)
            return cfg_fail(e, "podgym: invalid value for '%s': '%s' (cannot read: %s)", pems[i].name,
                            shown(p, strlen(p), sv, sizeof sv), strerror(err));
    }
    static const struct { const char *name; size_t off; } dirs[] = {
        { "data_dir", offsetof(pg_config, data_dir) },
        { "scripts", offsetof(pg_config, scripts) },
        { "policies", offsetof(pg_config, policies) },
    };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
        if (!((const char *)c + dirs[i].off)[0])
            return cfg_fail(e, "podgym: invalid value for '%s': '' (wants a directory)", dirs[i].name);
    return 0;
}
