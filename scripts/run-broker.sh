#!/usr/bin/env bash
# Run a Tern broker in the foreground: ./scripts/run-broker.sh [extra `tern server` arguments]
# Defaults: listens on 127.0.0.1:9092, keeps its log in ./data. Builds the release binary first if it is missing
# or older than the sources. Example: ./scripts/run-broker.sh --override num.partitions=3
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"
BIN="$ROOT/.build/release/tern"

# The C libraries the build links (zlib, lz4, zstd, snappy, zookeeper): installed when missing.
"$ROOT/scripts/setup.sh" --build-only >&2

if [[ ! -x "$BIN" ]] || [[ -n "$(find Sources Package.swift -newer "$BIN" -print -quit 2>/dev/null)" ]]; then
    echo "[run-broker] building release binary" >&2
    swift build -c release --static-swift-stdlib --product tern >&2
fi

mkdir -p "$ROOT/data"
exec "$BIN" server \
    --override listeners=PLAINTEXT://127.0.0.1:9092 \
    --override log.dirs="$ROOT/data" \
    "$@"
