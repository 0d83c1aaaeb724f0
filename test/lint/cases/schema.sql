-- expect: schema
CREATE TABLE rerank.t (
    a real CHECK (a OPERATOR(public.>=) 0),
    b pg_catalog.text CHECK (public.length(b) OPERATOR(pg_catalog.<) 10),
    c pg_catalog.text DEFAULT 'x'::public.text
);
CREATE VIEW rerank.v AS SELECT x.a FROM public.t x;
