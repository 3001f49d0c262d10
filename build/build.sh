#!/usr/bin/env bash
# Builds the PyInstaller one-folder bundles of the player (invigil) and/or the server (invigil-server).
#
# Usage: build/build.sh [--dist DIR] [--work DIR] [player|server|all]    (default: all)
#   --dist DIR   where the bundles go        (default: dist-pyinstaller/ at the repository root)
#   --work DIR   PyInstaller's scratch folder (default: work-pyinstaller/ at the repository root)
# Env:   INVIGIL_VENV  the virtualenv holding PyInstaller (default: .venv at the repository root)
#
# PyInstaller's defaults (./build and ./dist) would land inside this folder, which holds the specs; both
# defaults here are git-ignored. "all" builds the two bundles side by side: each is mostly one busy core.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SPECS="$REPO/build"
VENV="${INVIGIL_VENV:-$REPO/.venv}"
DIST="$REPO/dist-pyinstaller"
WORK="$REPO/work-pyinstaller"
TARGET="all"

die() {
    printf 'build.sh: %s\n' "$*" >&2
    exit 2
}

usage() {
    sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while (($#)); do
    case "$1" in
        --dist) [[ $# -ge 2 ]] || die "--dist needs a folder"; DIST="$2"; shift 2 ;;
        --work) [[ $# -ge 2 ]] || die "--work needs a folder"; WORK="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        player|server|all) TARGET="$1"; shift ;;
        *) die "unknown argument '$1'; expected player, server or all (see build/build.sh --help)" ;;
    esac
done

PYTHON="$VENV/bin/python"
if [[ ! -x "$PYTHON" ]]; then
    die "no virtualenv at $VENV; run ./scripts/setup-env first"
fi
if ! "$PYTHON" -c 'import PyInstaller' >/dev/null 2>&1; then
    die "PyInstaller is not installed in $VENV; run ./scripts/setup-env first (it installs the dev extras)"
fi

mkdir -p "$DIST" "$WORK"
DIST="$(cd "$DIST" && pwd)"
WORK="$(cd "$WORK" && pwd)"

case "$TARGET" in
    player) NAMES=(invigil) ;;
    server) NAMES=(invigil-server) ;;
    all) NAMES=(invigil invigil-server) ;;
esac

# One build: PyInstaller's own log (warnings and errors only) goes to the terminal; returns its exit status.
build_one() {
    local name="$1"
    "$PYTHON" -m PyInstaller --noconfirm --log-level WARN \
        --distpath "$DIST" --workpath "$WORK" "$SPECS/$name.spec"
}

start=$SECONDS
pids=()
for name in "${NAMES[@]}"; do
    build_one "$name" &
    pids+=("$!")
done
failed=()
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        failed+=("${NAMES[$i]}")
    fi
done
if ((${#failed[@]})); then
    die "the build of ${failed[*]} failed (PyInstaller's messages are above; its work files are in $WORK)"
fi

for name in "${NAMES[@]}"; do
    size="$(du -sh "$DIST/$name" | cut -f1)"
    printf '%s: %s (%s)\n' "$name" "$DIST/$name" "$size"
done
printf 'built in %d s\n' "$((SECONDS - start))"
