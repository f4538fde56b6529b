# The two commands of the README: `make demo` and `make test`. Each builds .venv itself.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: demo test test-quick test-fake install screenshots
install: $(STAMP)

# `make demo PORT=9000` for another port.
demo: $(STAMP)
	$(VENV)/bin/tgwa demo $(if $(PORT),--port $(PORT))

# Real Redis when one answers on 127.0.0.1:6379 (TGWA_TEST_REDIS_URL overrides), else fakeredis.
test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Everything but the slow tests (processes, servers, Redis of their own, the soak): the quick loop.
test-quick: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not slow" -n 4 $(PYTEST_ARGS)

# The README's pictures, taken in Chromium from `tgwa demo` as `make demo` runs it (tests/screenshots.py).
screenshots: $(STAMP)
	$(VENV)/bin/python -m tests.screenshots docs/screenshots

# The same suite forced onto fakeredis, as on a machine with no Redis.
test-fake: $(STAMP)
	TGWA_TEST_REDIS=fake $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# Benchmarks (bench/): each prints its table, with ratios against the baseline run beside it.
# They need Redis on 127.0.0.1:6379 (db 13, flushed) and, for ingest, Debian's wrk.
# bench-soak (ten minutes with faults) is run on its own, not by `make bench`.
BENCHES := understand broadcast load ingest memory ops wait idle alarms
.PHONY: bench $(addprefix bench-,$(BENCHES) soak) bench-install
bench-install: $(STAMP)
	$(VENV)/bin/pip install --quiet -e '.[bench]'

$(addprefix bench-,$(BENCHES) soak): bench-%: bench-install
	$(VENV)/bin/python -m bench.$*_bench

bench: $(addprefix bench-,$(BENCHES))
