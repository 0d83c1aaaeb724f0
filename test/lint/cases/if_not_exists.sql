-- expect: if-not-exists
CREATE TABLE IF NOT EXISTS rerank.t (a integer);
ALTER TABLE rerank.t ADD COLUMN IF NOT EXISTS b integer;
