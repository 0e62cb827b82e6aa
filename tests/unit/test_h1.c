/* The load generator's HTTP/1.1 client (core/load/h1.c, over http_parser):
 * the response reader fed whole, in pieces of every size and split in two
 * at every byte, the body framings, bad responses, the request bytes, and
 * transfers against a loopback listener this test answers by hand. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "load/h1.h"

/* Feed text in pieces of `step` bytes (0: all at once), keeping the
 * unconsumed tail as a caller must. Returns the final rc; *rest = bytes
 * left after the response. */
static int feed_steps(h1_resp *r, const char *text, size_t step, size_t *rest) {
    size_t n = strlen(text), given = 0, have = 0;
    char buf[8192];
    int rc = H1_MORE;
    while (rc == H1_MORE && given < n) {
        size_t take = step && n - given > step ? step : n - given;
        memcpy(buf + have, text + given, take);
        given += take;
        have += take;
        size_t used = 0;
        rc = h1_resp_feed(r, buf, have, &used);
        assert_true(used <= have);
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    if (rest) *rest = have + (n - given);
    return rc;
}

static void every_split(const char *text, int head, int want_rc, int code, long body, long hdr, int ka) {
    size_t n = strlen(text);
    for (size_t step = 0; step <= n; step++) {
        h1_resp r;
        h1_resp_init(&r, head);
        size_t rest = 0;
        int rc = feed_steps(&r, text, step, &rest);
        if (rc == H1_MORE && want_rc == H1_DONE) rc = h1_resp_eof(&r);
        assert_int_equal(rc, want_rc);
        if (want_rc != H1_DONE) continue;
        assert_int_equal(r.code, code);
        assert_int_equal(r.body_bytes, body);
        assert_int_equal(r.header_bytes, hdr >= 0 ? hdr : (long)n - body);
        assert_int_equal(r.keepalive, ka);
        assert_int_equal(rest, 0);
    }
}

static void content_length(void **state) {
    (void)state;
    const char *t = "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 13\r\n\r\nHello, World!";
    every_split(t, 0, H1_DONE, 200, 13, -1, 1);
    h1_resp r;
    h1_resp_init(&r, 0);
    size_t used;
    assert_int_equal(h1_resp_feed(&r, t, strlen(t), &used), H1_DONE);
    assert_string_equal(r.reason, "OK");
    assert_int_equal(used, strlen(t));
}

static void chunked(void **state) {
    (void)state;
    const char *t = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5\r\nHello\r\n1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n";
    every_split(t, 0, H1_DONE, 200, 31, 47, 1);
}

/* Chunk extensions (quoted, bare, on the last chunk), upper-case sizes. */
static void chunk_extensions(void **state) {
    (void)state;
    const char *t = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "4;name=\"a b;c\"\r\nWiki\r\n"
                    "A;flag;x=1\r\n0123456789\r\n"
                    "0;last=yes\r\n\r\n";
    every_split(t, 0, H1_DONE, 200, 14, 47, 1);
    const char *big = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1F\r\n"
                      "0123456789012345678901234567890\r\n0\r\n\r\n";
    every_split(big, 0, H1_DONE, 200, 31, 47, 1);
}

/* text fed as two pieces, cut at every byte: the same response each time. */
static void split_in_two(const char *text, int code, long body, long hdr, int ka) {
    size_t n = strlen(text);
    for (size_t cut = 0; cut <= n; cut++) {
        h1_resp r;
        h1_resp_init(&r, 0);
        size_t used = 0;
        int rc = h1_resp_feed(&r, text, cut, &used);
        assert_int_equal(used, cut);                /* every byte consumed: no tail to keep */
        if (rc == H1_MORE) {
            rc = h1_resp_feed(&r, text + cut, n - cut, &used);
            assert_int_equal(used, n - cut);
        }
        if (rc == H1_MORE) rc = h1_resp_eof(&r);
        if (rc != H1_DONE) fail_msg("cut at %zu: rc %d (%s)", cut, rc, r.error ? r.error : "");
        assert_int_equal(r.code, code);
        assert_int_equal(r.body_bytes, body);
        assert_int_equal(r.header_bytes, hdr);
        assert_int_equal(r.keepalive, ka);
        assert_string_equal(r.reason, code == 201 ? "Created" : "OK");
    }
}

static void split_everywhere(void **state) {
    (void)state;
    split_in_two("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 200, 5, 38, 1);
    split_in_two("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n", 200, 3,
                 47, 1);
    split_in_two("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201, 2, 68, 1);
    split_in_two("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", 200, 13, 38, 0);
}

/* A response followed by bytes of another: done where the first ends. */
static void bytes_after(void **state) {
    (void)state;
    const char *one = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char two[256];
    snprintf(two, sizeof two, "%sHTTP/1.1 200 OK\r\n", one);
    h1_resp r;
    h1_resp_init(&r, 0);
    size_t used;
    assert_int_equal(h1_resp_feed(&r, two, strlen(two), &used), H1_DONE);
    assert_int_equal(used, strlen(one));
    h1_resp_init(&r, 1);                            /* HEAD: the next response starts right after */
    const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.1 2";
    assert_int_equal(h1_resp_feed(&r, head, strlen(head), &used), H1_DONE);
    assert_int_equal(used, strlen(head) - 10);
    assert_int_equal(r.body_bytes, 0);
}

static void no_body_cases(void **state) {
    (void)state;
    /* HEAD: the Content-Length describes the GET's body, none follows */
    every_split("HTTP/1.1 200 OK\r\nContent-Length: 612\r\n\r\n", 1, H1_DONE, 200, 0, -1, 1);
    every_split("HTTP/1.1 204 No Content\r\n\r\n", 0, H1_DONE, 204, 0, -1, 1);
    every_split("HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n", 0, H1_DONE, 304, 0, -1, 1);
    every_split("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n", 0, H1_DONE, 500, 0, -1, 1);
    every_split("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, H1_DONE, 200, 0, -1, 1);     /* no reason */
}

static void interim_and_close(void **state) {
    (void)state;
    /* 100 Continue is skipped; its bytes count as header bytes */
    every_split("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 0, H1_DONE, 201,
                2, -1, 1);
    /* no length: the body ends with the connection */
    every_split("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", 0, H1_DONE, 200, 13, -1, 0);
    every_split("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 0, H1_DONE, 200, 1, -1, 0);
    every_split("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", 0, H1_DONE, 200, 1,
                -1, 1);
    every_split("HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 1\r\n\r\nx", 0, H1_DONE, 200,
                1, -1, 0);
    /* bare \n line ends */
    every_split("HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", 0, H1_DONE, 200, 2, -1, 1);
}

static int bad_rc(const char *t, const char **why) {
    h1_resp r;
    h1_resp_init(&r, 0);
    size_t used;
    int rc = h1_resp_feed(&r, t, strlen(t), &used);
    if (rc == H1_MORE) rc = h1_resp_eof(&r);
    *why = r.error;
    return rc;
}

static void bad_responses(void **state) {
    (void)state;
    const char *why;
    assert_int_equal(bad_rc("SSH-2.0-OpenSSH\r\n", &why), H1_BAD);
    assert_string_equal(why, "malformed status line");
    assert_int_equal(bad_rc("HTTP/1.1 2x0 OK\r\n\r\n", &why), H1_BAD);
    assert_int_equal(bad_rc("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", &why), H1_BAD);
    assert_string_equal(why, "bad Content-Length");
    assert_int_equal(bad_rc("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", &why), H1_BAD);
    assert_int_equal(bad_rc("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &why), H1_BAD);
    assert_string_equal(why, "conflicting Content-Length headers");
    assert_int_equal(bad_rc("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", &why), H1_BAD);
    assert_int_equal(bad_rc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", &why), H1_BAD);
    assert_string_equal(why, "malformed chunk size");
    assert_int_equal(bad_rc("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", &why), H1_BAD);
    assert_int_equal(bad_rc("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", &why), H1_BAD);
    assert_string_equal(why, "connection closed before the response was complete");
    assert_int_equal(bad_rc("", &why), H1_BAD);
    assert_string_equal(why, "empty reply from server");
    /* malformed status lines: a clear reason, whatever the cut */
    const char *lines[] = { "HTTP/1.1 abc OK\r\n\r\n", "HTTP/9 200 OK\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n",
                            "HTTP/1.1 2000 OK\r\n\r\n", "http/1.1 200 OK\r\n\r\n", "\x16\x03\x01\x02\x00" };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        size_t n = strlen(lines[i]);
        for (size_t cut = 0; cut <= n; cut++) {
            h1_resp r;
            h1_resp_init(&r, 0);
            size_t used;
            int rc = h1_resp_feed(&r, lines[i], cut, &used);
            if (rc == H1_MORE) rc = h1_resp_feed(&r, lines[i] + cut, n - cut, &used);
            if (rc == H1_MORE) rc = h1_resp_eof(&r);
            assert_int_equal(rc, H1_BAD);
            if (!strstr(r.error, "malformed status"))
                fail_msg("'%s' cut at %zu: '%s'", lines[i], cut, r.error);
            assert_int_equal(r.code, 0);
        }
    }
    assert_int_equal(bad_rc("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", &why),
                     H1_BAD);
    assert_string_equal(why, "Content-Length beside Transfer-Encoding");
}

static void request_bytes(void **state) {
    (void)state;
    h1_origin *orig = NULL;
    size_t norig = 0;
    char msg[200];
    char *hdrs[] = { "X-Test: yes", "Content-Type: application/json" };
    h1_req_opts o = { .method = "POST", .headers = hdrs, .nheaders = 2, .body = "{\"a\":1}", .body_len = 7,
                      .keepalive = 1 };
    h1_req a, b, c;
    assert_int_equal(h1_req_build(&a, "http://127.0.0.1:8080/ok?c=1", &o, &orig, &norig, msg, sizeof msg), 0);
    assert_string_equal(a.bytes, "POST /ok?c=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nAccept: */*\r\n"
                                 "X-Test: yes\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
                                 "{\"a\":1}");
    assert_int_equal(a.len, strlen(a.bytes));
    h1_req_opts g = { .method = "GET", .keepalive = 0 };
    assert_int_equal(h1_req_build(&b, "http://localhost", &g, &orig, &norig, msg, sizeof msg), 0);
    assert_string_equal(b.bytes, "GET / HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    assert_int_equal(h1_req_build(&c, "http://127.0.0.1:8080/other", &g, &orig, &norig, msg, sizeof msg), 0);
    assert_int_equal(norig, 2);                 /* 127.0.0.1:8080 shared, localhost:80 */
    assert_int_equal(a.origin, 0);
    assert_int_equal(c.origin, 0);
    assert_int_equal(b.origin, 1);
    assert_true(orig[0].salen > 0);
    h1_req d;
    assert_int_equal(h1_req_build(&d, "https://127.0.0.1/", &g, &orig, &norig, msg, sizeof msg), -1);
    assert_false(h1_url_ok("https://x/"));
    assert_true(h1_url_ok("HTTP://x/"));
    assert_false(h1_url_ok("http://user:secret@x/"));      /* credentials: libcurl's job */
    assert_true(h1_url_ok("http://x/path?mail=a@b"));
    free(a.bytes);
    free(b.bytes);
    free(c.bytes);
    free(orig);
}

/* A transfer against a listening socket this test answers by hand. */
static void transfer(void **state) {
    (void)state;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(ls, 4), 0);
    socklen_t sl = sizeof sa;
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(sa.sin_port));

    h1_origin *orig = NULL;
    size_t norig = 0;
    char msg[200];
    h1_req_opts g = { .method = "GET", .keepalive = 1 };
    h1_req rq;
    assert_int_equal(h1_req_build(&rq, url, &g, &orig, &norig, msg, sizeof msg), 0);
    h1_sock s = { .fd = -1 };
    h1_xfer x = { 0 };

    assert_int_not_equal(h1_xfer_begin(&x, &s, &rq, &orig[0], 1.0), H1_BAD);
    int peer = accept(ls, NULL, NULL);
    assert_true(peer >= 0);
    int rc = H1_MORE;
    char in[512];
    for (int i = 0; i < 100 && x.sent < rq.len; i++) rc = h1_xfer_event(&x, H1_WANT_OUT, &orig[0], 1.0);
    assert_int_equal(rc, H1_MORE);
    ssize_t n = recv(peer, in, sizeof in - 1, 0);
    assert_int_equal(n, (ssize_t)rq.len);
    const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_int_equal(send(peer, resp, strlen(resp), 0), (ssize_t)strlen(resp));
    for (int i = 0; i < 1000 && rc == H1_MORE; i++) rc = h1_xfer_event(&x, H1_WANT_IN, &orig[0], 2.0);
    assert_int_equal(rc, H1_DONE);
    assert_int_equal(x.resp.code, 200);
    assert_true(x.fresh);
    assert_true(x.t_first == 2.0);
    assert_true(s.fd >= 0);                      /* kept alive */

    /* The server closes the idle connection; the next request retries once
     * on a new connection instead of failing. */
    close(peer);
    assert_int_not_equal(h1_xfer_begin(&x, &s, &rq, &orig[0], 3.0), H1_BAD);
    rc = H1_MORE;
    for (int i = 0; i < 1000 && rc == H1_MORE && s.fd >= 0 && !s.connecting && x.reused; i++)
        rc = h1_xfer_event(&x, H1_WANT_IN | H1_WANT_OUT, &orig[0], 3.0);
    assert_int_equal(rc, H1_MORE);
    assert_false(x.reused);
    peer = accept(ls, NULL, NULL);
    assert_true(peer >= 0);
    for (int i = 0; i < 100 && x.sent < rq.len; i++) rc = h1_xfer_event(&x, H1_WANT_OUT, &orig[0], 3.0);
    n = recv(peer, in, sizeof in - 1, 0);
    assert_int_equal(n, (ssize_t)rq.len);
    const char *r2 = "HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    assert_int_equal(send(peer, r2, strlen(r2), 0), (ssize_t)strlen(r2));
    for (int i = 0; i < 1000 && rc == H1_MORE; i++) rc = h1_xfer_event(&x, H1_WANT_IN, &orig[0], 4.0);
    assert_int_equal(rc, H1_DONE);
    assert_int_equal(x.resp.code, 503);
    assert_string_equal(x.resp.reason, "Busy");
    assert_int_equal(s.fd, -1);                  /* Connection: close honoured */

    /* A connection closed before any answer on a fresh socket is a failure. */
    assert_int_not_equal(h1_xfer_begin(&x, &s, &rq, &orig[0], 5.0), H1_BAD);
    peer = accept(ls, NULL, NULL);
    close(peer);
    rc = H1_MORE;
    for (int i = 0; i < 1000 && rc == H1_MORE; i++) rc = h1_xfer_event(&x, H1_WANT_IN | H1_WANT_OUT, &orig[0], 5.0);
    assert_int_equal(rc, H1_BAD);
    assert_non_null(x.msg);
    assert_int_equal(s.fd, -1);

    h1_xfer_free(&x);
    free(rq.bytes);
    free(orig);
    close(ls);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length), cmocka_unit_test(chunked),       cmocka_unit_test(chunk_extensions),
        cmocka_unit_test(split_everywhere), cmocka_unit_test(bytes_after), cmocka_unit_test(no_body_cases),
        cmocka_unit_test(interim_and_close), cmocka_unit_test(bad_responses), cmocka_unit_test(request_bytes),
        cmocka_unit_test(transfer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
