"""podgym inside a cluster, as far as this machine goes: `make image`'s
build-image.sh imports the podgym image into a real dockerd (tests/e2e/dockerd.py:
a private daemon, or the one DOCKER_HOST names), and the image runs as the Deployment of
examples/kubernetes runs it: non-root, read-only root filesystem, the config
mounted, no kubeconfig, the service account's token, ca.crt and namespace
mounted at /var/run/secrets/kubernetes.io/serviceaccount and
KUBERNETES_SERVICE_HOST/PORT set; the API server is a podgym facade over
HTTPS. GET /pod answers through it; a second build is a no-op."""
# ctest-labels: kube docker
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

from pgtest import BIN, SRC, check, done, free_port, skip
from facadetest import Facade, make_certs
from dockerd import skip_unless_docker

if "libasan" in subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout:
    skip("a sanitizer build: its image would need the sanitizer runtime (make image ships the plain build)")
DOCKER = shutil.which("docker") or "/usr/bin/docker"
if not os.path.exists(DOCKER):
    skip("the docker CLI is not installed (docker.io): build-image.sh imports with it")

root = tempfile.mkdtemp(prefix="podgym-kimg-")
with skip_unless_docker(mode="host") as d:
    env = d.env()
    build = os.path.dirname(BIN)
    script = os.path.join(SRC, "examples", "kubernetes", "build-image.sh")
    image = "podgym-test:kube"
    out = os.path.join(root, "image")
    r = subprocess.run([script, "--build", build, "--out", out, "--image", image], env=env, capture_output=True,
                       text=True, timeout=300)
    check(r.returncode == 0 and "imported " + image in r.stdout, "build-image.sh imports %s (%s)"
          % (image, (r.stdout + r.stderr).strip()[-200:].replace("\n", " ")))
    r = subprocess.run([DOCKER, "run", "--rm", "--network", "none", image, "--version"], env=env, capture_output=True,
                       text=True, timeout=120)
    check(r.returncode == 0 and r.stdout.startswith("podgym "), "the image runs podgym (%s)" % r.stdout.strip())
    r = subprocess.run([script, "--build", build, "--out", out, "--image", image], env=env, capture_output=True,
                       text=True, timeout=300)
    check(r.returncode == 0 and "up to date" in r.stdout, "a second build is a no-op (same content)")

    # the facade, and what a pod of the podgym Deployment is given
    tmp, ca, cert, key, _ = make_certs()
    facade = Facade(certs=(tmp, ca, cert, key))
    sa = os.path.join(root, "serviceaccount")
    conf = os.path.join(root, "config")
    os.makedirs(sa)
    os.makedirs(conf)
    shutil.copy(ca, os.path.join(sa, "ca.crt"))
    with open(os.path.join(sa, "token"), "w") as f:
        f.write(facade.token)
    with open(os.path.join(sa, "namespace"), "w") as f:
        f.write("default")
    port = free_port()
    with open(os.path.join(conf, "podgym.yaml"), "w") as f:
        f.write("listen: 127.0.0.1:%d\nbackend: kube\ndata_dir: /data\n" % port)
    for folder in (root, sa, conf):                  # readable by nobody, as a Secret's volume is
        os.chmod(folder, 0o755)
    for folder in (sa, conf):
        for n in os.listdir(folder):
            os.chmod(os.path.join(folder, n), 0o644)
    container, err = None, ""
    try:
        container = d.run(image, env={"KUBERNETES_SERVICE_HOST": "127.0.0.1",
                                      "KUBERNETES_SERVICE_PORT": str(facade.port)},
                          host_config={"NetworkMode": "host", "ReadonlyRootfs": True, "Tmpfs": {"/data": "uid=65534"},
                                       "Binds": ["%s:/var/run/secrets/kubernetes.io/serviceaccount:ro" % sa,
                                                 "%s:/etc/podgym:ro" % conf]})
    except RuntimeError as e:
        err = str(e)
    check(container is not None, "the container starts (%s)" % err[-200:])
    body, err = "", ""
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            body = urllib.request.urlopen("http://127.0.0.1:%d/pod" % port, timeout=5).read().decode()
            break
        except OSError as e:
            err = str(e)
            time.sleep(0.2)
    check('"total_pods":2' in body, "GET /pod through the in-cluster service account (%s)" % (body[:160] or err))
    logs = subprocess.run([DOCKER, "logs", container or "none"], env=env, capture_output=True, text=True, timeout=60)
    check("backend kube" in logs.stderr + logs.stdout and facade.token not in logs.stderr + logs.stdout,
          "its log says backend kube and holds no token")
    user = subprocess.run([DOCKER, "inspect", "--format", "{{.Config.User}}", image], env=env, capture_output=True,
                          text=True, timeout=60).stdout.strip()
    check(user == "65534:65534", "the image runs as nobody (%s)" % user)
    facade.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    if container:
        d.api("DELETE", "/containers/%s?force=1" % container)
    st, _ = d.api("DELETE", "/images/%s?force=1" % image)
    check(st == 200, "the test's image is removed from the daemon")
shutil.rmtree(root, ignore_errors=True)
done()
