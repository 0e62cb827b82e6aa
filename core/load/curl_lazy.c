/* curl_lazy.c: libcurl, loaded on its first use.
 *
 * Only the native load generator calls libcurl (its URL parser, and its
 * curl client); serving HTTP and the simulated cluster with its load test
 * never do. Linked at start, libcurl maps OpenSSL, Kerberos, LDAP, SSH and
 * HTTP/2 libraries into every process, about 3 MB of resident pages. So
 * the binary does not link it: the curl_* functions the engine calls are
 * defined here, and the first of them to run opens libcurl.so.4 and
 * resolves them all.
 *
 * Without the library every call fails the way libcurl reports a failure
 * (NULL, CURLE_FAILED_INIT, CURLUE_OUT_OF_MEMORY, CURLM_INTERNAL_ERROR);
 * callers ask pg_curl_loaded() first to report why. */
#define CURL_DISABLE_TYPECHECK          /* the real prototypes, not the checking macros */
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "load/curl_lazy.h"
#include "base/log.h"

#define CURL_SONAME "libcurl.so.4"

/* Every function the engine calls: name, return type, parameters. */
#define CURL_FUNCS(X)                                                                            \
    X(curl_global_init, CURLcode, (long))                                                        \
    X(curl_free, void, (void *))                                                                 \
    X(curl_easy_init, CURL *, (void))                                                            \
    X(curl_easy_cleanup, void, (CURL *))                                                         \
    X(curl_easy_setopt, CURLcode, (CURL *, CURLoption, ...))                                     \
    X(curl_easy_getinfo, CURLcode, (CURL *, CURLINFO, ...))                                      \
    X(curl_easy_strerror, const char *, (CURLcode))                                              \
    X(curl_slist_append, struct curl_slist *, (struct curl_slist *, const char *))               \
    X(curl_slist_free_all, void, (struct curl_slist *))                                          \
    X(curl_url, CURLU *, (void))                                                                 \
    X(curl_url_cleanup, void, (CURLU *))                                                         \
    X(curl_url_set, CURLUcode, (CURLU *, CURLUPart, const char *, unsigned int))                 \
    X(curl_url_get, CURLUcode, (CURLU *, CURLUPart, char **, unsigned int))                  \
    X(curl_multi_init, CURLM *, (void))                                                          \
    X(curl_multi_cleanup, CURLMcode, (CURLM *))                                                  \
    X(curl_multi_setopt, CURLMcode, (CURLM *, CURLMoption, ...))                                 \
    X(curl_multi_add_handle, CURLMcode, (CURLM *, CURL *))                                       \
    X(curl_multi_remove_handle, CURLMcode, (CURLM *, CURL *))                                    \
    X(curl_multi_socket_action, CURLMcode, (CURLM *, curl_socket_t, int, int *))                 \
    X(curl_multi_info_read, CURLMsg *, (CURLM *, int *))                                         \
    X(curl_mime_init, curl_mime *, (CURL *))                                                     \
    X(curl_mime_free, void, (curl_mime *))                                                       \
    X(curl_mime_addpart, curl_mimepart *, (curl_mime *))                                         \
    X(curl_mime_name, CURLcode, (curl_mimepart *, const char *))                                 \
    X(curl_mime_filename, CURLcode, (curl_mimepart *, const char *))                             \
    X(curl_mime_type, CURLcode, (curl_mimepart *, const char *))                                 \
    X(curl_mime_data_cb, CURLcode,                                                               \
      (curl_mimepart *, curl_off_t, curl_read_callback, curl_seek_callback, curl_free_callback,  \
       void *))

#define FIELD(name, ret, args) ret(*name) args;
static struct {
    CURL_FUNCS(FIELD)
} fn;
#undef FIELD

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static char why[256];           /* set once, before `once` completes */

static void load(void) {
    void *h = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, sizeof why, "%s", dlerror());
        pg_log(PG_LOG_ERROR, "libcurl: %s", why);
        return;
    }
#define RESOLVE(name, ret, args)                                                                \
    if (!(*(void **)&fn.name = dlsym(h, #name))) {                                              \
        snprintf(why, sizeof why, "%s has no %s", CURL_SONAME, #name);                          \
        pg_log(PG_LOG_ERROR, "libcurl: %s", why);                                               \
        return;                                                                                 \
    }
    CURL_FUNCS(RESOLVE)
#undef RESOLVE
    loaded = 1;
}

int pg_curl_loaded(void) {
    pthread_once(&once, load);
    return loaded;
}

const char *pg_curl_error(void) {
    return pg_curl_loaded() ? "" : why;
}

#define READY(fail) \
    if (!pg_curl_loaded()) return fail

CURLcode curl_global_init(long flags) {
    READY(CURLE_FAILED_INIT);
    return fn.curl_global_init(flags);
}

void curl_free(void *p) {
    if (p && pg_curl_loaded()) fn.curl_free(p);
}

CURL *curl_easy_init(void) {
    READY(NULL);
    return fn.curl_easy_init();
}

void curl_easy_cleanup(CURL *h) {
    if (h && pg_curl_loaded()) fn.curl_easy_cleanup(h);
}

/* rc = call(h, opt, <the argument>): the option's number says the type of
 * the argument, as libcurl itself reads it (the same ranges for easy and
 * multi options): long, object pointer, function pointer, curl_off_t, blob. */
#define FORWARD_OPT(rc, call, h, opt)                                                            \
    do {                                                                                         \
        va_list ap;                                                                              \
        va_start(ap, opt);                                                                       \
        if (opt < CURLOPTTYPE_OBJECTPOINT) rc = call(h, opt, va_arg(ap, long));                  \
        else if (opt < CURLOPTTYPE_FUNCTIONPOINT) rc = call(h, opt, va_arg(ap, void *));         \
        else if (opt < CURLOPTTYPE_OFF_T) rc = call(h, opt, va_arg(ap, void (*)(void)));         \
        else if (opt < CURLOPTTYPE_BLOB) rc = call(h, opt, va_arg(ap, curl_off_t));              \
        else rc = call(h, opt, va_arg(ap, void *));                                              \
        va_end(ap);                                                                              \
    } while (0)

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...) {
    READY(CURLE_FAILED_INIT);
    CURLcode rc;
    FORWARD_OPT(rc, fn.curl_easy_setopt, h, opt);
    return rc;
}

/* Every CURLINFO takes a pointer to where the answer goes. */
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...) {
    READY(CURLE_FAILED_INIT);
    va_list ap;
    va_start(ap, info);
    CURLcode rc = fn.curl_easy_getinfo(h, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

const char *curl_easy_strerror(CURLcode rc) {
    READY("libcurl is not available");
    return fn.curl_easy_strerror(rc);
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s) {
    READY(NULL);
    return fn.curl_slist_append(l, s);
}

void curl_slist_free_all(struct curl_slist *l) {
    if (l && pg_curl_loaded()) fn.curl_slist_free_all(l);
}

CURLU *curl_url(void) {
    READY(NULL);
    return fn.curl_url();
}

void curl_url_cleanup(CURLU *u) {
    if (u && pg_curl_loaded()) fn.curl_url_cleanup(u);
}

CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags) {
    READY(CURLUE_OUT_OF_MEMORY);
    return fn.curl_url_set(u, what, part, flags);
}

CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags) {
    READY(CURLUE_OUT_OF_MEMORY);
    return fn.curl_url_get(u, what, part, flags);
}

CURLM *curl_multi_init(void) {
    READY(NULL);
    return fn.curl_multi_init();
}

CURLMcode curl_multi_cleanup(CURLM *m) {
    READY(CURLM_INTERNAL_ERROR);
    return fn.curl_multi_cleanup(m);
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...) {
    READY(CURLM_INTERNAL_ERROR);
    CURLMcode rc;
    FORWARD_OPT(rc, fn.curl_multi_setopt, m, opt);
    return rc;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h) {
    READY(CURLM_INTERNAL_ERROR);
    return fn.curl_multi_add_handle(m, h);
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h) {
    READY(CURLM_INTERNAL_ERROR);
    return fn.curl_multi_remove_handle(m, h);
}

CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t s, int ev, int *running) {
    READY(CURLM_INTERNAL_ERROR);
    return fn.curl_multi_socket_action(m, s, ev, running);
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left) {
    READY(NULL);
    return fn.curl_multi_info_read(m, left);
}

curl_mime *curl_mime_init(CURL *h) {
    READY(NULL);
    return fn.curl_mime_init(h);
}

void curl_mime_free(curl_mime *m) {
    if (m && pg_curl_loaded()) fn.curl_mime_free(m);
}

curl_mimepart *curl_mime_addpart(curl_mime *m) {
    READY(NULL);
    return fn.curl_mime_addpart(m);
}

CURLcode curl_mime_name(curl_mimepart *p, const char *name) {
    READY(CURLE_FAILED_INIT);
    return fn.curl_mime_name(p, name);
}

CURLcode curl_mime_filename(curl_mimepart *p, const char *name) {
    READY(CURLE_FAILED_INIT);
    return fn.curl_mime_filename(p, name);
}

CURLcode curl_mime_type(curl_mimepart *p, const char *type) {
    READY(CURLE_FAILED_INIT);
    return fn.curl_mime_type(p, type);
}

CURLcode curl_mime_data_cb(curl_mimepart *p, curl_off_t size, curl_read_callback rd, curl_seek_callback sk,
                           curl_free_callback fr, void *arg) {
    READY(CURLE_FAILED_INIT);
    return fn.curl_mime_data_cb(p, size, rd, sk, fr, arg);
}
