-- expect: create-unqualified function
CREATE TABLE t (a integer);
CREATE INDEX t_a ON t (a);
CREATE TRIGGER t_check BEFORE INSERT ON rerank.t FOR EACH ROW EXECUTE FUNCTION check_t();
