# slack-rtm — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test
BSTAMP := $(VENV)/.installed-bench
LINT_PATHS := $(wildcard src tests bench examples)
# Node's @slack/rtm-api for tests/compat (test-only; node_modules is git-ignored).
NODE_COMPAT := tests/compat/node/node_modules/.installed

.PHONY: demo test lint types pytest bench bench-smoke soak fmt clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info; assert v >= (3, 10), f"Python >= 3.10 is needed, found {v.major}.{v.minor}"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

$(BSTAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $(BSTAMP)

$(NODE_COMPAT): tests/compat/node/package.json tests/compat/node/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd tests/compat/node && npm install --no-audit --no-fund && touch node_modules/.installed; \
	else \
		echo "warning: npm (Node.js) not found: tests/compat/test_node_rtm_api.py will fail" >&2; \
	fi

demo: $(STAMP)
	$(BIN)/slack-rtm demo

lint: $(STAMP)
	$(BIN)/ruff check $(LINT_PATHS)

types: $(STAMP)
	$(BIN)/mypy --strict src/slack_rtm

pytest: $(STAMP) $(NODE_COMPAT)
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine -q
	$(BIN)/coverage report

test: lint types pytest

bench: $(BSTAMP)
	$(BIN)/python bench/run.py
	cd bench && ../$(BIN)/python bench_resume_catchup.py

bench-smoke: $(STAMP)
	$(BIN)/python bench/run.py --quick

soak: $(STAMP)
	SLACK_RTM_SOAK_SECONDS=$${SOAK_SECONDS:-180} SLACK_RTM_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-10000} \
	  $(BIN)/python -m pytest -q -s tests/reliability/test_soak.py \
	  tests/reliability/test_fuzz_api.py tests/reliability/test_fuzz_frames.py \
	  tests/session/test_decode_fuzz.py

fmt: $(STAMP)
	$(BIN)/ruff format $(LINT_PATHS)
	$(BIN)/ruff check --fix $(LINT_PATHS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage .coverage.*
