/* facade.h: a Kubernetes API facade over any backend.
 *
 * The subset of the Kubernetes REST API that kubectl and the official
 * client libraries need to drive one Deployment (config target.namespace /
 * target.deployment): discovery, pods (list, get, status, delete, watch),
 * deployments (list, get, watch), deployments/scale (get, PUT, PATCH),
 * metrics.k8s.io PodMetrics, server-side Tables, Status errors and health
 * endpoints. It reads and changes the cluster only through pg_backend_ops,
 * so it serves the sim and docker backends alike; watches follow the
 * backend's `changes` op when it has one, else a short poll.
 *
 * Objects get resourceVersions from one counter the facade keeps: every
 * change it observes in the backend's pods or replicas is an event (ADDED,
 * MODIFIED, DELETED) kept in a bounded history, so a watch can resume from
 * a resourceVersion the history still covers (older: 410 Gone).
 *
 * Faults for tests (kfault.h): a request matching a rule gets a status
 * (409, 429 with Retry-After, 500, ...), a delay, or its connection
 * dropped, for the next `times` matching requests. They are set over the
 * facade's own listener: PUT /podgym/v1/faults (see README). */
#ifndef PG_FACADE_H
#define PG_FACADE_H

#include <stddef.h>

#include "cluster/backend.h"

typedef struct kf_facade kf_facade;

typedef struct kf_opts {
    const char *host;           /* listen address; "127.0.0.1" when NULL */
    int port;                   /* 0 = any free port */
    const char *tls_cert;       /* PEM files: both set = HTTPS */
    const char *tls_key;
    const char *token;          /* bearer token every request but health needs; NULL/"" = none */
    const char *ns;             /* the namespace of the Deployment */
    const char *deployment;     /* its name */
    const char *node;           /* spec.nodeName of its pods */
    long body_bytes;            /* larger request bodies: 413 */
    int connections;
    double timeout_s;           /* per connection phase (a watch is exempt while it streams) */
} kf_opts;

/* Start serving b (not owned; it must outlive the facade). NULL with err
 * filled when it cannot listen or read the TLS files. */
kf_facade *kf_start(pg_backend *b, const kf_opts *o, char *err, size_t errlen);
int kf_port(const kf_facade *f);
int kf_tls(const kf_facade *f);
/* Ends every watch, then stops listening. NULL is fine. */
void kf_stop(kf_facade *f);

#endif
