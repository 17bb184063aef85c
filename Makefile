# The course's commands. Only Python 3.11 and pip are needed; everything else is
# installed into .venv by the first command that needs it.
#   make lab              set up, then open the course in JupyterLab
#   make test             set up, then run all unit tests and every notebook (quick mode)
#   make course           execute every notebook in full mode into build/ (for instructors)
#   make clean-notebooks  strip outputs from notebooks/ (they are committed without)
#   make benchmarks       run the speed benchmarks (figures printed and written to build/)

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KERNEL := handlib
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONUNBUFFERED := 1

.PHONY: setup lab test unit notebooks course clean-notebooks benchmarks clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { $(PYTHON) -m pip install --user --quiet virtualenv && $(PYTHON) -m virtualenv $(VENV); }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
	  --display-name "Python (handlib course)" --env TF_CPP_MIN_LOG_LEVEL 3 >/dev/null
	@touch $(STAMP)

# JupyterLab refuses to run as root (containers) unless told to
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_ARGS) notebooks/

NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
         --nbval-cell-timeout=1200

test: $(STAMP)
	HANDLIB_QUICK=1 $(BIN)/python -m pytest -q tests notebooks $(NBVAL)

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

notebooks: $(STAMP)
	HANDLIB_QUICK=1 $(BIN)/python -m pytest -q notebooks $(NBVAL)

course: $(STAMP)
	@mkdir -p build
	HANDLIB_QUICK=0 $(BIN)/jupyter nbconvert --to notebook --execute \
	  --ExecutePreprocessor.timeout=-1 --ExecutePreprocessor.kernel_name=$(KERNEL) \
	  --ExecutePreprocessor.store_widget_state=True \
	  --output-dir build notebooks/*.ipynb

clean-notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

benchmarks: $(STAMP)
	@for b in benchmarks/[a-z]*.py; do $(BIN)/python -m benchmarks.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf build .pytest_cache
