/* jmrun.h: run the external JMeter CLI and read its results.
 *
 *   JMETER -n -t PLAN -l JTL -f -j LOG -Jname=value ...
 *
 * The child runs in its own process group with stdin from /dev/null and
 * its console output in LOG.out; after timeout_s it gets SIGTERM, then
 * SIGKILL 5 s later (the whole group: the jmeter script and its JVM). The
 * error of a failed run quotes the last lines of the logs. */
#ifndef PG_JMRUN_H
#define PG_JMRUN_H

#include <stddef.h>

#include "base/err.h"
#include "load/jmeter/jmx.h"
#include "load/sample.h"

typedef struct jmr_opts {
    const char *jmeter;         /* executable: a path, or a name looked up in PATH */
    const char *plan;
    const char *jtl;            /* results, overwritten */
    const char *log;            /* JMeter's log (-j); console output goes to LOG.out */
    const jmx_prop *props;      /* -Jname=value */
    size_t nprops;
    double timeout_s;           /* > 0 */
    double max_s;               /* timeout_s may not be longer (load.max_duration_s); 0 = no cap */
} jmr_opts;

/* Find the executable: 0 and its path in out, or -1 with status 503
 * ("jmeter_missing") naming what was looked for. */
int jmr_find(const char *jmeter, char *out, size_t n, pg_err *e);

/* Run JMeter and read the JTL it wrote into r (summarized). Errors: 400
 * bad timeout (not > 0, or over max_s), 404 plan not found, 400 bad
 * property, 503 JMeter missing, 502 JMeter failed or wrote no samples, 504
 * timeout. */
int jmr_run(const jmr_opts *o, ld_result *r, pg_err *e);

#endif
