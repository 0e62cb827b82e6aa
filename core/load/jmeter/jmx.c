/* jmx.c: import the subset of a JMeter plan the native generator runs (jmx.h).
 *
 * expat builds a small tree of the file; the plan is then read from it as
 * JMeter does: every element of a <hashTree> is followed by the <hashTree>
 * of its children, and properties are <stringProp name=..>, <intProp>,
 * <boolProp>, <doubleProp><name/><value/></doubleProp>, <elementProp> and
 * <collectionProp>. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <expat.h>

#include "base/buf.h"
#include "load/jmeter/jmx.h"

#define JMX_MAX_BYTES (16L << 20)

/* ---- the tree ---------------------------------------------------------------- */

typedef struct xn {
    char *tag;
    char *name;                 /* attribute name= (properties) */
    char *testname, *testclass;
    int disabled;               /* enabled="false" */
    int line;
    char *text;
    size_t tlen;
    struct xn **kids;
    size_t nkids;
    struct xn *parent;
} xn;

typedef struct xb {
    XML_Parser p;
    xn *root, *cur;
    int nomem;
} xb;

static void xn_free(xn *n) {
    if (!n) return;
    for (size_t i = 0; i < n->nkids; i++) xn_free(n->kids[i]);
    free(n->kids);
    free(n->tag);
    free(n->name);
    free(n->testname);
    free(n->testclass);
    free(n->text);
    free(n);
}

static void XMLCALL xb_start(void *ud, const char *el, const char **a) {
    xb *b = ud;
    xn *n = calloc(1, sizeof *n);
    if (!n || !(n->tag = strdup(el))) {
        free(n);
        b->nomem = 1;
        XML_StopParser(b->p, XML_FALSE);
        return;
    }
    n->line = (int)XML_GetCurrentLineNumber(b->p);
    for (; a[0]; a += 2) {
        if (!strcmp(a[0], "name")) n->name = strdup(a[1]);
        else if (!strcmp(a[0], "testname")) n->testname = strdup(a[1]);
        else if (!strcmp(a[0], "testclass")) n->testclass = strdup(a[1]);
        else if (!strcmp(a[0], "enabled")) n->disabled = !strcmp(a[1], "false");
    }
    n->parent = b->cur;
    if (b->cur) {
        xn **k = realloc(b->cur->kids, (b->cur->nkids + 1) * sizeof *k);
        if (!k) {
            xn_free(n);
            b->nomem = 1;
            XML_StopParser(b->p, XML_FALSE);
            return;
        }
        k[b->cur->nkids++] = n;
        b->cur->kids = k;
    } else {
        b->root = n;
    }
    b->cur = n;
}

static void XMLCALL xb_end(void *ud, const char *el) {
    xb *b = ud;
    if (b->cur) b->cur = b->cur->parent;
}

static void XMLCALL xb_text(void *ud, const char *s, int len) {
    xb *b = ud;
    xn *n = b->cur;
    if (!n || n->nkids) return;                     /* text of leaves only */
    char *t = realloc(n->text, n->tlen + (size_t)len + 1);
    if (!t) {
        b->nomem = 1;
        XML_StopParser(b->p, XML_FALSE);
        return;
    }
    memcpy(t + n->tlen, s, (size_t)len);
    n->tlen += (size_t)len;
    t[n->tlen] = '\0';
    n->text = t;
}

static xn *parse_file(const char *path, pg_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        int err = errno;
        pg_errf(e, err == ENOENT ? 404 : 400, err == ENOENT ? "not_found" : "io",
                "cannot read plan '%.300s': %s", path, strerror(err));
        return NULL;
    }
    xb b = { 0 };
    b.p = XML_ParserCreate(NULL);
    if (!b.p) {
        fclose(f);
        pg_errf(e, 500, "no_memory", "out of memory");
        return NULL;
    }
    XML_SetUserData(b.p, &b);
    XML_SetElementHandler(b.p, xb_start, xb_end);
    XML_SetCharacterDataHandler(b.p, xb_text);
    char buf[65536];
    long total = 0;
    int ok = 1;
    for (;;) {
        size_t n = fread(buf, 1, sizeof buf, f);
        total += (long)n;
        if (total > JMX_MAX_BYTES) {
            pg_errf(e, 400, "bad_plan", "plan '%.300s' is larger than %ld bytes", path, JMX_MAX_BYTES);
            ok = 0;
            break;
        }
        int last = n < sizeof buf;
        if (XML_Parse(b.p, buf, (int)n, last) == XML_STATUS_ERROR) {
            if (b.nomem) pg_errf(e, 500, "no_memory", "out of memory");
            else
                pg_errf(e, 400, "bad_plan", "%.300s:%lu: not a JMeter plan: the XML is not well-formed (%s)", path,
                        (unsigned long)XML_GetCurrentLineNumber(b.p), XML_ErrorString(XML_GetErrorCode(b.p)));
            ok = 0;
            break;
        }
        if (last) break;
    }
    XML_ParserFree(b.p);
    fclose(f);
    if (!ok) {
        xn_free(b.root);
        return NULL;
    }
    if (!b.root || strcmp(b.root->tag, "jmeterTestPlan")) {
        pg_errf(e, 400, "bad_plan", "%.300s: not a JMeter plan (root element <%s>, wants <jmeterTestPlan>)", path,
                b.root ? b.root->tag : "?");
        xn_free(b.root);
        return NULL;
    }
    return b.root;
}

/* ---- properties -------------------------------------------------------------- */

static int is_prop_tag(const char *t) {
    return !strcmp(t, "stringProp") || !strcmp(t, "intProp") || !strcmp(t, "longProp")
           || !strcmp(t, "boolProp") || !strcmp(t, "doubleProp") || !strcmp(t, "floatProp")
           || !strcmp(t, "elementProp") || !strcmp(t, "collectionProp") || !strcmp(t, "objProp");
}

static xn *child_tag(const xn *n, const char *tag) {
    for (size_t i = 0; i < n->nkids; i++)
        if (!strcmp(n->kids[i]->tag, tag)) return n->kids[i];
    return NULL;
}

/* The name of a property: name= or, for doubleProp/objProp, <name>. */
static const char *prop_name(const xn *p) {
    if (p->name) return p->name;
    xn *nm = child_tag(p, "name");
    return nm && nm->text ? nm->text : "";
}

static xn *prop(const xn *el, const char *name) {
    for (size_t i = 0; i < el->nkids; i++) {
        xn *k = el->kids[i];
        if (is_prop_tag(k->tag) && !strcmp(prop_name(k), name)) return k;
    }
    return NULL;
}

/* Raw text of a property ("" when empty), NULL when absent. */
static const char *prop_raw(const xn *el, const char *name) {
    xn *p = el ? prop(el, name) : NULL;
    if (!p) return NULL;
    if (!strcmp(p->tag, "doubleProp") || !strcmp(p->tag, "floatProp") || !strcmp(p->tag, "objProp")) {
        xn *v = child_tag(p, "value");
        return v && v->text ? v->text : "";
    }
    return p->text ? p->text : "";
}

/* ---- import context ---------------------------------------------------------- */

typedef struct imp {
    jmx_plan *out;
    pg_err *e;
    const char *path;
    const jmx_prop *props;
    size_t nprops;
    char **vn, **vv;            /* User Defined Variables */
    size_t nv;
    xn *tg;                     /* the Thread Group */
    xn *tg_tree;
    int ntg;
    xn *sampler;
    xn *sampler_tree;
    int nsamplers;
    double loop_mult;           /* nested Loop Controllers around the sampler */
    xn *ctt;
    double think_ms;
    xn *defaults[8];            /* HTTP Request Defaults */
    int ndefaults;
    xn *headers[16];            /* HTTP Header Managers */
    int nheaders;
    int failed;
} imp;

static void warn(imp *I, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(imp *I, const char *fmt, ...) {
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) s = NULL;
    va_end(ap);
    if (!s) return;
    for (size_t i = 0; i < I->out->nwarnings; i++)     /* once each */
        if (!strcmp(I->out->warnings[i], s)) {
            free(s);
            return;
        }
    char **w = realloc(I->out->warnings, (I->out->nwarnings + 1) * sizeof *w);
    if (!w) {
        free(s);
        return;
    }
    w[I->out->nwarnings++] = s;
    I->out->warnings = w;
}

static int fail(imp *I, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(imp *I, int line, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    I->failed = 1;
    if (line > 0) return pg_errf(I->e, 400, "bad_plan", "%.300s:%d: %s", I->path, line, msg);
    return pg_errf(I->e, 400, "bad_plan", "%.300s: %s", I->path, msg);
}

static const char *elname(const xn *el) {
    return el->testname && el->testname[0] ? el->testname : el->tag;
}

static const char *elclass(const xn *el) {
    return el->testclass ? el->testclass : el->tag;
}

/* ---- ${...} substitution ---------------------------------------------------- */

static char *subst(imp *I, const char *in, const char *where);

static const char *lookup_prop(imp *I, const char *name) {
    for (size_t i = I->nprops; i > 0; i--)           /* the last one given wins */
        if (!strcmp(I->props[i - 1].name, name)) return I->props[i - 1].value;
    return NULL;
}

static void trim(char *s) {
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    size_t k = strspn(s, " \t\r\n");
    memmove(s, s + k, n - k + 1);
}

/* Split "a,b\,c,d" into at most 3 arguments (backslash escapes a comma). */
static int split_args(char *s, char **argv, int max) {
    int n = 0;
    char *w = s, *start = s;
    for (char *p = s;; p++) {
        if (*p == '\\' && p[1] == ',') {
            *w++ = ',';
            p++;
            continue;
        }
        if (*p == ',' || *p == '\0') {
            int end = *p == '\0';
            *w = '\0';
            if (n < max) argv[n++] = start;
            if (end) break;
            start = w = p + 1;
            continue;
        }
        *w++ = *p;
    }
    return n;
}

/* The value of one ${...} body (already substituted inside), malloc'ed. */
static char *expand(imp *I, char *body, const char *where) {
    size_t n = strlen(body);
    const char *fn = NULL;
    if (!strncmp(body, "__P(", 4)) fn = "__P";
    else if (!strncmp(body, "__property(", 11)) fn = "__property";
    if (fn && n && body[n - 1] == ')') {
        body[n - 1] = '\0';
        char *args = body + strlen(fn) + 1, *argv[3] = { 0 };
        int argc = split_args(args, argv, 3);
        for (int i = 0; i < argc; i++) trim(argv[i]);
        const char *name = argv[0] ? argv[0] : "";
        const char *v = lookup_prop(I, name);
        if (v) return strdup(v);
        const char *def = !strcmp(fn, "__P") ? (argc > 1 ? argv[1] : NULL) : (argc > 2 ? argv[2] : NULL);
        if (def) return strdup(def);
        if (!strcmp(fn, "__P")) {
            warn(I, "property '%s' is not set and has no default in %s: JMeter's default '1' is used", name, where);
            return strdup("1");
        }
        warn(I, "property '%s' is not set and has no default in %s: '' is used", name, where);
        return strdup("");
    }
    for (size_t i = 0; i < I->nv; i++)
        if (!strcmp(I->vn[i], body)) return strdup(I->vv[i]);
    warn(I, "cannot resolve ${%s} in %s: left as is", body, where);
    char *s;
    if (asprintf(&s, "${%s}", body) < 0) s = NULL;
    return s;
}

/* Replace every ${...} of in (nested ones first); malloc'ed. */
static char *subst(imp *I, const char *in, const char *where) {
    pg_buf b = PG_BUF_INIT;
    pg_buf_add(&b, "", 0);
    const char *p = in;
    while (*p) {
        const char *d = strstr(p, "${");
        if (!d) {
            pg_buf_add(&b, p, strlen(p));
            break;
        }
        pg_buf_add(&b, p, (size_t)(d - p));
        int depth = 0;
        const char *q = d;
        for (; *q; q++) {
            if (q[0] == '$' && q[1] == '{') {
                depth++;
                q++;
            } else if (*q == '}' && --depth == 0) {
                break;
            }
        }
        if (!*q) {                                  /* unbalanced: keep the rest as text */
            pg_buf_add(&b, d, strlen(d));
            break;
        }
        char *inner_raw = strndup(d + 2, (size_t)(q - d - 2));
        char *inner = inner_raw ? subst(I, inner_raw, where) : NULL;
        char *val = inner ? expand(I, inner, where) : NULL;
        if (val) pg_buf_add(&b, val, strlen(val));
        free(inner_raw);
        free(inner);
        free(val);
        p = q + 1;
    }
    return pg_buf_take(&b, NULL);
}

/* A property of el, substituted; NULL when absent. malloc'ed. */
static char *pstr(imp *I, const xn *el, const char *name) {
    const char *raw = prop_raw(el, name);
    if (!raw) return NULL;
    char where[200];
    snprintf(where, sizeof where, "%s '%s' %s", elclass(el), elname(el), name);
    return subst(I, raw, where);
}

static int pnum(imp *I, const xn *el, const char *name, double def, double *out) {
    char *s = pstr(I, el, name);
    if (!s || !s[0]) {
        free(s);
        *out = def;
        return 0;
    }
    char *end;
    double v = strtod(s, &end);
    while (isspace((unsigned char)*end)) end++;
    int bad = *end || !isfinite(v);
    if (bad) fail(I, el->line, "%s '%s': %s = '%.60s' is not a number", elclass(el), elname(el), name, s);
    free(s);
    *out = v;
    return bad ? -1 : 0;
}

static int pbool(imp *I, const xn *el, const char *name, int def) {
    char *s = pstr(I, el, name);
    int v = def;
    if (s && !strcasecmp(s, "true")) v = 1;
    else if (s && !strcasecmp(s, "false")) v = 0;
    free(s);
    return v;
}

/* ---- the walk ---------------------------------------------------------------- */

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

static int contains_sampler(const xn *tree) {
    if (!tree) return 0;
    for (size_t i = 0; i < tree->nkids; i++) {
        const xn *k = tree->kids[i];
        if (k->disabled) continue;
        if (k->testclass && strstr(k->testclass, "Sampler")) return 1;
        if (!strcmp(k->tag, "hashTree") && contains_sampler(k)) return 1;
    }
    return 0;
}

static void collect_vars(imp *I, const xn *args) {
    xn *coll = args ? prop(args, "Arguments.arguments") : NULL;
    for (size_t i = 0; coll && i < coll->nkids; i++) {
        const xn *a = coll->kids[i];
        const char *n = prop_raw(a, "Argument.name"), *v = prop_raw(a, "Argument.value");
        if (!n || !n[0]) continue;
        char **vn = realloc(I->vn, (I->nv + 1) * sizeof *vn);
        if (vn) I->vn = vn;
        char **vv = realloc(I->vv, (I->nv + 1) * sizeof *vv);
        if (vv) I->vv = vv;
        if (!vn || !vv) return;
        char where[160];
        snprintf(where, sizeof where, "variable '%s'", n);
        I->vn[I->nv] = strdup(n);
        I->vv[I->nv] = subst(I, v ? v : "", where);     /* may use earlier variables and __P */
        I->nv++;
    }
}

static int walk(imp *I, const xn *tree, double mult, const xn *blocker, int plan_level);

/* One element el with its children's tree sub (may be NULL). */
static int visit(imp *I, const xn *el, const xn *sub, double mult, const xn *blocker, int plan_level) {
    const char *cls = elclass(el), *nm = elname(el);
    if (!strcmp(cls, "ThreadGroup")) {
        if (!plan_level) return fail(I, el->line, "Thread Group '%s' inside another element", nm);
        I->ntg++;
        if (I->ntg > 1) return fail(I, el->line, "more than one enabled Thread Group ('%s'): podgym runs one", nm);
        I->tg = (xn *)el;
        I->tg_tree = (xn *)sub;
        return walk(I, sub, 1, NULL, 0);
    }
    if (has_suffix(cls, "ThreadGroup")) {
        if (contains_sampler(sub))
            return fail(I, el->line, "unsupported thread group %s '%s'", cls, nm);
        warn(I, "%s '%s' without samplers ignored", cls, nm);
        return 0;
    }
    if (!strcmp(cls, "HTTPSamplerProxy") || !strcmp(cls, "HTTPSampler") || !strcmp(cls, "HTTPSampler2")) {
        if (plan_level) {
            warn(I, "HTTP sampler '%s' outside a Thread Group ignored (JMeter does not run it)", nm);
            return 0;
        }
        if (blocker)
            return fail(I, el->line, "HTTP sampler '%s' is inside %s '%s', which podgym cannot run", nm,
                        elclass(blocker), elname(blocker));
        if (++I->nsamplers > 1)
            return fail(I, el->line, "a second HTTP sampler '%s': podgym runs plans with one sampler", nm);
        I->sampler = (xn *)el;
        I->sampler_tree = (xn *)sub;
        I->loop_mult = mult;
        return walk(I, sub, mult, blocker, 0);
    }
    if (strstr(cls, "Sampler"))
        return fail(I, el->line, "unsupported sampler %s '%s'", cls, nm);
    if (!strcmp(cls, "LoopController")) {
        double loops;
        if (pnum(I, el, "LoopController.loops", 1, &loops)) return -1;
        if (loops < 0 || pbool(I, el, "LoopController.continue_forever", 0) == 1) {
            if (loops < 0 && contains_sampler(sub))
                return fail(I, el->line, "Loop Controller '%s' loops forever around the sampler", nm);
        }
        return walk(I, sub, mult * (loops < 0 ? 1 : floor(loops)), blocker, plan_level);
    }
    if (!strcmp(cls, "GenericController")) return walk(I, sub, mult, blocker, plan_level);
    if (!strcmp(cls, "TransactionController")) {
        warn(I, "Transaction Controller '%s': its transaction samples are not generated", nm);
        return walk(I, sub, mult, blocker, plan_level);
    }
    if (!strcmp(cls, "ModuleController") || !strcmp(cls, "IncludeController"))
        return fail(I, el->line, "unsupported %s '%s': it runs samplers from elsewhere", cls, nm);
    if (has_suffix(cls, "Controller")) {
        if (!contains_sampler(sub)) {
            warn(I, "%s '%s' ignored", cls, nm);
            return 0;
        }
        return walk(I, sub, mult, el, plan_level);  /* a sampler inside fails */
    }
    if (!strcmp(cls, "ConstantThroughputTimer")) {
        if (I->ctt) warn(I, "a second Constant Throughput Timer '%s' ignored", nm);
        else I->ctt = (xn *)el;
        return 0;
    }
    if (!strcmp(cls, "ConstantTimer")) {
        double d;
        if (pnum(I, el, "ConstantTimer.delay", 0, &d)) return -1;
        I->think_ms += d;
        return 0;
    }
    if (has_suffix(cls, "Timer")) {
        warn(I, "timer %s '%s' ignored: the pacing will differ from JMeter's", cls, nm);
        return 0;
    }
    if (!strcmp(cls, "HeaderManager")) {
        if (I->nheaders < (int)(sizeof I->headers / sizeof *I->headers)) I->headers[I->nheaders++] = (xn *)el;
        return 0;
    }
    if (!strcmp(cls, "ConfigTestElement") && prop(el, "HTTPSampler.domain")) {
        if (I->ndefaults < (int)(sizeof I->defaults / sizeof *I->defaults)) I->defaults[I->ndefaults++] = (xn *)el;
        return 0;
    }
    if (!strcmp(cls, "Arguments")) return 0;        /* variables: collected before the walk */
    if (strstr(cls, "ResultCollector") || !strcmp(cls, "Summariser") || !strcmp(cls, "BackendListener")) {
        const char *fname = prop_raw(el, "filename");
        if (fname && fname[0])
            warn(I, "listener '%s' would write '%s': not written (ask for a JTL instead)", nm, fname);
        return 0;
    }
    if (strstr(cls, "Assertion")) {
        warn(I, "assertion %s '%s' ignored: success is judged by the HTTP status only", cls, nm);
        return 0;
    }
    if (has_suffix(cls, "PreProcessor") || has_suffix(cls, "PostProcessor") || strstr(cls, "Extractor")) {
        warn(I, "%s '%s' ignored", cls, nm);
        return 0;
    }
    if (!strcmp(cls, "TestPlan")) return 0;
    warn(I, "unsupported element %s '%s' ignored", cls, nm);
    return 0;
}

/* The pairs (element, hashTree) of tree. */
static int walk(imp *I, const xn *tree, double mult, const xn *blocker, int plan_level) {
    if (!tree) return 0;
    for (size_t i = 0; i < tree->nkids; i++) {
        const xn *el = tree->kids[i];
        if (!strcmp(el->tag, "hashTree")) continue;
        const xn *sub = i + 1 < tree->nkids && !strcmp(tree->kids[i + 1]->tag, "hashTree") ? tree->kids[i + 1] : NULL;
        if (sub) i++;
        if (el->disabled) continue;
        if (visit(I, el, sub, mult, blocker, plan_level)) return -1;
    }
    return 0;
}

/* ---- the sampler ----------------------------------------------------------------- */

/* A sampler field, or the one of the HTTP Request Defaults when empty. */
static char *field(imp *I, const char *name) {
    char *v = pstr(I, I->sampler, name);
    for (int i = 0; (!v || !v[0]) && i < I->ndefaults; i++) {
        free(v);
        v = pstr(I, I->defaults[i], name);
    }
    return v;
}

static void url_encode(pg_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || strchr("-_.~", c)) {
            pg_buf_add(b, (const char *)&c, 1);
        } else {
            char t[3] = { '%', hex[c >> 4], hex[c & 15] };
            pg_buf_add(b, t, 3);
        }
    }
}

/* The sampler's arguments as "a=1&b=2" (or the raw body). */
static char *arguments(imp *I, int raw) {
    pg_buf b = PG_BUF_INIT;
    pg_buf_add(&b, "", 0);
    xn *args = prop(I->sampler, "HTTPsampler.Arguments");
    xn *coll = args ? prop(args, "Arguments.arguments") : NULL;
    int n = 0;
    for (size_t i = 0; coll && i < coll->nkids; i++) {
        const xn *a = coll->kids[i];
        char *name = pstr(I, a, "Argument.name"), *value = pstr(I, a, "Argument.value");
        if (raw) {
            if (value) pg_buf_add(&b, value, strlen(value));
        } else if (name && name[0]) {
            int enc = pbool(I, a, "HTTPArgument.always_encode", 0);
            if (n++) pg_buf_add(&b, "&", 1);
            if (enc) url_encode(&b, name);
            else pg_buf_add(&b, name, strlen(name));
            pg_buf_add(&b, "=", 1);
            if (value) {
                if (enc) url_encode(&b, value);
                else pg_buf_add(&b, value, strlen(value));
            }
        }
        free(name);
        free(value);
    }
    return pg_buf_take(&b, NULL);
}

static int build_target(imp *I) {
    jmx_plan *o = I->out;
    load_target *t = &o->target;
    const xn *s = I->sampler;
    int rc = -1;
    char *domain = field(I, "HTTPSampler.domain"), *port = field(I, "HTTPSampler.port");
    char *proto = field(I, "HTTPSampler.protocol"), *path = field(I, "HTTPSampler.path");
    char *method = pstr(I, s, "HTTPSampler.method"), *args = NULL, *url = NULL;
    if (!proto || !proto[0]) {
        free(proto);
        proto = strdup("http");
    }
    for (char *p = proto; p && *p; p++) *p = (char)tolower((unsigned char)*p);
    char why[sizeof I->e->message];
    if (load_target_set_method(t, method && method[0] ? method : "GET", I->e)) {
        snprintf(why, sizeof why, "%s", I->e->message);
        fail(I, s->line, "HTTP sampler '%s': %s", elname(s), why);
        goto out;
    }
    int raw = pbool(I, s, "HTTPSampler.postBodyRaw", 0);
    int multipart = pbool(I, s, "HTTPSampler.DO_MULTIPART_POST", 0);
    args = arguments(I, raw);
    int body_method = !strcmp(t->method, "POST") || !strcmp(t->method, "PUT") || !strcmp(t->method, "PATCH");

    if (path && (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8))) {
        url = strdup(path);
    } else {
        if (!domain || !domain[0]) {
            fail(I, s->line, "HTTP sampler '%s' has no server name (HTTPSampler.domain)", elname(s));
            goto out;
        }
        int v6 = strchr(domain, ':') && domain[0] != '[';
        if (asprintf(&url, "%s://%s%s%s%s%s%s", proto, v6 ? "[" : "", domain, v6 ? "]" : "",
                     port && port[0] ? ":" : "", port ? port : "",
                     path && path[0] == '/' ? "" : "/") < 0)
            url = NULL;
        if (url && path) {
            char *u2;
            if (asprintf(&u2, "%s%s", url, path) < 0) u2 = NULL;
            free(url);
            url = u2;
        }
    }
    if (!url) {
        pg_errf(I->e, 500, "no_memory", "out of memory");
        goto out;
    }
    if (!raw && args[0] && (!body_method || multipart)) {
        if (multipart) {
            warn(I, "HTTP sampler '%s': form fields beside the uploaded file are not sent", elname(s));
        } else {
            char *u2;
            if (asprintf(&u2, "%s%s%s", url, strchr(url, '?') ? "&" : "?", args) < 0) u2 = NULL;
            free(url);
            url = u2;
        }
    }
    if (!url || load_target_add_url(t, url, I->e)) {
        snprintf(why, sizeof why, "%s", I->e->message);
        if (url) fail(I, s->line, "HTTP sampler '%s': %s", elname(s), why);
        goto out;
    }

    /* files */
    xn *files = prop(s, "HTTPsampler.Files");
    xn *coll = files ? prop(files, "HTTPFileArgs.files") : NULL;
    int nfiles = 0;
    for (size_t i = 0; coll && i < coll->nkids; i++) {
        const xn *fa = coll->kids[i];
        char *fp = pstr(I, fa, "File.path"), *param = pstr(I, fa, "File.paramname"),
             *mime = pstr(I, fa, "File.mimetype");
        if (fp && fp[0] && nfiles++ == 0) {
            char full[PATH_MAX + 1];
            const char *use = fp;
            int windows = isalpha((unsigned char)fp[0]) && fp[1] == ':';
            if (fp[0] != '/' && !windows) {         /* JMeter: relative to the plan's directory */
                const char *slash = strrchr(I->path, '/');
                if (slash) {
                    snprintf(full, sizeof full, "%.*s/%s", (int)(slash - I->path), I->path, fp);
                    use = full;
                }
            }
            struct stat st;
            if (stat(use, &st)) warn(I, "HTTP sampler '%s': upload file '%s' not found", elname(s), use);
            if (!param || !param[0])
                warn(I, "HTTP sampler '%s': file '%s' has no parameter name; sent as form field 'file'",
                     elname(s), fp);
            if (load_target_set_file(t, use, param, mime, I->e)) {
                free(fp), free(param), free(mime);
                goto out;
            }
        } else if (fp && fp[0]) {
            warn(I, "HTTP sampler '%s': only the first file is uploaded ('%s' is not)", elname(s), fp);
        }
        free(fp), free(param), free(mime);
    }
    if (!t->file_path && raw && args[0]) {
        if (load_target_set_body(t, args, strlen(args), I->e)) goto out;
    } else if (!t->file_path && body_method && args[0]) {
        if (load_target_set_body(t, args, strlen(args), I->e)) goto out;
        load_target_add_header(t, "Content-Type", "application/x-www-form-urlencoded", NULL);
    } else if (t->file_path && raw && args[0]) {
        warn(I, "HTTP sampler '%s': raw body beside the uploaded file is not sent", elname(s));
    }

    t->keepalive = pbool(I, s, "HTTPSampler.use_keepalive", 1);
    t->follow_redirects = pbool(I, s, "HTTPSampler.follow_redirects", 0) || pbool(I, s, "HTTPSampler.auto_redirects", 0);
    if (pbool(I, s, "HTTPSampler.image_parser", 0))
        warn(I, "HTTP sampler '%s': embedded resources are not downloaded", elname(s));
    double ct, rt;
    if (pnum(I, s, "HTTPSampler.connect_timeout", 0, &ct) || pnum(I, s, "HTTPSampler.response_timeout", 0, &rt))
        goto out;
    if (ct > 0 || rt > 0) o->plan.timeout_s = (ct + rt) / 1000.0;

    /* headers: plan level first, the sampler's own last */
    for (int h = 0; h < I->nheaders; h++) {
        xn *hc = prop(I->headers[h], "HeaderManager.headers");
        for (size_t i = 0; hc && i < hc->nkids; i++) {
            char *hn = pstr(I, hc->kids[i], "Header.name"), *hv = pstr(I, hc->kids[i], "Header.value");
            if (hn && hn[0] && load_target_add_header(t, hn, hv ? hv : "", I->e))
                warn(I, "HTTP Header Manager '%s': header '%s' skipped (%s)", elname(I->headers[h]), hn,
                     I->e->message);
            free(hn);
            free(hv);
        }
    }
    pg_err_clear(I->e);
    rc = 0;
out:
    free(domain), free(port), free(proto), free(path), free(method), free(args), free(url);
    return rc;
}

/* ---- the thread group ---------------------------------------------------------------- */

static int build_plan(imp *I) {
    jmx_plan *o = I->out;
    const xn *tg = I->tg;
    snprintf(o->thread_group, sizeof o->thread_group, "%s", elname(tg));
    snprintf(o->label, sizeof o->label, "%s", elname(I->sampler));
    o->plan.label = o->label;

    double threads, ramp, loops = 1, duration = 0, delay = 0;
    if (pnum(I, tg, "ThreadGroup.num_threads", 1, &threads) || pnum(I, tg, "ThreadGroup.ramp_time", 0, &ramp))
        return -1;
    if (threads < 1 || threads != floor(threads) || threads > LD_MAX_THREADS)
        return fail(I, tg->line, "Thread Group '%s': %g threads (wants a whole number 1..%d)", elname(tg), threads,
                    LD_MAX_THREADS);
    xn *mc = prop(tg, "ThreadGroup.main_controller");
    int forever = 0;
    if (mc) {
        if (pnum(I, mc, "LoopController.loops", 1, &loops)) return -1;
        forever = loops < 0;
    }
    if (pbool(I, tg, "ThreadGroup.scheduler", 0)) {
        if (pnum(I, tg, "ThreadGroup.duration", 0, &duration) || pnum(I, tg, "ThreadGroup.delay", 0, &delay))
            return -1;
        if (delay > 0) warn(I, "Thread Group '%s': start-up delay of %g s not applied", elname(tg), delay);
    }
    if (forever && !(duration > 0))
        return fail(I, tg->line, "Thread Group '%s' loops forever without a duration (ThreadGroup.scheduler)",
                    elname(tg));
    o->plan.threads = (int)threads;
    o->plan.ramp_s = ramp > 0 ? ramp : 0;
    o->plan.think_ms = I->think_ms;
    if (forever) {
        o->plan.loops = 0;
        o->plan.duration_s = duration;
        o->target.closed = 1;
    } else {
        double l = floor(loops) * I->loop_mult;
        if (l < 1) return fail(I, tg->line, "Thread Group '%s': %g loops (wants >= 1)", elname(tg), l);
        if (l > LD_MAX_LOOPS) return fail(I, tg->line, "Thread Group '%s': %g loops is too many", elname(tg), l);
        o->plan.loops = (int)l;
        if (duration > 0)
            warn(I, "Thread Group '%s': duration %g s ignored, the %d loops decide the end", elname(tg), duration,
                 o->plan.loops);
    }
    if (I->ctt) {
        double tp, mode;
        if (pnum(I, I->ctt, "throughput", 0, &tp) || pnum(I, I->ctt, "calcMode", 0, &mode)) return -1;
        if (tp < 0) return fail(I, I->ctt->line, "Constant Throughput Timer '%s': throughput %g (wants >= 0)",
                                elname(I->ctt), tp);
        if (tp == 0) {
            warn(I, "Constant Throughput Timer '%s' has throughput 0: no pacing", elname(I->ctt));
        } else {
            o->throughput_per_min = tp;
            o->calc_mode = (int)mode;
            /* mode 0 "this thread only": tp per thread; others: tp in all (shared or not) */
            o->plan.rate = (mode == 0 ? tp * threads : tp) / 60.0;
        }
    }
    return 0;
}

int jmx_import(const char *path, const jmx_prop *props, size_t nprops, jmx_plan *out, pg_err *e) {
    memset(out, 0, sizeof *out);
    load_target_init(&out->target);
    pg_err_clear(e);
    xn *root = parse_file(path, e);
    if (!root) return -1;
    imp I = { .out = out, .e = e, .path = path, .props = props, .nprops = nprops, .loop_mult = 1 };
    int rc = -1;
    xn *top = child_tag(root, "hashTree");
    xn *tp = NULL, *tp_tree = NULL;
    for (size_t i = 0; top && i < top->nkids; i++)
        if (!strcmp(top->kids[i]->tag, "TestPlan")) {
            tp = top->kids[i];
            if (i + 1 < top->nkids && !strcmp(top->kids[i + 1]->tag, "hashTree")) tp_tree = top->kids[i + 1];
            break;
        }
    if (!tp || !tp_tree) {
        fail(&I, root->line, "no <TestPlan> with a <hashTree>");
        goto out;
    }
    snprintf(out->name, sizeof out->name, "%s", elname(tp));
    collect_vars(&I, prop(tp, "TestPlan.user_defined_variables"));
    for (size_t i = 0; i < tp_tree->nkids; i++)         /* plan-level User Defined Variables */
        if (!tp_tree->kids[i]->disabled && tp_tree->kids[i]->testclass
            && !strcmp(tp_tree->kids[i]->testclass, "Arguments"))
            collect_vars(&I, tp_tree->kids[i]);
    if (walk(&I, tp_tree, 1, NULL, 1)) goto out;
    if (!I.tg) {
        fail(&I, tp->line, "no enabled Thread Group");
        goto out;
    }
    if (!I.sampler) {
        fail(&I, I.tg->line, "no enabled HTTP sampler in Thread Group '%s'", elname(I.tg));
        goto out;
    }
    if (build_target(&I) || build_plan(&I)) goto out;
    rc = 0;
out:
    for (size_t i = 0; i < I.nv; i++) {
        free(I.vn[i]);
        free(I.vv[i]);
    }
    free(I.vn);
    free(I.vv);
    xn_free(root);
    if (rc) {
        if (!e || !e->message[0]) pg_errf(e, 400, "bad_plan", "%.300s: cannot import the plan", path);
        jmx_plan_free(out);
    }
    return rc;
}

void jmx_plan_free(jmx_plan *p) {
    if (!p) return;
    load_target_free(&p->target);
    for (size_t i = 0; i < p->nwarnings; i++) free(p->warnings[i]);
    free(p->warnings);
    memset(p, 0, sizeof *p);
    load_target_init(&p->target);
}
