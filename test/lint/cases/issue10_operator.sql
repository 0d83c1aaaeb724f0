-- expect: operator
-- issue 10: a planted rerank.>=(real, integer) bound in this CHECK
CREATE TABLE rerank.event_weights (
    event_type pg_catalog.text PRIMARY KEY,
    weight real NOT NULL CHECK (weight >= 0)
);
