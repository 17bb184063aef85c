# The course's commands. Only Python 3.11 and pip are needed; everything else is
# installed into .venv by the first command that needs it.
#   make lab              set up, then open the course in JupyterLab
#   make test             set up, then run all unit tests and every notebook (quick mode)
#   make course           execute every notebook in full mode into build/executed/full/
#   make clean-notebooks  strip outputs from notebooks/ (they are committed without)
#   make benchmarks       run the speed benchmarks (figures printed and written to build/)
#   make weights          rebuild every shipped weight from nothing (hours on a CPU; resumes)
#   make student          write the student copies (answers emptied) to build/student/
#   make classroom        build/classroom/: what to copy to a room (no git history, no answers)
#   make wheelhouse       download every wheel the course needs into wheelhouse/ (offline rooms)
#   make html             execute every notebook in full mode and write build/html/ (index.html)
#   make times            time every notebook in quick and full mode; update the tables
#   make offline-check    build a throw-away venv from wheelhouse/ with no network, import handlib

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
KERNEL := handlib
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONUNBUFFERED := 1

.PHONY: setup lab test unit notebooks course clean-notebooks benchmarks clean weights \
        student classroom wheelhouse html times offline-check

# With a wheelhouse/ (make wheelhouse), every install comes from it, with no index: an
# offline classroom installs exactly what was downloaded.
WHEELS   := $(wildcard wheelhouse/*.whl)
PIP_FROM := $(if $(WHEELS),--no-index --find-links wheelhouse,)

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || \
	  { $(PYTHON) -m pip install --user --quiet $(PIP_FROM) virtualenv && $(PYTHON) -m virtualenv $(VENV); }
	$(if $(WHEELS),@echo "installing from wheelhouse/ (no index)",)
	$(BIN)/python -m pip install --quiet $(PIP_FROM) --upgrade pip
	$(BIN)/python -m pip install --quiet $(PIP_FROM) -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
	  --display-name "Python (handlib course)" --env TF_CPP_MIN_LOG_LEVEL 3 >/dev/null
	@touch $(STAMP)

# JupyterLab refuses to run as root (containers) unless told to
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(LAB_ARGS) notebooks/

NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/sanitize.cfg \
         --nbval-cell-timeout=1200

# HANDLIB_CHECKS=strict: an exercise check that is not "correct" fails the notebook
test: $(STAMP)
	HANDLIB_QUICK=1 HANDLIB_CHECKS=strict $(BIN)/python -m pytest -q tests notebooks $(NBVAL)

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests

notebooks: $(STAMP)
	HANDLIB_QUICK=1 HANDLIB_CHECKS=strict $(BIN)/python -m pytest -q notebooks $(NBVAL)

course: build/executed/full/times.json
	@echo "executed notebooks (full mode): build/executed/full/"

clean-notebooks: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

# data, SilNet, GeoConGAN, GANerated set, RegNet, evaluation: tools/make_weights.py says how
# (--quick checks the path in minutes; every stage resumes after an interruption)
weights: $(STAMP)
	$(BIN)/python tools/make_weights.py

benchmarks: $(STAMP)
	@for b in benchmarks/[a-z]*.py; do $(BIN)/python -m benchmarks.$$(basename $$b .py) || exit 1; done

student:
	$(PYTHON) tools/student.py --out build/student

wheelhouse:
	$(PYTHON) tools/wheelhouse.py --dest wheelhouse

# What to copy to the room's machines: the committed course without git's history (which
# holds the answers), the student copies in place of the notebooks, the wheelhouse (hard
# links where possible) and, after `make html`, the pages without the answers.
classroom: student
	rm -rf build/classroom && mkdir -p build/classroom
	git archive --format=tar HEAD | tar -x -C build/classroom
	cp build/student/*.ipynb build/classroom/notebooks/
	if [ -d wheelhouse ]; then cp -rl wheelhouse build/classroom/ 2>/dev/null || cp -r wheelhouse build/classroom/; fi
	if [ -d build/html-student ]; then cp -r build/html-student build/classroom/html; fi
	@echo "copy build/classroom/ to each machine, then run \`make lab\` there"

offline-check:
	$(PYTHON) tools/wheelhouse.py --check --dest wheelhouse

# One notebook at a time: the executions share build/datasets and would share the cores.
.NOTPARALLEL:

# Executed notebooks are kept in build/executed/<mode>/ and remade only when a notebook,
# handlib or a shipped weight changed, so `make html` after `make times` executes nothing.
SOURCES := $(wildcard notebooks/*.ipynb handlib/*.py data/weights/*)

build/executed/%/times.json: $(SOURCES) | $(STAMP)
	$(BIN)/python tools/course_build.py execute --mode $* --out build/executed/$*

html: build/executed/full/times.json
	$(BIN)/python tools/course_build.py html --executed build/executed/full --out build/html
	$(BIN)/python tools/course_build.py html --executed build/executed/full --out build/html-student --student
	@echo "instructor pages: build/html/index.html; without the answers: build/html-student/index.html"

times: build/executed/quick/times.json build/executed/full/times.json
	$(BIN)/python tools/course_build.py times --quick build/executed/quick --full build/executed/full

clean:
	rm -rf build .pytest_cache
