-- test/bench/catpage_diag.sql: appended to the replay strategies by catpage_diag.sh.
CREATE FUNCTION replay.rankrec(u bigint, items bigint[], t timestamptz, s bigint,
                               g text, target bigint) RETURNS bigint[]
    LANGUAGE plpgsql AS $$
DECLARE
    ranked bigint[];
BEGIN
    ranked := replay.ranker(u, items, t);
    INSERT INTO public.diag (dataset, seq, generator, target, items, ranked, features)
    SELECT (SELECT schema_name FROM replay.settings), s, g, target,
           items, ranked, array_agg(CASE WHEN abs(f.value) < 1e-30 THEN 0 ELSE f.value END::real
                            ORDER BY f.ord)
      FROM rerank.candidate_features(u, items, as_of => t)
           WITH ORDINALITY f(item_id, upstream_position, feature, value, ord);
    RETURN ranked;
END
$$;
INSERT INTO replay.strategies (name, expression, description, setup) VALUES
('rankrec', 'replay.rankrec(r_user, r_items, r_at, r_seq, generator, ev.item_id)', 'ranker + record', 'CALL replay.train_ranker()');
