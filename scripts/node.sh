#!/usr/bin/env bash
# Runs `node "$@"` on the main Node (scripts/nodes.mjs): the machine's `node` when it is at or above
# package.json's engines floor, else the Node that setup fetched from the npm registry into .cache/node.
# Its folder goes first on PATH, so that what the command starts with `node` runs on it too.
# Used by `npm run demo|bench|soak|fuzz`; e.g. `bash scripts/node.sh bin/srv6pipes lab topologies`.
set -euo pipefail
main=$(node "$(dirname "$0")/nodes.mjs" main)
PATH="$(dirname "$main"):$PATH" exec "$main" "$@"
