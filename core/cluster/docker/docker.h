/* docker.h: the docker backend, the target Deployment as labelled
 * containers on a Docker daemon.
 *
 * Pods are containers labelled podgym.deployment=<target.deployment> and
 * podgym.managed=true; podgym lists, stops and removes no other container.
 * The desired replica count lives in the daemon: a state container (created,
 * never started, from a scratch image) of the same labels plus
 * podgym.role=state, whose name ends in ".r<count>"; a scale renames it
 * (atomic) before it creates or removes a container, so a podgym killed in
 * the middle of a scale reads the count back, adopts what exists and
 * completes the scale on its next start.
 *
 * A cache of the pods follows the daemon's /events stream (filtered by the
 * labels; every event re-inspects its container), so pods() and metrics()
 * make no Docker call. A readiness prober (HTTP GET of docker.readiness on
 * the replica's port) and one stats stream per running container (metrics
 * as metrics-server makes them: a sample per resolution, values over the
 * window, none before the first full window) feed the same cache; waits
 * sleep on a condition variable that all three signal.
 *
 * Replica slot i (the lowest free) serves on port_base + i: PORT in its
 * environment and {port} in docker.command say so; with network: bridge the
 * port is published on 127.0.0.1. A create that the daemon answers 404 "No
 * such image" leaves a pod without a container, ErrImagePull and then
 * ImagePullBackOff, retried with a back-off. The daemon gone: every call
 * is 503 backend_unavailable naming the socket until the events stream
 * connects again (then the cache is listed afresh). */
#ifndef PG_DOCKER_H
#define PG_DOCKER_H

#include "base/err.h"
#include "cluster/backend.h"
#include "cluster/docker/client.h"
#include "config/config.h"

typedef struct dock_backend dock_backend;

pg_backend *dock_backend_new(const pg_config *cfg, pg_err *e);

/* The docker backend of b, or NULL when b is another backend. */
dock_backend *dock_from_backend(pg_backend *b);

/* The backend's Engine API client (its socket and negotiated version). */
dock_client *dock_backend_client(dock_backend *d);

/* The pod template new replicas are made from: the docker section of the
 * config, changed at run time by dock_template_set (as `kubectl set image`
 * would; it lasts until podgym exits). cmd is a shell-like line. */
typedef struct dock_template {
    char image[PG_NAME_MAX];
    char command[PG_URL_MAX];
    char env[PG_URL_MAX];
} dock_template;
void dock_template_get(dock_backend *d, dock_template *t);
int dock_template_set(dock_backend *d, const dock_template *t, pg_err *e);

/* Split a command line into at most max words (single and double quotes,
 * backslash escapes), each {port} replaced by port. Returns the count, or
 * -1 on an unclosed quote or too many words. Words point into buf. */
int dock_split(const char *line, int port, char *buf, size_t blen, char **words, int max);

#endif
