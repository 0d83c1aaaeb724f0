#!/usr/bin/perl
# Static check of the extension's generated install and update scripts
# against search_path hijacking (CVE-2018-1058, CVE-2020-14350,
# CVE-2022-2625, CVE-2023-39417 classes).  Run by the test command:
#
#   perl test/lint/check_sql_scripts.pl rerank--0.2.0.sql rerank--0.1.0--0.2.0.sql
#
# It tokenizes SQL (comments, strings, dollar quotes, identifiers,
# operators), splits statements (BEGIN ATOMIC bodies included) and reports
# every line that breaks one of these rules, with the rule's name:
#
#   create-or-replace   no CREATE OR REPLACE, anywhere (bodies included),
#                       except in an update script rerank--A--B.sql for a
#                       function that release A's script created (kept in
#                       test/upgrade/rerank--A.sql): a new body for a
#                       function the extension owns, which PostgreSQL
#                       refuses to do to a function that is not a member of
#                       the extension (the fix of CVE-2022-2625)
#   if-not-exists       no CREATE ... IF NOT EXISTS / ADD ... IF NOT EXISTS
#   extschema-quoted    @extschema@ never inside a string, dollar quote or
#                       quoted identifier
#   create-unqualified  objects are created as schema.name; CREATE INDEX and
#                       CREATE TRIGGER name their table as schema.table, and
#                       triggers their function as schema.function
#   target-unqualified  ALTER, DROP, COMMENT ON, GRANT and REVOKE name
#                       their object as schema.name (a column as
#                       schema.table.column), else they could act on a
#                       same-named object earlier in the search path
#   search-path         every SQL or PL/pgSQL function and procedure, and
#                       every SECURITY DEFINER one, has
#                       SET search_path = pg_catalog, pg_temp
#   function            a function call not written schema.function(...)
#   relation            a table or view not written schema.relation (after
#                       FROM, JOIN, UPDATE, INSERT INTO, DELETE FROM, LOCK,
#                       TRUNCATE, REFERENCES, ON); transition tables and CTEs
#                       are allowed bare
#   operator            an operator not written OPERATOR(pg_catalog.op)
#   hidden-operator     IN (...), BETWEEN, LIKE, IS [NOT] DISTINCT FROM,
#                       NULLIF and simple CASE look up "=" or "<" through
#                       the search path: write OPERATOR(pg_catalog.=) ANY
#                       (ARRAY[...]), two comparisons, and so on
#   schema              a function, operator, relation or type qualified
#                       with a schema other than pg_catalog and rerank
#   type                a built-in type that is not an SQL keyword (text,
#                       jsonb, regclass, ...) not written pg_catalog.type
#
# The function, relation, operator, hidden-operator and type rules apply in
# full to code that PostgreSQL parses while the script runs, under the
# search_path of CREATE or ALTER EXTENSION: top-level statements (CHECK
# constraints, defaults, views, index and trigger definitions, arguments),
# DO blocks and BEGIN ATOMIC bodies.  Bodies of SQL and PL/pgSQL functions
# kept as strings run under their pinned search_path; there the function
# and relation rules apply (a relation would otherwise be looked up in the
# caller's pg_temp), operators and types are left plain.
#
# Exit status 1 when anything was reported, 2 on a usage error.
use strict;
use warnings;

my @problems;

# SQL keywords and built-in syntax that may be followed by "(" without
# being a function looked up through the search path.
my %PAREN_OK = map { $_ => 1 } qw(
  all and any array as atomic between by case cast check coalesce conflict
  constraint default distinct do else elsif end except exclude execute exists
  extract filter for foreach from greatest group grouping having if in include
  index insert intersect into is join key least like limit loop not nullif
  offset on or order over overlay partition perform position primary query
  raise references return returning row select set some substring table then
  trim union unique using values when where while window with within
  char character varchar numeric decimal bit varbit time timestamp interval float
  precision
);
# Index access methods: CREATE INDEX ... USING gin (columns) is not a call.
my %INDEX_METHODS = map { $_ => 1 } qw(btree hash gist gin spgist brin);
# Built-in types whose names are not SQL keywords (those resolve to
# pg_catalog in the grammar itself), so they are looked up in the path.
my %TYPES = map { $_ => 1 } qw(
  text jsonb json name regclass regproc regprocedure regtype regrole
  regnamespace regoper regoperator regconfig oid xid tid cid timestamptz timetz
  bytea uuid inet cidr macaddr record trigger event_trigger void anyelement
  anyarray anynonarray anycompatible anycompatiblearray internal tsvector
  tsquery int2 int4 int8 float4 float8 bool money point
);
# Words that may follow a type in a column or parameter definition.
my %CLAUSE = map { $_ => 1 } qw(
  default not null check primary references unique generated collate constraint
);
my %SIG_MODES = map { $_ => 1 } qw(in out inout variadic);
my %CREATE_KINDS = map { $_ => 1 } qw(
  table view function procedure aggregate type domain sequence operator
  collation conversion statistics
);

# The schemas a reference may name.
my %SCHEMAS = map { $_ => 1 } qw(pg_catalog rerank);

sub report {
	my ($file, $line, $rule, $msg) = @_;
	push @problems, "$file:$line: [$rule] $msg";
}

# Tokens: [type, text, line]; types word, qword (quoted identifier), str,
# dollar (body in text), num, op, punct, param.
sub tokenize {
	my ($src, $line0) = @_;
	my @t;
	my $line = $line0;
	pos($src) = 0;
	while (pos($src) < length($src)) {
		if ($src =~ /\G(\s+)/gc) { $line += ($1 =~ tr/\n//); next; }
		if ($src =~ /\G--[^\n]*/gc) { next; }
		if ($src =~ /\G^\\[^\n]*/gcm) { next; }    # psql meta-command line
		if ($src =~ /\G\/\*/gc) {
			my $depth = 1;
			while ($depth > 0 && pos($src) < length($src)) {
				if ($src =~ /\G\/\*/gc) { $depth++; }
				elsif ($src =~ /\G\*\//gc) { $depth--; }
				elsif ($src =~ /\G(\n)/gc) { $line++; }
				else { $src =~ /\G./gcs; }
			}
			next;
		}
		if ($src =~ /\G\$([A-Za-z_][A-Za-z0-9_]*)?\$/gc) {
			my $tag = defined $1 ? $1 : '';
			my $start = pos($src);
			my $end = index($src, "\$$tag\$", $start);
			$end = length($src) if $end < 0;
			my $body = substr($src, $start, $end - $start);
			push @t, ['dollar', $body, $line, $line];
			$line += ($body =~ tr/\n//);
			pos($src) = $end + length($tag) + 2;
			next;
		}
		if ($src =~ /\G\$\d+/gc) { push @t, ['param', '$', $line]; next; }
		if ($src =~ /\G[EeUu]?&?'((?:[^']|'')*)'/gc) {
			my $s = $1;
			push @t, ['str', $s, $line];
			$line += ($s =~ tr/\n//);
			next;
		}
		if ($src =~ /\G"((?:[^"]|"")*)"/gc) { push @t, ['qword', $1, $line]; next; }
		if ($src =~ /\G([A-Za-z_\x80-\xff][A-Za-z0-9_\$\x80-\xff]*)/gc) {
			push @t, ['word', lc $1, $line];
			next;
		}
		if ($src =~ /\G(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)/gc) {
			push @t, ['num', $1, $line];
			next;
		}
		if ($src =~ /\G(::|:=|\.\.|[(),;\[\].:])/gc) { push @t, ['punct', $1, $line]; next; }
		if ($src =~ /\G([-+*\/<>=~!@#%^&|`?]+)/gc) {
			push @t, ['op', $1, $line];
			next;
		}
		$src =~ /\G(.)/gcs;
		push @t, ['punct', $1, $line];
	}
	return \@t;
}

# Splits tokens into statements at ";", keeping BEGIN ATOMIC ... END whole.
sub statements {
	my ($t) = @_;
	my (@stmts, @cur);
	my ($atomic, $case) = (0, 0);
	for (my $i = 0; $i < @$t; $i++) {
		my $k = $t->[$i];
		push @cur, $k;
		if ($k->[0] eq 'word') {
			if ($k->[1] eq 'atomic' && $i > 0 && $t->[$i - 1][1] eq 'begin') { $atomic = 1; next; }
			if ($atomic && $k->[1] eq 'case') { $case++; next; }
			if ($atomic && $k->[1] eq 'end') {
				if ($case > 0) { $case--; } else { $atomic = 0; }
				next;
			}
		}
		if ($k->[0] eq 'punct' && $k->[1] eq ';' && !$atomic) {
			pop @cur;
			push @stmts, [@cur] if @cur;
			@cur = ();
		}
	}
	push @stmts, [@cur] if @cur;
	return @stmts;
}

sub is_word { my ($k, $w) = @_; return $k && $k->[0] eq 'word' && (!defined $w || $k->[1] eq $w); }
sub is_punct { my ($k, $p) = @_; return $k && $k->[0] eq 'punct' && $k->[1] eq $p; }

# Names that may appear bare after FROM and friends: transition tables
# (REFERENCING ... TABLE AS name) of the whole file, and CTEs.
my %TRANSITION;
# Functions and procedures that the previous release's script created
# (for an update script).
my %PREVIOUS;

sub collect_names {
	my ($t) = @_;
	my %names = %TRANSITION;
	for (my $i = 0; $i + 2 < @$t; $i++) {
		# WITH name AS ( / , name AS (
		if ($t->[$i][0] eq 'word' && is_word($t->[$i + 1], 'as') && is_punct($t->[$i + 2], '(')
			&& $i > 0 && (is_word($t->[$i - 1], 'with') || is_word($t->[$i - 1], 'recursive')
				|| is_punct($t->[$i - 1], ','))) {
			$names{ $t->[$i][1] } = 1;
		}
		# WITH name (columns) AS (
		if ($t->[$i][0] eq 'word' && is_punct($t->[$i + 1], '(') && $i > 0
			&& (is_word($t->[$i - 1], 'with') || is_word($t->[$i - 1], 'recursive') || is_punct($t->[$i - 1], ','))) {
			my $j = $i + 2;
			$j++ while $j < @$t && !is_punct($t->[$j], ')') && !is_punct($t->[$j], '(');
			$names{ $t->[$i][1] } = 1 if is_punct($t->[$j], ')') && is_word($t->[$j + 1], 'as');
		}
	}
	return \%names;
}

# Checks one run of tokens.  $mode is 'install' (parsed under the script's
# search_path) or 'body' (a function body with a pinned search_path).
sub check_code {
	my ($file, $t, $mode) = @_;
	my $names = collect_names($t);
	# GRANT ... TO, REVOKE ... FROM name roles, not relations
	my $acl = @$t && is_word($t->[0]) && $t->[0][1] =~ /^(grant|revoke)$/;
	my @parens;    # opener word of each open parenthesis
	my $n = @$t;
	for (my $i = 0; $i < $n; $i++) {
		my $k = $t->[$i];
		my ($type, $text, $line) = @$k;
		my $prev = $i > 0 ? $t->[$i - 1] : undef;
		my $next = $i + 1 < $n ? $t->[$i + 1] : undef;

		if ($type eq 'punct' && $text eq '(') {
			push @parens, ($prev && $prev->[0] eq 'word') ? $prev->[1] : '';
			next;
		}
		if ($type eq 'punct' && $text eq ')') { pop @parens; next; }

		if ($type eq 'word' && $text eq 'operator' && is_punct($next, '(')) {
			# OPERATOR(schema.op): the schema must be given
			my $j = $i + 2;
			unless ($j + 2 < $n && $t->[$j][0] eq 'word' && is_punct($t->[$j + 1], '.')
				&& $t->[$j + 2][0] eq 'op') {
				report($file, $line, 'operator', 'OPERATOR() without a schema');
			}
			elsif (!$SCHEMAS{ $t->[$j][1] }) {
				report($file, $line, 'schema', "OPERATOR($t->[$j][1].…): write OPERATOR(pg_catalog.…)");
			}
			$j++ while $j < $n && !is_punct($t->[$j], ')');
			$i = $j;
			next;
		}

		if ($type eq 'word') {
			my $qualified = $prev && is_punct($prev, '.');
			# schema.function(, ::schema.type, FROM schema.relation
			if ($qualified && $i > 1 && ($t->[$i - 2][0] eq 'word' || $t->[$i - 2][0] eq 'qword')
				&& !$SCHEMAS{ $t->[$i - 2][1] }
				&& (is_punct($next, '(') || ($i > 2 && is_punct($t->[$i - 3], '::'))
					|| ($i > 2 && relation_position($t, $i - 3)))) {
				report($file, $line, 'schema', "$t->[$i - 2][1].$text: only pg_catalog and rerank may be named");
			}
			# function calls
			if (is_punct($next, '(') && !$qualified && !$PAREN_OK{$text}
				&& !($INDEX_METHODS{$text} && $prev && is_word($prev, 'using'))
				&& !($names->{$text} && $prev && (is_punct($prev, ',') || is_word($prev, 'with') || is_word($prev, 'recursive')))) {
				report($file, $line, 'function', "unqualified function call $text(): write pg_catalog.$text( (or the extension's schema)");
			}
			# relations
			if (!$qualified && !$acl && relation_position($t, $i)) {
				my $r = $next;
				if ($r && ($r->[0] eq 'word' || $r->[0] eq 'qword')) {
					my $r2 = $i + 2 < $n ? $t->[$i + 2] : undef;
					my $bare = !is_punct($r2, '.') && !is_punct($r2, '(');
					my $kw = $r->[0] eq 'word' && $r->[1] =~ /^(only|lateral|table|select|values|with|rows|row|key|nowait|of)$/;
					if ($bare && !$kw && !$names->{ $r->[1] }) {
						report($file, $r->[2], 'relation', "unqualified relation $r->[1] after " . uc($text) . ": write schema.$r->[1]");
					}
				}
			}
			if ($mode eq 'install') {
				# hidden operator look-ups
				if (($text eq 'in' && is_punct($next, '(')) || $text eq 'between' || $text eq 'like'
					|| $text eq 'ilike' || $text eq 'similar' || $text eq 'nullif'
					|| ($text eq 'distinct' && $prev && is_word($prev, 'is'))
					|| ($text eq 'distinct' && $prev && is_word($prev, 'not') && $i > 1 && is_word($t->[$i - 2], 'is'))
					|| ($text eq 'case' && $next && !is_word($next, 'when'))) {
					report($file, $line, 'hidden-operator', uc($text) . " looks an operator up through the search path: write the comparison with OPERATOR(pg_catalog.…)");
				}
				# built-in types
				if ($TYPES{$text} && !$qualified && !is_punct($next, '.') && type_position($t, $i)) {
					report($file, $line, 'type', "unqualified type $text: write pg_catalog.$text");
				}
			}
			next;
		}

		if ($type eq 'op' && $mode eq 'install') {
			next if syntax_operator($t, $i, \@parens);
			report($file, $line, 'operator', "operator $text: write OPERATOR(pg_catalog.$text)");
			next;
		}
	}
}

# Is token i a keyword after which a relation name follows?
sub relation_position {
	my ($t, $i) = @_;
	my $w = $t->[$i][1];
	my $prev = $i > 0 ? $t->[$i - 1] : undef;
	return 0 unless $t->[$i][0] eq 'word';
	if ($w eq 'from') {
		return 0 if $prev && is_word($prev, 'distinct');
		# EXTRACT(x FROM y), SUBSTRING(x FROM y), TRIM(... FROM y)
		for (my $j = $i - 1, my $depth = 0; $j >= 0; $j--) {
			my $k = $t->[$j];
			if (is_punct($k, ')')) { $depth++; }
			elsif (is_punct($k, '(')) {
				last if $depth == 0 && !($j > 0 && $t->[$j - 1][0] eq 'word'
					&& $t->[$j - 1][1] =~ /^(extract|substring|trim|overlay|position)$/);
				return 0 if $depth == 0;
				$depth--;
			}
			elsif ($depth == 0 && is_punct($k, ';')) { last; }
		}
		return 1;
	}
	return 1 if $w eq 'join';
	if ($w eq 'update') {
		# FOR UPDATE, FOR NO KEY UPDATE, ON UPDATE, OR UPDATE (trigger events),
		# DO UPDATE
		return 0 if $prev && $prev->[0] eq 'word' && $prev->[1] =~ /^(for|key|on|or|before|after|do|of|instead)$/;
		return 1;
	}
	return 1 if $w eq 'into' && $prev && is_word($prev, 'insert');
	return 1 if $w eq 'table' && $prev && $prev->[0] eq 'word' && $prev->[1] =~ /^(lock|truncate)$/;
	return 1 if $w eq 'truncate' && !($prev && $prev->[0] eq 'word' && $prev->[1] =~ /^(or|before|after)$/);
	return 1 if $w eq 'references';
	return 0;
}

# Is token i (a type name) in a position where it names a type?
sub type_position {
	my ($t, $i) = @_;
	my $prev = $i > 0 ? $t->[$i - 1] : undef;
	my $next = $i + 1 < @$t ? $t->[$i + 1] : undef;
	return 1 if $prev && is_punct($prev, '::');
	return 1 if $prev && $prev->[0] eq 'word' && $prev->[1] =~ /^(returns|setof)$/;
	# ALTER TABLE ... ADD [COLUMN] name type, ALTER [COLUMN] name [SET DATA] TYPE type
	if ($prev && $prev->[0] eq 'word' && $i > 1) {
		my $pp = $t->[$i - 2];
		return 1 if is_word($prev, 'type') && $pp->[0] eq 'word';
		return 1 if is_word($pp, 'column') && !$CLAUSE{ $prev->[1] };
		return 1 if is_word($pp, 'add') && $prev->[1] !~ /^(column|constraint|primary|unique|check|foreign|exclude)$/;
	}
	# CAST(x AS type)
	if ($prev && is_word($prev, 'as')) {
		for (my $m = $i - 2, my $depth = 0; $m >= 0; $m--) {
			if (is_punct($t->[$m], ')')) { $depth++; next; }
			next unless is_punct($t->[$m], '(');
			if ($depth == 0) { return $m > 0 && is_word($t->[$m - 1], 'cast'); }
			$depth--;
		}
	}
	# a PL/pgSQL declaration: "name type;" or "name type := ..."
	return 1 if $prev && $prev->[0] eq 'word' && $next && (is_punct($next, ';') || is_punct($next, ':='));
	return 1 if $prev && $prev->[0] eq 'op' && $prev->[1] eq '=' && $i > 1
		&& is_word($t->[$i - 2]) && $t->[$i - 2][1] =~ /^(stype|basetype|leftarg|rightarg|mstype)$/;
	# a column or parameter definition: "name type" at the start of an
	# element of a parenthesized list, or a lone type in a signature
	my $j = $i - 1;
	my $words = 0;
	while ($j >= 0 && $t->[$j][0] eq 'word' && !$SIG_MODES{ $t->[$j][1] }) { $words++; $j--; }
	$j-- while $j >= 0 && $t->[$j][0] eq 'word' && $SIG_MODES{ $t->[$j][1] };
	my $start = $j >= 0 ? $t->[$j] : undef;
	return 0 unless $start && (is_punct($start, '(') || is_punct($start, ','));
	return 0 if $words > 1;
	# "name type": a column or parameter name, its type follows
	return 0 if $words == 0 && $next && $next->[0] eq 'word' && !$CLAUSE{ $next->[1] };
	# not a column reference inside an expression: the element must not be
	# an argument of a call or a keyword construct
	my $depth = 0;
	for (my $m = $j; $m >= 0; $m--) {
		my $k = $t->[$m];
		if (is_punct($k, ')')) { $depth++; next; }
		if (is_punct($k, '(')) {
			if ($depth == 0) {
				my $opener = $m > 0 ? $t->[$m - 1] : undef;
				return 0 unless $opener;
				# CREATE TABLE x (, function signatures, RETURNS TABLE (
				return 1 if $opener->[0] eq 'word' && $m > 3 && is_punct($t->[$m - 2], '.')
					&& is_word($t->[$m - 4]) && $t->[$m - 4][1] =~ /^(function|procedure|aggregate|routine|table)$/;
				return 1 if is_word($opener, 'table');
				return 0;
			}
			$depth--;
		}
	}
	return 0;
}

# Operator tokens that are syntax, not operator look-ups.
sub syntax_operator {
	my ($t, $i, $parens) = @_;
	my $op = $t->[$i][1];
	my $prev = $i > 0 ? $t->[$i - 1] : undef;
	my $next = $i + 1 < @$t ? $t->[$i + 1] : undef;
	return 1 if $op eq '=>';    # named argument
	if ($op eq '*') {
		# count(*), SELECT *, alias.*
		return 1 if $prev && (is_punct($prev, '(') || is_punct($prev, '.') || is_word($prev, 'select'))
			&& $next && (is_punct($next, ')') || is_punct($next, ',') || is_word($next, 'from') || is_word($next, 'into'));
	}
	if ($op eq '-' && $next && $next->[0] eq 'num') {
		# a negative constant: folded by the grammar, no look-up
		return 1 unless $prev && ($prev->[0] =~ /^(num|str|qword|param)$/ || is_punct($prev, ')')
			|| is_punct($prev, ']') || ($prev->[0] eq 'word' && !$PAREN_OK{ $prev->[1] }));
	}
	if ($op eq '=') {
		# SET name = value (GUCs, also in function headers)
		my $j = $i - 1;
		$j -= 2 while $j >= 2 && is_punct($t->[$j - 1], '.');
		$j-- if $j >= 1 && is_word($t->[$j - 1]) && $t->[$j - 1][1] =~ /^(local|session)$/;
		return 1 if $j >= 1 && is_word($t->[$j - 1], 'set') && $t->[$j][0] eq 'word';
		# option lists: WITH (a = b), SET (a = b), and the definition list
		# of CREATE AGGREGATE/OPERATOR/TYPE/COLLATION x (a = b)
		my $opener = @$parens ? $parens->[-1] : undef;
		return 1 if defined $opener && ($opener eq 'with' || $opener eq 'set' || $opener eq 'reset');
		my $k = is_word($t->[1] // [], 'or') ? 3 : 1;    # CREATE OR REPLACE
		return 1 if defined $opener && $opener eq '' && @$parens == 1 && @$t > $k && is_word($t->[0], 'create')
			&& is_word($t->[$k]) && $t->[$k][1] =~ /^(aggregate|operator|type|collation|text)$/;
		# RAISE ... USING ERRCODE = ..., HINT = ...
		if ($prev && is_word($prev) && $prev->[1] =~ /^(errcode|message|detail|hint|column|constraint|datatype|table|schema)$/) {
			for (my $m = $i - 1; $m >= 0; $m--) {
				return 1 if is_word($t->[$m], 'raise');
				last if is_punct($t->[$m], ';');
			}
		}
	}
	return 0;
}

# Statement-level rules, then the code rules on the statement and its bodies.
sub check_statement {
	my ($file, $s, $mode) = @_;
	my @w = map { $_->[0] eq 'word' ? $_->[1] : $_->[0] eq 'op' ? $_->[1] : $_->[0] eq 'punct' ? $_->[1] : "\0" } @$s;
	my $line = $s->[0][2];
	my $joined = join(' ', @w);

	if ($joined =~ /\bcreate or replace\b/) {
		my $name = $joined =~ /^create or replace (?:function|procedure) (\w+) \. (\w+) \(/ ? "$1.$2" : '';
		unless ($mode eq 'top' && $name ne '' && $PREVIOUS{$name}) {
			report($file, $line, 'create-or-replace',
				'CREATE OR REPLACE would take over an object another role created first'
				. ($name ne '' && %PREVIOUS ? " ($name is no function of the previous release)" : ''));
		}
	}
	for (my $i = 0; $i + 2 < @w; $i++) {
		next unless $w[$i] eq 'if' && $w[$i + 1] eq 'not' && $w[$i + 2] eq 'exists';
		my $head = join(' ', @w[0 .. $i - 1]);
		if ($head =~ /\b(create|add)\b/) {
			report($file, $s->[$i][2], 'if-not-exists', 'IF NOT EXISTS would accept an object another role created first');
		}
	}
	for my $k (@$s) {
		if (($k->[0] eq 'str' || $k->[0] eq 'dollar' || $k->[0] eq 'qword') && $k->[1] =~ /\@extschema\@/) {
			report($file, $k->[2], 'extschema-quoted', '@extschema@ inside quotes: a schema name with a quote breaks out of them');
		}
	}

	# CREATE kind name
	if (@w >= 3 && $w[0] eq 'create') {
		my $i = 1;
		$i++ while $i < @w && $w[$i] =~ /^(unique|temp|temporary|unlogged|materialized|recursive|trusted|procedural|constraint)$/;
		my $kind = $w[$i] // '';
		if ($CREATE_KINDS{$kind}) {
			$i++ if $kind eq 'operator' && ($w[$i + 1] eq 'class' || $w[$i + 1] eq 'family');
			$i += 3 if ($w[$i + 1] // '') eq 'if' && ($w[$i + 2] // '') eq 'not';
			unless ($i + 2 < @$s && is_punct($s->[$i + 2], '.')) {
				report($file, $line, 'create-unqualified', "CREATE \U$kind\E without a schema: write schema.name");
			}
		}
		elsif ($kind eq 'index' || $kind eq 'trigger') {
			for (my $j = $i; $j + 1 < @$s; $j++) {
				if ((is_word($s->[$j], 'on') && $kind eq 'index' || is_word($s->[$j], 'on') && $kind eq 'trigger')
					&& !is_punct($s->[$j + 2] // [], '.')) {
					report($file, $s->[$j]->[2], 'create-unqualified', "CREATE \U$kind\E ON a table without a schema");
				}
				if ($kind eq 'trigger' && is_word($s->[$j], 'execute') && $j + 2 < @$s
					&& !is_punct($s->[$j + 3] // [], '.')) {
					report($file, $s->[$j]->[2], 'create-unqualified', 'trigger function without a schema');
				}
				last if is_word($s->[$j], 'on') && $kind eq 'index';
			}
		}
	}

	# ALTER / DROP / COMMENT ON / GRANT / REVOKE: the object they act on
	if (@w >= 3 && $w[0] =~ /^(alter|drop|comment|grant|revoke)$/) {
		my $i;
		if ($w[0] eq 'alter' || $w[0] eq 'drop') { $i = 1; }
		elsif ($w[0] eq 'comment') { $i = 2; }
		else {
			($i) = grep { $w[$_] eq 'on' } 1 .. $#w;
			$i = defined $i ? $i + 1 : undef;
		}
		if (defined $i) {
			$i++ if ($w[$i] // '') eq 'materialized';
			my $kind = $w[$i] // '';
			my $dots = $kind eq 'column' ? 2 : 1;
			if ($kind =~ /^(table|view|function|procedure|aggregate|routine|sequence|type|domain|index|column)$/
				|| ($w[0] =~ /^(grant|revoke)$/ && $s->[$i] && $s->[$i][0] eq 'word' && $kind !~ /^(schema|all|database|language|foreign|large|tablespace|parameter)$/)) {
				my $j = $kind =~ /^(table|view|function|procedure|aggregate|routine|sequence|type|domain|index|column)$/ ? $i + 1 : $i;
				$j += 2 if ($w[$j] // '') eq 'if' && ($w[$j + 1] // '') eq 'exists';
				$j += 1 if ($w[$j] // '') eq 'only';
				my $found = 0;
				for (my $m = $j + 1; $m < @$s && $found < $dots && is_punct($s->[$m], '.'); $m += 2) { $found++; }
				if ($found < $dots && $s->[$j] && $s->[$j][0] =~ /^(word|qword)$/) {
					report($file, $line, 'target-unqualified', uc($w[0]) . " on $s->[$j][1] without a schema: write schema.$s->[$j][1]");
				}
			}
		}
	}

	# functions and procedures: header, then the body by its language
	if ($joined =~ /^create (or replace )?(function|procedure) /) {
		my ($lang, $secdef, $sp, $bodies) = ('', 0, 0, []);
		for (my $i = 0; $i < @$s; $i++) {
			$lang = $w[$i + 1] if $w[$i] eq 'language' && $i + 1 < @$s;
			$lang = lc $s->[$i + 1][1] if $w[$i] eq 'language' && $i + 1 < @$s && $s->[$i + 1][0] =~ /^(str|qword)$/;
			$secdef = 1 if $w[$i] eq 'security' && ($w[$i + 1] // '') eq 'definer';
			if ($w[$i] eq 'set' && ($w[$i + 1] // '') eq 'search_path' && $i + 5 < @$s) {
				$sp = 1 if ($w[$i + 2] eq '=' || $w[$i + 2] eq 'to') && $w[$i + 3] eq 'pg_catalog'
					&& $w[$i + 4] eq ',' && $w[$i + 5] eq 'pg_temp';
			}
			push @$bodies, $s->[$i + 1] if $w[$i] eq 'as' && $i + 1 < @$s && $s->[$i + 1][0] =~ /^(str|dollar)$/;
		}
		my $atomic = $joined =~ /\bbegin atomic\b/;
		$lang = 'sql' if $atomic && !$lang;
		if (($lang ne 'c' && $lang ne 'internal') || $secdef) {
			report($file, $line, 'search-path', 'function without SET search_path = pg_catalog, pg_temp') unless $sp;
		}
		my $here = $mode eq 'nested' ? 'body' : 'install';
		if ($atomic) {
			check_code($file, $s, $here);    # parsed now: every rule
		}
		else {
			check_code($file, [grep { $_->[0] ne 'dollar' } @$s], $here);
			if ($lang eq 'plpgsql' || $lang eq 'sql') {
				for my $b (@$bodies) {
					(my $text = $b->[1]) =~ s/''/'/g if $b->[0] eq 'str';
					$text = $b->[1] if $b->[0] eq 'dollar';
					my $bt = tokenize($text, $b->[2]);
					check_code($file, $bt, 'body');
					check_statement($file, $_, 'nested') for statements($bt);
				}
			}
		}
		return;
	}
	if (@w >= 2 && $w[0] eq 'do') {
		for my $k (@$s) {
			next unless $k->[0] eq 'dollar' || $k->[0] eq 'str';
			my $bt = tokenize($k->[1], $k->[2]);
			check_code($file, $bt, 'install');    # runs under the script's path
			check_statement($file, $_, 'nested') for statements($bt);
		}
		return;
	}
	check_code($file, $s, 'install') unless $mode eq 'nested';
}

@ARGV or do { print STDERR "usage: $0 script.sql...\n"; exit 2; };
for my $file (@ARGV) {
	open(my $fh, '<:raw', $file) or do { print STDERR "$file: $!\n"; exit 2; };
	local $/;
	my $src = <$fh>;
	close $fh;
	my $t = tokenize($src, 1);
	%TRANSITION = ();
	%PREVIOUS = ();
	if ($file =~ m{(?:^|/)(\w+)--([\w.]+)--[\w.]+\.sql$}) {
		my ($ext, $from) = ($1, $2);
		(my $dir = $0) =~ s{[^/]*$}{};
		my $previous = "${dir}../upgrade/$ext--$from.sql";
		open(my $ph, '<:raw', $previous) or do { print STDERR "$file: the previous release's script $previous: $!\n"; exit 2; };
		my $prev_src = <$ph>;
		close $ph;
		while ($prev_src =~ /^\s*CREATE\s+(?:FUNCTION|PROCEDURE)\s+(\w+)\.(\w+)\s*\(/gmi) {
			$PREVIOUS{ lc "$1.$2" } = 1;
		}
	}
	for (my $i = 0; $i + 3 < @$t; $i++) {
		if (is_word($t->[$i], 'table') && is_word($t->[$i + 1], 'as') && $i > 0
			&& ($t->[$i - 1][1] eq 'new' || $t->[$i - 1][1] eq 'old')) {
			$TRANSITION{ $t->[$i + 2][1] } = 1;
		}
	}
	check_statement($file, $_, 'top') for statements($t);
}
if (@problems) {
	print "$_\n" for @problems;
	printf "%d problem(s): see the rules at the top of %s\n", scalar @problems, $0;
	exit 1;
}
exit 0;
