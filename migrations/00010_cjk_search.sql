-- +goose NO TRANSACTION
-- +goose Up
-- Search in scripts written without spaces between words. Postgres's
-- 'simple' parser takes a run of Han, kana or Hangul as one word, so a
-- Chinese page was found only by a query equal to a whole run. Search now
-- reads an index of each page's text with a space put on either side of
-- every such character (folio_search_text): each is a word of its own, and
-- the API turns a CJK run of a query into a phrase of its characters
-- ("東京" → '東' <-> '京'), found wherever they follow each other. Latin
-- text indexes as before. The ranges are documents/search.go's cjkRanges
-- (a test holds them equal).
--
-- Expand only, and without locking writers out: an expression index built
-- CONCURRENTLY (no table rewrite). pages.tsv and pages_tsv_idx stay for the
-- previous release's search and go in a later contract step.
CREATE OR REPLACE FUNCTION folio_search_text(t text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN regexp_replace(t,
        '([\u1100-\u11ff\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f])',
        ' \1 ', 'g');

-- An interrupted CONCURRENTLY build leaves an invalid index behind: drop it
-- so that running the migration again builds it whole.
DROP INDEX CONCURRENTLY IF EXISTS pages_search_idx;
CREATE INDEX CONCURRENTLY pages_search_idx ON pages USING gin (to_tsvector('simple', folio_search_text(text)));

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS pages_search_idx;
DROP FUNCTION IF EXISTS folio_search_text(text);
