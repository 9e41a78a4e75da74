#!/usr/bin/env bash
# Idempotent setup for srv6pipes: Debian tools, npm dependencies, the native addon, the TypeScript build.
# Fast when nothing is missing. Called by `npm test` and `npm run demo`; safe to run by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { [ -n "${SETUP_QUIET:-}" ] || echo "setup: $*" >&2; }

# 1. Debian tools the proxy, labs, tests and demo use (root only: labs need root anyway).
need=()
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v ping >/dev/null 2>&1 || need+=(iputils-ping)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
# real peers for the benchmarks (srv6pipes bench): load generator, web server, the proxy to beat
command -v wrk >/dev/null 2>&1 || need+=(wrk)
command -v lighttpd >/dev/null 2>&1 || need+=(lighttpd)
command -v haproxy >/dev/null 2>&1 || need+=(haproxy)
# scapy: an independent check of the SRH wire format (Debian's python, not the one on PATH)
/usr/bin/python3 -c 'import scapy' >/dev/null 2>&1 || need+=(python3-scapy)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    say "missing Debian packages (${need[*]}): run as root or apt-get install them"
  fi
fi

# 1b. etcd for the replicated controllers' lab (issue 16: test/e2e/etcd.test.ts). Debian's package
# would start and enable a host etcd: a policy-rc.d refuses starts while it installs, and its unit is
# disabled after, so that etcd only ever runs where the lab starts it (inside namespaces).
if ! command -v etcd >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "installing Debian packages: etcd-server etcd-client (no host service)"
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server etcd-client >/dev/null || say "etcd-server did not install: test/e2e/etcd.test.ts will be skipped"
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1; then systemctl disable etcd >/dev/null 2>&1 || true; fi
fi

# 2. npm dependencies, when package-lock.json changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.srv6pipes-lock ] || [ "$(cat node_modules/.srv6pipes-lock)" != "$lock_hash" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_hash" > node_modules/.srv6pipes-lock
fi

# 3. The native addon, when its sources are newer than the binary.
addon=build/Release/srv6pipes_native.node
if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" 2>/dev/null)" ]; then
  say "building the native addon"
  npm run -s build:native >/dev/null
fi

# 4. TypeScript (incremental: about a second when nothing changed).
# (its own stamp: `tsc --noEmit` rewrites tsc's build info without emitting, so that file proves nothing)
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ ! -f dist/src/index.js ] || [ -n "$(find src test tsconfig.json package.json scripts/build.mjs -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  say "compiling TypeScript"
  # tsc and the assets it does not copy (the built-in lab topologies): the same build as `npm run build:ts`
  node scripts/build.mjs
  touch "$stamp"
fi
