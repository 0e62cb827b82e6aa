/* kubeconfig.h: where the kube backend's API server is and how it proves
 * who it is: a kubeconfig (read with libyaml) or the in-cluster service
 * account.
 *
 * Sources, in order (the first that applies is used, as kubectl does):
 *   1. kube.kubeconfig (the config key or --kubeconfig): that file only;
 *   2. $KUBECONFIG: a ':'-separated list, merged as kubectl merges it (for
 *      each named cluster, user and context, and for current-context, the
 *      first file that sets it wins; files that do not exist are skipped);
 *   3. ~/.kube/config, when it exists;
 *   4. in cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, the
 *      token, ca.crt and namespace files of kube.serviceaccount_dir.
 * The context is kube.context, else current-context. Relative file names
 * in a kubeconfig are relative to the file that names them.
 *
 * Secrets (the token, the client key) are held in memory only: never
 * logged, never written to a file; k8s_auth_free wipes them. Certificates
 * and keys are kept as PEM bytes (the *-data fields decoded, the files
 * read), for libcurl's *_BLOB options. */
#ifndef PG_KUBECONFIG_H
#define PG_KUBECONFIG_H

#include <limits.h>
#include <stddef.h>

#include "base/err.h"
#include "config/config.h"

typedef struct k8s_blob {
    unsigned char *p;           /* malloc'ed, NULL when absent */
    size_t len;
} k8s_blob;

typedef struct k8s_auth {
    char server[PG_URL_MAX];    /* https://host:port, no trailing '/' */
    char ns[PG_NAME_MAX];       /* the context's (or service account's) namespace; "" = none */
    char context[PG_NAME_MAX];  /* the context used; "" in cluster */
    char source[PATH_MAX + 16]; /* the file it came from, or "in-cluster", for messages */
    char *token;                /* bearer token, NULL = none; wiped on free */
    char token_file[PATH_MAX];  /* where the token was read from ("" = inline): read again after a 401 */
    k8s_blob ca;                /* certificate authority PEM; absent = the system's CAs */
    k8s_blob cert;              /* client certificate PEM */
    k8s_blob key;               /* client key PEM; wiped on free */
    char tls_server_name[PG_NAME_MAX];
    int insecure;               /* insecure-skip-tls-verify */
} k8s_auth;

/* Fill a from the sources above (kc: the kube.* keys). Errors: status 2,
 * code "backend", a message naming the file and the key. */
int k8s_auth_load(const pg_kube_conf *kc, k8s_auth *a, pg_err *e);

/* One kubeconfig source: files is a ':'-separated list merged as above
 * (one file when explicit; missing files are then an error). */
int k8s_kubeconfig_load(const char *files, int explicit_file, const char *context, k8s_auth *a,
                        pg_err *e);

/* The in-cluster service account under dir (its token, ca.crt, namespace
 * files) and the KUBERNETES_SERVICE_HOST/PORT of the environment. */
int k8s_incluster_load(const char *dir, k8s_auth *a, pg_err *e);

/* Read the token again from a->token_file (after a 401: bound tokens
 * rotate). 0 when a new token was read. */
int k8s_auth_reread_token(k8s_auth *a);

/* Wipe and free what a holds (a itself is the caller's). */
void k8s_auth_free(k8s_auth *a);

/* Base64 (the standard alphabet; whitespace skipped; padding optional):
 * a malloc'ed, decoded copy in *out, or -1 on bad input. */
int k8s_base64_decode(const char *s, size_t len, k8s_blob *out);

#endif
