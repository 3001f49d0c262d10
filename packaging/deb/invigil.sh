#!/bin/sh
# /usr/bin/invigil, installed by the invigil .deb: starts the player in /opt/invigil with the machine-wide config
# /etc/invigil/config.toml (a dpkg conffile), unless INVIGIL_CONFIG already names another file.
#
# The player's own default for that file on Linux is the first folder of $XDG_CONFIG_DIRS, which some desktop
# sessions change (Ubuntu's puts /etc/xdg/xdg-ubuntu first), so the package names its file explicitly.
# Both paths are found relative to this script, so the package also works installed under another root
# (dpkg --instdir, as tests/build/test_deb.py does); on a normal install the root is /.
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
