#!/usr/bin/env bash
# Packs the PyInstaller bundles that build/build.sh made into Debian packages: invigil (the player) and
# invigil-server (the server, with its systemd unit). Needs only dpkg-deb; no network, no Python.
#
# Usage: packaging/deb/build-deb.sh [--dist DIR] [--out DIR] [--compress xz|gzip|zstd|none] [player|server|all]
#   --dist DIR       where build.sh put the bundles (default: dist-pyinstaller/ at the repository root)
#   --out DIR        where the .deb files go          (default: the same folder as --dist)
#   --compress TYPE  dpkg-deb's compressor             (default: xz, the smallest download; none is fastest)
# Prints the path of each package it wrote, one per line.
#
# The version is sync/version.py's VERSION; the architecture is this machine's (a bundle runs only on the OS and
# CPU it was built on). build/README.md says what each package installs and why.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
DIST="$REPO/dist-pyinstaller"
OUT=""
COMPRESS="xz"
TARGET="all"

# What the player bundle needs from the system: the libraries its ELF files name (DT_NEEDED) that PyInstaller
# leaves out on purpose (libc and the graphics stack, which must match the machine's drivers).
# tests/build/test_deb.py checks this list against the installed files; scripts/setup-env installs the same.
PLAYER_DEPENDS="libegl1, libgl1, libdrm2, libxcb1, libwayland-client0, libwayland-cursor0, libwayland-egl1"
PLAYER_RECOMMENDS="fonts-dejavu-core"
MAINTAINER="Invigil maintainers <invigil@localhost>"

die() {
    printf 'build-deb.sh: %s\n' "$*" >&2
    exit 2
}

usage() {
    sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

while (($#)); do
    case "$1" in
        --dist) [[ $# -ge 2 ]] || die "--dist needs a folder"; DIST="$2"; shift 2 ;;
        --out) [[ $# -ge 2 ]] || die "--out needs a folder"; OUT="$2"; shift 2 ;;
        --compress)
            [[ $# -ge 2 ]] || die "--compress needs one of xz, gzip, zstd, none"
            case "$2" in xz|gzip|zstd|none) COMPRESS="$2" ;; *) die "--compress: '$2' is not one of xz, gzip, zstd, none" ;; esac
            shift 2 ;;
        -h|--help) usage; exit 0 ;;
        player|server|all) TARGET="$1"; shift ;;
        *) die "unknown argument '$1'; expected player, server or all (see packaging/deb/build-deb.sh --help)" ;;
    esac
done
OUT="${OUT:-$DIST}"

command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is missing; it comes with dpkg (a Debian or Ubuntu system)"
VERSION=$(sed -n 's/^VERSION = "\([^"]*\)"$/\1/p' "$REPO/sync/version.py")
[[ "$VERSION" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "no usable VERSION = \"...\" line in $REPO/sync/version.py"
ARCH="$(dpkg --print-architecture)"
# The bundle needs a glibc at least as new as the build machine's (build/README.md).
GLIBC=$(dpkg-query -W -f='${Version}' libc6 2>/dev/null | sed -n 's/^\([0-9]*\.[0-9]*\).*/\1/p')
LIBC_DEPENDS="libc6${GLIBC:+ (>= $GLIBC)}"

case "$TARGET" in
    player) NAMES=(invigil) ;;
    server) NAMES=(invigil-server) ;;
    all) NAMES=(invigil invigil-server) ;;
esac
declare -A BUILD_TARGET=([invigil]=player [invigil-server]=server)
for name in "${NAMES[@]}"; do
    [[ -x "$DIST/$name/$name" ]] \
        || die "no bundle at $DIST/$name; build it first: build/build.sh --dist $DIST ${BUILD_TARGET[$name]}"
done
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT

# The bundle under /opt/NAME, readable by everyone and writable by no one but root (dpkg-deb --root-owner-group).
stage_bundle() {
    local name="$1" root="$2"
    mkdir -p "$root/opt"
    cp -a "$DIST/$name" "$root/opt/$name"
    chmod -R u+rwX,go+rX,go-w "$root/opt/$name"
}

# The Debian copyright file: the project's licence, named as Debian's common-licenses holds it.
stage_copyright() {
    local name="$1" root="$2"
    install -D -m 0644 /dev/stdin "$root/usr/share/doc/$name/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Invigil

Files: *
License: Apache-2.0
Comment: The full text is in /usr/share/common-licenses/Apache-2.0 and in the LICENSE file of the source.
 The bundled Python, Qt (LGPL-3.0) and libraries keep their own licences; see the source's constraints.txt.
EOF
}

# DEBIAN/control, conffiles and md5sums, then the package itself; prints its path.
finish_package() {
    local name="$1" root="$2" depends="$3" recommends="$4" section="$5" summary="$6" description="$7" file
    local size
    size="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    mkdir -p "$root/DEBIAN"
    {
        printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\n' "$name" "$VERSION" "$ARCH" "$MAINTAINER"
        printf 'Installed-Size: %s\nDepends: %s\n' "$size" "$depends"
        [[ -z "$recommends" ]] || printf 'Recommends: %s\n' "$recommends"
        printf 'Section: %s\nPriority: optional\nDescription: %s\n%s\n' "$section" "$summary" "$description"
    } >"$root/DEBIAN/control"
    (cd "$root" && find etc -type f -printf '/%p\n' 2>/dev/null | sort) >"$root/DEBIAN/conffiles"
    [[ -s "$root/DEBIAN/conffiles" ]] || rm "$root/DEBIAN/conffiles"
    (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
        >"$root/DEBIAN/md5sums"
    file="$OUT/${name}_${VERSION}_${ARCH}.deb"
    dpkg-deb --root-owner-group -Z"$COMPRESS" --build "$root" "$file" >/dev/null
    printf '%s\n' "$file"
}

build_player() {
    local root="$SCRATCH/invigil" size
    stage_bundle invigil "$root"
    install -D -m 0755 "$HERE/invigil.sh" "$root/usr/bin/invigil"
    install -D -m 0644 "$HERE/invigil.desktop" "$root/usr/share/applications/invigil.desktop"
    install -D -m 0644 "$REPO/resources/icons/invigil.svg" "$root/usr/share/icons/hicolor/scalable/apps/invigil.svg"
    for size in 48 128 256; do
        install -D -m 0644 "$REPO/resources/icons/invigil-$size.png" \
            "$root/usr/share/icons/hicolor/${size}x${size}/apps/invigil.png"
    done
    install -D -m 0644 "$HERE/config.toml" "$root/etc/invigil/config.toml"
    stage_copyright invigil "$root"
    # No maintainer scripts: there is nothing to run, so nothing can touch the students' data (each account's
    # ~/.local/share/invigil, or data_dir). The menu and icon caches are refreshed by dpkg triggers that
    # desktop-file-utils and hicolor-icon-theme register.
    finish_package invigil "$root" "$LIBC_DEPENDS, $PLAYER_DEPENDS" "$PLAYER_RECOMMENDS" education \
        "Invigil test player for schools" \
        " The desktop app in which students sit tests that an Invigil server hands out, and in which staff
 invigilate a room. Installs to /opt/invigil with the command invigil, a menu entry, and the machine-wide
 settings in /etc/invigil/config.toml. Answers are kept in each account's ~/.local/share/invigil until the
 server has them; removing or purging the package leaves them there."
}

build_server() {
    local root="$SCRATCH/invigil-server"
    stage_bundle invigil-server "$root"
    mkdir -p "$root/usr/bin"
    # Relative, so that it also resolves inside a root other than / (dpkg --instdir, systemd-analyze --root).
    ln -s ../../opt/invigil-server/invigil-server "$root/usr/bin/invigil-server"
    install -D -m 0644 "$REPO/deploy/systemd/invigil-server.service" \
        "$root/usr/lib/systemd/system/invigil-server.service"
    install -D -m 0644 "$HERE/invigil-server.default" "$root/etc/default/invigil-server"
    install -D -m 0644 "$REPO/docs/server.md" "$root/usr/share/doc/invigil-server/README.md"
    stage_copyright invigil-server "$root"
    # Maintainer scripts: stop and disable on removal (prerm), restart a running service after an upgrade
    # (postinst), forget the removed unit (postrm). Each does nothing under another root (DPKG_ROOT).
    local script
    for script in prerm postinst postrm; do
        install -D -m 0755 "$HERE/invigil-server-$script" "$root/DEBIAN/$script"
    done
    finish_package invigil-server "$root" "$LIBC_DEPENDS" "" web \
        "Invigil server: hands out tests and collects results" \
        " The central server of the Invigil test player, with its command-line administration
 (invigil-server). Installs to /opt/invigil-server with a systemd unit, invigil-server.service, which is
 not enabled: set it up in /etc/default/invigil-server, then systemctl enable --now invigil-server.
 The database and key stay in /var/lib/invigil-server when the package is removed or purged."
}

for name in "${NAMES[@]}"; do
    case "$name" in
        invigil) build_player ;;
        invigil-server) build_server ;;
    esac
done
