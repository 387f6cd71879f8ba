#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: system libraries the broker links against, the Kafka clients the
# interop tests drive, and a Python venv at .venv with pinned client libraries. Fast when everything is in place.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
REQS="$ROOT/tests/interop/requirements.txt"

log() { printf '[setup] %s\n' "$*"; }

# --- Debian packages --------------------------------------------------------------------------------------------
# Libraries CTernCompression links (zlib, lz4, zstd, snappy), the ZooKeeper C client CZooKeeper links, kcat for the CLI tests, zookeeper for ZooKeeper mode,
# python3-venv for the test venv.
BUILD_PACKAGES=(liblz4-dev libzstd-dev libsnappy-dev zlib1g-dev libzookeeper-mt-dev)
APT_PACKAGES=("${BUILD_PACKAGES[@]}" kcat zookeeper python3-venv)
# `setup.sh --build-only`: just what building the broker needs (scripts/run-broker.sh uses it).
if [[ "${1:-}" == "--build-only" ]]; then APT_PACKAGES=("${BUILD_PACKAGES[@]}"); fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if ((${#missing[@]})); then
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
            log "missing packages ${missing[*]} and not root (no sudo): install them and re-run"; exit 1
        fi
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    log "Debian packages present"
fi

# --- Swift ------------------------------------------------------------------------------------------------------
command -v swift >/dev/null 2>&1 || { [[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"; }
if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        log "swift is at /opt/swift/usr/bin but not on PATH: export PATH=/opt/swift/usr/bin:\$PATH"
    else
        log "ERROR: Swift 6.x toolchain not found. Install Swift 6.3 (https://www.swift.org/install/linux/) and put it on PATH."
    fi
    exit 1
fi
log "$(swift --version 2>&1 | head -n1)"
if [[ "${1:-}" == "--build-only" ]]; then exit 0; fi

# --- Python venv ------------------------------------------------------------------------------------------------
# Prefer the python3 on PATH; fall back to Debian's, which python3-venv serves.
PY=""
for cand in python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import venv, ensurepip' >/dev/null 2>&1; then
        PY="$cand"; break
    fi
done
if [[ -z "$PY" ]]; then log "ERROR: no python3 with venv/ensurepip"; exit 1; fi

if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating venv at $VENV with $($PY --version 2>&1)"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
fi

# Skip pip entirely when the installed set already matches the pins (the stamp holds the requirements' hash).
STAMP="$VENV/.tern-requirements.sha256"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] && "$VENV/bin/python" -c 'import confluent_kafka, kafka, aiokafka, pytest, pytest_timeout, lz4, zstandard, snappy' >/dev/null 2>&1; then
    log "venv up to date"
else
    log "installing Python requirements"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQS"
    echo "$want" >"$STAMP"
fi
log "done"
