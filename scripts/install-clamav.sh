#!/usr/bin/env bash
# Installs ClamAV's scanning daemon (clamd, Debian's clamav-daemon) and
# clamdscan when missing: `folio dev` starts clamd with Folio's own test
# signatures (there is no freshclam without internet), the tests scan with
# it, and `make bench` compares Folio's scans with `clamdscan --stream`.
# Debian's package also starts a system clamd and freshclam under systemd
# where systemd runs; Folio never uses those (it writes its own config).
# Used by .ci/run and `make run`; without root or apt it says what to
# install and goes on (folio dev then runs without scanning).
set -euo pipefail
need=()
[ -x /usr/sbin/clamd ] || command -v clamd >/dev/null || need+=(clamav-daemon)
command -v clamdscan >/dev/null || need+=(clamdscan)
((${#need[@]})) || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "clamav: not installed (${need[*]}); uploads will not be scanned for malware in folio dev" >&2
  exit 0
fi
echo "clamav: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
