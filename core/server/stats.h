/* stats.h: the engine's own counters, rendered in Prometheus text format. */
#ifndef PG_STATS_H
#define PG_STATS_H

#include <stddef.h>

/* Count one answered request: route template ("" when unmatched), status, duration. */
void pg_stats_request(const char *method, const char *route, int status, double seconds);
void pg_stats_lua_error(int timed_out);

/* The backend operations (backend.h) that the Lua k8s module calls, each a
 * podgym_backend_calls_total{op=...} series. */
typedef enum pg_backend_op {
    PG_OP_PODS, PG_OP_METRICS, PG_OP_REPLICAS, PG_OP_SCALE, PG_OP_DELETE_POD,
    PG_OP_WAIT, PG_OP_USAGE, PG_OP_SLEEP, PG_OP_REQUEST, PG_OP_COUNT
} pg_backend_op;

/* Count one backend operation, failed or not: a relaxed atomic add, no lock. */
void pg_stats_backend_call(pg_backend_op op, int failed);

/* Render every counter; extra lines (reload counters the runtime owns) are
 * appended by the caller. Returns a malloc'ed string the caller frees. */
char *pg_stats_render(size_t *len);

#endif
