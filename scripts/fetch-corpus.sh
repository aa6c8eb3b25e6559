#!/usr/bin/env bash
# Fetches the real-PDF corpus into $1 (default .folio/corpus): the PDFs
# inside the pdfcpu v0.15.0 module and Debian's texlive-latex-base-doc.
# Nothing fetched here is committed. Needs the Go module proxy and apt.
set -euo pipefail
dest="${1:-.folio/corpus}"
mkdir -p "$dest"

if ! command -v pdftotext >/dev/null || ! command -v pdfinfo >/dev/null; then
  echo "corpus: installing poppler-utils (pdftotext, pdfinfo)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends poppler-utils
fi

if [ ! -d "$dest/pdfcpu" ]; then
  dir=$(go mod download -json github.com/pdfcpu/pdfcpu@v0.15.0 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  mkdir -p "$dest/pdfcpu.tmp"
  (cd "$dir" && find . -iname '*.pdf' -print0 | xargs -0 cp --parents -t "$OLDPWD/$dest/pdfcpu.tmp")
  mv "$dest/pdfcpu.tmp" "$dest/pdfcpu"
fi

if [ ! -d "$dest/texlive" ]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt's _apt user writes the download
  (cd "$tmp" && { apt-get download texlive-latex-base-doc >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get download texlive-latex-base-doc >/dev/null; }; })
  dpkg-deb -x "$tmp"/texlive-latex-base-doc_*.deb "$tmp/x"
  mkdir -p "$dest/texlive.tmp"
  (cd "$tmp/x" && find . -iname '*.pdf' -print0 | xargs -0 cp --parents -t "$OLDPWD/$dest/texlive.tmp")
  mv "$dest/texlive.tmp" "$dest/texlive"
  rm -rf "$tmp"
fi
echo "corpus: $(find "$dest/pdfcpu" -iname '*.pdf' | wc -l) pdfcpu PDFs, $(find "$dest/texlive" -iname '*.pdf' | wc -l) texlive PDFs in $dest"
