"""JSON end to end: the strict decoder behind req:json() (each malformed body
is a 400 bad_json with a JSON error body, on a real route), every body the
server writes is valid UTF-8 (route bodies through json.encode, error bodies
through jansson), and arrays survive a decode -> encode round trip."""
import http.client
import json
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import SRC, Server, check, done, is_error  # noqa: E402

ECHO = r'''
local json = require "json"
return {
  {method="POST", path="/echo/raw", handler=function(req) return {got = req.body} end},
  {method="POST", path="/echo/json", handler=function(req) return {got = req:json()} end},
}
'''


def raw(srv, method, path, body=b""):
    """(status, content type, body bytes): no decoding on our side."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    c.request(method, path, body=body, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Content-Type") or "", data


def utf8_json(data):
    """The body as JSON if it is valid UTF-8 JSON, else None."""
    try:
        return json.loads(data.decode("utf-8", "strict"))
    except ValueError:
        return None


scripts = tempfile.mkdtemp(prefix="podgym-json-scripts-")
shutil.rmtree(scripts)
shutil.copytree(os.path.join(SRC, "scripts"), scripts)
with open(os.path.join(scripts, "echo.lua"), "w") as f:
    f.write(ECHO)
s = Server(config="sim: {speed: 0}\n", scripts=scripts)
try:
    # Strict decoding, on a real route.
    BAD = [b'{"pods":0x3}', b'{"pods":03}', b'{"pods":-03}', b'NaN', b'Infinity', b'-Infinity', b'{"pods":NaN}',
           b'{"pods":Infinity}', b'{"pods":-Infinity}', b'{"pods":1e400}', b'{"pods":-1e400}', b'{"pods":1.}',
           b'{"pods":2}\x00', b'{"pods":2} \x00', b'{"pods":2}\x00{"pods":9}', b'{"pods":2}x']
    for body in BAD:
        st, ctype, data = raw(s, "POST", "/env/reset", body)
        parsed = utf8_json(data)
        check(st == 400 and "application/json" in ctype and is_error(parsed, "bad_json"),
              "POST /env/reset %r -> 400 bad_json with a JSON error body (%d %r)" % (body, st, data[:120]))
    st, _, data = raw(s, "POST", "/env/reset", b'{"pods":3, "seed":1}')
    check(st == 200 and utf8_json(data)["observation"] is not None, "a well-formed body still resets (%d)" % st)
    st, _, data = raw(s, "POST", "/env/reset", b'{"pods":0.3e1}')
    check(st == 200 and utf8_json(data).get("pods") == 3, "0.3e1 is a JSON number: 3 pods (%d %r)" % (st, data[:80]))

    # Arrays round-trip; a string is a string.
    st, _, data = raw(s, "POST", "/echo/json", b'{"a":[],"b":{},"c":[[],[1,[]]],"d":"[]"}')
    got = (utf8_json(data) or {}).get("got")
    check(st == 200 and got == {"a": [], "b": {}, "c": [[], [1, []]], "d": "[]"} and b'"a":[]' in data,
          "decoded [] is encoded back as [] and {} as {} (%r)" % data)
    marker = '\u0000podgym:empty-array\u0000'
    st, _, data = raw(s, "POST", "/echo/json", json.dumps({"s": marker, "l": [marker]}).encode())
    check(st == 200 and (utf8_json(data) or {}).get("got") == {"s": marker, "l": [marker]},
          "a string with the old empty-array marker's bytes round-trips as a string (%r)" % data)

    # Route bodies: always UTF-8; each ill-formed subpart is one U+FFFD, as
    # Python's own decoder replaces it.
    rnd = random.Random(7)
    samples = [b"\xff", b"caf\xc3\xa9", b"\xe2\x82", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
               b"\xf1\x80\x80\xe1\x80\xc2A", "\u20ac\U0001F600".encode()]
    for _ in range(300):
        n = rnd.randrange(1, 24)
        samples.append(bytes(rnd.choice((rnd.randrange(256), rnd.randrange(0x80, 0x100), rnd.randrange(0x20, 0x7f)))
                             for _ in range(n)))
    mismatched = []
    for b in samples:
        st, _, data = raw(s, "POST", "/echo/raw", b)
        got = utf8_json(data)
        if st != 200 or got is None or got.get("got") != b.decode("utf-8", "replace"):
            mismatched.append((b, st, data[:80]))
    check(not mismatched, "%d bodies echoing arbitrary bytes: valid UTF-8, U+FFFD as Python's decoder puts it (%r)"
          % (len(samples), mismatched[:3]))

    # Error bodies: through Lua's error tables and through the server's own (jansson).
    st, _, data = raw(s, "POST", "/env/step", b'{"action":"\xff\xfe"}')
    parsed = utf8_json(data)
    check(st == 400 and is_error(parsed, "bad_action"), "a bad action echoing invalid bytes: a UTF-8 JSON 400 (%r)" % data)
    st, _, data = raw(s, "GET", "/no/such/%FF%C3%A9%E2%82")
    parsed = utf8_json(data)
    check(st == 404 and is_error(parsed, "not_found") and parsed["error"]["message"].endswith("/\ufffd\u00e9\ufffd"),
          "a 404 for a path with invalid bytes: valid UTF-8, U+FFFD for each bad subpart (%r)" % data)
finally:
    s.cleanup()
    shutil.rmtree(scripts, ignore_errors=True)
done()
