#!/usr/bin/env bash
# Idempotent setup for srv6pipes: Debian tools, npm dependencies, a current Node, the native addon, the
# TypeScript build. Fast when nothing is missing. Called by `npm test`, `npm run demo|bench|soak|fuzz`
# with their purpose; safe to run by hand.
# usage: bash scripts/setup.sh [build|unit|test|demo|bench|soak|fuzz]   (default: build)
# The purpose decides which Debian packages and which extra Node versions are needed (README, "What setup installs").
set -euo pipefail
cd "$(dirname "$0")/.."
purpose=${1:-build}
case "$purpose" in build | unit | test | demo | bench | soak | fuzz) ;; *)
  echo "setup: unknown purpose '$purpose' (build, unit, test, demo, bench, soak or fuzz)" >&2
  exit 2
  ;;
esac
say() { [ -n "${SETUP_QUIET:-}" ] || echo "setup: $*" >&2; }

# 1. The Debian packages this purpose needs (scripts/setup-debian.sh: which command needs which;
# installed without starting or enabling their services).
bash scripts/setup-debian.sh "$purpose"

# 2. A Node at or above package.json's engines floor (scripts/nodes.mjs): the machine's when it is new
# enough, else one fetched once from the npm registry into .cache/node; for `test` also every Node the
# unit suite runs on (scripts/nodes.json: 22 and 24). With the headers that come with it, the addon
# builds offline (N-API 8: one build serves every Node version).
floor_args=()
[ "$purpose" = test ] && floor_args+=(--test)
main_node=$(node scripts/nodes.mjs ensure "${floor_args[@]}")
nodedir=$(node scripts/nodes.mjs nodedir)
if [ -n "$nodedir" ]; then
  say "the machine's Node $(node -p process.versions.node) is below the floor: tests, demo and bench run on $main_node"
  # from here on, npm, node-gyp and tsc run on it too (npm skips optional dependencies whose engines
  # the running Node does not meet: vega-lite needs Node ≥ 22); node-gyp builds against its headers, offline
  export PATH="$(dirname "$main_node"):$PATH" npm_config_nodedir="$nodedir"
fi

# 3. npm dependencies, when package-lock.json changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f node_modules/.srv6pipes-lock ] || [ "$(cat node_modules/.srv6pipes-lock)" != "$lock_hash" ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_hash" > node_modules/.srv6pipes-lock
fi

# 4. The native addon, when its sources are newer than the binary.
addon=build/Release/srv6pipes_native.node
if [ ! -f "$addon" ] || [ -n "$(find native binding.gyp -newer "$addon" 2>/dev/null)" ]; then
  say "building the native addon"
  npm run -s build:native >/dev/null
fi

# 5. TypeScript (incremental: about a second when nothing changed).
# (its own stamp: `tsc --noEmit` rewrites tsc's build info without emitting, so that file proves nothing)
stamp=dist/.build-stamp
if [ ! -f "$stamp" ] || [ ! -f dist/src/index.js ] || [ -n "$(find src test tsconfig.json package.json scripts/build.mjs -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  say "compiling TypeScript"
  # tsc and the assets it does not copy (the built-in lab topologies): the same build as `npm run build:ts`
  node scripts/build.mjs
  touch "$stamp"
fi
