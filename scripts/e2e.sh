#!/usr/bin/env bash
# make e2e: the demo app in a real Chromium against a real `folio dev`
# stack (web/e2e/e2e.mjs). Installs Debian's chromium and poppler-utils
# (pdfinfo: the page counts to compare with) when missing; Playwright's own
# browser download does not work on these machines, so playwright-core
# drives /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
command -v pdfinfo >/dev/null || need+=(poppler-utils)
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "e2e: needs ${need[*]}: run as root, or apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "e2e: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The worker's OCR: the test uploads a scanned PDF.
./scripts/install-ocr.sh
./scripts/install-clamav.sh

exec node web/e2e/e2e.mjs
