# Every target bootstraps .venv on its own (idempotent), so a fresh clone needs only
# `make demo` or `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.graphscope-installed
export OMP_NUM_THREADS := 1

.PHONY: demo test test-quick bench lint docs clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/graphscope render examples/logistic_regression.py -o out/

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-quick: $(STAMP)  # while iterating: everything but the tests marked slow
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/bench_watch.py
	$(BIN)/python benchmarks/bench_render.py

lint: $(STAMP)
	$(BIN)/python -m compileall -q graphscope tests examples benchmarks  # this interpreter parses it (ruff lets PEP 701 f-strings through)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy graphscope

docs: $(STAMP)
	$(BIN)/graphscope docs build -o docs/ --force  # docs/ is all generated here (errors.md aside, never touched)

clean:
	rm -rf $(VENV) out .pytest_cache
