#!/usr/bin/env bash
# The node bus's certificates and the secrets of a compose deployment on
# several hosts (docs/DEPLOY.md), made on one machine with the image:
#   docker-compose/keys.sh [--out DIR] NAME:ROLE ...
# e.g. keys.sh master1:master master2:master wacore1:coreapp wacore2:coreapp waweb1:webapp ops:wactl
# In DIR (default docker-compose/keys): NAME.key_secret (each program's own,
# mode 0600), NAME.key (public), trusted/ (the allow-list: every key made here),
# admin-password (the first login of 'admin') and db-password (the database
# user's). Everything is owned by uid 10001, the image's user. What is there
# already is kept; new names are added and trusted. Copy DIR to every host
# (each host needs its own NAME.key_secret, trusted/ and the two passwords).
# The one-host file (multiconnect-compose.yml) makes its own in a volume.
set -euo pipefail
out=$(dirname "$0")/keys
if [ "${1:-}" = --out ]; then
    [ $# -ge 2 ] || { echo "keys.sh: --out needs a folder" >&2; exit 2; }
    out=$2; shift 2
fi
[ $# -gt 0 ] || { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
image=wacluster:${WA_API_VERSION:-latest}
if ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "keys.sh: no image $image: build it first (docker-compose -f docker-compose/multiconnect-master.yml build)" >&2
    exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# As root inside, so that the files can be given to 10001 whoever runs this.
docker run --rm --user 0 --network none -v "$out:/etc/wacluster/keys" "$image" keys "$@"
echo "keys.sh: $out (the admin's password: $out/admin-password)"
