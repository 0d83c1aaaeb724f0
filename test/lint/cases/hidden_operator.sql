-- expect: hidden-operator
CREATE TABLE rerank.t (
    a pg_catalog.text CHECK (a IN ('x', 'y')),
    b integer CHECK (b BETWEEN 1 AND 2),
    c pg_catalog.text CHECK (c IS DISTINCT FROM 'z')
);
