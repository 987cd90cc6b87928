#!/usr/bin/env bash
# wactl keys: certificates made with the right modes and roles, the
# allow-list changed only by whole checked files, two keys of one name side
# by side (a rotation), and every bad input refused with its reason,
# changing nothing. No cluster needed.
. "$(dirname "$0")/lib.sh"
K=$T/k
mkdir -p "$K/trusted" "$T/elsewhere"
keys() { "$BIN/wactl" -c /dev/null keys --keys-dir "$K/trusted" "$@"; }
listed() { keys list --json | jq -r '.keys | length'; }
# refused STATUS WHAT... : the command exits STATUS and says WHAT (a regex).
refused() {
    local status=$1 what=$2; shift 2
    local rc=0; "$@" > "$T/out" 2>&1 || rc=$?
    [ "$rc" = "$status" ] || fail "'$*' exited $rc, expected $status: $(cat "$T/out")"
    grep -Eq -e "$what" "$T/out" || fail "'$*' did not say /$what/: $(cat "$T/out")"
}

note "new: a secret certificate 0600, a public one 0644, the role inside, trusted with --trust"
keys new core1 --role coreapp --out "$K" --trust > "$T/new.out" || fail "keys new: $(cat "$T/new.out")"
[ "$(stat -c %a "$K/core1.key_secret")" = 600 ] || fail "secret mode $(stat -c %a "$K/core1.key_secret")"
[ "$(stat -c %a "$K/core1.key")" = 644 ] || fail "public mode $(stat -c %a "$K/core1.key")"
grep -q 'role = "coreapp"' "$K/core1.key" || fail "no role in the public certificate"
! grep -q secret-key "$K/core1.key" || fail "the public certificate holds the secret key"
grep -q secret-key "$K/core1.key_secret" || fail "the secret certificate holds no secret key"
key=$(grep public-key "$K/core1.key" | cut -d'"' -f2)
[ "${#key}" = 40 ] || fail "not a Z85 key: '$key'"
[ "$(listed)" = 1 ] && [ "$(keys list --json | jq -r '.keys[0].key')" = "$key" ] \
    && [ "$(keys list --json | jq -r '.keys[0].role')" = coreapp ] || fail "list: $(keys list --json)"
keys list | grep -q "core1 *coreapp *$(printf '%s' "$key" | sed 's/[][\.*^$/]/\\&/g')" || fail "list (text): $(keys list)"

note "bad input: exit 2 for usage, 1 for what cannot be done; nothing changed"
before=$(ls -l "$K" "$K/trusted")
refused 2 "no certificate name" keys new 'a b' --role coreapp --out "$K"
refused 2 "no certificate name" keys new ../escape --role coreapp --out "$K"
refused 2 "no certificate name" keys new "$(printf 'x%.0s' {1..49})" --role coreapp --out "$K"
refused 2 "needs --role" keys new core2 --out "$K"
refused 2 "--role is master, coreapp, webapp, wactl or tap, not 'root'" keys new core2 --role root --out "$K"
refused 1 "exists already" keys new core1 --role coreapp --out "$K"
refused 1 "not a directory" keys new core2 --role coreapp --out "$T/missing"
refused 2 "keys needs a command" keys
refused 2 "unknown keys command 'drop'" keys drop core1
refused 2 "go with keys new" keys list --role master
refused 2 "expected keys revoke" keys revoke
refused 1 "holds a secret key" keys trust "$K/core1.key_secret"
echo "not a certificate" > "$T/junk.key"
refused 1 "is not a public certificate" keys trust "$T/junk.key"
refused 1 "No such file" keys trust "$T/missing.key"
head -c 5000 /dev/urandom > "$T/big.key"
refused 1 "at most 4 KiB" keys trust "$T/big.key"
refused 1 "no trusted certificate named 'nobody'" keys revoke nobody
[ "$(ls -l "$K" "$K/trusted")" = "$before" ] || fail "a refused command changed the folders"

note "trust: all or nothing, once per key"
"$BIN/wactl" -c /dev/null keys new web1 --role webapp --out "$T/elsewhere" > /dev/null
refused 1 "is not a public certificate" keys trust "$T/elsewhere/web1.key" "$T/junk.key"
[ "$(listed)" = 1 ] || fail "a refused trust of two files trusted one"
keys trust "$T/elsewhere/web1.key" > /dev/null || fail "trust web1"
[ "$(listed)" = 2 ] || fail "web1 not trusted"
keys trust "$T/elsewhere/web1.key" | grep -q "trusted already" || fail "trusting twice"
[ "$(listed)" = 2 ] || fail "trusting twice made two entries"

note "a rotation: two keys under one name; revoke by name is refused, by key works"
mkdir "$T/new"
"$BIN/wactl" -c /dev/null keys new core1 --role coreapp --out "$T/new" > /dev/null
keys trust "$T/new/core1.key" > /dev/null || fail "trust the new core1"
[ "$(keys list --json | jq '[.keys[] | select(.name == "core1")] | length')" = 2 ] || fail "two core1 keys: $(keys list)"
refused 1 "2 keys are trusted under the name 'core1'" keys revoke core1
keys revoke "$key" > /dev/null || fail "revoke by key"
[ "$(keys list --json | jq -r '[.keys[] | select(.name == "core1")][0].key')" = "$(grep public-key "$T/new/core1.key" | cut -d'"' -f2)" ] \
    || fail "the wrong core1 key was revoked: $(keys list)"
keys revoke web1 > /dev/null || fail "revoke by name"
[ "$(listed)" = 1 ] || fail "after revoking: $(keys list)"

note "a key whose text begins with '-' (a Z85 character) is taken as the key, not as options"
dash="-$(printf '0%.0s' {1..39})"
sed "s|public-key = \".*\"|public-key = \"$dash\"|" "$T/elsewhere/web1.key" > "$T/dash.key"
grep -qF -- "\"$dash\"" "$T/dash.key" || fail "could not make the certificate: $(cat "$T/dash.key")"
keys trust "$T/dash.key" > /dev/null || fail "trust a key beginning with '-'"
[ "$(keys list --json | jq -r --arg k "$dash" '[.keys[] | select(.key == $k)] | length')" = 1 ] || fail "not listed: $(keys list)"
keys revoke "$dash" > "$T/out" 2>&1 || fail "revoke a key beginning with '-': $(cat "$T/out")"
[ "$(listed)" = 1 ] || fail "after revoking the key beginning with '-': $(keys list)"
! ls -A "$K/trusted" | grep -q '^\.' || fail "a temporary file was left in the allow-list: $(ls -A "$K/trusted")"
note "wactl keys: modes, roles, refusals, all-or-nothing trust, a two-key rotation and a key beginning with '-'"
