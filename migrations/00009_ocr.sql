-- +goose Up
-- OCR. A page whose text can only come from its images (a scan) is stored
-- by the parse with source 'needs_ocr' and no text; the document's ocr job
-- (queue 'ocr', after the parse, so that a long OCR never holds up other
-- documents' parses) replaces its text with what Tesseract reads and sets
-- source 'ocr' with Tesseract's mean word confidence. A page OCR could
-- not read keeps 'needs_ocr' with the reason (ocr_failure). Expand only:
-- writers of the previous release store 'text', the default.
ALTER TABLE pages
    ADD COLUMN source         text NOT NULL DEFAULT 'text' CHECK (source IN ('text', 'ocr', 'needs_ocr')),
    ADD COLUMN ocr_confidence real,
    ADD COLUMN ocr_failure    text;

-- The document's OCR: NULL when no page needs it; 'pending' (its job is
-- queued), 'running', 'done', or 'unavailable' (the worker that finished
-- the parse has no OCR engine: such pages stay 'needs_ocr').
ALTER TABLE documents
    ADD COLUMN ocr_status     text CHECK (ocr_status IN ('pending', 'running', 'done', 'unavailable')),
    ADD COLUMN ocr_pages      integer CHECK (ocr_pages >= 0),
    ADD COLUMN ocr_pages_done integer NOT NULL DEFAULT 0 CHECK (ocr_pages_done >= 0);

-- +goose Down
ALTER TABLE documents DROP COLUMN ocr_pages_done, DROP COLUMN ocr_pages, DROP COLUMN ocr_status;
ALTER TABLE pages DROP COLUMN ocr_failure, DROP COLUMN ocr_confidence, DROP COLUMN source;
