/* kubeconfig.c: kubeconfig files (libyaml) and the in-cluster service
 * account (see kubeconfig.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "cluster/kube/kubeconfig.h"
#include "base/file.h"

#define KC_MAX_FILES 16
#define KC_PEM_MAX (1u << 20)       /* a CA bundle, a certificate or a key */

/* A kubeconfig that cannot be used stops the start: status 2, as a bad config. */
#define kc_fail(e, ...) pg_errf(e, 2, "backend", __VA_ARGS__)

static void wipe(void *p, size_t n) {
    volatile unsigned char *v = p;
    while (n--) *v++ = 0;
}

static void blob_free(k8s_blob *b, int secret) {
    if (b->p && secret) wipe(b->p, b->len);
    free(b->p);
    b->p = NULL;
    b->len = 0;
}

void k8s_auth_free(k8s_auth *a) {
    if (!a) return;
    if (a->token) {
        wipe(a->token, strlen(a->token));
        free(a->token);
        a->token = NULL;
    }
    blob_free(&a->ca, 0);
    blob_free(&a->cert, 0);
    blob_free(&a->key, 1);
}

/* ---- base64 ------------------------------------------------------------ */

static int b64_value(unsigned char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+') return 62;
    if (ch == '/') return 63;
    return -1;
}

int k8s_base64_decode(const char *s, size_t len, k8s_blob *out) {
    unsigned char *p = malloc(len / 4 * 3 + 3);
    if (!p) return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
        if (ch == '=') { pad++; continue; }
        int v = b64_value(ch);
        if (v < 0 || pad) goto bad;              /* a character after padding, or not base64 */
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            p[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (bits >= 6 || pad > 2) goto bad;          /* a lone sixth of a byte */
    out->p = p;
    out->len = o;
    return 0;
bad:
    wipe(p, len / 4 * 3 + 3);
    free(p);
    return -1;
}

/* ---- reading files ----------------------------------------------------- */

/* path relative to dir (the kubeconfig's folder) unless absolute. */
static void resolve(const char *dir, const char *path, char *out, size_t n) {
    int w = path[0] == '/' || !dir[0] ? snprintf(out, n, "%s", path) : snprintf(out, n, "%s/%s", dir, path);
    if (w < 0 || (size_t)w >= n) snprintf(out, n, "%s", "(file name too long)");
}

/* The whole file at path into b; what names the key in messages. */
static int read_blob(const char *what, const char *path, k8s_blob *b, pg_err *e) {
    pg_err fe = { 0 };
    size_t len = 0;
    char *p = pg_read_file(what, path, KC_PEM_MAX, &len, &fe);
    if (!p) return kc_fail(e, "%s", fe.message);
    b->p = (unsigned char *)p;
    b->len = len;
    return 0;
}

/* A token file's first line, trimmed (kubelet writes it without one). */
static char *read_token(const char *path, pg_err *e) {
    k8s_blob b = { 0 };
    if (read_blob("token file", path, &b, e) < 0) return NULL;
    size_t n = b.len;
    while (n && (b.p[n - 1] == '\n' || b.p[n - 1] == '\r' || b.p[n - 1] == ' ')) n--;
    b.p[n] = '\0';
    if (memchr(b.p, '\n', n) || !n) {
        blob_free(&b, 1);
        kc_fail(e, "token file %s: %s", path, n ? "more than one line" : "empty");
        return NULL;
    }
    return (char *)b.p;
}

/* ---- kubeconfig documents ------------------------------------------------ */

typedef struct kc_file {
    yaml_document_t doc;
    char path[PATH_MAX];
    char dir[PATH_MAX];
} kc_file;

typedef struct kc_set {
    kc_file f[KC_MAX_FILES];
    int n;
} kc_set;

static yaml_node_t *root_of(kc_file *f) { return yaml_document_get_root_node(&f->doc); }

/* The value of key in mapping m, or NULL. */
static yaml_node_t *map_get(kc_file *f, yaml_node_t *m, const char *key) {
    if (!m || m->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(&f->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(&f->doc, p->value);
    }
    return NULL;
}

/* A scalar's text, "" for anything else (a null, a mapping). */
static const char *scalar(yaml_node_t *n) {
    if (!n || n->type != YAML_SCALAR_NODE) return "";
    const char *s = (const char *)n->data.scalar.value;
    if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (!strcmp(s, "null") || !strcmp(s, "~"))) return "";
    return s;
}

static int truthy(yaml_node_t *n) {
    const char *s = scalar(n);
    return !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE");
}

/* The `inner` mapping of the entry named name in list `list` (clusters,
 * users, contexts), searched file by file: the first file wins. *from is
 * the file it was found in. */
static yaml_node_t *find_named(kc_set *s, const char *list, const char *inner, const char *name, kc_file **from) {
    for (int i = 0; i < s->n; i++) {
        yaml_node_t *l = map_get(&s->f[i], root_of(&s->f[i]), list);
        if (!l || l->type != YAML_SEQUENCE_NODE) continue;
        for (yaml_node_item_t *it = l->data.sequence.items.start; it < l->data.sequence.items.top; it++) {
            yaml_node_t *entry = yaml_document_get_node(&s->f[i].doc, *it);
            if (strcmp(scalar(map_get(&s->f[i], entry, "name")), name)) continue;
            *from = &s->f[i];
            yaml_node_t *v = map_get(&s->f[i], entry, inner);
            return v && v->type == YAML_MAPPING_NODE ? v : NULL;
        }
    }
    return NULL;
}

static int load_file(kc_file *f, const char *path, pg_err *e) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return kc_fail(e, "kubeconfig %s: cannot open: %s", path, strerror(errno));
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        fclose(fp);
        return kc_fail(e, "kubeconfig %s: out of memory", path);
    }
    yaml_parser_set_input_file(&p, fp);
    int ok = yaml_parser_load(&p, &f->doc);
    if (!ok)
        kc_fail(e, "kubeconfig %s:%lu: YAML syntax error: %s", path, (unsigned long)p.problem_mark.line + 1,
                p.problem ? p.problem : "cannot parse");
    yaml_parser_delete(&p);
    fclose(fp);
    if (!ok) return -1;
    yaml_node_t *r = root_of(f);
    if (r && r->type != YAML_MAPPING_NODE) {
        yaml_document_delete(&f->doc);
        return kc_fail(e, "kubeconfig %s: not a kubeconfig (wants a mapping at the top)", path);
    }
    snprintf(f->path, sizeof f->path, "%s", path);
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(f->dir, sizeof f->dir, "%.*s", (int)(slash - path), path);
    else if (!getcwd(f->dir, sizeof f->dir)) f->dir[0] = '\0';
    if (slash == path) snprintf(f->dir, sizeof f->dir, "/");
    return 0;
}

static void set_free(kc_set *s) {
    for (int i = 0; i < s->n; i++) yaml_document_delete(&s->f[i].doc);
    s->n = 0;
}

/* data (base64) or file (relative to the kubeconfig) of one PEM: data wins,
 * as in client-go. */
static int pem_of(kc_file *f, yaml_node_t *m, const char *key, k8s_blob *b, pg_err *e) {
    char dkey[64], path[PATH_MAX];
    snprintf(dkey, sizeof dkey, "%s-data", key);
    const char *data = scalar(map_get(f, m, dkey));
    if (*data) {
        if (k8s_base64_decode(data, strlen(data), b) < 0)
            return kc_fail(e, "kubeconfig %s: %s is not base64", f->path, dkey);
        return 0;
    }
    const char *file = scalar(map_get(f, m, key));
    if (!*file) return 0;
    resolve(f->dir, file, path, sizeof path);
    return read_blob(key, path, b, e);
}

static int copy_field(char *dst, size_t n, const char *src, const char *what, const char *path, pg_err *e) {
    if (strlen(src) >= n) return kc_fail(e, "kubeconfig %s: %s is too long", path, what);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

static int from_set(kc_set *s, const char *want_ctx, k8s_auth *a, pg_err *e) {
    const char *ctx = want_ctx && *want_ctx ? want_ctx : "";
    const char *where = s->n == 1 ? s->f[0].path : "the KUBECONFIG files";
    for (int i = 0; i < s->n && !*ctx; i++) ctx = scalar(map_get(&s->f[i], root_of(&s->f[i]), "current-context"));
    if (!*ctx) return kc_fail(e, "kubeconfig %s: no current-context (set kube.context)", where);
    kc_file *cf = NULL, *clf = NULL, *uf = NULL;
    yaml_node_t *c = find_named(s, "contexts", "context", ctx, &cf);
    if (!c) return kc_fail(e, "kubeconfig %s: no context named '%s'", where, ctx);
    const char *cluster = scalar(map_get(cf, c, "cluster")), *user = scalar(map_get(cf, c, "user"));
    if (copy_field(a->context, sizeof a->context, ctx, "the context name", cf->path, e) < 0 ||
        copy_field(a->ns, sizeof a->ns, scalar(map_get(cf, c, "namespace")), "the namespace", cf->path, e) < 0)
        return -1;
    snprintf(a->source, sizeof a->source, "%s", cf->path);

    yaml_node_t *cl = find_named(s, "clusters", "cluster", cluster, &clf);
    if (!cl) return kc_fail(e, "kubeconfig %s: context '%s' names cluster '%s', which is not there", cf->path, ctx, cluster);
    const char *server = scalar(map_get(clf, cl, "server"));
    if (!*server) return kc_fail(e, "kubeconfig %s: cluster '%s' has no server", clf->path, cluster);
    if (strncmp(server, "https://", 8) && strncmp(server, "http://", 7))
        return kc_fail(e, "kubeconfig %s: cluster '%s': server '%.200s' is not an http(s) URL", clf->path, cluster, server);
    if (copy_field(a->server, sizeof a->server, server, "server", clf->path, e) < 0) return -1;
    size_t sl = strlen(a->server);
    while (sl > 8 && a->server[sl - 1] == '/') a->server[--sl] = '\0';
    a->insecure = truthy(map_get(clf, cl, "insecure-skip-tls-verify"));
    if (copy_field(a->tls_server_name, sizeof a->tls_server_name, scalar(map_get(clf, cl, "tls-server-name")),
                   "tls-server-name", clf->path, e) < 0)
        return -1;
    if (pem_of(clf, cl, "certificate-authority", &a->ca, e) < 0) return -1;

    if (!*user) return 0;                       /* no credentials: anonymous */
    yaml_node_t *u = find_named(s, "users", "user", user, &uf);
    if (!u) return kc_fail(e, "kubeconfig %s: context '%s' names user '%s', which is not there", cf->path, ctx, user);
    const char *token = scalar(map_get(uf, u, "token")), *tfile = scalar(map_get(uf, u, "tokenFile"));
    if (*token) {
        if (!(a->token = strdup(token))) return kc_fail(e, "out of memory");
    } else if (*tfile) {
        resolve(uf->dir, tfile, a->token_file, sizeof a->token_file);
        if (!(a->token = read_token(a->token_file, e))) return -1;
    }
    if (map_get(uf, u, "exec") || map_get(uf, u, "auth-provider"))
        if (!a->token && !map_get(uf, u, "client-certificate") && !map_get(uf, u, "client-certificate-data"))
            return kc_fail(e, "kubeconfig %s: user '%s' uses an exec or auth-provider plugin, which podgym does not run "
                              "(give it a token, tokenFile or client certificate)", uf->path, user);
    if (pem_of(uf, u, "client-certificate", &a->cert, e) < 0 || pem_of(uf, u, "client-key", &a->key, e) < 0)
        return -1;
    if (!a->cert.p != !a->key.p)
        return kc_fail(e, "kubeconfig %s: user '%s' has a client %s without a client %s", uf->path, user,
                       a->cert.p ? "certificate" : "key", a->cert.p ? "key" : "certificate");
    return 0;
}

int k8s_kubeconfig_load(const char *files, int explicit_file, const char *context, k8s_auth *a, pg_err *e) {
    kc_set s;
    s.n = 0;
    memset(a, 0, sizeof *a);
    int rc = -1;
    char path[PATH_MAX];
    for (const char *p = files; *p;) {
        size_t l = explicit_file ? strlen(p) : strcspn(p, ":");
        if (l && l < sizeof path) {
            memcpy(path, p, l);
            path[l] = '\0';
            int dup = 0;
            for (int i = 0; i < s.n; i++) dup |= !strcmp(s.f[i].path, path);
            if (!dup && (explicit_file || access(path, F_OK) == 0)) {
                if (s.n == KC_MAX_FILES) { kc_fail(e, "KUBECONFIG: more than %d files", KC_MAX_FILES); goto out; }
                if (load_file(&s.f[s.n], path, e) < 0) goto out;
                s.n++;
            }
        }
        p += l;
        if (*p == ':') p++;
    }
    if (!s.n) {
        kc_fail(e, "KUBECONFIG: none of its files exists (%.300s)", files);
        goto out;
    }
    rc = from_set(&s, context, a, e);
out:
    set_free(&s);
    if (rc < 0) k8s_auth_free(a);
    return rc;
}

int k8s_incluster_load(const char *dir, k8s_auth *a, pg_err *e) {
    char path[PATH_MAX];
    memset(a, 0, sizeof *a);
    const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !*host || !port || !*port)
        return kc_fail(e, "no kubeconfig (kube.kubeconfig, KUBECONFIG, ~/.kube/config) and not in a cluster "
                          "(KUBERNETES_SERVICE_HOST/PORT are not set)");
    if (strspn(port, "0123456789") != strlen(port) || strlen(host) > 253)
        return kc_fail(e, "in-cluster: KUBERNETES_SERVICE_HOST/PORT are not a host and a port");
    snprintf(a->server, sizeof a->server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port);
    snprintf(a->source, sizeof a->source, "in-cluster");
    snprintf(a->token_file, sizeof a->token_file, "%s/token", dir);
    if (!(a->token = read_token(a->token_file, e))) goto fail;
    snprintf(path, sizeof path, "%s/ca.crt", dir);
    if (read_blob("service account ca.crt", path, &a->ca, e) < 0) goto fail;
    snprintf(path, sizeof path, "%s/namespace", dir);
    if (access(path, F_OK) == 0) {
        k8s_blob ns = { 0 };
        if (read_blob("service account namespace", path, &ns, e) < 0) goto fail;
        size_t n = strcspn((char *)ns.p, " \r\n");
        if (n < sizeof a->ns) snprintf(a->ns, sizeof a->ns, "%.*s", (int)n, (char *)ns.p);
        blob_free(&ns, 0);
    }
    return 0;
fail:
    k8s_auth_free(a);
    return -1;
}

int k8s_auth_load(const pg_kube_conf *kc, k8s_auth *a, pg_err *e) {
    if (kc->kubeconfig[0]) return k8s_kubeconfig_load(kc->kubeconfig, 1, kc->context, a, e);
    const char *env = getenv("KUBECONFIG");
    if (env && *env) return k8s_kubeconfig_load(env, 0, kc->context, a, e);
    const char *home = getenv("HOME");
    char path[PATH_MAX];
    if (home && *home && snprintf(path, sizeof path, "%s/.kube/config", home) < (int)sizeof path &&
        access(path, F_OK) == 0)
        return k8s_kubeconfig_load(path, 1, kc->context, a, e);
    return k8s_incluster_load(kc->serviceaccount_dir, a, e);
}

int k8s_auth_reread_token(k8s_auth *a) {
    if (!a->token_file[0]) return -1;
    pg_err e = { 0 };
    char *t = read_token(a->token_file, &e);
    if (!t) return -1;
    int same = a->token && !strcmp(a->token, t);
    if (a->token) {
        wipe(a->token, strlen(a->token));
        free(a->token);
    }
    a->token = t;
    return same ? -1 : 0;
}
