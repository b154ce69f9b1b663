# slack-rtm — the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test
BSTAMP := $(VENV)/.installed-bench

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

demo: $(STAMP)
	$(BIN)/slack-rtm demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples

types: $(STAMP)
	$(BIN)/mypy --strict src/slack_rtm

pytest: $(STAMP)
	$(BIN)/python -m pytest

test: lint types pytest

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
