#!/usr/bin/env bash
# Fetches the real-PDF corpus into $1 (default .folio/corpus): the PDFs
# inside the pdfcpu v0.15.0 module, Debian's texlive-latex-base-doc, and
# the Chinese, Japanese and Korean documentation in Debian's
# texlive-lang-{chinese,japanese,korean,cjk} (made by pLaTeX, upLaTeX,
# XeLaTeX and LuaLaTeX: CID fonts with and without ToUnicode, predefined
# CMaps), and German and French documents beside it (ocr-langs). Nothing
# fetched here is committed. Needs the Go module proxy and
# apt. poppler-data is installed so that pdftotext, the reference, reads
# CID fonts without ToUnicode; Tesseract and ocrmypdf for the OCR
# comparison.
set -euo pipefail
dest="${1:-.folio/corpus}"
mkdir -p "$dest"

if ! command -v pdftotext >/dev/null || ! command -v pdfinfo >/dev/null || [ ! -d /usr/share/poppler/cMap ]; then
  echo "corpus: installing poppler-utils (pdftotext, pdfinfo) and poppler-data"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends poppler-utils poppler-data
fi

# The peers only the speed comparisons use (CORPUS_PEERS=0, make
# corpus-quick: none of them).
peers="${CORPUS_PEERS:-1}"

# GNU time: the peak memory of pdftoppm, which page images are compared with.
if [ "$peers" = 1 ] && [ ! -x /usr/bin/time ]; then
  echo "corpus: installing time (GNU time, for pdftoppm's peak memory)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends time
fi

# OCR: the worker's tools, and ocrmypdf to compare with.
"$(dirname "$0")/install-ocr.sh"
if [ "$peers" = 1 ] && { ! command -v ocrmypdf >/dev/null || ! command -v unpaper >/dev/null; }; then
  echo "corpus: installing ocrmypdf and unpaper (the OCR and deskew comparisons)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends ocrmypdf unpaper
fi

# debian_pdfs DIR PACKAGE...: the PDFs the packages ship, into DIR
# (under $dest unless it is absolute).
debian_pdfs() {
  local dir="$1"
  shift
  [[ "$dir" = /* ]] || dir="$dest/$dir"
  local root="$PWD"

  [ -d "$dir" ] && return
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt's _apt user writes the download
  (cd "$tmp" && { apt-get download "$@" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download "$@" >/dev/null; }; })
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done
  mkdir -p "$dir.tmp"
  case "$dir" in /*) out="$dir.tmp" ;; *) out="$root/$dir.tmp" ;; esac
  (cd "$tmp/x" && find . -iname '*.pdf' -print0 | xargs -0 cp --parents -t "$out")
  mv "$dir.tmp" "$dir"
  rm -rf "$tmp"
}

if [ ! -d "$dest/pdfcpu" ]; then
  dir=$(go mod download -json github.com/pdfcpu/pdfcpu@v0.15.0 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  mkdir -p "$dest/pdfcpu.tmp"
  (cd "$dir" && find . -iname '*.pdf' -print0 | xargs -0 cp --parents -t "$OLDPWD/$dest/pdfcpu.tmp")
  mv "$dest/pdfcpu.tmp" "$dest/pdfcpu"
fi

debian_pdfs texlive texlive-latex-base-doc
debian_pdfs cjk texlive-lang-chinese texlive-lang-japanese texlive-lang-korean texlive-lang-cjk

# German and French documents for the OCR of other languages
# (TestOCRScans): beside the corpus, not in it (the corpus's figures stay
# comparable).
langs="$(cd "$(dirname "$dest")" && pwd)/ocr-langs"
debian_pdfs "$langs/de" texlive-lang-german
debian_pdfs "$langs/fr" texlive-lang-french

count() { local d="$1"; [[ "$d" = /* ]] || d="$dest/$d"; find "$d" -iname '*.pdf' | wc -l; }
echo "corpus: $(count pdfcpu) pdfcpu PDFs, $(count texlive) texlive PDFs, $(count cjk) CJK PDFs in $dest; $(count "$langs/de") German and $(count "$langs/fr") French PDFs in $langs"
