-- test/bench/blend_tune.sql: appended to the replay's strategies by
-- test/bench/blend_tune.sh.  The strategy 'record' ranks nothing (it
-- returns the upstream order): it records, for every ranked list, the
-- features rerank() sees as of the event (rerank.candidate_features, after
-- the same hourly and daily signal schedule as the strategy 'blend') into
-- public.blend_tune, from which blend_tune.c scores any weights offline:
-- the scores of rerank() are the weighted sums of these rows (regress test
-- features), ties by upstream position.
CREATE FUNCTION replay.record(u bigint, items bigint[], t timestamptz, s bigint,
                              g text, target bigint) RETURNS bigint[]
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM replay.signals_until(t);
    INSERT INTO public.blend_tune (dataset, seq, generator, target, items, features)
    SELECT (SELECT schema_name FROM replay.settings), s, g, array_position(items, target),
           items, array_agg(CASE WHEN abs(f.value) < 1e-30 THEN 0 ELSE f.value END::real
                            ORDER BY f.ord)
      FROM rerank.candidate_features(u, items, as_of => t)
           WITH ORDINALITY f(item_id, upstream_position, feature, value, ord);
    RETURN items;
END
$$;
INSERT INTO replay.strategies (name, expression, description) VALUES
('record', 'replay.record(r_user, r_items, r_at, r_seq, generator, ev.item_id)',
 'records the features of every list for test/bench/blend_tune.c (its own ranks: the upstream order)');
