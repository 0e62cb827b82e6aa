/* kube.h: the kube backend, a Deployment on a real Kubernetes API server.
 *
 * The Deployment's pods are found by its spec.selector (read once: it is
 * immutable in apps/v1); replicas are read and set through
 * deployments/scale (PATCH application/merge-patch+json); usage comes from
 * metrics.k8s.io/v1beta1; a wait lists the pods and then watches them from
 * the list's resourceVersion (a 410 Gone re-lists), so it returns as soon as
 * the event that completes it arrives. Pods reporting metrics are not a
 * watchable resource: a wait with metrics = true reads the metrics list
 * again on every pod event and every 0.25 s while the pods are there.
 * The clock is the wall clock; no load model (load.driver native or jmeter). */
#ifndef PG_KUBE_H
#define PG_KUBE_H

#include "cluster/backend.h"
#include "config/config.h"

/* The backend for cfg (kube.*, target.*). Reads the kubeconfig or the
 * service account, contacts nothing yet. Errors: status 2, code "backend". */
pg_backend *kube_backend_new(const pg_config *cfg, pg_err *e);

/* Is b the kube backend? */
int kube_is_backend(pg_backend *b);

/* A raw API call for k8s.request: method path (from the server's root)
 * with body (NULL = none; PATCH bodies are merge patches). 0 with *status,
 * *body (malloc'ed, the caller frees) and ctype filled for any answer the
 * server gave; -1 with e when it gave none (after the retries). */
int kube_request(pg_backend *b, const char *method, const char *path, const char *body, long *status,
                 char **resp, size_t *len, char *ctype, size_t ctype_n, pg_err *e);

/* The namespace and the server it talks to (for messages and status). */
const char *kube_namespace(pg_backend *b);
const char *kube_server(pg_backend *b);

#endif
