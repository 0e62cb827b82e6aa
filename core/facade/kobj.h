/* kobj.h: the facade's view of the cluster as Kubernetes objects.
 *
 * kf_state follows one backend: every refresh reads its pods and replicas,
 * compares them with what it saw last, and records each difference as an
 * event with the next resourceVersion, in a bounded history a watch reads.
 * The kobj_* renderers turn that state into the JSON kubectl and client-go
 * read: Pod, Deployment, Scale (autoscaling/v1), PodMetrics, Table rows.
 * Every function that takes a kf_state expects its lock held
 * (kf_state_lock) unless it says otherwise. */
#ifndef PG_FACADE_KOBJ_H
#define PG_FACADE_KOBJ_H

#include <pthread.h>
#include <stdint.h>

#include <jansson.h>

#include "cluster/backend.h"

#define KF_HISTORY 2048             /* events a watch can resume from */

enum { KF_PODS, KF_DEPLOYMENTS };
enum { KF_ADDED, KF_MODIFIED, KF_DELETED };

typedef struct kf_pod {
    pg_pod p;                       /* as the backend reported it last */
    uint64_t rv;
    char uid[40];
    double ready_at;                /* backend time of the last Ready change */
    double del_at;                  /* backend time its deletion was seen; 0: none */
    double grace;                   /* deletionGracePeriodSeconds; < 0: not known */
} kf_pod;

typedef struct kf_dep {
    int desired, total, ready;      /* spec.replicas; pods not terminating; Ready ones */
    int64_t generation;
    uint64_t rv;
    char uid[40];
    double created;                 /* backend time */
    double cpu, mem;                /* requests of its pods (cores, bytes) */
} kf_dep;

typedef struct kf_event {
    uint64_t rv;
    int type;                       /* KF_ADDED ... */
    int res;                        /* KF_PODS | KF_DEPLOYMENTS */
    kf_pod pod;
    kf_dep dep;
} kf_event;

typedef struct kf_state {
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* broadcast when events are added */
    pg_backend *b;
    char ns[128], name[128], node[128], image[160];
    uint64_t rv;                    /* the last resourceVersion handed out */
    uint64_t floor;                 /* every event with rv > floor is in the history */
    uint64_t gen;                   /* the backend generation of the last refresh (changes op) */
    int refreshed;
    double off;                     /* wall clock - backend clock, fixed at start */
    kf_pod *pods;                   /* the backend's order */
    size_t npods, cap;
    kf_dep dep;
    kf_event *hist;                 /* ring of KF_HISTORY */
    size_t hhead, hcount;
} kf_state;

int kf_state_init(kf_state *s, pg_backend *b, const char *ns, const char *name, const char *node, pg_err *e);
void kf_state_free(kf_state *s);
void kf_state_lock(kf_state *s);
void kf_state_unlock(kf_state *s);
/* Read the backend and record what changed. Skipped when the backend's
 * changes op says nothing moved since the last refresh. */
int kf_refresh(kf_state *s, pg_err *e);
/* Without the lock: wait up to timeout_s for the backend to change (its
 * changes op, else a short sleep), then refresh. */
int kf_wait_refresh(kf_state *s, double timeout_s, pg_err *e);
kf_pod *kf_find_pod(kf_state *s, const char *name);
/* The i-th event of the history (0 = oldest), i < s->hcount. */
const kf_event *kf_event_at(const kf_state *s, size_t i);

/* Labels of pods and of the Deployment (new reference; object). */
json_t *kobj_pod_labels(const kf_state *s, const kf_pod *k);
json_t *kobj_pod(const kf_state *s, const kf_pod *k);
json_t *kobj_deployment(const kf_state *s, const kf_dep *d);
json_t *kobj_scale(const kf_state *s, const kf_dep *d);
json_t *kobj_pod_metrics(const kf_state *s, const kf_pod *k, const pg_metric *m);
/* A meta.k8s.io/v1 Table with kubectl's columns; rows added by kobj_table_row.
 * include: 0 None, 1 Metadata (PartialObjectMetadata), 2 Object. */
json_t *kobj_table(int res, uint64_t rv);
void kobj_table_row(json_t *table, const kf_state *s, int res, const kf_pod *k, const kf_dep *d, int include);
/* RFC 3339 of backend time t ("2026-12-02T00:25:00Z") into out. */
void kobj_time(const kf_state *s, double t, char *out, size_t n);

#endif
