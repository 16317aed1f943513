# imagerepo — `make help` lists the targets.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# uv installs from uv.lock; it lives in its own small venv (uv sync would remove it from .venv).
UV_VERSION := 0.13.9
UV_HOME := .uv
UV := $(UV_HOME)/bin/uv
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON_DOWNLOADS := never

.DEFAULT_GOAL := help
.PHONY: help run test lint lock lock-check install-pip bench bench-analysis bench-quality bench-people bench-search bench-similar bench-upload bench-load fuzz install clean

help:  ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-16s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/pip install -q uv==$(UV_VERSION)

# Exactly the versions of uv.lock (every extra); --locked fails if pyproject.toml changed without `make lock`.
# requirements/extra.txt: packages whose metadata must be ignored (--no-deps), installed after the sync.
$(STAMP): pyproject.toml uv.lock requirements/extra.txt Makefile | $(UV)
	$(UV) sync --locked --all-extras --python $(PYTHON) --quiet
	$(UV) pip install --python $(BIN)/python --quiet --no-deps -r requirements/extra.txt
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install everything from uv.lock (runs by itself when needed)

lock: $(UV)  ## upgrade every locked dependency on purpose (then run make test and commit uv.lock)
	$(UV) lock --upgrade --python $(PYTHON)

lock-check: $(UV)  ## fail when uv.lock is stale (pyproject.toml changed without make lock); CI runs it
	$(UV) lock --check --python $(PYTHON)

install-pip:  ## the old way, without uv: latest versions allowed by pyproject.toml (not reproducible)
	test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[postgres,s3,local,heif,dev]'
	$(BIN)/pip install -q --no-deps -r requirements/extra.txt
	touch $(STAMP)

run: $(STAMP)  ## serve the app on the embedded default (no database server, no cloud, no network)
	$(BIN)/imagerepo serve

# Use the local PostgreSQL for the integration tests when one answers and none was named.
PG_LOCAL := postgresql://postgres@127.0.0.1:5432/postgres
test: $(STAMP)  ## run the whole test suite (PostgreSQL/S3/browser tests included when available)
	sh scripts/ensure-chromium.sh || echo "chromium could not be installed: the browser tests will fail (or skip outside CI)"
	sh scripts/ensure-photos.sh || echo "analysis tests on Debian's sample photos will fail: install the packages scripts/ensure-photos.sh lists"
	@if [ -z "$$IMAGEREPO_TEST_DATABASE_URL" ] && command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432; then \
		export IMAGEREPO_TEST_DATABASE_URL=$(PG_LOCAL); fi; \
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

bench: $(STAMP)  ## every benchmark (prints ratios measured in one run)
	sh scripts/ensure-photos.sh
	sh scripts/ensure-face-photos.sh || echo "bench-people will label fewer identities: python3 -m pip is needed"
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

bench-analysis: $(STAMP)  ## analysis speed, colors vs colorthief, worker throughput, memory
	$(BIN)/python bench/bench_analysis.py

bench-quality: $(STAMP)  ## tags, people, text and first color vs the labeled photos of bench/quality_labels.json
	sh scripts/ensure-photos.sh
	$(BIN)/python bench/bench_quality.py

bench-people: $(STAMP)  ## face grouping precision/recall on generated variants of packaged photos' faces
	@sh scripts/ensure-photos.sh
	@sh scripts/ensure-face-photos.sh || echo "fewer identities without the face photos: python3 -m pip is needed"
	$(BIN)/python bench/bench_people.py

bench-search: $(STAMP)  ## search/list latency with and without indexes (BENCH_SCALE=full for 1M rows)
	$(BIN)/python bench/bench_search.py

bench-similar: $(STAMP)  ## more-like-this latency for one big user (BENCH_SCALE=full: 100k) and duplicate precision/recall
	sh scripts/ensure-photos.sh
	@sh scripts/ensure-face-photos.sh || echo "the second duplicate set will have fewer photos: python3 -m pip is needed"
	$(BIN)/python bench/bench_similar.py

bench-upload: $(STAMP)  ## 12 MP upload latency/throughput, 1 and 8 clients, analysis off and on
	$(BIN)/python bench/bench_upload.py

bench-load: $(STAMP)  ## mixed load against a local server (BENCH_LOAD_SECONDS=600 for 10 minutes)
	$(BIN)/python bench/load.py

fuzz: $(STAMP)  ## longer hostile-input runs (hypothesis + schemathesis with many more examples)
	HARDENING_FUZZ_EXAMPLES=$${HARDENING_FUZZ_EXAMPLES:-500} $(BIN)/pytest tests/hardening -p no:cacheprovider

clean:  ## remove the virtual environments and caches
	rm -rf $(VENV) $(UV_HOME) .pytest_cache .mypy_cache .ruff_cache
