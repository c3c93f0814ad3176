#!/usr/bin/env bash
# Debian packages that some features and their tests need, installed only when missing.
# Each entry: "<command that proves it is there>:<debian package>". Later features add lines.
set -euo pipefail
needed=()
# chromium: the dashboard's end-to-end tests drive Debian's browser (never a downloaded one).
for entry in "cmake:cmake" "g++:g++" "chromium:chromium"; do
  cmd=${entry%%:*}; pkg=${entry#*:}
  command -v "$cmd" >/dev/null 2>&1 || needed+=("$pkg")
done
# PostgreSQL server binaries (initdb, pg_ctl) live off PATH: the campaign store is tested against
# a throwaway cluster (tests/autonomy/postgres.py).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || needed+=("postgresql")
if [ ${#needed[@]} -gt 0 ]; then
  echo "installing Debian packages: ${needed[*]}"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${needed[@]}"
fi
