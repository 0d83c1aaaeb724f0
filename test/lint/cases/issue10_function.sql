-- expect: function
-- issue 10: a planted rerank.array_ndims(real[]) bound in this CHECK
CREATE TABLE rerank.models (
    gram real[] CHECK (gram IS NULL OR array_ndims(gram) OPERATOR(pg_catalog.=) 1)
);
