/* stats.h: the engine's own counters, rendered in Prometheus text format. */
#ifndef PG_STATS_H
#define PG_STATS_H

#include <stddef.h>

/* Count one answered request: route template ("" when unmatched), status, duration. */
void pg_stats_request(const char *method, const char *route, int status, double seconds);
void pg_stats_lua_error(int timed_out);
void pg_stats_backend_call(const char *op, int failed);

/* Render every counter; extra lines (reload counters the runtime owns) are
 * appended by the caller. Returns a malloc'ed string the caller frees. */
char *pg_stats_render(size_t *len);

#endif
