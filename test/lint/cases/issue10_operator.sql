-- expect: operator
-- issue 10: a planted rerank.>=(real, integer) bound in this CHECK
CREATE TABLE rerank.event_weights (
    event_type pg_catalog.text PRIMARY KEY,
    weight real NOT NULL CHECK (weight >= 0)
);
-- an inner parenthesis is no option list; a join's USING is no RAISE
CREATE TABLE rerank.t (a integer CHECK ((a = 1) OR (a = 2)));
CREATE VIEW rerank.v AS SELECT a.x FROM rerank.a a JOIN rerank.b b USING (x) WHERE a.y = b.y;
