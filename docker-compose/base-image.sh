#!/usr/bin/env bash
# The base image of the wacluster images, made without a registry: a Debian 12
# (bookworm) root file system from Debian's packages with debootstrap, then
# `docker import`. Made once; an image of that name already there is reused.
#
#   docker-compose/base-image.sh          make WA_BASE_IMAGE (wacluster-base:bookworm)
#
# With a registry you need none of this: build with WA_BASE_IMAGE=debian:bookworm-slim.
# Environment:
#   WA_BASE_IMAGE    the image's name (default wacluster-base:bookworm)
#   DEBIAN_MIRROR    where the packages come from (default http://deb.debian.org/debian)
#   WA_BASE_CACHE    the root file system as a tar, kept so that a removed image is made
#                    again in seconds (default /var/cache/wacluster/bookworm-minbase.tar;
#                    empty: no cache)
# Needs root (debootstrap) and the debootstrap package (installed when missing).
set -euo pipefail
cd "$(dirname "$0")"
NAME=${WA_BASE_IMAGE:-wacluster-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${WA_BASE_CACHE-/var/cache/wacluster/bookworm-minbase.tar}

if docker image inspect "$NAME" >/dev/null 2>&1; then
    echo "base image $NAME: present, reused"
    exit 0
fi
start=$(date +%s)
if [ -z "$CACHE" ] || [ ! -s "$CACHE" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "base-image.sh: making $NAME needs root (debootstrap); or build with WA_BASE_IMAGE=debian:bookworm-slim" >&2
        exit 1
    fi
    ../scripts/deps.sh debootstrap
    root=$(mktemp -d /tmp/wacluster-base.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    echo "base image $NAME: debootstrap bookworm from $MIRROR (the first time takes a minute or more) ..."
    if ! debootstrap --variant=minbase bookworm "$root" "$MIRROR" > "$root.log" 2>&1; then
        tail -n 20 "$root.log" >&2
        echo "base-image.sh: debootstrap failed (the log above: $root.log)" >&2
        exit 1
    fi
    rm -f "$root.log"
    # As debian:bookworm-slim: the updates and security suites too, no lists
    # or package files left in the image.
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
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
    if [ -n "$CACHE" ]; then
        mkdir -p "$(dirname "$CACHE")"
        tar -C "$root" -cf "$CACHE.tmp" . && mv "$CACHE.tmp" "$CACHE"
        src=$CACHE
    else
        src=$root.tar
        tar -C "$root" -cf "$src" .
    fi
else
    echo "base image $NAME: from the cached root file system $CACHE"
    src=$CACHE
fi
echo "base image $NAME: docker import ..."
docker import --change 'CMD ["/bin/bash"]' --message "debootstrap --variant=minbase bookworm $MIRROR" \
    "$src" "$NAME" >/dev/null
[ "$src" = "$CACHE" ] || rm -f "$src"
echo "base image $NAME: made in $(( $(date +%s) - start )) s"
