# rerank: PGXS build.
#
#   make                    build rerank.so and the install script
#   make install            install into the PostgreSQL that pg_config names
#   make installcheck       pg_regress + isolation specs against a running server
#   make unittest           C unit tests of the pure-C core (no server needed)
#   make lint               static check of the install and update scripts (test/lint)
#   make fuzz               libFuzzer targets over the core (clang; test/fuzz/run.sh)
#   make OPTFLAGS=""        portable build (default tunes for this CPU)
#
# The README's test command (test/run_tests.sh) runs all of it on a throwaway
# cluster.

EXTENSION = rerank
EXTVERSION = 0.2.0

# One file per concern, one folder per layer (README, "Layout"): src/core
# holds the pure-C core (no PostgreSQL headers); the PostgreSQL glue is
# src/rerank.c (_PG_init) and the layers common <- cache <- model <-
# behavior, serve, train, with vectors beside them; src/sql holds the parts
# of the install script.
GLUE_LAYERS = common cache model behavior serve train vectors
CORE_SRCS = $(sort $(wildcard src/core/*.c))
GLUE_SRCS = src/rerank.c $(foreach layer,$(GLUE_LAYERS),$(sort $(wildcard src/$(layer)/*.c)))
MODULE_big = rerank
OBJS = $(GLUE_SRCS:.c=.o) $(CORE_SRCS:.c=.o)

# The full install script of the release is generated from its parts; the
# update scripts from each earlier release (rerank--A--B.sql, written by
# hand, never edited once released) sit at the top.  Earlier releases' full
# scripts are not shipped: test/upgrade keeps them for the upgrade test.
SQL_PARTS = $(sort $(wildcard src/sql/*.sql))
DATA_built = rerank--$(EXTVERSION).sql
DATA = $(wildcard rerank--*--*.sql)
UPGRADE_TEST_DATA = test/upgrade/rerank--0.1.0.sql test/upgrade/rerank--0.1.0.control

# pg_regress: every sql/*.sql, in name order; isolation: every spec.
REGRESS := $(basename $(notdir $(sort $(wildcard sql/*.sql))))
REGRESS_OPTS = --load-extension=rerank
ISOLATION := $(basename $(notdir $(sort $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=rerank

# The shared-memory suite (test/shmem): regress files and isolation specs
# that need a server started with shared_preload_libraries = 'rerank'; the
# test command runs them, after the suites above, on such a server.
SHMEM_REGRESS := $(basename $(notdir $(sort $(wildcard test/shmem/sql/*.sql))))
SHMEM_ISOLATION := $(basename $(notdir $(sort $(wildcard test/shmem/specs/*.spec))))

# OpenBLAS, serial build, found in its own folder with an rpath: plain
# -lopenblas resolves through Debian's alternatives, possibly to the pthread
# build, which starts threads inside the backend.
MULTIARCH ?= $(shell $(CC) -print-multiarch 2>/dev/null)
OPENBLAS_DIR ?= /usr/lib/$(MULTIARCH)/openblas-serial
OPENBLAS_INCLUDE ?= /usr/include/$(MULTIARCH)/openblas-serial
BLAS_LIBS = -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -lm

OPTFLAGS ?= -march=native
# Vectorize (GCC 12 at -O2 only does "very cheap" loops) and allow
# reassociation so float reductions vectorize too; NaN and
# infinity semantics stay (no -ffinite-math-only), so validation still works.
MATHFLAGS = -ftree-vectorize -fvect-cost-model=dynamic -fno-math-errno -fno-trapping-math -fassociative-math -fno-signed-zeros
# The core builds with all of -Wall -Wextra (see the unit tests); the glue
# drops two that PostgreSQL's own headers and fmgr conventions trip
# (ARR_DATA_OFFSET mixes signedness; PG_FUNCTION_ARGS is often unused).
WARNFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-sign-compare
PG_CPPFLAGS = -I$(srcdir)/src -I$(OPENBLAS_INCLUDE)
PG_CFLAGS = $(WARNFLAGS) $(OPTFLAGS) $(MATHFLAGS) $(EXTRA_CFLAGS)
# XGBoost (the learned ranker's training, src/core/gbdt_train.c) is not
# linked: it is loaded with dlopen when a training needs it, so a backend
# that only serves never maps it.  Its header (libxgboost-dev) is needed to
# build, its library (libxgboost0) to train.
SHLIB_LINK = $(BLAS_LIBS)

EXTRA_CLEAN = test/unit/run_unit_tests output_iso output_shmem output_shmem_iso

# Rebuild objects when a header they include changes (dependency files in
# .deps; Debian's PostgreSQL is configured without --enable-depend).
override autodepend = yes
# PGXS names each dependency file after the source's base name alone
# (.deps/NAME.Po): two sources with one base name in different folders would
# share it, and a header change would then leave one object stale (an
# incremental build that crashes).  Refuse to build instead.
SAME_BASENAMES := $(sort $(foreach f,$(OBJS),$(if $(filter-out $(f),$(filter %/$(notdir $(f)),$(OBJS))),$(notdir $(f)))))
ifneq ($(SAME_BASENAMES),)
$(error sources share a base name ($(SAME_BASENAMES:.o=.c)): .deps would mix their dependencies; rename one)
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The install script is the concatenation of its parts, in name order.
rerank--$(EXTVERSION).sql: $(SQL_PARTS)
	cat $^ > $@

# The released 0.1.0 script (frozen in test/upgrade) into the server's
# extension folder, for test/e2e/upgrade.sh: CREATE EXTENSION rerank
# VERSION '0.1.0' then ALTER EXTENSION rerank UPDATE.
.PHONY: install-upgrade-test lint
install-upgrade-test:
	$(INSTALL_DATA) $(addprefix $(srcdir)/,$(UPGRADE_TEST_DATA)) '$(DESTDIR)$(datadir)/extension/'

# Static check of the generated install script and the update scripts
# against search_path hijacking (test/lint/check_sql_scripts.pl), of the
# checker itself against scripts that break each of its rules, and of the
# library against the C symbols every release's script names.
lint: rerank--$(EXTVERSION).sql $(shlib)
	perl $(srcdir)/test/lint/check_sql_scripts.pl rerank--$(EXTVERSION).sql $(DATA)
	bash $(srcdir)/test/lint/self_test.sh
	bash $(srcdir)/test/lint/check_symbols.sh $(shlib) rerank--$(EXTVERSION).sql $(filter %.sql,$(UPGRADE_TEST_DATA))
	cd $(srcdir)/test/upgrade && sha256sum --quiet -c SHA256SUMS    # released scripts stay frozen

# C unit tests of the core, with AddressSanitizer and UBSan.
UNIT_SRCS = $(sort $(wildcard test/unit/*.c))
UNIT_CFLAGS = -std=gnu99 -g -O1 -Wall -Wextra -Werror $(MATHFLAGS) \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-Isrc -I$(OPENBLAS_INCLUDE)

test/unit/run_unit_tests: $(UNIT_SRCS) $(CORE_SRCS) $(wildcard src/core/*.h test/unit/*.h)
	$(CC) $(UNIT_CFLAGS) -o $@ $(UNIT_SRCS) $(CORE_SRCS) $(BLAS_LIBS)

.PHONY: unittest
unittest: test/unit/run_unit_tests
	./test/unit/run_unit_tests

# libFuzzer targets over the core (test/fuzz/fuzz_*.c), with AddressSanitizer
# and UBSan; clang only.  test/fuzz/run.sh builds and runs them, bounded.
FUZZ_CC ?= clang
FUZZ_TARGETS = $(basename $(sort $(wildcard test/fuzz/fuzz_*.c)))
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -Isrc -I$(OPENBLAS_INCLUDE)
EXTRA_CLEAN += $(FUZZ_TARGETS)

test/fuzz/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/fuzz_input.h $(CORE_SRCS) $(wildcard src/core/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRCS) $(BLAS_LIBS)

.PHONY: fuzz
fuzz: $(FUZZ_TARGETS)

# A benchmark program over the core, built with the extension's own flags:
#   make bench-core BENCH_SRC=test/bench/fold_in.c BENCH_OUT=/tmp/fold_in
.PHONY: bench-core
bench-core:
	$(CC) -O2 $(OPTFLAGS) $(MATHFLAGS) -Isrc -I$(OPENBLAS_INCLUDE) \
		-o $(BENCH_OUT) $(BENCH_SRC) $(CORE_SRCS) $(BLAS_LIBS)


# The shared-memory suite against a running server that preloads rerank.
.PHONY: installcheck-shmem
installcheck-shmem:
	$(pg_regress_installcheck) --inputdir=test/shmem --outputdir=output_shmem \
		--load-extension=rerank $(SHMEM_REGRESS)
	$(pg_isolation_regress_installcheck) --inputdir=test/shmem --outputdir=output_shmem_iso \
		--load-extension=rerank $(SHMEM_ISOLATION)
