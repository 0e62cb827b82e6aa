/* client.h: the Kubernetes REST client (libcurl, jansson).
 *
 * One client per API server. Calls are thread-safe: easy handles live in a
 * small pool, a call takes one and puts it back, so its connection (TLS
 * session included) is reused by the next call on any thread. Every call
 * has a timeout (kube.timeout_s). A call answered 409, 429 (after its
 * Retry-After), 5xx, or not at all (refused, reset, timed out) is tried
 * again, at most kube.retries times, with jittered exponential back-off
 * (100 ms doubling, capped at 2 s). Errors name the server:
 *   401, 403            502 backend_auth  "the token was refused by https://..."
 *   TLS verification    502 backend_tls   "certificate verify failed for https://..."
 *   unreachable         503 backend_unavailable "cannot reach https://..."
 *   no answer in time   504 backend_timeout
 *   5xx/409/429 still   502 backend_error / 503 backend_unavailable
 * The bearer token goes in a header built per call and never logged. */
#ifndef PG_KUBE_CLIENT_H
#define PG_KUBE_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#include "base/err.h"
#include "cluster/kube/kubeconfig.h"

/* The HTTP methods and resources the client calls, for the RBAC Role of
 * examples/kubernetes (tests/e2e/test_kube_manifests.py reads this table). */
#define K8S_RBAC_TABLE                                                                            \
    /* group, resource, verbs */                                                                  \
    X("", "pods", "get list watch delete")                                                        \
    X("apps", "deployments", "get")                                                               \
    X("apps", "deployments/scale", "get patch")                                                   \
    X("metrics.k8s.io", "pods", "get list")

typedef struct k8s_client k8s_client;

typedef struct k8s_resp {
    long status;                /* HTTP status */
    char *body;                 /* malloc'ed, NUL-terminated; NULL when empty */
    size_t len;
    char ctype[96];
    int attempts;               /* 1 + the retries it took */
} k8s_resp;

/* A client for a->server; takes ownership of what a holds (a is zeroed).
 * insecure (kube.insecure) adds to a->insecure. */
k8s_client *k8s_client_new(k8s_auth *a, double timeout_s, int retries, int insecure, pg_err *e);
void k8s_client_free(k8s_client *c);
const char *k8s_client_server(const k8s_client *c);

/* method path (from the server's root, "/api/v1/..."), with body (may be
 * NULL) of content type ctype. 0 with *r filled for any final answer
 * (every status but the retried ones, which end as errors); -1 with e
 * filled otherwise. k8s_resp_free frees r's body. */
int k8s_call(k8s_client *c, const char *method, const char *path, const char *ctype, const char *body,
             k8s_resp *r, pg_err *e);
void k8s_resp_free(k8s_resp *r);

/* k8s_call wanting a 2xx JSON object in *out (the caller json_decref's
 * it). A 404 is 404 not_found; other statuses are backend_error naming the
 * Status message. */
int k8s_json(k8s_client *c, const char *method, const char *path, const char *ctype, const char *body,
             json_t **out, pg_err *e);

/* A watch (or any streamed GET): each line of the body goes to on_line;
 * on_tick runs every tick_s seconds without data. Either returning
 * non-zero stops it. Returns 1 stopped, 0 the server ended the stream,
 * 2 the monotonic deadline passed, -1 an error (e filled: a status other
 * than 200, a dropped connection). */
typedef int (*k8s_line_fn)(void *ud, const char *line, size_t len);
typedef int (*k8s_idle_fn)(void *ud);
int k8s_stream(k8s_client *c, const char *path, double deadline, double tick_s, k8s_line_fn on_line,
               k8s_idle_fn on_tick, void *ud, pg_err *e);

/* s percent-encoded for a query value, into out. */
void k8s_query_escape(const char *s, char *out, size_t n);

#endif
