# test/lib/common.sh: shared by the test, benchmark and demo scripts.
#
# Source it from bash.  It provides:
#   rr_ensure_packages [extra debian packages...]
#       installs what is missing (PostgreSQL server and server-dev of
#       RERANK_PG_MAJOR, serial OpenBLAS, XGBoost, a compiler) with apt-get as root or
#       through sudo; fails with the list when neither is possible
#   rr_build_install      make (with -Werror) and make install
#   rr_install_upgrade_test  also the released 0.1.0 script, frozen in
#       test/upgrade, for the upgrade test (make install-upgrade-test)
#   rr_cluster_start [name] [extra postgresql.conf lines...]
#       initdb + start a throwaway cluster on a private socket directory and
#       port, owned by an unprivileged OS user when run as root; exports
#       PGHOST, PGPORT, PGUSER, PGDATABASE; stops it on exit, whatever
#       happened
#   rr_cluster_restart [extra postgresql.conf lines...]
#       stops the cluster, appends the lines to its postgresql.conf (e.g.
#       shared_preload_libraries) and starts it again on the same data
#   rr_cluster_stop
#   rr_psql ...           psql -X -v ON_ERROR_STOP=1 against the cluster
#   rr_scratch_dbs db...  databases of an end-to-end script: dropped now if
#       left over, and again on exit
#   rr_scratch_path path...  files or directories removed on exit
#   rr_dump_restore src dst
#       pg_dump -Fc of src restored into a new database dst
#   rr_same_or_fail message before after
#       fails, showing the diff, when two states differ
#   rr_pgbench_latency dir scripts_per_variant variants
#       calls, p50 and p90 per variant from pgbench's per-transaction logs
#   rr_log_mark           the server log's current size, where a later
#       rr_check_crashes starts reading
#   rr_check_crashes what [offset]
#       fails, with the log lines, when the server log (from offset) shows a
#       server process terminated by a signal or an exception (a crash: the
#       server then restarts every connection) or a PANIC, other than the
#       kills declared with rr_expect_kill
#   rr_expect_kill pid    declares a backend the calling test kills with
#       SIGKILL on purpose
#   rr_log / rr_die       progress and fatal messages on stderr

RR_TOP=${RR_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RERANK_PG_MAJOR=${RERANK_PG_MAJOR:-15}
RR_TEST_USER=${RR_TEST_USER:-rerank_test}
RR_DATA=${RR_DATA:-$RR_TOP/../shared/data}
RR_SCRATCH_DBS=()
RR_SCRATCH_PATHS=()

rr_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
rr_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Runs a command as root: directly, or through sudo.
rr_as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		return 1
	fi
}

rr_pg_config() {
	if [ -n "${PG_CONFIG:-}" ]; then
		echo "$PG_CONFIG"
	elif [ -x "/usr/lib/postgresql/$RERANK_PG_MAJOR/bin/pg_config" ]; then
		echo "/usr/lib/postgresql/$RERANK_PG_MAJOR/bin/pg_config"
	else
		command -v pg_config || echo pg_config
	fi
}

rr_ensure_packages() {
	local wanted=(make gcc libc6-dev bsdextrautils "postgresql-$RERANK_PG_MAJOR"
		"postgresql-server-dev-$RERANK_PG_MAJOR" postgresql-contrib
		libopenblas-serial-dev libopenblas0-serial libxgboost-dev libxgboost0 "$@")
	local missing=() p
	for p in "${wanted[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ -n "${PG_CONFIG:-}" ] && [ "${RR_SKIP_APT:-}" = 1 ]; then
		rr_log "not installing ${missing[*]} (RR_SKIP_APT=1)"
		return 0
	fi
	rr_log "installing missing Debian packages: ${missing[*]}"
	# no cluster of the package's own: the harness makes throwaway ones
	if [ ! -e /etc/postgresql-common/createcluster.conf ]; then
		rr_as_root mkdir -p /etc/postgresql-common/createcluster.d 2>/dev/null &&
			echo 'create_main_cluster = false' |
			rr_as_root tee /etc/postgresql-common/createcluster.d/rerank-no-main.conf >/dev/null || true
	fi
	export DEBIAN_FRONTEND=noninteractive
	rr_as_root apt-get update -qq ||
		rr_die "cannot run apt-get as root; install these packages first: ${missing[*]}"
	rr_as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		rr_die "apt-get install failed for: ${missing[*]}"
}

# Builds and installs git revision $1 of this tree into a private, relocated
# copy of PostgreSQL under $2 (test/lib/private_pg.sh), for benchmarks that
# compare it with the work tree in the same run; prints that copy's
# pg_config.  Its sources go to $2/src, the copy to $2/base-pg.
rr_build_revision() {
	local rev=$1 dir=$2 major config
	rr_log "building $rev ($(git -C "$RR_TOP" rev-parse --short "$rev")) into a private PostgreSQL copy" >&2
	mkdir -p "$dir/src" "$dir/base-pg"
	git -C "$RR_TOP" archive "$rev" | tar -x -C "$dir/src"
	major=$("$(rr_pg_config)" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
	bash "$RR_TOP/test/lib/private_pg.sh" "$dir/base-pg" "$major" >/dev/null
	config=$dir/base-pg/lib/postgresql/$major/bin/pg_config
	make -s -C "$dir/src" -j2 install PG_CONFIG="$config" >"$dir/base-build.log" 2>&1 ||
		{ tail -20 "$dir/base-build.log" >&2; rr_die "revision $rev does not build"; }
	echo "$config"
}

# One data directory that an A/B benchmark serves with the binaries of
# either build, one after the other (signals_memory.sh, signals_refresh.sh):
#   rr_ab_cluster BASE_REVISION TMP_PREFIX MAX_CONNECTIONS [SETTING...]
# sets work (a new directory, removed at exit with its server stopped),
# base_bin (BASE_REVISION built by rr_build_revision), this_bin (the work
# tree's installation) and port, and initdb's $work/data with the
# benchmark's settings.  Then rr_ab_start BIN [SETTING...] starts it with
# BIN's binaries and these further settings (in bench.conf, replaced at
# each start), rr_ab_stop stops it.
rr_ab_cluster() {
	local base=$1 prefix=$2 connections=$3 base_config
	shift 3
	work=$(mktemp -d "/tmp/$prefix.XXXXXX")
	chmod 755 "$work"
	RR_CLUSTER_OWNER=$(rr_cluster_owner)
	[ "$(id -u)" -eq 0 ] && chown "$RR_CLUSTER_OWNER" "$work"
	running=""
	trap rr_ab_cleanup EXIT
	base_config=$(rr_build_revision "$base" "$work")
	base_bin=$("$base_config" --bindir)
	this_bin=$("$(rr_pg_config)" --bindir)
	port=${RR_PORT:-54329}
	rr_as_owner "$this_bin/initdb" -D "$work/data" -U postgres --auth=trust --encoding=UTF8 \
		--locale=C --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; rr_die "initdb failed"; }
	printf '%s\n' "listen_addresses = ''" "port = $port" "unix_socket_directories = '$work'" \
		"max_connections = $((connections + 10))" "shared_buffers = 128MB" "max_wal_size = 4GB" "jit = off" \
		"max_parallel_workers_per_gather = 0" "log_min_messages = warning" "$@" "include 'bench.conf'" |
		rr_as_owner tee -a "$work/data/postgresql.conf" >/dev/null
	rr_as_owner touch "$work/data/bench.conf"
}
# The EXIT trap of rr_ab_cluster: its server stopped, its directory removed.
rr_ab_cleanup() {
	jobs -p | xargs -r kill 2>/dev/null || true
	rr_ab_stop || true
	rm -rf "$work"
}
# Starts the data directory with the binaries of $1 and the settings $2....
rr_ab_start() {
	local bin=$1
	shift
	printf '%s\n' "$@" | rr_as_owner tee "$work/data/bench.conf" >/dev/null
	rr_as_owner "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w -t 120 start >/dev/null ||
		{ tail -20 "$work/server.log" >&2; rr_die "the server did not start"; }
	running=$bin
}
# Stops it, if started.
rr_ab_stop() {
	[ -n "$running" ] && rr_as_owner "$running/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null 2>&1
	running=""
}

rr_build_install() {
	local pgc
	pgc=$(rr_pg_config)
	rr_log "building rerank against $("$pgc" --version)"
	make -C "$RR_TOP" -s PG_CONFIG="$pgc" EXTRA_CFLAGS="-Werror ${EXTRA_CFLAGS:-}" >/dev/null ||
		rr_die "build failed"
	rr_log "installing into $("$pgc" --pkglibdir)"
	if [ -w "$("$pgc" --pkglibdir)" ] && [ -w "$("$pgc" --sharedir)/extension" ]; then
		make -C "$RR_TOP" -s PG_CONFIG="$pgc" install >/dev/null
	else
		rr_as_root make -C "$RR_TOP" -s PG_CONFIG="$pgc" install >/dev/null
	fi || rr_die "make install failed"
}

rr_install_upgrade_test() {
	local pgc
	pgc=$(rr_pg_config)
	if [ -w "$("$pgc" --sharedir)/extension" ]; then
		make -C "$RR_TOP" -s PG_CONFIG="$pgc" install-upgrade-test >/dev/null
	else
		rr_as_root make -C "$RR_TOP" -s PG_CONFIG="$pgc" install-upgrade-test >/dev/null
	fi || rr_die "make install-upgrade-test failed"
}

# The OS user that owns the cluster: never root, which PostgreSQL refuses.
rr_cluster_owner() {
	if [ "$(id -u)" -ne 0 ]; then
		id -un
		return
	fi
	if ! id -u "$RR_TEST_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin "$RR_TEST_USER" ||
			rr_die "cannot create the OS user $RR_TEST_USER"
	fi
	echo "$RR_TEST_USER"
}

# Runs a command as the cluster owner.
rr_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$RR_CLUSTER_OWNER" -- "$@"
	else
		"$@"
	fi
}

rr_cluster_start() {
	local name=${1:-rerank}
	shift || true
	local bindir
	bindir=$("$(rr_pg_config)" --bindir)
	RR_PG_BINDIR=$bindir
	RR_CLUSTER_OWNER=$(rr_cluster_owner)
	RR_CLUSTER_DIR=$(mktemp -d "/tmp/$name.XXXXXX")
	chmod 755 "$RR_CLUSTER_DIR"
	[ "$(id -u)" -eq 0 ] && chown "$RR_CLUSTER_OWNER" "$RR_CLUSTER_DIR"
	trap rr_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	rr_log "starting a throwaway cluster in $RR_CLUSTER_DIR as OS user $RR_CLUSTER_OWNER"
	rr_as_owner "$bindir/initdb" -D "$RR_CLUSTER_DIR/data" -U postgres \
		--auth=trust --encoding=UTF8 --locale=C --no-sync >"$RR_CLUSTER_DIR/initdb.log" 2>&1 ||
		{ cat "$RR_CLUSTER_DIR/initdb.log" >&2; rr_die "initdb failed"; }
	# Only a Unix socket in a private directory: no TCP port to collide with.
	RR_PORT=${RR_PORT:-54329}
	{
		echo "listen_addresses = ''"
		echo "port = $RR_PORT"
		echo "unix_socket_directories = '$RR_CLUSTER_DIR'"
		echo "max_connections = 40"
		echo "shared_buffers = 256MB"
		echo "max_worker_processes = 8"
		echo "max_parallel_workers_per_gather = 2"
		echo "log_min_messages = warning"
		echo "log_line_prefix = '%m [%p] '"
		local line
		for line in "$@"; do echo "$line"; done
	} | rr_as_owner tee -a "$RR_CLUSTER_DIR/data/postgresql.conf" >/dev/null
	rr_as_owner "$bindir/pg_ctl" -D "$RR_CLUSTER_DIR/data" -l "$RR_CLUSTER_DIR/server.log" \
		-w -t 60 start >/dev/null ||
		{ cat "$RR_CLUSTER_DIR/server.log" >&2; rr_die "the server did not start"; }
	export PGHOST=$RR_CLUSTER_DIR PGPORT=$RR_PORT PGUSER=postgres PGDATABASE=postgres
	# for the crash checks of the scripts run against this cluster
	export RR_SERVER_LOG=$RR_CLUSTER_DIR/server.log
	export PATH="$bindir:$PATH"
}

rr_cluster_restart() {
	local line
	rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$RR_CLUSTER_DIR/data" -m fast -w -t 60 stop >/dev/null
	for line in "$@"; do echo "$line"; done |
		rr_as_owner tee -a "$RR_CLUSTER_DIR/data/postgresql.conf" >/dev/null
	rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$RR_CLUSTER_DIR/data" -l "$RR_CLUSTER_DIR/server.log" \
		-w -t 60 start >/dev/null ||
		{ tail -50 "$RR_CLUSTER_DIR/server.log" >&2; rr_die "the server did not restart"; }
}

rr_cluster_stop() {
	[ -n "${RR_CLUSTER_DIR:-}" ] || return 0
	if [ -f "$RR_CLUSTER_DIR/data/postmaster.pid" ]; then
		rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$RR_CLUSTER_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			rr_as_owner "$RR_PG_BINDIR/pg_ctl" -D "$RR_CLUSTER_DIR/data" -m immediate stop >/dev/null 2>&1 || true
	fi
	if [ "${RR_KEEP_CLUSTER:-0}" = 1 ]; then
		rr_log "cluster files kept in $RR_CLUSTER_DIR"
	else
		rm -rf "$RR_CLUSTER_DIR"
	fi
	RR_CLUSTER_DIR=
}

rr_psql() {
	psql -X -q -v ON_ERROR_STOP=1 "$@"
}

rr_scratch_dbs() {
	RR_SCRATCH_DBS+=("$@")
	trap rr_on_exit EXIT
	local db
	for db in "$@"; do
		dropdb --if-exists "$db" 2>/dev/null
	done
}

rr_scratch_path() {
	RR_SCRATCH_PATHS+=("$@")
	trap rr_on_exit EXIT
}

# The EXIT trap of every script that starts a cluster or has scratch
# objects: one handler, so neither replaces the other's.
rr_on_exit() {
	rr_scratch_cleanup
	rr_cluster_stop
}

rr_scratch_cleanup() {
	local db
	rm -rf "${RR_SCRATCH_PATHS[@]}"
	for db in "${RR_SCRATCH_DBS[@]}"; do
		dropdb --if-exists "$db" 2>/dev/null || true
	done
}

rr_dump_restore() {
	local dump
	dump=$(mktemp /tmp/rerank-dump.XXXXXX)
	rr_scratch_path "$dump"
	pg_dump -Fc -f "$dump" "$1"
	createdb "$2"
	pg_restore --exit-on-error -d "$2" "$dump"
}

rr_same_or_fail() {
	if [ "$2" != "$3" ]; then
		echo "$1:"
		diff <(echo "$2") <(echo "$3") || true
		exit 1
	fi
}

# rr_pgbench_latency DIR SCRIPTS_PER_VARIANT VARIANTS: the per-transaction
# logs DIR/log.* of a pgbench run (-l) whose scripts go variant by variant,
# SCRIPTS_PER_VARIANT each, summed up as one line per variant, in order:
# "calls p50_ms p90_ms".
rr_pgbench_latency() {
	# log lines: client transaction latency_us script_no epoch us
	cat "$1"/log.* | awk -v per="$2" '{ print int($4 / per), $3 }' |
		sort -k1,1n -k2,2n |
		awk -v variants="$3" '
		{ v = $1; lat[v, ++cnt[v]] = $2 }
		END {
			for (v = 0; v < variants; v++) {
				c = cnt[v]
				printf "%d %.3f %.3f\n", c, lat[v, int((c + 1) / 2)] / 1000.0,
					lat[v, int(c * 0.9 + 0.5)] / 1000.0
			}
		}'
}

rr_log_mark() {
	if [ -n "${RR_SERVER_LOG:-}" ] && [ -e "$RR_SERVER_LOG" ]; then
		stat -c %s "$RR_SERVER_LOG"
	else
		echo 0
	fi
}

rr_expect_kill() {
	[ -n "${RR_SERVER_LOG:-}" ] && echo "$1" >>"$RR_SERVER_LOG.expected-kills"
	return 0
}

rr_check_crashes() {
	local what=$1 from=${2:-0} found pid line crashes=()
	[ -n "${RR_SERVER_LOG:-}" ] && [ -r "$RR_SERVER_LOG" ] || return 0
	found=$(tail -c +"$((from + 1))" "$RR_SERVER_LOG" |
		grep -E 'terminated by signal|was terminated by|PANIC:' || true)
	[ -n "$found" ] || return 0
	while IFS= read -r line; do
		pid=$(printf '%s\n' "$line" | sed -n 's/.*(PID \([0-9]*\)) was terminated by signal 9:.*/\1/p')
		if [ -n "$pid" ] && [ -e "$RR_SERVER_LOG.expected-kills" ] &&
			grep -qx "$pid" "$RR_SERVER_LOG.expected-kills"; then
			continue
		fi
		crashes+=("$line")
	done <<<"$found"
	[ ${#crashes[@]} -eq 0 ] && return 0
	echo "crash check after $what: the server log shows ${#crashes[@]} crash line(s):"
	printf '  %s\n' "${crashes[@]}"
	return 1
}
