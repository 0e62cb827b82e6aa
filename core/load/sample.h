/* sample.h: one load-test request, as JMeter records it in a JTL file, and
 * the plan/result types shared by every load driver (native generator,
 * JMeter CLI, simulated cluster). */
#ifndef PG_SAMPLE_H
#define PG_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ld_sample {
    int64_t ts_ms;              /* timeStamp: epoch ms of the intended send time */
    double elapsed_ms;          /* full response time (measured from ts_ms) */
    double latency_ms;          /* time to first byte (measured from ts_ms) */
    double connect_ms;          /* connection set-up, 0 when reused */
    int code;                   /* HTTP status; 0 when no response arrived */
    int success;                /* 2xx/3xx answered within the timeout */
    char message[48];           /* responseMessage: "OK", "timeout", "Connection refused" */
    long bytes;                 /* received, headers included */
    long sent_bytes;
    int thread;                 /* 1-based thread/connection number (threadName) */
    const char *label;          /* owned by the result (interned), may be NULL */
    const char *url;            /* owned by the result (interned), may be NULL */
} ld_sample;

typedef struct ld_stats {       /* over the samples that have a value */
    double mean, min, max, p50, p90, p95, p99;
} ld_stats;

typedef struct ld_summary {
    size_t count;
    size_t errors;              /* success == 0 */
    double drop_pct;            /* errors / count * 100; 0 when count == 0 */
    ld_stats elapsed;
    ld_stats latency;
    double throughput_rps;      /* count / duration_s */
    double duration_s;          /* first send to last completion */
    long bytes;
} ld_summary;

typedef struct ld_result {
    ld_sample *v;               /* owned; freed by ld_result_free */
    size_t n, cap;
    ld_summary sum;
    char **strings;             /* interned labels/urls, owned */
    size_t nstrings;
} ld_result;

/* What to run. Open loop when rate > 0 (arrivals at rate for duration_s),
 * closed loop otherwise (threads x loops, or threads for duration_s). */
typedef struct ld_plan {
    double rate;
    double duration_s;
    int threads;
    int loops;                  /* per thread; 0 = until duration_s */
    double ramp_s;
    double think_ms;
    double timeout_s;           /* per request */
    double max_duration_s;      /* the longest run allowed (load.max_duration_s), 0 = no cap: a plan
                                 * that would take longer is refused, and no request is sent after it */
    const char *label;
    int (*stop)(void *ud);      /* may be NULL; the sim's model of a test on a real-time clock
                                 * ends its wait early, 503 "interrupted", when this says so (Ctrl-C) */
    void *stop_ud;
} ld_plan;

/* Append a sample, growing v. Returns 0 or -1 on allocation failure. */
int ld_result_push(ld_result *r, const ld_sample *s);
/* Intern a string for label/url pointers; the pointer lives as long as r. */
const char *ld_result_intern(ld_result *r, const char *s);
/* Compute r->sum from r->v. */
void ld_summarize(ld_result *r);
void ld_result_free(ld_result *r);
/* Empty r for another run, keeping its memory: the sample array (up to
 * keep_samples) and the interned strings (up to 16). */
void ld_result_reset(ld_result *r, size_t keep_samples);

#endif
