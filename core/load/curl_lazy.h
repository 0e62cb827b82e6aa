/* curl_lazy.h: libcurl is opened on the first curl_* call (curl_lazy.c),
 * not linked, so a process that never needs it never maps it. */
#ifndef PG_CURL_LAZY_H
#define PG_CURL_LAZY_H

/* Open libcurl now if it is not open yet: 1 when it is usable, else 0 (the
 * reason was logged). Safe from any thread. */
int pg_curl_loaded(void);

/* Why libcurl could not be opened ("" when it is open). */
const char *pg_curl_error(void);

#endif
