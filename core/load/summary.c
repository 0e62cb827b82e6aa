/* summary.c: the sample list of a load test and its summary (sample.h).
 *
 * Percentiles follow JMeter's Aggregate Report (StatCalculator): the
 * p-th percentile of n sorted values is the value at rank round(n * p)
 * (rank 1 at least), and p >= 1 is the maximum. Values that are NaN
 * ("no value": a JTL without a Latency column) are left out; a statistic
 * over no value at all is NaN, never a made-up 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "load/sample.h"

int ld_result_push(ld_result *r, const ld_sample *s) {
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        ld_sample *v = realloc(r->v, cap * sizeof *v);
        if (!v) return -1;
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = *s;
    return 0;
}

/* Labels and URLs repeat: look back over the most recent strings before
 * adding one. Interning is about ownership, so a late duplicate is harmless. */
#define INTERN_LOOKBACK 64

const char *ld_result_intern(ld_result *r, const char *s) {
    if (!s) return NULL;
    size_t stop = r->nstrings > INTERN_LOOKBACK ? r->nstrings - INTERN_LOOKBACK : 0;
    for (size_t i = r->nstrings; i > stop; i--)
        if (!strcmp(r->strings[i - 1], s)) return r->strings[i - 1];
    /* capacity is the next power of two of nstrings */
    if ((r->nstrings & (r->nstrings - 1)) == 0) {
        size_t cap = r->nstrings ? r->nstrings * 2 : 4;
        char **v = realloc(r->strings, cap * sizeof *v);
        if (!v) return NULL;
        r->strings = v;
    }
    char *copy = strdup(s);
    if (!copy) return NULL;
    r->strings[r->nstrings++] = copy;
    return copy;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* JMeter's StatCalculator.getPercentPoint on sorted v[0..n). */
static double percent_point(const double *v, size_t n, double p) {
    if (p >= 1.0) return v[n - 1];
    long long rank = llround((double)n * p);      /* Java's Math.round, for p*n >= 0 */
    if (rank < 1) rank = 1;
    return v[rank - 1];
}

/* Statistics of the non-NaN values of field off (a double) of every sample. */
static void stats_of(const ld_result *r, size_t off, double *buf, ld_stats *st) {
    size_t n = 0;
    double sum = 0;
    for (size_t i = 0; i < r->n; i++) {
        double x = *(const double *)((const char *)&r->v[i] + off);
        if (isnan(x)) continue;
        buf[n++] = x;
        sum += x;
    }
    if (n == 0) {
        st->mean = st->min = st->max = st->p50 = st->p90 = st->p95 = st->p99 = NAN;
        return;
    }
    if (n <= 32) {                              /* a reward test is a handful of samples */
        for (size_t i = 1; i < n; i++) {
            double x = buf[i];
            size_t j = i;
            for (; j > 0 && buf[j - 1] > x; j--) buf[j] = buf[j - 1];
            buf[j] = x;
        }
    } else {
        qsort(buf, n, sizeof *buf, cmp_double);
    }
    st->mean = sum / (double)n;
    st->min = buf[0];
    st->max = buf[n - 1];
    st->p50 = percent_point(buf, n, 0.50);
    st->p90 = percent_point(buf, n, 0.90);
    st->p95 = percent_point(buf, n, 0.95);
    st->p99 = percent_point(buf, n, 0.99);
}

void ld_summarize(ld_result *r) {
    ld_summary *s = &r->sum;
    memset(s, 0, sizeof *s);
    s->count = r->n;
    int64_t first = INT64_MAX;
    double last = -INFINITY;
    for (size_t i = 0; i < r->n; i++) {
        const ld_sample *x = &r->v[i];
        if (!x->success) s->errors++;
        if (x->bytes > 0) s->bytes += x->bytes;
        if (x->ts_ms < first) first = x->ts_ms;
        double end = (double)x->ts_ms + (isnan(x->elapsed_ms) ? 0 : x->elapsed_ms);
        if (end > last) last = end;
    }
    s->drop_pct = r->n ? (double)s->errors * 100.0 / (double)r->n : 0;

    double *buf = r->n ? malloc(r->n * sizeof *buf) : NULL;
    if (r->n && !buf) {                         /* no memory: say "unknown", not 0 */
        ld_stats nan = { NAN, NAN, NAN, NAN, NAN, NAN, NAN };
        s->elapsed = s->latency = nan;
    } else {
        stats_of(r, offsetof(ld_sample, elapsed_ms), buf, &s->elapsed);
        stats_of(r, offsetof(ld_sample, latency_ms), buf, &s->latency);
    }
    free(buf);

    if (r->n == 0) {
        s->elapsed = s->latency = (ld_stats){ NAN, NAN, NAN, NAN, NAN, NAN, NAN };
        s->duration_s = 0;
        s->throughput_rps = 0;
        return;
    }
    s->duration_s = (last - (double)first) / 1000.0;
    s->throughput_rps = s->duration_s > 0 ? (double)r->n / s->duration_s : NAN;
}

void ld_result_reset(ld_result *r, size_t keep_samples) {
    if (r->cap > keep_samples) {
        free(r->v);
        r->v = NULL;
        r->cap = 0;
    }
    if (r->nstrings > 16) {
        for (size_t i = 0; i < r->nstrings; i++) free(r->strings[i]);
        free(r->strings);
        r->strings = NULL;
        r->nstrings = 0;
    }
    r->n = 0;
    memset(&r->sum, 0, sizeof r->sum);
}

void ld_result_free(ld_result *r) {
    if (!r) return;
    free(r->v);
    for (size_t i = 0; i < r->nstrings; i++) free(r->strings[i]);
    free(r->strings);
    memset(r, 0, sizeof *r);
}
