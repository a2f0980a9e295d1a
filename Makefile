# The two documented commands are `make demo` and `make test`; both bootstrap .venv/ first.
SHELL := /bin/bash
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO := data/demo
# Jupyter, IPython and matplotlib keep their state in the repository, not in $HOME.
STATE := $(CURDIR)/.jupyter-state
export JUPYTER_CONFIG_DIR := $(STATE)/config
export JUPYTER_DATA_DIR := $(STATE)/data
export JUPYTER_RUNTIME_DIR := $(STATE)/runtime
export IPYTHONDIR := $(STATE)/ipython
export MPLCONFIGDIR := $(STATE)/matplotlib
export JUPYTER_PLATFORM_DIRS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: demo test lab bench venv clean browser

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name telesales-lab --display-name "telesales-lab (.venv)" >/dev/null
	touch $@

$(DEMO)/.done: $(STAMP) $(wildcard telesales_lab/demo.py)
	$(BIN)/telesales-lab demo --out $(DEMO)
	touch $@

demo: $(DEMO)/.done
	$(BIN)/telesales-lab validate $(DEMO)
	$(BIN)/telesales-lab report $(DEMO) --month 2026-10

# Headless Chromium (Debian's package, as root; .ci/run runs it before make test) for the report's browser tests, with a Chinese font so
# that the pages' text (not only the plots, which bring their own font) renders in Chinese.
browser:
	command -v chromium >/dev/null && fc-list :lang=zh | grep -q . || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)

# No root needed: the browser tests skip, with the reason, where chromium is absent.
test: $(DEMO)/.done
	$(BIN)/python -m pytest tests notebooks --nbval-lax -p no:cacheprovider

lab: $(STAMP)
	$(BIN)/jupyter lab --allow-root --no-browser --ServerApp.root_dir=$(CURDIR)/notebooks

# make bench BENCH_ARGS="--sizes 100k,1m,10m" (see benchmarks/README.md). The package's bytecode is
# compiled first, as an installed package's is: where PYTHONDONTWRITEBYTECODE is set, every
# process (each report kernel) would compile the sources again.
bench: $(STAMP)
	$(BIN)/python -m compileall -q telesales_lab >/dev/null
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(STATE) $(DEMO)
