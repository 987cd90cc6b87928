#!/usr/bin/env bash
# The base images of the wacluster images, made without a registry from
# Debian's packages: one Debian 12 (bookworm) root file system by debootstrap,
# `docker import`ed three times as it grows:
#   wacluster-base:bookworm        minbase + the runtime libraries   (WA_BASE_IMAGE)
#   wacluster-db-base:bookworm     that + mariadb-server             (WA_DB_BASE_IMAGE)
#   wacluster-build-base:bookworm  that first + the -dev packages    (WA_BUILD_BASE_IMAGE)
# The Dockerfiles install the same packages when they are missing, so with a
# registry these are not needed: set all three to debian:bookworm-slim.
# Made once: an image already there is reused, and each root file system is
# kept as a tar in WA_BASE_CACHE (default /var/cache/wacluster; empty: none),
# so that removed images come back in seconds.
#   DEBIAN_MIRROR   where the packages come from (default http://deb.debian.org/debian)
# Needs root (debootstrap, chroot) and the debootstrap package (installed when missing).
set -euo pipefail
cd "$(dirname "$0")"
RUNTIME_IMAGE=${WA_BASE_IMAGE:-wacluster-base:bookworm}
DB_IMAGE=${WA_DB_BASE_IMAGE:-wacluster-db-base:bookworm}
BUILD_IMAGE=${WA_BUILD_BASE_IMAGE:-wacluster-build-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${WA_BASE_CACHE-/var/cache/wacluster}
# The Dockerfiles' lists (docker-compose/Dockerfile, Dockerfile.db).
RUNTIME_PKGS="libczmq4 libzmq5 libmsgpackc2 libmariadb3 libjansson4 libmicrohttpd12 libsodium23 libgnutls30
    libcurl4 zlib1g libsystemd0 ca-certificates curl"
DB_PKGS="mariadb-server"
BUILD_PKGS="gcc make libc6-dev pkg-config libczmq-dev libzmq3-dev libmsgpack-dev libmariadb-dev libjansson-dev
    libmicrohttpd-dev libgnutls28-dev libsodium-dev zlib1g-dev libcurl4-openssl-dev libsystemd-dev"

say() { echo "base-image: $* (+$(( $(date +%s) - ${start:-$(date +%s)} )) s)"; }
have() { docker image inspect "$1" >/dev/null 2>&1; }
cached() { [ -n "$CACHE" ] && [ -s "$CACHE/$1.tar" ]; }

start=$(date +%s)
missing=()
for image in "$RUNTIME_IMAGE" "$DB_IMAGE" "$BUILD_IMAGE"; do
    if have "$image"; then say "$image: present, reused"; else missing+=("$image"); fi
done
[ ${#missing[@]} -gt 0 ] || exit 0

# import IMAGE NAME DIR: DIR as IMAGE (through the cache tar NAME.tar when kept).
import() {
    local image=$1 name=$2 dir=$3 tar
    tar=${CACHE:+$CACHE/$name.tar}
    tar=${tar:-$work/$name.tar}
    if [ -n "$dir" ]; then
        rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb
        tar -C "$dir" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
    fi
    have "$image" && return 0
    say "$image: docker import ..."
    # In the background: the next root file system is made meanwhile.
    { docker import --change 'CMD ["/bin/bash"]' --message "wacluster base-image.sh ($name)" "$tar" "$image" >/dev/null \
          && { [ -n "$CACHE" ] || rm -f "$tar"; }; } &
    imports+=($!)
}
# Every import done, or exit 1.
imported() {
    local pid
    for pid in "${imports[@]}"; do wait "$pid" || { echo "base-image.sh: docker import failed" >&2; exit 1; }; done
}
imports=()

# chroot_install DIR PACKAGES: apt-get inside the root file system (its
# output in DIR.log, shown when it fails); no service is started.
chroot_install() {
    local dir=$1 rc=0; shift
    mount -t proc proc "$dir/proc"
    chroot "$dir" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends $*" > "$dir.log" 2>&1 || rc=$?
    umount "$dir/proc"
    [ "$rc" = 0 ] || { tail -n 20 "$dir.log" >&2; echo "base-image.sh: installing $* failed" >&2; }
    return "$rc"
}

if cached runtime && cached db && cached build; then
    say "from the cached root file systems in $CACHE"
    work=$(mktemp -d /tmp/wacluster-base.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    import "$RUNTIME_IMAGE" runtime ""; import "$DB_IMAGE" db ""; import "$BUILD_IMAGE" build ""
    imported
    say "done in $(( $(date +%s) - start )) s"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "base-image.sh: making ${missing[*]} needs root (debootstrap); with a registry set WA_BASE_IMAGE," \
         "WA_DB_BASE_IMAGE and WA_BUILD_BASE_IMAGE to debian:bookworm-slim instead" >&2
    exit 1
fi
../scripts/deps.sh debootstrap
[ -z "$CACHE" ] || mkdir -p "$CACHE"
work=$(mktemp -d /tmp/wacluster-base.XXXXXX)
cleanup() {
    umount "$work/root/proc" "$work/db/proc" 2>/dev/null || true
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root=$work/root
say "debootstrap bookworm (minbase) from $MIRROR (a few minutes the first time) ..."
if ! debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$work/debootstrap.log" 2>&1; then
    tail -n 20 "$work/debootstrap.log" >&2
    echo "base-image.sh: debootstrap failed (the log's end above)" >&2
    exit 1
fi
# As debian:bookworm-slim: the updates and security suites too.
rm -f "$root/etc/apt/sources.list"
cat > "$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
# apt inside needs the network's names, and must start no service.
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
say "+ the runtime libraries ..."
chroot_install "$root" $RUNTIME_PKGS
# finish DIR: what the image must not keep.
finish() { rm -f "$1/usr/sbin/policy-rc.d"; : > "$1/etc/resolv.conf"; }
cp -a "$root" "$work/db"
finish "$root"
import "$RUNTIME_IMAGE" runtime "$root"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
say "+ mariadb-server, and beside it + the build packages ..."
chroot_install "$work/db" $DB_PKGS & db_pid=$!
chroot_install "$root" $BUILD_PKGS & build_pid=$!
wait "$db_pid" || exit 1
wait "$build_pid" || exit 1
rm -rf "$work/db/var/lib/mysql"/*
finish "$work/db"; finish "$root"
import "$DB_IMAGE" db "$work/db"
import "$BUILD_IMAGE" build "$root"
imported
say "done in $(( $(date +%s) - start )) s"
