"""B1 (GET / vs nginx), B9 (footprint, first response), B10 (reload under load)."""
import http.client
import os
import socket
import subprocess
import threading
import time

from run import row

DUR = int(os.environ.get("BENCH_SECONDS", "5"))


def first_response_ms(ctx):
    """Time from exec to the first answered GET /, on a fixed port."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t0 = time.perf_counter()
    p = subprocess.Popen([ctx.podgym, "serve", "--quiet", "--listen", "127.0.0.1:%d" % port],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ctx.src)
    try:
        while time.perf_counter() - t0 < 10:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                c.request("GET", "/")
                if c.getresponse().status == 200:
                    return (time.perf_counter() - t0) * 1000
            except OSError:
                time.sleep(0.001)
        return None
    finally:
        p.terminate()
        p.wait()


def run(ctx):
    rows = []
    nport, nstop = ctx.nginx()
    srv = ctx.server()
    try:
        rss_start = srv.rss_kb()
        ref = ctx.wrk("http://127.0.0.1:%d/" % nport, 2, 32, DUR)
        got = ctx.wrk("http://127.0.0.1:%d/" % srv.port, 2, 32, DUR)
        ratio = got["rps"] / ref["rps"]
        rows.append(row("B1", "GET / throughput, wrk -t2 -c32", got["rps"], ref["rps"], ">= 0.6 x nginx",
                        ratio >= 0.6 and got["errors"] == 0,
                        {"podgym_rps": got["rps"], "nginx_rps": ref["rps"], "errors": got["errors"],
                         "seconds": DUR}, ratio=ratio, unit=" req/s"))
        # B9: 100k requests then RSS (no growth)
        total = got["requests"]
        while total < 100000:
            total += ctx.wrk("http://127.0.0.1:%d/" % srv.port, 1, 4, 2)["requests"]
        rss_after = srv.rss_kb()
    finally:
        srv.stop()
        nstop()
    first = min(x for x in (first_response_ms(ctx) for _ in range(5)) if x is not None)
    rows.append(row("B9", "footprint: RSS after start / after %dk requests; first response after exec"
                    % (total // 1000), rss_after / 1024.0, rss_start / 1024.0, "<= 16 MB start, <= +25 % after, <= 100 ms",
                    rss_start <= 16 * 1024 and rss_after <= 1.25 * rss_start and first <= 100,
                    {"rss_start_mb": rss_start / 1024.0, "rss_after_mb": rss_after / 1024.0,
                     "requests": total, "first_response_ms": first}, unit=" MB"))
    rows.append(b10(ctx))
    return rows


def b10(ctx):
    """1,000 req/s of GET /pod-like policy reads while a policy is edited."""
    srv = ctx.server()
    pol = os.path.join(srv.policies, "benchpolicy.lua")
    route = os.path.join(srv.scripts, "benchroute.lua")
    with open(pol, "w") as f:
        f.write("return {value = 0}\n")
    with open(route, "w") as f:
        f.write('return {method="GET", path="/bench/policy", handler=function() '
                'return {value = require("benchpolicy").value} end}\n')
    time.sleep(0.5)
    stop = threading.Event()
    stats = {"sent": 0, "failed": 0}

    def load(offset):
        # 4 keep-alive clients x 250 req/s = 1,000 req/s, paced on absolute times
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        t0 = time.perf_counter() + offset
        i = 0
        while not stop.is_set():
            due = t0 + i * 0.004
            d = due - time.perf_counter()
            if d > 0:
                time.sleep(d)
            i += 1
            try:
                conn.request("GET", "/bench/policy")
                r = conn.getresponse()
                r.read()
                stats["sent"] += 1
                if r.status != 200:
                    stats["failed"] += 1
            except (OSError, http.client.HTTPException):
                stats["sent"] += 1
                stats["failed"] += 1
                conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)

    threads = [threading.Thread(target=load, args=(k * 0.001,)) for k in range(4)]
    for t in threads:
        t.start()
    delays = []
    try:
        time.sleep(1)
        probe = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
        for v in range(1, 6):
            with open(pol + ".tmp", "w") as f:
                f.write("return {value = %d}\n" % v)
            t_edit = time.perf_counter()
            os.replace(pol + ".tmp", pol)
            while time.perf_counter() - t_edit < 5:
                probe.request("GET", "/bench/policy")
                r = probe.getresponse()
                body = r.read()
                if b'"value":%d' % v in body:
                    break
                time.sleep(0.001)
            delays.append((time.perf_counter() - t_edit) * 1000)
            time.sleep(0.5)
        t_run = 1 + sum(delays) / 1000 + 2.5
    finally:
        stop.set()
        for t in threads:
            t.join()
        srv.stop()
    rate = stats["sent"] / t_run
    worst = max(delays)
    return row("B10", "hot reload under ~1,000 req/s: failed requests; worst edit-to-answer",
               stats["failed"], stats["sent"], "0 failed; <= 250 ms",
               stats["failed"] == 0 and worst <= 250,
               {"requests": stats["sent"], "approx_rate": rate, "failed": stats["failed"],
                "edit_to_answer_ms": "/".join("%.0f" % d for d in delays)}, unit=" failed")
