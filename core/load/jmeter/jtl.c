/* jtl.c: JMeter result files, CSV (by header name) and XML (see jtl.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <expat.h>

#include "base/csv.h"
#include "load/jmeter/jtl.h"

const char jtl_header[] = "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,"
                          "success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,"
                          "IdleTime,Connect";

#define NON_HTTP_CODE "Non HTTP response code: "
#define NON_HTTP_MSG "Non HTTP response message: "

/* ---- writing ------------------------------------------------------------- */

static void put_field(pg_buf *b, const char *s) {
    if (s) pg_csv_field_add(b, s, strlen(s));
}

static void put_ms(pg_buf *b, double ms) {
    if (!isnan(ms)) pg_buf_printf(b, "%lld", (long long)llround(ms));
}

int jtl_write_fp(FILE *f, const ld_result *r, pg_err *e) {
    int threads = 0;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].thread > threads) threads = r->v[i].thread;
    fprintf(f, "%s\n", jtl_header);
    char msg[96];
    pg_buf b = PG_BUF_INIT;
    for (size_t i = 0; i < r->n && !b.oom; i++) {
        const ld_sample *s = &r->v[i];
        pg_buf_clear(&b);
        pg_buf_printf(&b, "%lld,", (long long)s->ts_ms);
        put_ms(&b, s->elapsed_ms);
        pg_buf_addc(&b, ',');
        put_field(&b, s->label ? s->label : "");
        pg_buf_addc(&b, ',');
        if (s->code > 0) {
            pg_buf_printf(&b, "%d,", s->code);
            put_field(&b, s->message);
        } else {
            snprintf(msg, sizeof msg, NON_HTTP_CODE "%s", s->message);
            put_field(&b, msg);
            pg_buf_addc(&b, ',');
            snprintf(msg, sizeof msg, NON_HTTP_MSG "%s", s->message);
            put_field(&b, msg);
        }
        pg_buf_printf(&b, ",podgym 1-%d,%s,%s,,", s->thread, s->code > 0 ? "text" : "",
                      s->success ? "true" : "false");
        if (s->bytes >= 0) pg_buf_printf(&b, "%ld", s->bytes);
        pg_buf_addc(&b, ',');
        if (s->sent_bytes >= 0) pg_buf_printf(&b, "%ld", s->sent_bytes);
        pg_buf_printf(&b, ",%d,%d,", threads, threads);
        put_field(&b, s->url ? s->url : "");
        pg_buf_addc(&b, ',');
        put_ms(&b, s->latency_ms);
        pg_buf_adds(&b, ",0,");
        put_ms(&b, s->connect_ms);
        pg_buf_addc(&b, '\n');
        if (!b.oom) fwrite(b.p, 1, b.n, f);
    }
    int oom = b.oom;
    pg_buf_free(&b);
    if (oom) return pg_errf(e, 500, "no_memory", "writing JTL: out of memory");
    if (ferror(f)) return pg_errf(e, 500, "io", "writing JTL: %s", strerror(errno));
    return 0;
}

int jtl_write(const char *path, const ld_result *r, pg_err *e) {
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return pg_errf(e, 400, "bad_path", "JTL path too long");
    FILE *f = fopen(tmp, "w");
    if (!f) return pg_errf(e, 500, "io", "cannot write JTL '%.300s': %s", path, strerror(errno));
    int rc = jtl_write_fp(f, r, e);
    if (fclose(f) && !rc) rc = pg_errf(e, 500, "io", "cannot write JTL '%.300s': %s", path, strerror(errno));
    if (!rc && rename(tmp, path))
        rc = pg_errf(e, 500, "io", "cannot write JTL '%.300s': %s", path, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}

/* ---- CSV JTL --------------------------------------------------------------- */

enum {
    K_TS, K_ELAPSED, K_LABEL, K_CODE, K_MSG, K_THREAD, K_DTYPE, K_SUCCESS, K_FAILMSG, K_BYTES,
    K_SENT, K_GRP, K_ALL, K_URL, K_LATENCY, K_IDLE, K_CONNECT, K_SAMPLECOUNT, K_N
};

static const char *const col_names[K_N] = {
    "timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType",
    "success", "failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "URL", "Latency",
    "IdleTime", "Connect", "SampleCount",
};

static int is_int(const char *s) {
    if (*s == '-') s++;
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

static int parse_num(const char *s, double *out) {
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    if (*end || errno || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

/* Epoch ms, or JMeter's formatted timestamps "yyyy/MM/dd HH:mm:ss[.SSS]"
 * (also with '-' and 'T'), read as local time. */
static int parse_ts(const char *s, int64_t *out) {
    if (is_int(s)) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno) return -1;
        *out = v;
        return 0;
    }
    struct tm tm = { 0 };
    int y, mo, d, h, mi, sec, n = 0;
    char s1, s2, t;
    if (sscanf(s, "%4d%c%2d%c%2d%c%2d:%2d:%2d%n", &y, &s1, &mo, &s2, &d, &t, &h, &mi, &sec, &n) != 9
        || (s1 != '/' && s1 != '-') || s2 != s1 || (t != ' ' && t != 'T'))
        return -1;
    double frac = 0;
    const char *rest = s + n;
    if (*rest == '.' || *rest == ',') {
        char *end;
        char tmp[16] = "0.";
        snprintf(tmp + 2, sizeof tmp - 2, "%.9s", rest + 1);
        frac = strtod(tmp, &end);
        rest++;
        while (isdigit((unsigned char)*rest)) rest++;
    }
    if (*rest) return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;
    time_t tt = mktime(&tm);
    if (tt == (time_t)-1) return -1;
    *out = (int64_t)tt * 1000 + (int64_t)llround(frac * 1000);
    return 0;
}

static int parse_bool(const char *s, int *out) {
    if (!strcasecmp(s, "true")) *out = 1;
    else if (!strcasecmp(s, "false")) *out = 0;
    else return -1;
    return 0;
}

/* "Thread Group 1-3" -> 3; 0 when there is no trailing number. */
static int thread_num(const char *s) {
    const char *p = s + strlen(s);
    while (p > s && isdigit((unsigned char)p[-1])) p--;
    return *p && p > s && p[-1] == '-' ? atoi(p) : 0;
}

/* responseCode + responseMessage -> code, message. */
static void set_code_msg(ld_sample *x, const char *code, const char *msg) {
    x->code = is_int(code) ? atoi(code) : 0;
    if (!msg) msg = "";
    if (x->code == 0 && !strncmp(msg, NON_HTTP_MSG, strlen(NON_HTTP_MSG))) msg += strlen(NON_HTTP_MSG);
    else if (x->code == 0 && !msg[0] && !strncmp(code, NON_HTTP_CODE, strlen(NON_HTTP_CODE)))
        msg = code + strlen(NON_HTTP_CODE);
    snprintf(x->message, sizeof x->message, "%s", msg);
}

/* The delimiter next to a known column name of the header line. */
static char pick_delim(const char *line) {
    static const char *const keys[] = { "timeStamp", "elapsed", "success", "label" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *p = strstr(line, keys[i]);
        if (!p) continue;
        char after = p[strlen(keys[i])];
        if (after && strchr(",\t;|", after)) return after;
        if (p > line && strchr(",\t;|", p[-1])) return p[-1];
    }
    return ',';
}

/* The field of column k in the current record, NULL when the file has no such column. */
static const char *colv(const pg_csv *c, const int *col, int k) {
    return col[k] >= 0 ? pg_csv_get(c, (size_t)col[k]) : NULL;
}

static int read_csv(FILE *f, const char *name, long first_line, ld_result *r, pg_err *e) {
    /* peek the first line to choose the delimiter */
    char first[4096] = "";
    long pos = ftell(f);
    if (!fgets(first, sizeof first, f)) return pg_errf(e, 400, "bad_jtl", "%s: empty file", name);
    if (pos < 0 || fseek(f, pos, SEEK_SET))
        return pg_errf(e, 400, "bad_jtl", "%s: cannot rewind", name);

    pg_csv c;
    pg_csv_init(&c, f, pick_delim(first), first_line);
    int col[K_N];
    for (int k = 0; k < K_N; k++) col[k] = -1;
    const char *why = NULL;
    long line;
    int rc = pg_csv_next(&c, &line, &why), ret = 0;
    size_t ncols = 0;
    if (rc <= 0) {
        ret = pg_errf(e, 400, "bad_jtl", "%s:%ld: %s", name, line, rc ? why : "empty file");
        goto out;
    }
    if (parse_ts(pg_csv_get(&c, 0), &(int64_t){ 0 }) == 0) {
        /* no header: JMeter's default columns or nothing */
        if (c.nf != 17) {
            ret = pg_errf(e, 400, "bad_jtl",
                          "%s:%ld: no header line, and %zu columns are not JMeter's 17 default ones", name, line,
                          c.nf);
            goto out;
        }
        for (int k = 0; k < 17; k++) col[k] = k;
        ncols = 17;
    } else {
        ncols = c.nf;
        for (size_t i = 0; i < c.nf; i++)
            for (int k = 0; k < K_N; k++)
                if (!strcmp(pg_csv_get(&c, i), col_names[k])) col[k] = (int)i;
        static const int required[] = { K_TS, K_ELAPSED, K_SUCCESS };
        for (size_t i = 0; i < sizeof required / sizeof *required; i++)
            if (col[required[i]] < 0) {
                ret = pg_errf(e, 400, "bad_jtl", "%s:%ld: missing column '%s' in the header", name, line,
                              col_names[required[i]]);
                goto out;
            }
        rc = pg_csv_next(&c, &line, &why);
    }
    for (; rc > 0; rc = pg_csv_next(&c, &line, &why)) {
        if (c.nf != ncols) {
            ret = pg_errf(e, 400, "bad_jtl", "%s:%ld: %zu fields where the header has %zu", name, line, c.nf,
                          ncols);
            goto out;
        }
#define COL(k) colv(&c, col, k)
#define BAD(k, what)                                                                                    \
    do {                                                                                                \
        ret = pg_errf(e, 400, "bad_jtl", "%s:%ld: column '%s': %s: '%.60s'", name, line, col_names[k], \
                      what, COL(k));                                                                    \
        goto out;                                                                                       \
    } while (0)
        ld_sample x = { 0 };
        if (parse_ts(COL(K_TS), &x.ts_ms)) BAD(K_TS, "not a timestamp");
        if (parse_num(COL(K_ELAPSED), &x.elapsed_ms) || x.elapsed_ms < 0) BAD(K_ELAPSED, "not a number");
        if (parse_bool(COL(K_SUCCESS), &x.success)) BAD(K_SUCCESS, "not true or false");
        x.latency_ms = x.connect_ms = NAN;          /* no column: no value */
        static const int ms_cols[] = { K_LATENCY, K_CONNECT };
        double *ms_dst[] = { &x.latency_ms, &x.connect_ms };
        for (int i = 0; i < 2; i++) {
            const char *v = COL(ms_cols[i]);
            if (v && v[0] && parse_num(v, ms_dst[i])) BAD(ms_cols[i], "not a number");
        }
        static const int long_cols[] = { K_BYTES, K_SENT };
        long *long_dst[] = { &x.bytes, &x.sent_bytes };
        for (int i = 0; i < 2; i++) {
            const char *v = COL(long_cols[i]);
            *long_dst[i] = -1;
            if (v && v[0]) {
                if (!is_int(v)) BAD(long_cols[i], "not an integer");
                *long_dst[i] = atol(v);
            }
        }
        const char *sc = COL(K_SAMPLECOUNT);
        if (sc && sc[0] && strcmp(sc, "1")) BAD(K_SAMPLECOUNT, "rows that aggregate several samples are not supported");
        set_code_msg(&x, COL(K_CODE) ? COL(K_CODE) : "", COL(K_MSG));
        if (COL(K_THREAD)) x.thread = thread_num(COL(K_THREAD));
        if (COL(K_LABEL)) x.label = ld_result_intern(r, COL(K_LABEL));
        if (COL(K_URL) && COL(K_URL)[0]) x.url = ld_result_intern(r, COL(K_URL));
        if (ld_result_push(r, &x)) {
            ret = pg_errf(e, 500, "no_memory", "out of memory reading %s", name);
            goto out;
        }
#undef BAD
#undef COL
    }
    if (rc < 0) ret = pg_errf(e, 400, "bad_jtl", "%s:%ld: %s", name, line, why);
out:
    pg_csv_free(&c);
    return ret;
}

/* ---- XML JTL ----------------------------------------------------------------- */

typedef struct xjtl {
    XML_Parser p;
    ld_result *r;
    pg_err *e;
    const char *name;
    int depth, failed, saw_root;
} xjtl;

static const char *attr(const char **a, const char *k) {
    for (; a[0]; a += 2)
        if (!strcmp(a[0], k)) return a[1];
    return NULL;
}

static void xml_fail(xjtl *x, const char *fmt, const char *k, const char *v) {
    pg_errf(x->e, 400, "bad_jtl", "%s:%lu: attribute '%s': %s: '%.60s'", x->name,
            (unsigned long)XML_GetCurrentLineNumber(x->p), k, fmt, v ? v : "(missing)");
    x->failed = 1;
    XML_StopParser(x->p, XML_FALSE);
}

static void XMLCALL xml_start(void *ud, const char *el, const char **a) {
    xjtl *x = ud;
    x->depth++;
    if (x->depth == 1) {
        x->saw_root = !strcmp(el, "testResults");
        if (!x->saw_root) {
            pg_errf(x->e, 400, "bad_jtl", "%s: XML root <%s> is not <testResults>", x->name, el);
            x->failed = 1;
            XML_StopParser(x->p, XML_FALSE);
        }
        return;
    }
    if (x->depth != 2 || (strcmp(el, "httpSample") && strcmp(el, "sample"))) return;
    ld_sample s = { 0 };
    const char *v;
    if (!(v = attr(a, "ts")) || parse_ts(v, &s.ts_ms)) return xml_fail(x, "not a timestamp", "ts", v);
    if (!(v = attr(a, "t")) || parse_num(v, &s.elapsed_ms)) return xml_fail(x, "not a number", "t", v);
    if (!(v = attr(a, "s")) || parse_bool(v, &s.success)) return xml_fail(x, "not true or false", "s", v);
    s.latency_ms = s.connect_ms = NAN;
    if ((v = attr(a, "lt")) && parse_num(v, &s.latency_ms)) return xml_fail(x, "not a number", "lt", v);
    if ((v = attr(a, "ct")) && parse_num(v, &s.connect_ms)) return xml_fail(x, "not a number", "ct", v);
    s.bytes = (v = attr(a, "by")) && is_int(v) ? atol(v) : -1;
    s.sent_bytes = (v = attr(a, "sby")) && is_int(v) ? atol(v) : -1;
    set_code_msg(&s, (v = attr(a, "rc")) ? v : "", attr(a, "rm"));
    if ((v = attr(a, "tn"))) s.thread = thread_num(v);
    if ((v = attr(a, "lb"))) s.label = ld_result_intern(x->r, v);
    if ((v = attr(a, "URL")) && v[0]) s.url = ld_result_intern(x->r, v);
    if (ld_result_push(x->r, &s)) {
        pg_errf(x->e, 500, "no_memory", "out of memory reading %s", x->name);
        x->failed = 1;
        XML_StopParser(x->p, XML_FALSE);
    }
}

static void XMLCALL xml_end(void *ud, const char *el) {
    ((xjtl *)ud)->depth--;
}

static int read_xml(FILE *f, const char *name, ld_result *r, pg_err *e) {
    xjtl x = { .r = r, .e = e, .name = name };
    x.p = XML_ParserCreate(NULL);
    if (!x.p) return pg_errf(e, 500, "no_memory", "out of memory");
    XML_SetUserData(x.p, &x);
    XML_SetElementHandler(x.p, xml_start, xml_end);
    char buf[65536];
    int ret = 0;
    for (;;) {
        size_t n = fread(buf, 1, sizeof buf, f);
        int last = n < sizeof buf;
        if (XML_Parse(x.p, buf, (int)n, last) == XML_STATUS_ERROR) {
            if (!x.failed)
                pg_errf(e, 400, "bad_jtl", "%s:%lu: not well-formed XML: %s", name,
                        (unsigned long)XML_GetCurrentLineNumber(x.p), XML_ErrorString(XML_GetErrorCode(x.p)));
            ret = -1;
            break;
        }
        if (last) break;
    }
    XML_ParserFree(x.p);
    return ret;
}

int jtl_read_fp(FILE *f, const char *name, ld_result *r, pg_err *e) {
    long line = 1;
    int ch = getc(f);
    if (ch == 0xEF) {                               /* UTF-8 byte order mark */
        if (getc(f) != 0xBB || getc(f) != 0xBF) return pg_errf(e, 400, "bad_jtl", "%s: not a JTL file", name);
        ch = getc(f);
    }
    while (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
        if (ch == '\n') line++;
        ch = getc(f);
    }
    if (ch == EOF) return pg_errf(e, 400, "bad_jtl", "%s: empty file", name);
    ungetc(ch, f);
    int rc = ch == '<' ? read_xml(f, name, r, e) : read_csv(f, name, line, r, e);
    ld_summarize(r);
    return rc;
}

int jtl_read(const char *path, ld_result *r, pg_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) {
        int err = errno;
        return pg_errf(e, err == ENOENT ? 404 : 400, err == ENOENT ? "not_found" : "io",
                       "cannot read JTL '%.300s': %s", path, strerror(err));
    }
    int rc = jtl_read_fp(f, path, r, e);
    fclose(f);
    return rc;
}
