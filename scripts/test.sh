#!/usr/bin/env bash
# The one command that runs every test: set-up, one release build of `tern`, the Swift unit tests, then the interop
# suite (real `tern` binary, real Kafka clients). Exits non-zero if any step fails; prints a summary at the end.
#
#   ./scripts/test.sh                     everything
#   ./scripts/test.sh -m wire             only interop tests marked `wire` (arguments go to pytest)
#   ./scripts/test.sh -k kcat -x          any pytest selection
#   TERN_SKIP_UNIT=1 ./scripts/test.sh    skip `swift test`
#   TERN_SKIP_INTEROP=1 ./scripts/test.sh skip pytest
#   TERN_TEST_TIMEOUT=180                 per-test timeout in seconds (default 120)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
command -v swift >/dev/null 2>&1 || export PATH="/opt/swift/usr/bin:$PATH"

declare -a SUMMARY=()
FAILED=0
step() { # step NAME CMD... : run, time and record one step
    local name="$1"; shift
    local t0=$SECONDS rc
    printf '\n==== %s ====\n' "$name"
    "$@"; rc=$?
    local dt=$((SECONDS - t0))
    if ((rc == 0)); then SUMMARY+=("PASS  $name (${dt}s)"); else SUMMARY+=("FAIL  $name (${dt}s, exit $rc)"); FAILED=1; fi
    return $rc
}
summary() {
    printf '\n==== summary ====\n'
    printf '%s\n' "${SUMMARY[@]}"
    if ((FAILED)); then echo "RESULT: FAILED"; else echo "RESULT: OK"; fi
}
trap summary EXIT

step "setup" ./scripts/setup.sh || exit 1

# One release build; the interop tests reuse it through TERN_BIN instead of building again.
# The Swift runtime is linked statically: about 5 MiB less resident memory and faster start-up than the shared one.
if ! step "swift build -c release --product tern" swift build -c release --static-swift-stdlib --product tern; then exit 1; fi
export TERN_BIN="${TERN_BIN:-$ROOT/.build/release/tern}"

if [[ "${TERN_SKIP_UNIT:-0}" != 1 ]]; then
    step "swift test (unit)" swift test
fi

run_pytest() {
    local rc
    .venv/bin/pytest tests/interop -q -p no:cacheprovider --timeout="${TERN_TEST_TIMEOUT:-120}" --reruns 1 -rfEsR "$@"
    rc=$?
    # Exit 5 means the selection matched no test: not a failure of the broker, but say so loudly.
    if ((rc == 5)); then echo "pytest: no interop test selected"; return 0; fi
    return $rc
}
if [[ "${TERN_SKIP_INTEROP:-0}" != 1 ]]; then
    step "interop (pytest tests/interop)" run_pytest "$@"
fi

((FAILED == 0))
