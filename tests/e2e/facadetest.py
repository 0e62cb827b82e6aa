"""Helpers for the Kubernetes API facade tests: a CA and a server certificate
made with the openssl CLI, podgym serving the facade over the simulated
cluster, a kubeconfig for it, and kubectl runs. Standard library only."""
import base64
import json
import os
import re
import shutil
import ssl
import subprocess
import tempfile
import time

from pgtest import Server, request, skip

KUBECTL = "/usr/bin/kubectl" if os.path.exists("/usr/bin/kubectl") else shutil.which("kubectl")
OPENSSL = shutil.which("openssl") or ("/usr/bin/openssl" if os.path.exists("/usr/bin/openssl") else None)
TOKEN = "facade-t0ken"

# Real time (speed 1) with short delays: a new pod is Ready about a second after a scale.
SIM = """sim:
  speed: 1
  replicas: 2
  start_delay_s: 1
  start_jitter_s: 0.3
  pending_s: 0.3
  grace_s: 1
  metrics_window_s: 1
  metrics_resolution_s: 1
"""


def make_certs():
    """(dir, ca, cert, key, other_ca): a CA, a certificate it signs for 127.0.0.1, and an unrelated CA."""
    if not OPENSSL:
        skip("openssl not found")
    tmp = tempfile.mkdtemp(prefix="podgym-kf-")

    def openssl(*args):
        subprocess.run([OPENSSL] + list(args), check=True, cwd=tmp, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=podgym facade test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1")
    with open(os.path.join(tmp, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other.key", "-out", "other.pem",
            "-days", "2", "-subj", "/CN=some other CA")
    p = lambda n: os.path.join(tmp, n)  # noqa: E731
    return tmp, p("ca.pem"), p("server.pem"), p("server.key"), p("other.pem")


class Facade:
    """podgym serve with the facade on 127.0.0.1:0 (HTTPS with a token when certs are given)."""

    def __init__(self, certs=None, token=TOKEN, extra=""):
        self.certs = certs
        self.token = token if certs else None
        cfg = SIM + "facade:\n  listen: 127.0.0.1:0\n  node: podgym-test-node\n"
        if certs:
            cfg += "  tls: {cert: %s, key: %s}\n" % (certs[2], certs[3])
        if self.token:
            cfg += "  token: %s\n" % self.token
        self.server = Server(config=cfg + extra)
        deadline = time.time() + 10
        m = None
        while time.time() < deadline and not m:
            m = re.search(r"Kubernetes API facade on (https?)://[^:]+:(\d+)", self.server.logtext())
            if not m:
                time.sleep(0.02)
        if not m:
            raise RuntimeError("the facade did not start:\n" + self.server.logtext())
        self.scheme, self.port = m.group(1), int(m.group(2))
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self.ctx = ssl.create_default_context(cafile=certs[1]) if certs else None
        self.home = tempfile.mkdtemp(prefix="podgym-kube-", dir=self.server.dir)

    def kubeconfig(self, token=None, ca=None, name="config"):
        """A kubeconfig file for this facade; token/ca override the right ones."""
        cluster = {"server": self.url}
        if self.certs:
            with open(ca or self.certs[1], "rb") as f:
                cluster["certificate-authority-data"] = base64.b64encode(f.read()).decode()
        user = {"token": token or self.token} if (token or self.token) else {}
        doc = {"apiVersion": "v1", "kind": "Config", "current-context": "podgym",
               "clusters": [{"name": "podgym", "cluster": cluster}],
               "users": [{"name": "podgym", "user": user}],
               "contexts": [{"name": "podgym", "context": {"cluster": "podgym", "user": "podgym",
                                                          "namespace": "default"}}]}
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            json.dump(doc, f)        # JSON is YAML
        return path

    def kubectl(self, *args, kubeconfig=None, timeout=60, request_timeout="10s"):
        """(exit status, stdout, stderr) of kubectl against this facade."""
        cmd = [KUBECTL, "--kubeconfig", kubeconfig or self.kubeconfig(), "--cache-dir",
               os.path.join(self.home, "cache"), "--request-timeout", request_timeout] + list(args)
        env = dict(os.environ, HOME=self.home, KUBECONFIG="")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        return r.returncode, r.stdout, r.stderr

    def request(self, method, path, body=None, headers=None, token=None, timeout=30):
        """(status, parsed JSON or text, response) straight to the facade, with its token."""
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        return request(self.port, method, path, body, h, timeout, self.ctx)

    def faults(self, *rules):
        """Replace the facade's faults (none = clear them)."""
        if rules:
            return self.request("PUT", "/podgym/v1/faults", {"faults": list(rules)})
        return self.request("DELETE", "/podgym/v1/faults")

    def stop(self):
        return self.server.stop()


def table(text):
    """kubectl's table output as (header columns, rows of cells) split on 2+ spaces."""
    lines = [l for l in text.splitlines() if l.strip()]
    if not lines:
        return [], []
    split = lambda l: [c for c in re.split(r"\s{2,}", l.strip())]  # noqa: E731
    return split(lines[0]), [split(l) for l in lines[1:]]
