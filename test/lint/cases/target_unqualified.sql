-- expect: target-unqualified function
COMMENT ON FUNCTION model_id(pg_catalog.text) IS 'x';
COMMENT ON COLUMN models.name IS 'x';
GRANT SELECT ON models TO PUBLIC;
REVOKE EXECUTE ON FUNCTION activate_model(pg_catalog.text) FROM PUBLIC;
ALTER TABLE models ADD COLUMN note pg_catalog.text;
DROP FUNCTION IF EXISTS old_helper();
