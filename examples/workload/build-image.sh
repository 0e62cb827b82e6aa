#!/usr/bin/env bash
# Builds the demo image podgym-demo:latest on the daemon DOCKER_HOST names
# (default unix:///var/run/docker.sock): a static build of workload.c and
# busybox-static in a rootfs made here, packed as a tar and `docker import`ed.
# No registry is needed.  Idempotent: the tar is reproducible and its sha256 is
# the image's label podgym.content; an image with the same label is kept.
#
#   examples/workload/build-image.sh [--out DIR] [--image NAME:TAG]
#
# Needs: cc (gcc) with a static libc (libc6-dev), /bin/busybox from
# busybox-static, and the docker CLI or curl.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=""
image=podgym-demo:latest
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --image) image=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || out=$(cd "$here/../.." && pwd)/build/demo-image
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Suites running in parallel share $out: one build at a time (each imports into its own daemon).
exec 9>"$out/.lock"
command -v flock >/dev/null 2>&1 && flock 9

die() { echo "build-image: $*" >&2; exit 1; }

busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || die "$busybox is missing (apt-get install busybox-static)"
file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
  ldd "$busybox" 2>&1 | grep -q 'not a dynamic' || die "$busybox is not static (install busybox-static)"
cc=${CC:-cc}

# 1. The static binary.
"$cc" -static -O2 -Wall -Wextra -Werror -pthread -o "$out/podgym-workload.new" "$here/workload.c" ||
  die "cannot build workload.c statically (is libc6-dev installed?)"
mv "$out/podgym-workload.new" "$out/podgym-workload"

# 2. The rootfs: busybox at /bin/busybox, its applets as symlinks to it, the
#    workload at /usr/bin/podgym-workload.
root="$out/rootfs"
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,proc,sys,dev,root}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
"$busybox" --list-full | while read -r applet; do
  # --list-full names bin/busybox itself: a symlink there would overwrite the binary.
  [ "$applet" = bin/busybox ] && continue
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
[ -x "$root/bin/busybox" ] && [ ! -L "$root/bin/busybox" ] || die "the rootfs lost /bin/busybox"
install -m 0755 "$out/podgym-workload" "$root/usr/bin/podgym-workload"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"

# 3. A reproducible tar: its hash names the content.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$out/rootfs.tar" .
hash=$(sha256sum "$out/rootfs.tar" | cut -c1-64)
rm -rf "$root"

# 4. Import, unless the daemon has this content already.
host=${DOCKER_HOST:-unix:///var/run/docker.sock}
changes=('CMD ["/usr/bin/podgym-workload"]' 'ENV PORT=8080 THREADS=2 WORK_ROUNDS=300'
         'EXPOSE 8080' "LABEL podgym.content=$hash")
if command -v docker >/dev/null 2>&1; then
  have=$(docker image inspect --format '{{index .Config.Labels "podgym.content"}}' "$image" 2>/dev/null || true)
  if [ "$have" = "$hash" ]; then
    echo "build-image: $image is up to date (content $hash) on $host"
    exit 0
  fi
  args=()
  for c in "${changes[@]}"; do args+=(--change "$c"); done
  docker import "${args[@]}" "$out/rootfs.tar" "$image" >/dev/null || die "docker import failed on $host"
else
  case "$host" in unix://*) sock=${host#unix://} ;; *) die "without the docker CLI only unix:// hosts work ($host)" ;; esac
  have=$(curl -sf --unix-socket "$sock" "http://d/images/$image/json" 2>/dev/null |
         grep -o '"podgym.content":"[0-9a-f]*"' | head -1 | cut -d'"' -f4 || true)
  if [ "$have" = "$hash" ]; then
    echo "build-image: $image is up to date (content $hash) on $host"
    exit 0
  fi
  q="fromSrc=-&repo=${image%:*}&tag=${image##*:}"
  for c in "${changes[@]}"; do q="$q&changes=$(printf %s "$c" | jq -sRr @uri 2>/dev/null ||
    python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1]))' "$c")"; done
  curl -sf --unix-socket "$sock" -X POST -H 'Content-Type: application/x-tar' \
    --data-binary @"$out/rootfs.tar" "http://d/images/create?$q" >/dev/null || die "import failed on $host"
fi
echo "build-image: imported $image (content $hash) on $host"
