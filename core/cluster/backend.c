/* backend.c: what is computed the same way over any backend. */
#include <stdlib.h>
#include <string.h>

#include "cluster/backend.h"

/* Sums of pods() and metrics(), for a backend without a usage op. */
static int usage_from_lists(pg_backend *b, pg_usage *u, pg_err *e) {
    pg_pod *pods = NULL;
    pg_metric *ms = NULL;
    size_t np = 0, nm = 0;
    if (b->ops->pods(b, &pods, &np, e) || b->ops->metrics(b, &ms, &nm, e) || b->ops->replicas(b, &u->desired, e)) {
        free(pods);
        return -1;
    }
    u->total = (int)np;
    for (size_t i = 0; i < np; i++) u->ready += pods[i].ready != 0;
    for (size_t j = 0; j < nm; j++) {
        for (size_t i = 0; i < np; i++) {
            if (strcmp(ms[j].name, pods[i].name)) continue;
            u->online++;
            u->cpu += ms[j].cpu;
            u->mem += ms[j].mem;
            u->req_cpu += pods[i].req_cpu;
            u->req_mem += pods[i].req_mem;
            if (u->online == 1 || ms[j].ts < u->oldest) u->oldest = ms[j].ts;
            break;
        }
    }
    u->now = b->ops->now(b);
    free(pods);
    free(ms);
    return 0;
}

int pg_backend_usage(pg_backend *b, pg_usage *u, pg_err *e) {
    memset(u, 0, sizeof *u);
    return b->ops->usage ? b->ops->usage(b, u, e) : usage_from_lists(b, u, e);
}
