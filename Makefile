# Two commands for a newcomer: `make smoke` (set up, then the whole pipeline on the embedded
# synthetic corpus, CPU, offline) and `make test`. The rest are conveniences.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= smoke
RUN_DIR ?= runs/$(PROFILE)
RESULTS ?= results/replica.json
REPETITION ?= results/repetition.json

.PHONY: setup smoke test test-fast lint check-index figures repetition-pdf analysis paper study replica repetition notebooks clean

setup: $(VENV)/.installed

# torch comes from the PyTorch project's CPU wheel index (no CUDA libraries: ~200 MB instead of several GB)
# when that index answers within 5 s; else from the package index pip is configured with (where only PyPI
# is reachable, a local CPU wheel in PIP_FIND_LINKS, as on this project's CI machines). It says which.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_PIN := $(shell grep -E '^torch==' requirements-cpu.txt)

$(VENV)/.installed: requirements-cpu.txt pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@if $(PY) -c "import urllib.request; urllib.request.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=5)" 2>/dev/null; then \
	  echo "setup: $(TORCH_PIN) from the PyTorch CPU index $(TORCH_CPU_INDEX) (no CUDA libraries)"; \
	  $(PY) -m pip install -q --index-url $(TORCH_CPU_INDEX) "$(TORCH_PIN)"; \
	else \
	  echo "setup: $(TORCH_CPU_INDEX) unreachable; $(TORCH_PIN) from pip's configured index (PIP_FIND_LINKS: $${PIP_FIND_LINKS:-none})"; \
	  $(PY) -m pip install -q "$(TORCH_PIN)"; \
	fi
	$(PY) -m pip install -q -r requirements-cpu.txt
	$(PY) -m pip uninstall -q -y arche 2>/dev/null || true  # the distribution's name before it became arche-lm
	$(PY) -m pip install -q --no-deps -e .
	@$(PY) -c "import torch; print('setup: torch', torch.__version__, '| CUDA build:', torch.version.cuda or 'none')"
	touch $@

smoke: setup            ## whole pipeline, smoke profile: data, AR, MDLM, samples, analysis, report, paper
	$(PY) -m arche run --profile smoke

test: setup             ## the test suite (CPU, a few minutes)
	$(PY) -m pytest -q

test-fast: setup        ## the tests without the slow ones (marked slow: about 2 s or more each), for a quick loop
	$(PY) -m pytest -q -m "not slow"

check-index: setup     ## do the pins resolve on public PyPI (nothing installed; torch's CPU build looked up on its index)?
	bash .ci/check_index $(PY)

figures: setup          ## the committed study's figures, tables, macros and PDF from its results file alone
	$(PY) -m arche figures --results $(RESULTS) --out runs/figures-replica --figures-dir figures \
	  $(if $(wildcard $(REPETITION)),--repetition $(REPETITION))
	cp runs/figures-replica/paper.pdf paper/arche-replica.pdf

repetition-pdf: setup   ## the repetition study's own PDF (paper/arche-repetition.pdf) from its results file alone
	$(PY) -m arche figures --results $(REPETITION) --out runs/figures-repetition
	cp runs/figures-repetition/paper.pdf paper/arche-repetition.pdf

analysis: setup         ## re-run a run directory's analysis (05_analysis: scoring, tables, paper; no retraining)
	$(PY) -m arche run --profile $(PROFILE) --run-dir $(RUN_DIR) --only 05_analysis

paper: setup            ## rebuild the PDF from the last analysis
	$(PY) -m arche paper --run-dir $(RUN_DIR)

study: setup            ## a quick demo of the study (300 steps, d128; cannot answer the findings: see replica)
	$(PY) -m arche run --profile study

replica: setup          ## the paper's regime scaled to a third of the real sample (config.scale_to_budget), ~6 h on 2 cores
	$(PY) -m arche run --profile replica

repetition: setup       ## AR vs MDLM on the replica's data repeated 1-32 epochs (arche.study.repetition), ~1 h on 2 cores
	$(PY) -m arche run --profile repetition

clean:
	rm -rf runs

lint: setup             ## ruff lint + format check, and the notebooks' .py sources in sync with their .ipynb
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m arche notebooks --check

notebooks: setup        ## sync notebooks/NN_*.py (the source) and their .ipynb (after editing either)
	$(PY) -m arche notebooks
