/* fuzz_http.c: raw bytes from a client, through libmicrohttpd, podgym's
 * request checks, the router and the Lua request table, into the default
 * route scripts on a simulated cluster (speed 0: no waiting).
 *
 * One server per process, started on the first input; each input is sent
 * on a fresh loopback connection, which is then half-closed. The server
 * must answer or close within 10 s (no hang), and whatever it sends starts
 * with a status line. Sanitizers watch the server's threads too. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include "base/clock.h"
#include "base/log.h"
#include "cluster/registry.h"
#include "engine.h"
#include "runtime/runtime.h"
#include "runtime/serve.h"
#include "server/http.h"
#include "shared/shared.h"
#include "fuzz.h"

static int port;

static void start(void) {
    static pg_engine eng;
    signal(SIGPIPE, SIG_IGN);
    pg_config_defaults(&eng.cfg);
    snprintf(eng.cfg.scripts, sizeof eng.cfg.scripts, "%s/scripts", PODGYM_SOURCE_DIR);
    snprintf(eng.cfg.policies, sizeof eng.cfg.policies, "%s/policies", PODGYM_SOURCE_DIR);
    const char *data = getenv("PODGYM_FUZZ_DATA");  /* run.sh: under the fuzzing build */
    FUZZ_CHECK(data && *data);
    snprintf(eng.cfg.data_dir, sizeof eng.cfg.data_dir, "%s", data);
    pg_log_set_quiet(1);
    eng.cfg.sim.speed = 0;
    eng.cfg.limits.connection_timeout_s = 2;
    eng.started = pg_wall();
    snprintf(eng.run_id, sizeof eng.run_id, "fuzz");
    eng.shared = pg_shared_new(1000);
    pg_err e = {0};
    eng.backend = pg_backend_open(&eng.cfg, &e);
    if (!eng.backend) {
        fprintf(stderr, "fuzz_http: backend: %s\n", e.message);
        abort();
    }
    eng.rt = rt_new(&eng, RT_SANDBOX, &e);
    if (!eng.rt) {
        fprintf(stderr, "fuzz_http: runtime: %s\n", e.message);
        abort();
    }
    http_opts ho = {
        .host = "127.0.0.1",
        .port = 0,
        .body_bytes = eng.cfg.limits.body_bytes,
        .connections = eng.cfg.limits.connections,
        .timeout_s = eng.cfg.limits.connection_timeout_s,
        .handler = pg_serve_request,
        .after = pg_serve_after,
        .ud = &eng,
    };
    char err[256];
    http_server *srv = http_start(&ho, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "fuzz_http: %s\n", err);
        abort();
    }
    port = http_port(srv);  /* runs until the process exits: libFuzzer never returns */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (!port) start();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        fprintf(stderr, "fuzz_http: connect to 127.0.0.1:%d: %s\n", port, strerror(errno));
        abort();
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, data + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) break;                      /* the server may close early: fine */
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    char head[16];
    size_t got = 0;
    double deadline = pg_mono() + 10;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((deadline - pg_mono()) * 1000);
        FUZZ_CHECK(left > 0);                   /* answered or closed in time: no hang */
        int r = poll(&p, 1, left);
        if (r < 0) continue;
        FUZZ_CHECK(r == 1);
        char buf[4096];
        ssize_t k = recv(fd, buf, sizeof buf, 0);
        if (k <= 0) break;
        for (ssize_t i = 0; i < k && got < sizeof head; i++) head[got++] = buf[i];
    }
    if (got >= 8) FUZZ_CHECK(memcmp(head, "HTTP/1.", 7) == 0);
    close(fd);
    return 0;
}
