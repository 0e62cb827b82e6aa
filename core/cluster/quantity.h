/* quantity.h: Kubernetes resource quantities ("250m", "512Mi", "1e3").
 *
 * The grammar is the one of k8s.io/apimachinery resource.Quantity:
 *   [+-] digits [. digits] suffix
 * where suffix is a binary SI unit (Ki Mi Gi Ti Pi Ei), a decimal SI unit
 * (n u m "" k M G T P E) or a decimal exponent (e3, E-2). Whitespace is
 * not allowed anywhere. The value is returned as a double in base units
 * (cores for cpu, bytes for memory). */
#ifndef PG_QUANTITY_H
#define PG_QUANTITY_H

#include "base/err.h"

/* Parse s into *out. On failure returns -1 with e filled (status 400,
 * code "bad_quantity"); *out is left unchanged. */
int k8s_quantity(const char *s, double *out, pg_err *e);

#endif
