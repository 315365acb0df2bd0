# bayes-zoo: every target that runs Python creates .venv (Python 3.11+) and installs the project on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
OUT    ?= results/demo

.PHONY: demo test validate bench reproduce-al bank bank-calibration notebooks docs lab blas clean-venv

# A .venv whose Python is older than 3.11 (made with another PYTHON) is replaced, not reused.
$(STAMP): pyproject.toml
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }
	@$(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "bayes-zoo needs Python >= 3.11, but $(PYTHON) is $$($(BIN)/python --version): run 'make PYTHON=python3.11 ...'"; \
		  rm -rf $(VENV); exit 1; }
	@echo "installing bayes-zoo and its dependencies into $(VENV) (first run only)"
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[test]'
	@touch $(STAMP)

## demo: the main job, every pair on its bundled data; rewrites $(OUT) (its own folder) each time
demo: $(STAMP)
	$(BIN)/bayes-zoo compare all --out $(OUT) --force

## test: the test suite (under 10 minutes on 2 cores)
test: $(STAMP)
	$(BIN)/python -m pytest -q

## validate: heavier statistical validation (tests marked slow)
validate: $(STAMP)
	$(BIN)/python -m pytest -q -m slow --run-slow

## bench: side-by-side timings (normal-gamma: Gibbs vs nutpie vs PyMC; spike-and-slab with EM; the exact GP vs scikit-learn; FITC vs PyMC; ACS-FW selection; SBC throughput), written to benchmarks/results/, then the README's performance section regenerated from them
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_normal_gamma.py
	$(BIN)/python benchmarks/bench_spike_slab.py
	$(BIN)/python benchmarks/bench_gp_exact.py
	$(BIN)/python benchmarks/bench_fitc.py
	$(BIN)/python benchmarks/bench_active_learning.py
	$(BIN)/python benchmarks/bench_sbc.py
	$(BIN)/python benchmarks/readme.py

## reproduce-al: the active-learning protocol of Pinsler et al. (2019) at full size (4 data sets x 40 seeds, both ACS-FW variants, random, MaxEnt, BALD) in $(JOBS) processes; rewrites $(AL_OUT)/active-learning-pinsler2019
JOBS   ?= 2
AL_OUT ?= results
reproduce-al: $(STAMP)
	$(BIN)/bayes-zoo active-learn --protocol pinsler2019 --jobs $(JOBS) --out $(AL_OUT) --force

## bank: our NUTS against every posteriordb reference posterior that has a PyMC version (4 chains x 1000 draws after 1000, $(JOBS) processes); rewrites $(BANK_OUT)/bank/ (a folder per posterior, report.md with the table of all 35).  Exit 1 means some posterior disagrees: a finding about NUTS, written in the report, so make goes on
BANK_OUT ?= results
bank: $(STAMP)
	@$(BIN)/bayes-zoo bank run all --jobs $(JOBS) --out $(BANK_OUT) --force; status=$$?; \
		if [ $$status -eq 1 ]; then echo "some posterior disagrees: see $(BANK_OUT)/bank/report.md"; fi; \
		[ $$status -le 1 ]

## bank-calibration: the verdict's false-alarm rate on the bank: every expressed posterior x $(SEEDS) seeds through the whole protocol, counting "disagree" where our NUTS is healthy; rewrites $(BANK_OUT)/bank-calibration/
SEEDS ?= 5
bank-calibration: $(STAMP)
	$(BIN)/bayes-zoo bank calibrate all --seeds $(SEEDS) --jobs $(JOBS) --out $(BANK_OUT) --force

## notebooks: execute every notebook in place at full size (the committed outputs come from here)
notebooks: $(STAMP)
	$(BIN)/python -m bayes_zoo.notebooks --in-place notebooks/*.ipynb

## docs: a static site at $(SITE)/index.html (open it in a browser; no server) of the notebooks, rendered with their committed outputs by nbconvert, and the reports of `make demo` (run first, into $(OUT)), of the committed protocol run and of the committed bank calibration
SITE ?= docs/_site
docs: demo
	$(BIN)/python -m bayes_zoo.site --out $(SITE) --notebooks notebooks/*.ipynb --reports $(OUT) docs/results/active-learning-pinsler2019 docs/results/bank-calibration

## lab: open the notebooks in JupyterLab (installs the `lab` extra into $(VENV) on first use); LAB_ARGS for its options
LAB_STAMP := $(VENV)/.lab-installed
LAB_ARGS  ?=
$(LAB_STAMP): $(STAMP)
	@echo "installing JupyterLab into $(VENV) (first run only)"
	$(BIN)/python -m pip install -qq -e '.[test,lab]'
	@touch $@

lab: $(LAB_STAMP)
	$(BIN)/jupyter lab notebooks/ $(LAB_ARGS)

## blas: optional, Debian/Ubuntu as root: the system OpenBLAS that PyTensor links to (GP models ~30% faster)
blas:
	apt-get update -qq && apt-get install -y -qq libopenblas-dev

clean-venv:
	rm -rf $(VENV)
