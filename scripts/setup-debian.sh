#!/usr/bin/env bash
# The Debian packages one srv6pipes command needs, installed when missing (root only), without
# starting or enabling any service they ship. Called by scripts/setup.sh; `bash scripts/setup-debian.sh PURPOSE`.
#
# PURPOSE: build (nothing), unit, test, demo, bench, soak, fuzz (nothing).
# While apt-get runs, /usr/sbin/policy-rc.d answers 101 ("action forbidden"), so that no service
# starts (lighttpd would take port 80); an existing policy-rc.d is put back afterwards. Packages new
# to the machine that enable a systemd unit at install (haproxy.service, lighttpd.service) get it
# disabled again (and stopped, where systemd runs); units that were there before are not touched.
set -euo pipefail
purpose=${1:-build}
say() { [ -n "${SETUP_QUIET:-}" ] || echo "setup: $*" >&2; }
policy=${SRV6PIPES_POLICY_RC_D:-/usr/sbin/policy-rc.d} # another path only for test/e2e/setup.test.ts

# probe (a command on PATH, or python:MODULE for Debian's /usr/bin/python3) | package | the commands that need it
PEERS='
nft           nftables       test demo bench soak
ip            iproute2       unit test demo bench soak
tcpdump       tcpdump        test demo
curl          curl           test demo
ping          iputils-ping   test bench
setpriv       util-linux     unit test
dig           dnsutils       test demo
wrk           wrk            test bench
lighttpd      lighttpd       test bench
haproxy       haproxy        test bench
python:scapy  python3-scapy  unit test
aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu test
qemu-aarch64  qemu-user      test
etcd          etcd-server    test bench
etcdctl       etcd-client    test bench
dnsperf       dnsperf        bench
'

has() {
  case "$1" in
    python:*) /usr/bin/python3 -c "import ${1#python:}" >/dev/null 2>&1 ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

need=()
while read -r probe package uses; do
  [ -n "$probe" ] || continue
  case " $uses " in *" $purpose "*) has "$probe" || need+=("$package") ;; esac
done <<<"$PEERS"
[ ${#need[@]} -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ]; then
  say "missing Debian packages for '$purpose' (${need[*]}): run as root or apt-get install them"
  exit 0
fi

installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null | awk '$1 == "ii" { print $2 }' | sort; }
before=$(installed)

saved=""
restore() {
  rm -f "$policy"
  if [ -n "$saved" ]; then mv "$saved" "$policy"; fi
}
if [ -e "$policy" ]; then
  saved="$policy.srv6pipes-saved"
  mv "$policy" "$saved"
fi
trap restore EXIT
printf '#!/bin/sh\n# written by srv6pipes scripts/setup-debian.sh while it installs test peers: no service starts\nexit 101\n' >"$policy"
chmod 755 "$policy"

say "installing Debian packages for '$purpose': ${need[*]} (no service is started or enabled)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
restore
trap - EXIT

# units enabled by the packages this run installed (dependencies included): disabled again
systemd_runs=""
[ -d /run/systemd/system ] && systemd_runs=1
for pkg in $(comm -13 <(echo "$before") <(installed)); do
  for unit in $(dpkg-query -L "$pkg" 2>/dev/null | grep -E '^(/usr)?/lib/systemd/system/[^/]+\.(service|socket|timer)$' | sed 's|.*/||' | sort -u); do
    [ "$(systemctl is-enabled "$unit" 2>/dev/null || true)" = enabled ] || continue
    say "disabling $unit (enabled by installing $pkg)"
    if [ -n "$systemd_runs" ]; then systemctl disable --now --quiet "$unit"; else systemctl disable --quiet "$unit"; fi
  done
done
