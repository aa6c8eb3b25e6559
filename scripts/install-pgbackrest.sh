#!/usr/bin/env bash
# Installs pgBackRest (Debian's pgbackrest) when missing: `folio dev
# --backup` archives PostgreSQL's WAL and takes base backups with it, and
# `make drill` (and its short form in `make test`) restores from them.
# Used by .ci/run, `make run` and `make drill`; without root or apt it says
# what to install and goes on (folio dev then runs without backups).
set -euo pipefail
command -v pgbackrest >/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "pgbackrest: not installed; folio dev --backup and make drill need it (apt-get install pgbackrest)" >&2
  exit 0
fi
echo "pgbackrest: installing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends pgbackrest
