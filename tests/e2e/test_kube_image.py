"""podgym inside a cluster, as far as this machine goes: `make image`'s
build-image.sh imports the podgym image into a real dockerd (started here,
with every path of its own), and the image runs as the Deployment of
examples/kubernetes runs it: non-root, read-only root filesystem, the config
mounted, no kubeconfig, the service account's token, ca.crt and namespace
mounted at /var/run/secrets/kubernetes.io/serviceaccount and
KUBERNETES_SERVICE_HOST/PORT set; the API server is a podgym facade over
HTTPS. GET /pod answers through it; a second build is a no-op."""
# ctest-labels: kube docker
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from pgtest import BIN, SRC, check, done, free_port, skip
from facadetest import Facade, make_certs

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"
DOCKER = shutil.which("docker") or "/usr/bin/docker"
if os.geteuid() != 0:
    skip("dockerd needs root")
if not (os.path.exists(DOCKERD) and os.path.exists(DOCKER)):
    skip("docker.io is not installed (dockerd, docker)")

if "libasan" in subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout:
    skip("a sanitizer build: its image would need the sanitizer runtime (make image ships the plain build)")

root = tempfile.mkdtemp(prefix="pgki.", dir="/tmp")           # short: the socket path
sock = os.path.join(root, "d.sock")
tag = os.path.basename(root).split(".", 1)[1].lower().replace("_", "x")
env = dict(os.environ, DOCKER_HOST="unix://" + sock)
log = open(os.path.join(root, "dockerd.log"), "w")
dockerd = subprocess.Popen([DOCKERD, "--data-root", os.path.join(root, "data"), "--exec-root", os.path.join(root, "x"),
                            "--pidfile", os.path.join(root, "d.pid"), "-H", "unix://" + sock, "--iptables=false",
                            "--ip-forward=false", "--ip-masq=false", "--bridge=none", "--storage-driver=vfs",
                            # its own containerd namespaces and cgroup: other daemons may run beside it
                            "--containerd-namespace", "pgki-" + tag, "--containerd-plugins-namespace", "pgki-p-" + tag,
                            "--cgroup-parent", "/pgki-" + tag], stdout=log, stderr=subprocess.STDOUT)
container = None


def stop():
    if container:
        subprocess.run([DOCKER, "rm", "-f", container], env=env, capture_output=True, timeout=60)
    if dockerd.poll() is None:
        dockerd.send_signal(signal.SIGTERM)
        try:
            dockerd.wait(30)
        except subprocess.TimeoutExpired:
            dockerd.kill()
            dockerd.wait()
    # dockerd leaves its network namespace bind-mounted under the exec root: unmount what is below root
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[4].startswith(root + "/")]
    for m in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", m], capture_output=True, timeout=30)
    shutil.rmtree(root, ignore_errors=True)
    # and the cgroup parent it made in every hierarchy (empty now: its containers are gone)
    left = []
    for top in glob.glob("/sys/fs/cgroup/*/pgki-" + tag) + glob.glob("/sys/fs/cgroup/pgki-" + tag):
        for d, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(d)
            except OSError:
                left.append(d)
    check(not os.path.exists(root) and not left, "dockerd stopped, its mounts, folder and cgroups removed (%s)"
          % (", ".join(left[:3]) or "none left"))


deadline = time.time() + 30
while time.time() < deadline and dockerd.poll() is None:
    if subprocess.run([DOCKER, "version"], env=env, capture_output=True, timeout=30).returncode == 0:
        break
    time.sleep(0.2)
else:
    text = open(log.name).read()[-500:]
    stop()
    skip("dockerd did not start: " + text)

try:
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
    for d in (root, sa, conf):
        os.chmod(d, 0o755)
    for d in (sa, conf):
        for n in os.listdir(d):
            os.chmod(os.path.join(d, n), 0o644)
    r = subprocess.run([DOCKER, "run", "-d", "--network", "host", "--read-only", "--tmpfs", "/data:uid=65534",
                        "-e", "KUBERNETES_SERVICE_HOST=127.0.0.1", "-e", "KUBERNETES_SERVICE_PORT=%d" % facade.port,
                        "-v", "%s:/var/run/secrets/kubernetes.io/serviceaccount:ro" % sa,
                        "-v", "%s:/etc/podgym:ro" % conf, image], env=env, capture_output=True, text=True, timeout=120)
    container = r.stdout.strip() or None
    check(r.returncode == 0, "the container starts (%s)" % r.stderr.strip()[-200:])
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
finally:
    stop()
done()
