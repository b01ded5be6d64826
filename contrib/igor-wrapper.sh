#!/bin/sh
# /usr/local/bin/igor (and, as a copy named igor-tui, /usr/local/bin/igor-tui): run the real program as the
# igor service user. "$@" passes every argument exactly as typed: classic igor's wrapper used an unquoted
# $@, so `-c "console=ttyS0 quiet"` was split and `kn[1-3]` was globbed against the caller's directory.
set -eu
prog=$(basename "$0")
case "$prog" in
    igor-tui) real=/usr/local/lib/igor-tui/bin/igor-tui ;;
    *) real=/usr/local/lib/igor-tui/bin/igor ;;
esac
if [ "$(id -un)" = igor ]; then
    exec "$real" "$@"
fi
exec sudo -u igor "$real" "$@"
