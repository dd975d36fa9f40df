# Two commands for a newcomer: `make smoke` (set up, then the whole pipeline on the embedded
# synthetic corpus, CPU, offline) and `make test`. The rest are conveniences.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= smoke
RUN_DIR ?= runs/$(PROFILE)

.PHONY: setup smoke test figures paper study clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements-cpu.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-cpu.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

smoke: setup            ## whole pipeline, smoke profile: data, AR, MDLM, samples, analysis, report, paper
	$(PY) -m arche run --profile smoke

test: setup             ## the test suite (CPU, a few minutes)
	$(PY) -m pytest -q

figures: setup          ## regenerate figures, tables and numbers from saved results (no retraining)
	$(PY) -m arche run --profile $(PROFILE) --run-dir $(RUN_DIR) --only 05_analysis

paper: setup            ## rebuild the PDF from the last analysis
	$(PY) -m arche paper --run-dir $(RUN_DIR)

study: setup            ## the controlled study at CPU scale (about an hour on 2 cores)
	$(PY) -m arche run --profile study

clean:
	rm -rf runs paper/generated paper/build
