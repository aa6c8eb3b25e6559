#!/usr/bin/env bash
# Installs what the worker's OCR runs, when missing: Tesseract, its
# orientation and script detection data (tesseract-ocr-osd: pages fed
# upside down or sideways are turned upright) and a set of common
# languages (English, German, French, Spanish, Italian, Portuguese, Dutch,
# simplified and traditional Chinese, Japanese, Korean; FOLIO_OCR_LANGUAGES
# and a document's ocr_languages choose among what is installed); and
# poppler-utils, which the worker does not use but the tests do (pdftoppm
# makes their scans, pdfinfo and pdftotext are what Folio is compared
# with). Used by .ci/run and `make run`; without root or apt it says what
# to install and goes on (the worker then marks scanned pages needs_ocr,
# or reads them with the languages it has).
set -euo pipefail
langs=(eng deu fra spa ita por nld chi_sim chi_tra jpn kor osd)
need=()
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v tesseract >/dev/null || need+=(tesseract-ocr)
for l in "${langs[@]}"; do
  compgen -G "/usr/share/tesseract-ocr/*/tessdata/$l.traineddata" >/dev/null || need+=("tesseract-ocr-${l//_/-}")
done
((${#need[@]})) || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ocr: not installed (${need[*]}); scanned pages will stay without text, or be read without these" >&2
  exit 0
fi
echo "ocr: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}"
