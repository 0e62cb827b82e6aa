#include <stdio.h>
#include <string.h>

#include "base/locks.h"

#define MAX_LOCKS 64

static struct {
    char name[64];
    pthread_mutex_t mu;
} locks[MAX_LOCKS];
static int nlocks;
static pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;

pthread_mutex_t *pg_lock_named(const char *name, pg_err *e) {
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof locks[0].name) {
        pg_errf(e, 400, "bad_lock", "lock names are 1 to %zu bytes", sizeof locks[0].name - 1);
        return NULL;
    }
    pthread_mutex_t *m = NULL;
    pthread_mutex_lock(&table_mu);
    for (int i = 0; i < nlocks && !m; i++)
        if (!strcmp(locks[i].name, name)) m = &locks[i].mu;
    if (!m && nlocks < MAX_LOCKS) {
        snprintf(locks[nlocks].name, sizeof locks[0].name, "%s", name);
        pthread_mutex_init(&locks[nlocks].mu, NULL);
        m = &locks[nlocks++].mu;
    }
    pthread_mutex_unlock(&table_mu);
    if (!m) pg_errf(e, 500, "too_many_locks", "at most %d named locks", MAX_LOCKS);
    return m;
}
