# The two commands of the README: `make demo` runs the pipeline end to end on
# the embedded defaults; `make test` runs every check and test. Both install
# what they need first (scripts/bootstrap.sh, idempotent).
.PHONY: demo test check bootstrap kafka-stop clean

VENV := .venv/bin

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
