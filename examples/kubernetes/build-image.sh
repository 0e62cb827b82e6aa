#!/usr/bin/env bash
# Builds the podgym image (default podgym:latest) without a registry: the
# built binary installed into a rootfs under /usr/local (with the default
# scripts and policies in /usr/local/share/podgym, where it finds them), the
# shared libraries it links (found with ldd) and the dynamic loader, packed
# as a reproducible tar and `docker import`ed, as the demo image is built.
#
#   examples/kubernetes/build-image.sh [--build DIR] [--out DIR] [--image NAME:TAG] [--no-import]
#
# --no-import (or no docker CLI) leaves OUT/podgym-rootfs.tar for
# `docker import`, `ctr images import` or `kind load image-archive` on a
# machine that has them. Needs: cmake, ldd, tar.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build="$src/build"
out=""
image=podgym:latest
import=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    --no-import) import=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
die() { echo "build-image: $*" >&2; exit 1; }
[ -x "$build/podgym" ] || die "no $build/podgym: run make build first"
[ -n "$out" ] || out="$build/podgym-image"
mkdir -p "$out"
out=$(cd "$out" && pwd)

# 1. podgym, its scripts and policies, as `cmake --install` lays them out.
root="$out/rootfs"
rm -rf "$root"
mkdir -p "$root"/{etc,tmp,data,proc,sys,dev}
chmod 1777 "$root/tmp" "$root/data"
DESTDIR="$root" cmake --install "$build" --prefix /usr/local >/dev/null || die "cmake --install failed"
bin="$root/usr/local/bin/podgym"
[ -x "$bin" ] || die "the install left no usr/local/bin/podgym"

# 2. Its shared libraries and the loader, at the paths ldd names.
ldd "$build/podgym" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
ls "$root"/lib*/ld-linux* >/dev/null 2>&1 || die "ldd named no dynamic loader"
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
# A config for a bare `docker run` (the Deployment mounts its own at /etc/podgym).
mkdir -p "$root/etc/podgym"
printf 'listen: 0.0.0.0:6000\nbackend: kube\ndata_dir: /data\n' > "$root/etc/podgym/podgym.yaml"
# The binary runs in the image (a missing library would show here, not in the cluster).
if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null 2>&1; then
  ASAN_OPTIONS=detect_leaks=0 chroot "$root" /usr/local/bin/podgym --version >/dev/null ||
    die "podgym does not run inside the rootfs"
fi

# 3. A reproducible tar.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$out/podgym-rootfs.tar" .
hash=$(sha256sum "$out/podgym-rootfs.tar" | cut -c1-64)
rm -rf "$root"
echo "build-image: $out/podgym-rootfs.tar (content $hash)"

# 4. Import (docker import: no registry, no Dockerfile).
[ "$import" = 1 ] || exit 0
command -v docker >/dev/null 2>&1 || { echo "build-image: no docker CLI: import the tar yourself"; exit 0; }
docker version >/dev/null 2>&1 || { echo "build-image: no docker daemon at ${DOCKER_HOST:-the default socket}: import the tar yourself"; exit 0; }
have=$(docker image inspect --format '{{index .Config.Labels "podgym.content"}}' "$image" 2>/dev/null || true)
if [ "$have" = "$hash" ]; then
  echo "build-image: $image is up to date (content $hash)"
  exit 0
fi
docker import --change 'ENTRYPOINT ["/usr/local/bin/podgym"]' \
  --change 'CMD ["serve", "-c", "/etc/podgym/podgym.yaml"]' --change 'EXPOSE 6000' \
  --change 'USER 65534:65534' --change 'WORKDIR /data' --change "LABEL podgym.content=$hash" \
  "$out/podgym-rootfs.tar" "$image" >/dev/null || die "docker import failed"
echo "build-image: imported $image (content $hash)"
