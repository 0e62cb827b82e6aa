/* serve.h: the HTTP handler that runs Lua routes (http_handler signature). */
#ifndef PG_SERVE_H
#define PG_SERVE_H

#include "server/http.h"

/* ud is the pg_engine. */
void pg_serve_request(void *ud, http_req *req, http_resp *resp);
/* After a response has gone out (http_after signature). */
void pg_serve_after(void *ud);

#endif
