#!/usr/bin/env bash
# Installs what the worker's OCR runs, when missing: Tesseract with English
# (Debian: tesseract-ocr, tesseract-ocr-eng); and poppler-utils, which the
# worker does not use but the tests do (pdftoppm makes their scans, pdfinfo
# and pdftotext are what Folio is compared with). Used by .ci/run and `make
# run`; without root or apt it says what to install and goes on (the
# worker then marks scanned pages needs_ocr).
set -euo pipefail
need=()
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v tesseract >/dev/null || need+=(tesseract-ocr)
compgen -G "/usr/share/tesseract-ocr/*/tessdata/eng.traineddata" >/dev/null || need+=(tesseract-ocr-eng)
((${#need[@]})) || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ocr: not installed (${need[*]}); scanned pages will stay without text" >&2
  exit 0
fi
echo "ocr: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
