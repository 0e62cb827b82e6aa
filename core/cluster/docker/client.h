/* client.h: the Docker Engine API over the daemon's unix socket.
 *
 * libcurl (CURLOPT_UNIX_SOCKET_PATH) and jansson. Every call has the
 * client's timeout; the API version is negotiated once, at dock_open, from
 * /_ping's Api-Version header (or /version's ApiVersion): the lower of the
 * daemon's and DOCK_CLIENT_API, and every path is prefixed "/v<version>".
 *
 * Errors: a daemon that does not answer (socket missing, refused, timed
 * out) is 503 "backend_unavailable" naming the socket; an answer >= 400 is
 * the daemon's own {"message"}: 404 "not_found", 409 "conflict", 400
 * "bad_request", anything else 502 "backend". The client is safe to share
 * between threads (each call makes its own curl handle). */
#ifndef PG_DOCK_CLIENT_H
#define PG_DOCK_CLIENT_H

#include <limits.h>
#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

#define DOCK_CLIENT_API "1.51"     /* the newest API this client speaks (Docker 28; 29 refuses below 1.44) */

typedef struct dock_client {
    char socket[PATH_MAX];
    char version[16];              /* negotiated, "1.41" */
    double timeout_s;
} dock_client;

/* The socket path cfg_socket names: itself, else $DOCKER_HOST (unix://),
 * else /var/run/docker.sock. -1 with e filled for a non-unix DOCKER_HOST. */
int dock_socket_path(const char *cfg_socket, char *out, size_t n, pg_err *e);

/* Fill c and negotiate the API version (a /_ping round trip). On failure c
 * is still usable for later calls: dock_negotiate retries. */
int dock_open(dock_client *c, const char *socket, double timeout_s, pg_err *e);
int dock_negotiate(dock_client *c, pg_err *e);

/* One call: method, path (without the version prefix, with its query),
 * body (NULL or JSON; not stolen). On 2xx: 0, *out the decoded body (NULL
 * when empty or not JSON; the caller decrefs). *status (may be NULL) gets
 * the HTTP status, 0 when the daemon did not answer. */
int dock_call(dock_client *c, const char *method, const char *path, json_t *body, long *status,
              json_t **out, pg_err *e);

/* As dock_call, but the body is raw bytes in and out (logs, image import):
 * *out is malloc'ed and NUL-terminated, *outlen its length. ctype names the
 * request body's type (NULL: application/json). */
int dock_call_raw(dock_client *c, const char *method, const char *path, const char *ctype,
                  const void *body, size_t blen, long *status, char **out, size_t *outlen, pg_err *e);

/* A stream of JSON lines (/events, /containers/{id}/stats): fn gets every
 * decoded line (borrowed) and returns non-zero to stop. opened (may be NULL)
 * is called once the daemon answered 200, before the first line; *fd (may
 * be NULL) holds the connection's socket while it runs, so another thread
 * may shutdown(2) it to end the stream at once. No timeout once opened.
 * Returns 0 when fn stopped it or the daemon ended it, -1 with e filled. */
typedef int (*dock_line_fn)(void *ud, json_t *line);
int dock_stream(dock_client *c, const char *path, dock_line_fn fn, void (*opened)(void *ud), void *ud,
                volatile int *fd, pg_err *e);

/* "{"label":["a=b","c=d"]}" for a filters= query, URL-encoded into out. */
int dock_label_filter(const char *const *labels, size_t n, const char *type, char *out, size_t len);

#endif
