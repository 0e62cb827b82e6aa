/* kfault.h: the facade's fault rules, for testing a client's retries.
 *
 * A rule matches a request by method and a substring of its path and
 * applies to the next `times` matching requests (-1: all): answer with a
 * status (and Retry-After), wait first, or drop the connection. The rules
 * are set as JSON ({"faults": [rule, ...]}, or one rule object) through
 * the facade's /podgym/v1/faults; see README "Faults". Thread-safe. */
#ifndef PG_FACADE_KFAULT_H
#define PG_FACADE_KFAULT_H

#include <pthread.h>
#include <stddef.h>

#include <jansson.h>

#include "base/err.h"

#define KF_FAULTS 16

typedef struct kf_fault {
    char method[16];            /* "" = any */
    char path[256];             /* a substring of the path; "" = any */
    int status;                 /* 0: no status (a delay alone, or a drop) */
    double retry_after;         /* seconds: a Retry-After header with the status */
    double delay_s;             /* before the answer (or the drop) */
    int drop;                   /* close the connection without answering */
    int garbage;                /* answer 200 application/json with a body that is not JSON */
    int times;                  /* matching requests left; -1 = all */
    int hits;
} kf_fault;

typedef struct kf_faults {
    pthread_mutex_t mu;
    kf_fault v[KF_FAULTS];
    int n;
} kf_faults;

void kf_faults_init(kf_faults *fs);
void kf_faults_free(kf_faults *fs);
/* Rules from a JSON body: replace (1) or append (0). -1 with e (400) on a
 * bad body; then nothing changes. */
int kf_faults_set(kf_faults *fs, int replace, const char *body, size_t len, pg_err *e);
void kf_faults_clear(kf_faults *fs);
/* {"faults": [...]} with the times left and hits (new reference). */
json_t *kf_faults_json(kf_faults *fs);
/* The first live rule matching the request, copied into out and counted: 1; else 0. */
int kf_fault_take(kf_faults *fs, const char *method, const char *path, kf_fault *out);

#endif
