/* podgym-workload: the demo service of podgym's docker backend.
 *
 * A small HTTP/1.1 server whose cost per request is CPU-bound and set by the
 * caller, like the image classifier of the original thesis: a POST of a file
 * is answered after N rounds of a hash over it.  Plain POSIX, no dependencies,
 * built -static so it runs in a rootfs that holds only busybox.
 *
 *   GET / , GET /healthz      200 at once (the readiness probe)
 *   POST /[?rounds=N]         200 after N rounds of work over the body
 *
 * Environment: PORT (8080), THREADS (2), WORK_ROUNDS (per POST, 300: ~12 ms),
 * BACKLOG (16), MAX_CONNS (256), MAX_BODY (16 MiB).
 *
 * A fixed pool of THREADS workers serves the connections that have a request
 * ready (epoll, one-shot: a keep-alive connection goes back to the set after
 * each answer, so no connection holds a worker while it is idle).  The kernel's
 * accept backlog is small and bounded: under a --cpus limit, latency rises with
 * the load and the requests beyond what the pool can serve queue and time out.
 * SIGTERM and SIGINT end the process at once. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define HEAD_MAX 8192           /* request line + headers */
#define ROUNDS_MAX 1000000L     /* ?rounds= above this is a 400 */
#define ROUND_WORDS 8192        /* 64-bit mixes per round: ~40 us of one core */

static struct {
    int port, threads, backlog, max_conns;
    long rounds;
    size_t max_body;
} cfg = {8080, 2, 16, 256, 300, 16u << 20};

static int listen_fd = -1, ep = -1;
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static int open_conns;
static int listening;           /* the listener is in the epoll set */

typedef struct {
    int fd;
    size_t len;                 /* bytes in buf */
    char buf[HEAD_MAX];
} conn_t;

static void on_term(int sig)
{
    static const char msg[] = "podgym-workload: signal received, exiting\n";
    (void)sig;
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(0);
}

static long env_long(const char *name, long def, long lo, long hi)
{
    const char *s = getenv(name);
    if (!s || !*s)
        return def;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi) {
        fprintf(stderr, "podgym-workload: %s=%s is not a number in [%ld, %ld]\n", name, s, lo, hi);
        exit(2);
    }
    return v;
}

/* FNV-1a over the body, then `rounds` rounds of a 64-bit mix (splitmix64)
 * seeded by it: the cost grows with rounds, the answer depends on the body. */
static uint64_t work(const char *body, size_t len, long rounds)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)body[i];
        h *= 1099511628211ULL;
    }
    for (long r = 0; r < rounds; r++) {
        for (int i = 0; i < ROUND_WORDS; i++) {
            uint64_t z = (h += 0x9e3779b97f4a7c15ULL);
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            h ^= z ^ (z >> 31);
        }
    }
    return h;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int respond(int fd, int status, const char *reason, const char *body, int keep)
{
    char head[256];
    size_t blen = strlen(body);
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     status, reason, blen, keep ? "keep-alive" : "close");
    if (send_all(fd, head, (size_t)n) < 0 || send_all(fd, body, blen) < 0)
        return -1;
    return keep ? 0 : -1;
}

/* Answers an error and ends the connection gracefully: the peer may still be
 * sending (oversized headers, a body refused), and a close with unread bytes
 * would reset the connection before the client reads the answer.  So: shut
 * the sending side, then drain what comes for a bounded time and size. */
static int error_reply(int fd, int status, const char *reason, const char *msg)
{
    char body[256];
    snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", msg);
    respond(fd, status, reason, body, 0);
    shutdown(fd, SHUT_WR);
    struct timeval tv = {.tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char sink[4096];
    for (size_t drained = 0; drained < (1u << 20);) {
        ssize_t r = recv(fd, sink, sizeof sink, 0);
        if (r <= 0)
            break;
        drained += (size_t)r;
    }
    return -1;                  /* the connection is closed after an error */
}

/* Reads until n bytes are in c->buf or the headers end; blocking with the
 * socket's receive timeout.  Returns 1 when the headers are complete, 0 on a
 * clean close before any byte, -1 on error. */
static int read_head(conn_t *c, size_t *head_len)
{
    for (;;) {
        char *end = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end) {
            *head_len = (size_t)(end - c->buf) + 4;
            return 1;
        }
        if (c->len == sizeof c->buf)
            return error_reply(c->fd, 431, "Request Header Fields Too Large", "headers too large");
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return c->len == 0 && r == 0 ? 0 : -1;
        c->len += (size_t)r;
    }
}

/* The value of header `name` in the header block, or NULL; *vlen its length. */
static const char *header(const char *head, size_t len, const char *name, size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = memchr(head, '\n', len), *end = head + len;
    while (p && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        if ((size_t)(eol - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol;
    }
    return NULL;
}

static int token_in(const char *v, size_t vlen, const char *tok)
{
    size_t tlen = strlen(tok);
    for (size_t i = 0; i + tlen <= vlen; i++)
        if (strncasecmp(v + i, tok, tlen) == 0)
            return 1;
    return 0;
}

/* Serves one request of c.  Returns 0 to keep the connection, -1 to close it. */
static int serve_one(conn_t *c)
{
    size_t hl = 0;
    int r = read_head(c, &hl);
    if (r <= 0)
        return -1;
    /* request line: METHOD SP TARGET SP HTTP/1.x */
    char method[16], target[1024], version[16];
    const char *eol = memchr(c->buf, '\r', hl);
    size_t ll = (size_t)(eol - c->buf);
    char line[HEAD_MAX];
    memcpy(line, c->buf, ll);
    line[ll] = 0;
    if (sscanf(line, "%15s %1023s %15s", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0)
        return error_reply(c->fd, 400, "Bad Request", "bad request line");
    int keep = strcmp(version, "HTTP/1.0") != 0;
    size_t vlen;
    const char *v = header(c->buf, hl, "Connection", &vlen);
    if (v && token_in(v, vlen, "close"))
        keep = 0;
    else if (v && token_in(v, vlen, "keep-alive"))
        keep = 1;
    if (header(c->buf, hl, "Transfer-Encoding", &vlen))
        return error_reply(c->fd, 501, "Not Implemented", "send a Content-Length, not chunks");
    size_t body_len = 0;
    v = header(c->buf, hl, "Content-Length", &vlen);
    if (v) {
        char num[24];
        char *end;
        if (vlen == 0 || vlen >= sizeof num)
            return error_reply(c->fd, 400, "Bad Request", "bad Content-Length");
        memcpy(num, v, vlen);
        num[vlen] = 0;
        errno = 0;
        unsigned long long n = strtoull(num, &end, 10);
        if (errno || *end || num[0] == '-')
            return error_reply(c->fd, 400, "Bad Request", "bad Content-Length");
        if (n > cfg.max_body)
            return error_reply(c->fd, 413, "Payload Too Large", "body too large");
        body_len = (size_t)n;
    }
    /* the body: what is already buffered, then the rest from the socket */
    char *body = malloc(body_len + 1);
    if (!body)
        return error_reply(c->fd, 503, "Service Unavailable", "out of memory");
    size_t have = c->len - hl < body_len ? c->len - hl : body_len;
    memcpy(body, c->buf + hl, have);
    size_t used = hl + have;
    memmove(c->buf, c->buf + used, c->len - used);   /* a pipelined next request stays */
    c->len -= used;
    while (have < body_len) {
        ssize_t n = recv(c->fd, body + have, body_len - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(body);
            return -1;
        }
        have += (size_t)n;
    }
    char *q = strchr(target, '?');
    if (q)
        *q++ = 0;
    char out[256];
    int st = 0;
    if (strcmp(method, "GET") == 0) {
        if (strcmp(target, "/") == 0 || strcmp(target, "/healthz") == 0) {
            snprintf(out, sizeof out,
                     "{\"service\":\"podgym-workload\",\"status\":\"ok\",\"threads\":%d,\"rounds\":%ld}\n",
                     cfg.threads, cfg.rounds);
            st = respond(c->fd, 200, "OK", out, keep);
        } else {
            st = error_reply(c->fd, 404, "Not Found", "no such path");
        }
    } else if (strcmp(method, "POST") == 0) {
        long rounds = cfg.rounds;
        const char *rq = NULL;
        for (char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
            if (strncmp(p, "rounds=", 7) == 0)
                rq = p + 7;
        if (strcmp(target, "/") != 0) {
            st = error_reply(c->fd, 404, "Not Found", "no such path");
        } else if (rq) {
            char *end;
            errno = 0;
            rounds = strtol(rq, &end, 10);
            if (errno || end == rq || (*end && *end != '&') || rounds < 0 || rounds > ROUNDS_MAX)
                st = error_reply(c->fd, 400, "Bad Request", "rounds must be an integer in [0, 1000000]");
        }
        if (st == 0 && strcmp(target, "/") == 0) {
            uint64_t h = work(body, body_len, rounds);
            snprintf(out, sizeof out, "{\"rounds\":%ld,\"bytes\":%zu,\"hash\":\"%016llx\"}\n", rounds,
                     body_len, (unsigned long long)h);
            st = respond(c->fd, 200, "OK", out, keep);
        }
    } else {
        st = error_reply(c->fd, 405, "Method Not Allowed", "GET or POST");
    }
    free(body);
    return st;
}

static void listener_arm(int on)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (on && !listening && epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev) == 0)
        listening = 1;
    else if (!on && listening && epoll_ctl(ep, EPOLL_CTL_DEL, listen_fd, NULL) == 0)
        listening = 0;
}

static void conn_close(conn_t *c)
{
    close(c->fd);               /* also leaves the epoll set */
    free(c);
    pthread_mutex_lock(&conns_lock);
    open_conns--;
    listener_arm(1);
    pthread_mutex_unlock(&conns_lock);
}

static void accept_one(void)
{
    int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;                 /* another worker took it (EAGAIN), or the peer left */
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn_t *c = malloc(sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    c->len = 0;
    pthread_mutex_lock(&conns_lock);
    open_conns++;
    if (open_conns >= cfg.max_conns)
        listener_arm(0);        /* the rest wait in the kernel's backlog */
    pthread_mutex_unlock(&conns_lock);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        conn_close(c);
}

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        struct epoll_event ev;
        int n = epoll_wait(ep, &ev, 1, -1);
        if (n <= 0)
            continue;
        conn_t *c = ev.data.ptr;
        if (!c) {
            accept_one();
            continue;
        }
        int st;
        do                      /* pipelined requests already buffered are served too */
            st = serve_one(c);
        while (st == 0 && c->len > 0);
        struct epoll_event re = {.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT, .data.ptr = c};
        if (st < 0 || epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &re) < 0)
            conn_close(c);
    }
    return NULL;
}

int main(void)
{
    cfg.port = (int)env_long("PORT", 8080, 1, 65535);
    cfg.threads = (int)env_long("THREADS", 2, 1, 256);
    cfg.rounds = env_long("WORK_ROUNDS", 300, 0, ROUNDS_MAX);
    cfg.backlog = (int)env_long("BACKLOG", 16, 1, 4096);
    cfg.max_conns = (int)env_long("MAX_CONNS", 256, 1, 65536);
    cfg.max_body = (size_t)env_long("MAX_BODY", 16L << 20, 0, 1L << 30);

    struct sigaction sa = {.sa_handler = on_term};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg.port),
                               .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(listen_fd, cfg.backlog) < 0) {
        fprintf(stderr, "podgym-workload: cannot listen on 0.0.0.0:%d: %s\n", cfg.port, strerror(errno));
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("podgym-workload: epoll_create1");
        return 1;
    }
    listener_arm(1);
    fprintf(stderr, "podgym-workload: listening on 0.0.0.0:%d, %d threads, %ld rounds per POST\n",
            cfg.port, cfg.threads, cfg.rounds);
    for (int i = 1; i < cfg.threads; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, NULL) != 0) {
            fprintf(stderr, "podgym-workload: cannot start thread %d\n", i);
            return 1;
        }
    }
    worker(NULL);
    return 0;
}
