#!/bin/sh
# /usr/bin/invigil, installed by the invigil .deb: starts the player in /opt/invigil with the machine-wide config
# /etc/invigil/config.toml (a dpkg conffile), unless INVIGIL_CONFIG already names another file.
#
# On a normal install (root /) INVIGIL_CONFIG names the file the player reads on Linux anyway, so it changes
# nothing there. It is kept for the package installed under another root (dpkg --root/--instdir): the player's
# own /etc/invigil/config.toml is an absolute path, outside that root, while this script finds the root's
# /opt/invigil and /etc/invigil relative to itself. tests/build/test_deb.py installs so, and proves the installed
# player reads the installed conffile only through this line. (Earlier players looked in the first folder of
# $XDG_CONFIG_DIRS, which desktop sessions change; naming the file also keeps those right.)
set -eu
self=$(readlink -f "$0")
root=$(cd "${self%/*}/../.." && pwd -P)
root=${root%/}
app="$root/opt/invigil/invigil"
if ! test -x "$app"; then
    echo "invigil: $app is missing; reinstall the package (sudo apt-get install --reinstall invigil)" >&2
    exit 127
fi
: "${INVIGIL_CONFIG:=$root/etc/invigil/config.toml}"
export INVIGIL_CONFIG
exec "$app" "$@"
