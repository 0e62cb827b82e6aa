/* utf8.h: well-formed UTF-8, for everything podgym writes as JSON (the
 * encoder behind json.encode and route bodies, the server's error bodies).
 * An ill-formed sequence is replaced by U+FFFD, one for each maximal
 * subpart (Unicode's recommended practice, as WHATWG and Python decode). */
#ifndef PG_UTF8_H
#define PG_UTF8_H

#include <stddef.h>

#include "base/buf.h"

/* The sequence at s (n >= 1 bytes left): its length (1 to 4) when it is
 * well-formed, else minus the length of its maximal ill-formed subpart
 * (the bytes one U+FFFD stands for: -1 to -3). */
int pg_utf8_next(const char *s, size_t n);

/* Append s[0..n) to b with every ill-formed subpart replaced by U+FFFD. */
void pg_utf8_repair(pg_buf *b, const char *s, size_t n);

#endif
