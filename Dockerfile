# syntax=docker/dockerfile:1
# Multi-stage build: static binaries in a distroless, non-root image (the
# default target: api, folio). The worker's image (--target worker) adds
# what OCR runs: Tesseract, its orientation data and the common languages
# (as scripts/install-ocr.sh: the API's FOLIO_OCR_AVAILABLE_LANGUAGES must
# name only these, or what you add). (Page images, and OCR's rendering, need
# nothing installed: PDFium is WebAssembly inside the binary.)
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/api ./cmd/worker ./cmd/folio

FROM debian:bookworm-slim AS worker
RUN apt-get update \
 && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-osd tesseract-ocr-eng \
    tesseract-ocr-deu tesseract-ocr-fra tesseract-ocr-spa tesseract-ocr-ita tesseract-ocr-por tesseract-ocr-nld \
    tesseract-ocr-chi-sim tesseract-ocr-chi-tra tesseract-ocr-jpn tesseract-ocr-kor \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
# The page renderer's compiled WebAssembly (written at start-up): a
# directory the non-root user can write, not $HOME.
ENV FOLIO_RENDER_CACHE_DIR=/tmp/folio-wazero
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/usr/local/bin/worker"]

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/api"]
