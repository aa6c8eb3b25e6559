-- +goose Up
-- Scans as people make them. A document's OCR languages, in Tesseract's
-- spelling ("deu", "deu+eng"), chosen at upload (or a reparse) from the
-- installed ones, the deployment's default when not chosen.
ALTER TABLE documents ADD COLUMN ocr_languages text;
ALTER TABLE direct_uploads ADD COLUMN ocr_languages text;

-- What OCR did to a page to read it: turned clockwise by ocr_rotation
-- (a page fed sideways or upside down; Tesseract's orientation
-- confidence when it was asked, NULL when the page read well as it came)
-- and straightened by ocr_skew degrees. NULL until OCR reads the page.
ALTER TABLE pages
    ADD COLUMN ocr_rotation            smallint CHECK (ocr_rotation IN (0, 90, 180, 270)),
    ADD COLUMN ocr_rotation_confidence real,
    ADD COLUMN ocr_skew                real;

-- The quarter turn a page image was drawn with (the page's ocr_rotation
-- at the time): the images of a page OCR found sideways are drawn again
-- upright.
ALTER TABLE page_images ADD COLUMN turn smallint NOT NULL DEFAULT 0 CHECK (turn IN (0, 90, 180, 270));

-- +goose Down
ALTER TABLE page_images DROP COLUMN turn;
ALTER TABLE pages DROP COLUMN ocr_skew, DROP COLUMN ocr_rotation_confidence, DROP COLUMN ocr_rotation;
ALTER TABLE direct_uploads DROP COLUMN ocr_languages;
ALTER TABLE documents DROP COLUMN ocr_languages;
