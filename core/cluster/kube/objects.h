/* objects.h: Kubernetes objects (jansson) read into podgym's records.
 *
 * k8s_pod_read fills a pg_pod from a v1 Pod; its status is the STATUS
 * column kubectl prints (k8s.io/kubernetes pkg/printers/internalversion,
 * printPod): the phase, or status.reason; an init container's state as
 * Init:<reason>, Init:N/M, Init:ExitCode:N; a container's waiting reason
 * (ContainerCreating, CrashLoopBackOff, ImagePullBackOff, ErrImagePull)
 * or terminated reason (Completed, Error, OOMKilled, ExitCode:N);
 * Terminating once deletionTimestamp is set (Unknown for a pod lost with
 * its node); SchedulingGated. Restarts are the containers' restartCount
 * summed, as kubectl counts them. */
#ifndef PG_KUBE_OBJECTS_H
#define PG_KUBE_OBJECTS_H

#include <stddef.h>

#include <jansson.h>

#include "cluster/backend.h"

/* 0, or -1 when pod is not a Pod object (no metadata.name). */
int k8s_pod_read(json_t *pod, pg_pod *out);

/* A metrics.k8s.io/v1beta1 PodMetrics: cpu and memory summed over its
 * containers. -1 when it is not one or a quantity does not parse. */
int k8s_metric_read(json_t *m, pg_metric *out);

/* RFC 3339 ("2026-12-02T00:10:00Z", with fractions or an offset) as epoch
 * seconds; -1 when it is not one. */
double k8s_time(const char *s);

/* A Go duration ("30s", "1m30s", "1.5s", "250ms") in seconds; -1 when not one. */
double k8s_duration(const char *s);

/* The label selector of a Deployment's spec.selector (matchLabels and
 * matchExpressions: In, NotIn, Exists, DoesNotExist) in the text form of
 * the labelSelector parameter, into out. -1 when there is none or it does
 * not fit. */
int k8s_selector(json_t *selector, char *out, size_t n);

/* Does the object's metadata.labels match the selector's matchLabels (and
 * expressions)? */
int k8s_selector_matches(json_t *selector, json_t *obj);

#endif
