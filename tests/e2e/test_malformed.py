"""A table of malformed and abusive requests, sent as raw bytes to the real
binary on loopback: bad request lines, NUL, control bytes and '..' in paths,
bad query strings, bad headers, invalid UTF-8, huge and deeply nested JSON,
10 MB bodies, wrong content types, smuggling, pipelining and half-closed
connections. Each gets exactly the statuses of its row, a JSON error with
the row's code where podgym answers, no 5xx ever, and GET / answers normally
after every ten. Rows marked 'mhd' are answered by libmicrohttpd itself,
before podgym sees the request (its own HTML body); rows with no status are
connections libmicrohttpd closes without a reply (an unparseable request
line) or that end before the request does. README "Hardening" lists them."""
import ctypes
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import Server, check, done, raw_exchange  # noqa: E402

def R(line, headers=b"Host: t\r\n", body=b""):
    return line + b"\r\n" + headers + b"\r\n" + body
def P(path, body=b"", ctype=b"application/json", extra=b""):
    return R(b"POST " + path + b" HTTP/1.1", b"Host: t\r\nContent-Type: " + ctype + b"\r\nContent-Length: %d\r\n" % len(body) + extra, body)
CASES = []
def add(name, data): CASES.append((name, data))
# request lines
for i, line in enumerate([b"GET", b"GET /", b"GET / HTTP/9.9", b"GET / HTTP/1.1 x", b"GET  / HTTP/1.1", b"get / HTTP/1.1",
        b"G\x00T / HTTP/1.1", b"GET / HTTP/1.1\x00", b" GET / HTTP/1.1", b"GET / http/1.1", b"GET / HTTP/1", b"GET / HTTP/",
        b"GET http://t/ HTTP/1.1", b"GET http://t/pod HTTP/1.1", b"OPTIONS * HTTP/1.1", b"CONNECT t:443 HTTP/1.1",
        b"TRACE / HTTP/1.1", b"FOO / HTTP/1.1", b"G" * 300 + b" / HTTP/1.1", b"GET /" + b"a" * 10000 + b" HTTP/1.1",
        b"GET pod HTTP/1.1", b"GET * HTTP/1.1", b"PRI * HTTP/2.0", b"GET /\t HTTP/1.1", b"\r\nGET / HTTP/1.1",
        b"GET / HTTP/1.1\r", b"GET /?" + b"a" * 9000 + b" HTTP/1.1", b"\xff\xfe / HTTP/1.1", b"GET \xff HTTP/1.1",
        b"DELETE /pod HTTP/1.1", b"PUT /pod/scale/out HTTP/1.1", b"PATCH /env/step HTTP/1.1", b"HEAD /pod HTTP/1.1"]):
    add("line%02d %r" % (i, line[:30]), R(line))
add("bare-lf", b"GET / HTTP/1.1\nHost: t\n\n")
add("no-crlf-end", b"GET / HTTP/1.1\r\nHost: t\r\n")
add("empty", b"")
add("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a TLS hello on plain HTTP
# paths
for i, p in enumerate([b"/pod/../pod", b"/../etc/passwd", b"/%2e%2e/%2e%2e/etc/passwd", b"/pod/%2e%2e", b"//pod",
        b"/pod/", b"/pod%2fscale%2fout", b"/pod/scale/out/", b"/pod/set-pod-count/%33", b"/pod/set-pod-count/3.0",
        b"/pod/set-pod-count/-1", b"/pod/set-pod-count/99999999999999999999", b"/pod/set-pod-count/1e2",
        b"/pod/set-pod-count/0x3", b"/pod/set-pod-count/%ff", b"/pod/set-pod-count/\xc3\xa9", b"/%ff%fe",
        b"/\xff\xfe", b"/pod%", b"/pod%zz", b"/pod%0", b"/%C0%AF", b"/pod/set-pod-count/", b"/pod/set-pod-count/ 3",
        b"/metrics/..%2f..%2fetc", b"/metrics/%00", b"/metrics/a%2fb", b"/env/step%20", b"/env/%73tep", b"/ENV/STEP"]):
    add("path%02d %r" % (i, p[:30]), P(p))
# query strings
for i, q in enumerate([b"target=%00", b"target=1e400", b"target=nan", b"target=-inf", b"target=", b"target=%ff",
        b"target=1&target=2", b"=1", b"&&&", b"target", b"%", b"target=%zz", b"a=%0d%0aX:%20y", b"target=50#frag",
        b"target=" + b"9" * 400, b"target=0", b"target=-50", b"target=1e-320", b"target=%c3%a9"]):
    add("query%02d %r" % (i, q[:30]), R(b"GET /hpa/recommend?" + q + b" HTTP/1.1"))
# headers
for i, h in enumerate([b"Host: t\r\nX: \x00\r\n", b"Host: t\r\nX: a\x01b\r\n", b"Host: t\r\nX: \xff\xfe\r\n",
        b"Host: t\r\nNoColon\r\n", b"Host: t\r\n: empty\r\n", b"Host: t\r\nX : space\r\n", b"Host: t\r\n X: fold\r\n",
        b"Host: t\r\nX: " + b"a" * 70000 + b"\r\n", b"Host: t\r\n" + b"X-%d: y\r\n" * 0 + b"".join(b"X-%d: y\r\n" % j for j in range(2000)),
        b"Host: t\r\nAuthorization: Bearer \x00\r\n", b"Host:\r\n", b"Host: a b\r\n", b"Host: t\r\nContent-Length: \r\n",
        b"Host: t\r\nContent-Length: +5\r\n", b"Host: t\r\nContent-Length: 5, 5\r\n", b"Host: t\r\nTransfer-Encoding: chunked, chunked\r\n",
        b"Host: t\r\nTransfer-Encoding: identity\r\n", b"Host: t\r\nTransfer-Encoding:\r\n", b"Host: t\r\nExpect: 100-continue\r\nContent-Length: 0\r\n",
        b"Host: t\r\nExpect: magic\r\n", b"Host: t\r\nConnection: upgrade\r\nUpgrade: websocket\r\n",
        b"Host: t\r\nContent-Type: \x00\r\n"]):
    add("header%02d %r" % (i, h[8:38]), R(b"POST /env/step HTTP/1.1", h))
# bodies
deep = b"[" * 100000 + b"]" * 100000
for i, (path, body, ctype) in enumerate([
        (b"/env/step", b"{", b"application/json"), (b"/env/step", b"{\"action\": NaN}", b"application/json"),
        (b"/env/step", b"{\"action\": 1e400}", b"application/json"), (b"/env/step", b"{\"action\": -Infinity}", b"application/json"),
        (b"/env/step", b"{\"action\": 0x1}", b"application/json"), (b"/env/step", b"{\"action\": \"\xff\"}", b"application/json"),
        (b"/env/step", b"{\"action\": \"\\ud800\"}", b"application/json"), (b"/env/step", b"{\"action\": 7}", b"application/json"),
        (b"/env/step", b"{\"action\": -1}", b"application/json"), (b"/env/step", b"{\"action\": 1.5}", b"application/json"),
        (b"/env/step", b"{\"action\": null}", b"application/json"), (b"/env/step", b"{\"action\": []}", b"application/json"),
        (b"/env/step", b"[]", b"application/json"), (b"/env/step", b"\"\"", b"application/json"), (b"/env/step", b"42", b"application/json"),
        (b"/env/step", b"{\"action\": \"in\"} x", b"application/json"), (b"/env/step", b"{\"action\": \"in\", \"action\": \"out\"}", b"application/json"),
        (b"/env/step", deep, b"application/json"), (b"/env/step", b"{\"a\":" * 1000 + b"1" + b"}" * 1000, b"application/json"),
        (b"/env/step", b"{\"action\": \"in\"}", b"text/plain"), (b"/env/step", b"action=in", b"application/x-www-form-urlencoded"),
        (b"/env/step", b"\xef\xbb\xbf{\"action\": \"in\"}", b"application/json"), (b"/env/step", b"\x00", b"application/json"),
        (b"/env/reset", b"{\"pods\": 99}", b"application/json"), (b"/env/reset", b"{\"pods\": -1}", b"application/json"),
        (b"/env/reset", b"{\"pods\": \"3\"}", b"application/json"), (b"/env/reset", b"{\"seed\": 1e30}", b"application/json"),
        (b"/env/reset", b"{\"seed\": \"x\"}", b"application/json"), (b"/env/reset", b"[1]", b"application/json"),
        (b"/metrics", b"{\"interval\": 0}", b"application/json"), (b"/metrics", b"{\"interval\": -1}", b"application/json"),
        (b"/metrics", b"{\"interval\": 1e400}", b"application/json"), (b"/metrics", b"{\"file\": \"../x.csv\"}", b"application/json"),
        (b"/metrics", b"{\"file\": \"/etc/passwd\"}", b"application/json"), (b"/metrics", b"{\"file\": \"a\\u0000b.csv\"}", b"application/json"),
        (b"/metrics", b"{\"file\": \"a\\nb.csv\"}", b"application/json"), (b"/metrics", b"{\"format\": \"xml\"}", b"application/json"),
        (b"/metrics", b"{\"duration\": -5}", b"application/json"), (b"/metrics", b"{\"mode\": \"zap\"}", b"application/json"),
        (b"/metrics", b"{\"probe\": \"os.execute\"}", b"application/json"), (b"/metrics", b"{\"interval\": \"fast\"}", b"application/json"),
        (b"/pod/set-pod-count/3", b"{\"x\": 1}" * 1, b"application/json"),
        (b"/env/step", b"x" * (10 * 1024 * 1024), b"application/json"), (b"/env/step", b"{\"action\": \"" + b"a" * 900000 + b"\"}", b"application/json")]):
    add("body%02d %s %r" % (i, path.decode(), body[:20]), P(path, body, ctype))
# smuggling / pipelining / chunked
ch = lambda chunks: b"".join(chunks)
for i, h in enumerate([
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: chunked\r\n", b"zz\r\nab\r\n0\r\n\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: chunked\r\n", b"5\r\nab\r\n0\r\n\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: chunked\r\n", b"-1\r\nab\r\n0\r\n\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: chunked\r\n", b"ffffffffffffffffff\r\nab\r\n0\r\n\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: chunked\r\n", b"2;ext=1\r\n{}\r\n0\r\n\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: chunked\r\n", b"2\r\n{}\r\n0\r\nTrailer: x\r\n\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: chunked\r\n", b"2\r\n{}"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: Chunked\r\n", b"0\r\n\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding : chunked\r\nContent-Length: 3\r\n", b"0\r\n\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nContent-Length: 3\r\n", b"{}"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nContent-Length: 1\r\n", b"{}GET / HTTP/1.1\r\nHost: t\r\n\r\n"),
        R(b"GET / HTTP/1.1", b"Host: t\r\n") * 20,
        R(b"GET / HTTP/1.1", b"Host: t\r\n") + R(b"GET /pod%00 HTTP/1.1", b"Host: t\r\n") + R(b"GET / HTTP/1.1", b"Host: t\r\n"),
        R(b"GET / HTTP/1.1", b"Host: t\r\nConnection: close\r\n") + R(b"POST /pod/scale/out HTTP/1.1", b"Host: t\r\nContent-Length: 0\r\n"),
        R(b"GET / HTTP/1.0", b"Connection: keep-alive\r\n") + R(b"GET / HTTP/1.0", b""),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nContent-Length: 100\r\n", b"{\"action\""),  # half-closed mid-body
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nContent-Length: 0\r\nContent-Length: 0\r\n"),
        R(b"POST /env/step HTTP/1.1", b"Host: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", b"0\r\n\r\n"),
        ]):
    add("frame%02d" % i, h)

EXPECT = [
    ([], None),  # line00 b'GET'
    ([400], 'mhd'),  # line01 b'GET /'
    ([505], 'mhd'),  # line02 b'GET / HTTP/9.9'
    ([400], 'mhd'),  # line03 b'GET / HTTP/1.1 x'
    ([400], 'bad_request'),  # line04 b'GET  / HTTP/1.1'
    ([405], 'method_not_allowed'),  # line05 b'get / HTTP/1.1'
    ([400], 'bad_request'),  # line06 b'G\x00T / HTTP/1.1'
    ([400], 'mhd'),  # line07 b'GET / HTTP/1.1\x00'
    ([], None),  # line08 b' GET / HTTP/1.1'
    ([400], 'mhd'),  # line09 b'GET / http/1.1'
    ([400], 'mhd'),  # line10 b'GET / HTTP/1'
    ([400], 'mhd'),  # line11 b'GET / HTTP/'
    ([200], None),  # line12 b'GET http://t/ HTTP/1.1'
    ([200], None),  # line13 b'GET http://t/pod HTTP/1.1'
    ([404], 'not_found'),  # line14 b'OPTIONS * HTTP/1.1'
    ([400], 'bad_request'),  # line15 b'CONNECT t:443 HTTP/1.1'
    ([405], 'method_not_allowed'),  # line16 b'TRACE / HTTP/1.1'
    ([405], 'method_not_allowed'),  # line17 b'FOO / HTTP/1.1'
    ([405], 'method_not_allowed'),  # line18 b'GGGGGGGGGGGGGGGGGGGGGGGGGGGGGG'
    ([404], 'not_found'),  # line19 b'GET /aaaaaaaaaaaaaaaaaaaaaaaaa'
    ([400], 'bad_request'),  # line20 b'GET pod HTTP/1.1'
    ([404], 'not_found'),  # line21 b'GET * HTTP/1.1'
    ([505], 'mhd'),  # line22 b'PRI * HTTP/2.0'
    ([400], 'bad_request'),  # line23 b'GET /\t HTTP/1.1'
    ([200], None),  # line24 b'\r\nGET / HTTP/1.1'
    ([400], 'mhd'),  # line25 b'GET / HTTP/1.1\r'
    ([200], None),  # line26 b'GET /?aaaaaaaaaaaaaaaaaaaaaaaa'
    ([400], 'bad_request'),  # line27 b'\xff\xfe / HTTP/1.1'
    ([400], 'bad_request'),  # line28 b'GET \xff HTTP/1.1'
    ([405], 'method_not_allowed'),  # line29 b'DELETE /pod HTTP/1.1'
    ([405], 'method_not_allowed'),  # line30 b'PUT /pod/scale/out HTTP/1.1'
    ([405], 'method_not_allowed'),  # line31 b'PATCH /env/step HTTP/1.1'
    ([200], None),  # line32 b'HEAD /pod HTTP/1.1'
    ([200], None),  # bare-lf
    ([], None),  # no-crlf-end
    ([], None),  # empty
    ([], None),  # garbage
    ([404], 'not_found'),  # path00 b'/pod/../pod'
    ([404], 'not_found'),  # path01 b'/../etc/passwd'
    ([404], 'not_found'),  # path02 b'/%2e%2e/%2e%2e/etc/passwd'
    ([404], 'not_found'),  # path03 b'/pod/%2e%2e'
    ([404], 'not_found'),  # path04 b'//pod'
    ([404], 'not_found'),  # path05 b'/pod/'
    ([400], 'bad_request'),  # path06 b'/pod%2fscale%2fout'
    ([404], 'not_found'),  # path07 b'/pod/scale/out/'
    ([200], None),  # path08 b'/pod/set-pod-count/%33'
    ([400], 'bad_pod_count'),  # path09 b'/pod/set-pod-count/3.0'
    ([422], 'out_of_bounds'),  # path10 b'/pod/set-pod-count/-1'
    ([422], 'out_of_bounds'),  # path11 b'/pod/set-pod-count/99999999999'
    ([400], 'bad_pod_count'),  # path12 b'/pod/set-pod-count/1e2'
    ([400], 'bad_pod_count'),  # path13 b'/pod/set-pod-count/0x3'
    ([400], 'bad_pod_count'),  # path14 b'/pod/set-pod-count/%ff'
    ([400], 'bad_pod_count'),  # path15 b'/pod/set-pod-count/\xc3\xa9'
    ([404], 'not_found'),  # path16 b'/%ff%fe'
    ([404], 'not_found'),  # path17 b'/\xff\xfe'
    ([404], 'not_found'),  # path18 b'/pod%'
    ([404], 'not_found'),  # path19 b'/pod%zz'
    ([404], 'not_found'),  # path20 b'/pod%0'
    ([404], 'not_found'),  # path21 b'/%C0%AF'
    ([404], 'not_found'),  # path22 b'/pod/set-pod-count/'
    ([400], 'bad_request'),  # path23 b'/pod/set-pod-count/ 3'
    ([400], 'bad_request'),  # path24 b'/metrics/..%2f..%2fetc'
    ([400], 'bad_request'),  # path25 b'/metrics/%00'
    ([400], 'bad_request'),  # path26 b'/metrics/a%2fb'
    ([404], 'not_found'),  # path27 b'/env/step%20'
    ([400], 'bad_action'),  # path28 b'/env/%73tep'
    ([404], 'not_found'),  # path29 b'/ENV/STEP'
    ([400], 'bad_query'),  # query00 b'target=%00'
    ([400], 'bad_target'),  # query01 b'target=1e400'
    ([400], 'bad_target'),  # query02 b'target=nan'
    ([400], 'bad_target'),  # query03 b'target=-inf'
    ([400], 'bad_target'),  # query04 b'target='
    ([400], 'bad_target'),  # query05 b'target=%ff'
    ([200], None),  # query06 b'target=1&target=2'
    ([200], None),  # query07 b'=1'
    ([200], None),  # query08 b'&&&'
    ([400], 'bad_target'),  # query09 b'target'
    ([200], None),  # query10 b'%'
    ([400], 'bad_target'),  # query11 b'target=%zz'
    ([200], None),  # query12 b'a=%0d%0aX:%20y'
    ([400], 'bad_target'),  # query13 b'target=50#frag'
    ([400], 'bad_target'),  # query14 b'target=99999999999999999999999
    ([400], 'bad_target'),  # query15 b'target=0'
    ([400], 'bad_target'),  # query16 b'target=-50'
    ([400], 'bad_target'),  # query17 b'target=1e-320'
    ([400], 'bad_target'),  # query18 b'target=%c3%a9'
    ([400], 'bad_action'),  # header00 b'\nX: \x00\r\n'
    ([400], 'bad_request'),  # header01 b'\nX: a\x01b\r\n'
    ([400], 'bad_action'),  # header02 b'\nX: \xff\xfe\r\n'
    ([400], 'mhd'),  # header03 b'\nNoColon\r\n'
    ([400], 'bad_action'),  # header04 b'\n: empty\r\n'
    ([400], 'bad_request'),  # header05 b'\nX : space\r\n'
    ([400], 'bad_request'),  # header06 b'\n X: fold\r\n'
    ([431], 'mhd'),  # header07 b'\nX: aaaaaaaaaaaaaaaaaaaaaaaa
    ([431], 'mhd'),  # header08 b'\nX-0: y\r\nX-1: y\r\nX-2: y\
    ([400], 'bad_action'),  # header09 b'\nAuthorization: Bearer \x00\
    ([400], 'bad_action'),  # header10 b''
    ([400], 'bad_request'),  # header11 b'b\r\n'
    ([400, 400], 'mhd'),  # header12 b'\nContent-Length: \r\n'
    ([400, 400], 'mhd'),  # header13 b'\nContent-Length: +5\r\n'
    ([400, 400], 'mhd'),  # header14 b'\nContent-Length: 5, 5\r\n'
    ([400], 'bad_request'),  # header15 b'\nTransfer-Encoding: chunked,
    ([400], 'bad_request'),  # header16 b'\nTransfer-Encoding: identity
    ([400], 'bad_request'),  # header17 b'\nTransfer-Encoding:\r\n'
    ([100, 400], 'bad_action'),  # header18 b'\nExpect: 100-continue\r\nCon
    ([400], 'bad_action'),  # header19 b'\nExpect: magic\r\n'
    ([400], 'bad_action'),  # header20 b'\nConnection: upgrade\r\nUpgr
    ([400], 'bad_action'),  # header21 b'\nContent-Type: \x00\r\n'
    ([400], 'bad_json'),  # body00 /env/step b'{'
    ([400], 'bad_json'),  # body01 /env/step b'{"action": NaN}'
    ([400], 'bad_json'),  # body02 /env/step b'{"action": 1e400}'
    ([400], 'bad_json'),  # body03 /env/step b'{"action": -Infinity'
    ([400], 'bad_json'),  # body04 /env/step b'{"action": 0x1}'
    ([400], 'bad_action'),  # body05 /env/step b'{"action": "\xff"}'
    ([400], 'bad_json'),  # body06 /env/step b'{"action": "\\ud800"}
    ([400], 'bad_action'),  # body07 /env/step b'{"action": 7}'
    ([400], 'bad_action'),  # body08 /env/step b'{"action": -1}'
    ([400], 'bad_action'),  # body09 /env/step b'{"action": 1.5}'
    ([400], 'bad_action'),  # body10 /env/step b'{"action": null}'
    ([400], 'bad_action'),  # body11 /env/step b'{"action": []}'
    ([400], 'bad_body'),  # body12 /env/step b'[]'
    ([400], 'bad_body'),  # body13 /env/step b'""'
    ([400], 'bad_body'),  # body14 /env/step b'42'
    ([400], 'bad_json'),  # body15 /env/step b'{"action": "in"} x'
    ([409], 'no_episode'),  # body16 /env/step b'{"action": "in", "ac'
    ([400], 'bad_json'),  # body17 /env/step b'[[[[[[[[[[[[[[[[[[[['
    ([400], 'bad_action'),  # body18 /env/step b'{"a":{"a":{"a":{"a":'
    ([409], 'no_episode'),  # body19 /env/step b'{"action": "in"}'
    ([400], 'bad_json'),  # body20 /env/step b'action=in'
    ([400], 'bad_json'),  # body21 /env/step b'\xef\xbb\xbf{"action"
    ([400], 'bad_json'),  # body22 /env/step b'\x00'
    ([422], 'out_of_bounds'),  # body23 /env/reset b'{"pods": 99}'
    ([422], 'out_of_bounds'),  # body24 /env/reset b'{"pods": -1}'
    ([400], 'bad_pod_count'),  # body25 /env/reset b'{"pods": "3"}'
    ([400], 'bad_seed'),  # body26 /env/reset b'{"seed": 1e30}'
    ([400], 'bad_seed'),  # body27 /env/reset b'{"seed": "x"}'
    ([400], 'bad_body'),  # body28 /env/reset b'[1]'
    ([400], 'bad_interval'),  # body29 /metrics b'{"interval": 0}'
    ([400], 'bad_interval'),  # body30 /metrics b'{"interval": -1}'
    ([400], 'bad_json'),  # body31 /metrics b'{"interval": 1e400}'
    ([400], 'bad_file'),  # body32 /metrics b'{"file": "../x.csv"}'
    ([400], 'bad_file'),  # body33 /metrics b'{"file": "/etc/passw'
    ([400], 'bad_file'),  # body34 /metrics b'{"file": "a\\u0000b.c'
    ([400], 'bad_file'),  # body35 /metrics b'{"file": "a\\nb.csv"}'
    ([400], 'bad_format'),  # body36 /metrics b'{"format": "xml"}'
    ([400], 'bad_duration'),  # body37 /metrics b'{"duration": -5}'
    ([400], 'bad_mode'),  # body38 /metrics b'{"mode": "zap"}'
    ([202], None),  # body39 /metrics b'{"probe": "os.execut'
    ([400], 'bad_interval'),  # body40 /metrics b'{"interval": "fast"}'
    ([200], None),  # body41 /pod/set-pod-count/3 b'{"x": 1}'
    ([413], 'body_too_large'),  # body42 /env/step b'xxxxxxxxxxxxxxxxxxxx'
    ([400], 'bad_action'),  # body43 /env/step b'{"action": "aaaaaaaa'
    ([400], 'mhd'),  # frame00
    ([400], 'mhd'),  # frame01
    ([400], 'mhd'),  # frame02
    ([413], 'mhd'),  # frame03
    ([400], 'bad_action'),  # frame04
    ([400], 'bad_action'),  # frame05
    ([], None),  # frame06
    ([400], 'bad_action'),  # frame07
    ([400], 'bad_request'),  # frame08
    ([], None),  # frame09
    ([400, 400], 'bad_json'),  # frame10
    ([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200], None),  # frame11
    ([200, 400], 'bad_request'),  # frame12
    ([200], None),  # frame13
    ([200, 200], None),  # frame14
    ([], None),  # frame15
    ([400], 'bad_request'),  # frame16
    ([400], 'bad_request'),  # frame17
]

check(len(CASES) >= 150 and len(CASES) == len(EXPECT), "%d cases, %d expectations" % (len(CASES), len(EXPECT)))
mhd = ctypes.CDLL("libmicrohttpd.so.12")
mhd.MHD_get_version.restype = ctypes.c_char_p
mhd_version = mhd.MHD_get_version().decode()
mhd_09 = mhd_version.startswith("0.9.")

srv = Server()


def raw(data, timeout=10):
    return raw_exchange(srv.port, data, timeout)


def responses(out):
    """[(status, headers, body)] of every response in out."""
    res = []
    while True:
        m = re.match(rb"HTTP/1\.[01] (\d{3})[^\r\n]*\r\n", out)
        if not m:
            return res
        head, sep, rest = out.partition(b"\r\n\r\n")
        status = int(m.group(1))
        cl = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        n = int(cl.group(1)) if cl else (0 if status < 200 else len(rest))
        res.append((status, head, rest[:n]))
        out = rest[n:]


def desired():
    return srv.get("/pod")[1]["system"]["desired_pods"]


start = desired()
answered = closed = by_mhd = 0
for i, ((name, data), (want, code)) in enumerate(zip(CASES, EXPECT)):
    out = raw(data)
    check(not out.endswith(b"<timeout>"), "%s: answered or closed in time" % name)
    res = responses(out)
    got = [r[0] for r in res]
    check(not any(s >= 500 and s != 505 for s in got), "%s: no 5xx but 505 for a version (%s)" % (name, got))
    if code == "mhd":
        by_mhd += 1
        got = [int(x) for x in re.findall(rb"HTTP/1\.[01] (\d{3})", out)]     # its doubled status lines too
        ok = got == want if mhd_09 else (got[:1] and got[0] == want[0])
        check(ok, "%s: libmicrohttpd answers %s (%s)" % (name, want, got))
    else:
        check(got == want, "%s: statuses %s (%s)" % (name, want, got))
    if not want:
        closed += 1
        check(out == b"", "%s: closed without a byte (%r)" % (name, out[:60]))
    else:
        answered += 1
    if code and code != "mhd":
        final = [r for r in res if r[0] >= 400] or [r for r in res if r[0] >= 200]
        try:
            js = json.loads(final[0][2])
        except (ValueError, IndexError):
            js = None
        check(js is not None and js.get("error", {}).get("code") == code,
              "%s: a JSON error %s (%r)" % (name, code, final[0][2][:80] if final else out[:80]))
        ctype = re.search(rb"\r\ncontent-type: *([^\r]*)", final[0][1], re.I) if final else None
        check(ctype and ctype.group(1).startswith(b"application/json"), "%s: Content-Type application/json" % name)
    if i % 10 == 9:
        st, body, _ = srv.get("/")
        check(st == 200 and body == "Hello, World!", "GET / answers normally after %s" % name)

# The rows that scale on purpose: %2F is refused, /pod/set-pod-count/%33 (an escaped '3') and
# /pod/set-pod-count/3 set 3; nothing else moved the Deployment.
check(desired() == 3, "the Deployment is at 3 pods, as the two set-pod-count rows left it (from %d)" % start)
st, body, _ = srv.get("/")
check(st == 200, "GET / answers normally at the end")
log = srv.logtext()
check(not re.search(r"status=5(?!05)", log), "the access log records no 5xx")
print("malformed requests: %d tried, %d answered (%d by libmicrohttpd itself), %d closed without a reply"
      % (len(CASES), answered, by_mhd, closed))
srv.cleanup()
done()
