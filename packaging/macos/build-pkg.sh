#!/usr/bin/env bash
# Wraps Invigil.app (made on macOS by build/build.sh player, through the BUNDLE in build/invigil.spec) in an
# installer package: Invigil-VERSION.pkg, which installs /Applications/Invigil.app and, once, an example of the
# machine-wide settings. Runs only on macOS (pkgbuild is Apple's); not built or run in this project's CI.
#
# Usage: packaging/macos/build-pkg.sh [--dist DIR] [--out DIR]
#   --dist DIR   where build.sh put Invigil.app (default: dist-pyinstaller/ at the repository root)
#   --out DIR    where the .pkg goes               (default: the same folder as --dist)
# Install silently:  sudo installer -pkg Invigil-0.1.0.pkg -target /
# Not done: signing (productsign with a Developer ID Installer certificate) and notarisation (notarytool).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DIST="$REPO/dist-pyinstaller"
OUT=""

die() {
    printf 'build-pkg.sh: %s\n' "$*" >&2
    exit 2
}

while (($#)); do
    case "$1" in
        --dist) [[ $# -ge 2 ]] || die "--dist needs a folder"; DIST="$2"; shift 2 ;;
        --out) [[ $# -ge 2 ]] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
        -h|--help) sed -n '2,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument '$1' (see packaging/macos/build-pkg.sh --help)" ;;
    esac
done
OUT="${OUT:-$DIST}"

command -v pkgbuild >/dev/null 2>&1 || die "pkgbuild is missing: it comes with macOS (Xcode command line tools)"
VERSION=$(sed -n 's/^VERSION = "\([^"]*\)"$/\1/p' "$REPO/sync/version.py")
[[ -n "$VERSION" ]] || die "no VERSION = \"...\" line in $REPO/sync/version.py"
[[ -d "$DIST/Invigil.app" ]] || die "no $DIST/Invigil.app; build it on macOS first: build/build.sh --dist $DIST player"

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/root/Applications" "$SCRATCH/root/Library/Application Support/invigil" "$OUT"
ditto "$DIST/Invigil.app" "$SCRATCH/root/Applications/Invigil.app"
# The example goes in beside the real file's place; postinstall copies it to config.toml only if there is none.
cp "$HERE/config.toml" "$SCRATCH/root/Library/Application Support/invigil/config.toml.example"
pkgbuild --root "$SCRATCH/root" --install-location / --scripts "$HERE/scripts" \
    --identifier org.invigil.player --version "$VERSION" "$OUT/Invigil-$VERSION.pkg"
printf '%s\n' "$OUT/Invigil-$VERSION.pkg"
