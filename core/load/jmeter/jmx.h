/* jmx.h: import a JMeter test plan (.jmx) to run it on the native generator.
 *
 * The subset the thesis' plan uses, read with expat:
 *   Thread Group      threads, ramp-up, loops (main Loop Controller),
 *                     scheduler duration; nested Loop Controllers multiply
 *                     the loops, Simple Controllers are transparent
 *   timers            Constant Throughput Timer (samples/min -> rate; mode
 *                     "this thread only" multiplies by the threads),
 *                     Constant Timer (think time)
 *   HTTP sampler      domain, port, protocol, path (or a full URL), method,
 *                     keep-alive, follow redirects, timeouts, raw body,
 *                     query/form arguments, multipart file upload
 *   config            HTTP Request Defaults, HTTP Header Manager, User
 *                     Defined Variables
 *   properties        ${__P(name,default)}, ${__property(name,,default)}
 *                     from the props given, and ${var} from the plan's
 *                     variables
 * Anything else that could change the numbers (assertions, other timers,
 * extractors, unknown elements) is reported by name in the warnings;
 * listeners are ignored. What the native generator cannot run at all (no
 * HTTP sampler, two samplers, another kind of sampler, a sampler inside an
 * If/While/... controller, an endless loop without a duration) is an
 * error, never a silently different test. */
#ifndef PG_JMX_H
#define PG_JMX_H

#include <stddef.h>

#include "base/err.h"
#include "load/load.h"
#include "load/sample.h"

typedef struct jmx_prop {       /* a -Jname=value property */
    const char *name;
    const char *value;
} jmx_prop;

typedef struct jmx_plan {
    ld_plan plan;               /* plan.label points to label; timeout_s 0 = not in the plan */
    load_target target;         /* owned; load_target_free'd by jmx_plan_free */
    char name[128];             /* TestPlan testname */
    char thread_group[128];     /* ThreadGroup testname */
    char label[128];            /* HTTP sampler testname: the samples' label */
    double throughput_per_min;  /* Constant Throughput Timer, 0 = none */
    int calc_mode;              /* its calcMode */
    char **warnings;            /* owned */
    size_t nwarnings;
} jmx_plan;

/* Read path into out (zeroed first). Errors: 404 when the file does not
 * exist, 400 when it is not XML or not a plan the generator can run. */
int jmx_import(const char *path, const jmx_prop *props, size_t nprops, jmx_plan *out, pg_err *e);
void jmx_plan_free(jmx_plan *p);

#endif
