# The two commands of the README: `make demo` runs the pipeline end to end on
# the embedded defaults; `make test` runs every check and test. Both install
# what they need first (scripts/bootstrap.sh, idempotent).
.PHONY: demo test check bootstrap kafka-stop clean

VENV := .venv/bin

# A checkout keeps its data and caches in the checkout (git-ignored), not in the
# per-user directories an installed tracestream uses (docs/configuration.md:
# `home`, `cache_dir`). The environment wins when it sets them.
export TRACESTREAM_HOME ?= $(CURDIR)/.tracestream
export TRACESTREAM_CACHE_DIR ?= $(CURDIR)/.cache

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	$(VENV)/tracestream demo

check: bootstrap
	$(VENV)/ruff format --check .
	$(VENV)/ruff check .
	$(VENV)/mypy
	$(VENV)/tracestream schema --check

test: check
	$(VENV)/pytest

kafka-stop:
	deploy/kafka/kafka.sh stop

clean: kafka-stop
	rm -rf .tracestream .cache
