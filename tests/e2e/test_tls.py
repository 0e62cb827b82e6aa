"""HTTPS front end: with tls.cert and tls.key podgym serves TLS with that
certificate. A client trusting the CA gets the usual answers, one that does
not fails verification, plain HTTP gets no answer, the token still applies,
and a half-set or unreadable TLS config is a config error (exit 2)."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from pgtest import BIN, Server, check, done, failures, skip  # noqa: E402

OPENSSL = shutil.which("openssl") or ("/usr/bin/openssl" if os.path.exists("/usr/bin/openssl") else None)
if not OPENSSL:
    skip("openssl not found")

tmp = tempfile.mkdtemp(prefix="podgym-tls-")


def openssl(*args):
    subprocess.run([OPENSSL] + list(args), check=True, cwd=tmp, capture_output=True, timeout=60)


def path(name):
    return os.path.join(tmp, name)


# A CA, and a server certificate it signs for 127.0.0.1 and localhost.
openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=podgym test CA")
openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost")
with open(path("ext.cnf"), "w") as f:
    f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
# A second CA that signed nothing podgym serves.
openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem",
        "-days", "2", "-subj", "/CN=some other CA")

with open(path("server.key")) as f:
    key_text = f.read()
key_body = "".join(l for l in key_text.splitlines() if "-----" not in l)

s = Server(config="sim: {speed: 0, replicas: 2}\nauth: {token: s3cret}\n",
           tls=(path("server.pem"), path("server.key")), tls_ca=path("ca.pem"))
check(s.listened_scheme == "https", "the start line says listening on https://")

# (1) HTTPS, verified against the CA, by IP and by name
st, body, _ = s.get("/")
check(st == 200 and body == "Hello, World!", "HTTPS GET / verified against the CA: 200 Hello, World! (%r %r)"
      % (st, body if st != 200 else ""))
st, body, _ = s.get("/pod")
check(st == 200 and isinstance(body, dict) and isinstance(body.get("system"), dict)
      and body["system"].get("total_pods") == 2,
      "HTTPS GET /pod: 200 with the system of 2 pods (%r)" % (st,))
st, body, _ = s.get("/", host="localhost")
check(st == 200 and body == "Hello, World!", "HTTPS to localhost verifies by the certificate's DNS name")

# (2) plain HTTP to the TLS port gets no 200
answer = b""
try:
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            answer += chunk
except OSError:
    pass
check(not answer.startswith(b"HTTP/1.1 200") and b"Hello, World!" not in answer,
      "plain HTTP to the TLS port is not answered 200 (%r)" % answer[:40])

# (3) a client that does not trust the CA fails verification
for name, ctx in (("the system's CAs", ssl.create_default_context()),
                  ("another CA", ssl.create_default_context(cafile=path("other.pem")))):
    try:
        st, _, _ = s.get("/", context=ctx)
        check(False, "a client trusting only %s is refused: got %r" % (name, st))
    except ssl.SSLCertVerificationError as e:
        check(True, "a client trusting only %s fails verification (%s)" % (name, e.verify_message))

# (4) the token still applies over TLS
JSON = {"Content-Type": "application/json"}
st, body, r = s.post("/pod/scale/out", body='""', headers=JSON)
check(st == 401 and isinstance(body, dict) and body["error"]["code"] == "unauthorized"
      and r.getheader("WWW-Authenticate") == "Bearer",
      "POST /pod/scale/out over HTTPS without the token: 401 unauthorized (%r)" % (st,))
st, body, _ = s.post("/pod/scale/out", body='""', headers=dict(JSON, Authorization="Bearer s3cret"))
check(st == 200, "POST /pod/scale/out over HTTPS with the token: 200 (%r %r)" % (st, body))
st, body, _ = s.get("/pod")
check(st == 200 and body["system"].get("desired_pods") == 3, "the scale took effect: 3 pods desired")

log = s.logtext()
s.stop()
check(key_body[:64] not in log and "PRIVATE KEY" not in log, "the private key's bytes are not in the log")

# (5) config errors: exit 2, naming the key
def serve_fails(conf, key, what):
    d = tempfile.mkdtemp(prefix="podgym-tls-bad-", dir=tmp)
    cfg = os.path.join(d, "podgym.yaml")
    with open(cfg, "w") as f:
        f.write(conf)
    p = subprocess.run([BIN, "serve", "-c", cfg, "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                       timeout=20, cwd=d)
    check(p.returncode == 2 and "'%s'" % key in p.stderr and "listening" not in p.stderr,
          "%s: exit 2 naming '%s' (%d: %s)" % (what, key, p.returncode, p.stderr.strip()[:200]))


serve_fails("tls:\n  cert: %s\n" % path("server.pem"), "tls.key", "tls.cert without tls.key")
serve_fails("tls: {key: %s}\n" % path("server.key"), "tls.cert", "tls.key without tls.cert")
serve_fails("tls: {cert: %s, key: %s}\n" % (path("missing.pem"), path("server.key")), "tls.cert",
            "an unreadable tls.cert path")
serve_fails("tls: {cert: %s, key: %s}\n" % (path("server.pem"), tmp), "tls.key", "a folder as tls.key")
serve_fails("tls: {cert: %s, kye: x}\n" % path("server.pem"), "tls.kye", "an unknown key under tls")
serve_fails("tls: {cert: [a, b]}\n", "tls.cert", "a list as tls.cert")

# A cert and key that do not belong together: podgym does not start, and says why.
d = tempfile.mkdtemp(prefix="podgym-tls-mismatch-", dir=tmp)
with open(os.path.join(d, "podgym.yaml"), "w") as f:
    f.write("tls: {cert: %s, key: %s}\n" % (path("server.pem"), path("other.key")))
p = subprocess.run([BIN, "serve", "-c", "podgym.yaml", "--listen", "127.0.0.1:0"], capture_output=True,
                   text=True, timeout=20, cwd=d)
check(p.returncode != 0 and "tls.cert" in p.stderr and "listening" not in p.stderr,
      "a key that does not match the certificate: no start, the message names tls.cert (%d: %s)"
      % (p.returncode, p.stderr.strip()[:200]))

if not failures:
    shutil.rmtree(tmp, ignore_errors=True)
done()
