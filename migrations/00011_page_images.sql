-- +goose Up
-- Page images. Every page gets a thumbnail during its parse (the parse's
-- "rendering" stage, after "extracting"); larger widths are rendered on
-- demand by a render job. A row is an image stored at s3_key, or the
-- reason the page could not be drawn (failure_code, failure_message).
-- Images depend on the original's bytes only, which never change: a
-- reparse keeps them. renderer names what drew the image (it is part of
-- s3_key too): a worker with another renderer draws the page again.
-- Deleting the document deletes its rows; its objects are deleted by the
-- API and, failing that, by the sweeper.
CREATE TABLE page_images (
    document_id     uuid NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    page_number     integer NOT NULL CHECK (page_number >= 1),
    width           integer NOT NULL CHECK (width > 0),
    renderer        text NOT NULL,
    s3_key          text,
    height          integer CHECK (height > 0),
    size_bytes      integer CHECK (size_bytes > 0),
    failure_code    text,
    failure_message text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, page_number, width),
    CHECK ((s3_key IS NULL) = (failure_code IS NOT NULL))
);

-- Pages of the current parse that have their thumbnail (or its reason).
ALTER TABLE documents ADD COLUMN pages_rendered integer NOT NULL DEFAULT 0 CHECK (pages_rendered >= 0);

-- +goose Down
ALTER TABLE documents DROP COLUMN pages_rendered;
DROP TABLE page_images;
