# bo-diffnag developer commands. Both targets create .venv on first use (torch first, CPU build).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench notebooks setup clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "torch==2.13.0"
	$(PY) -m pip install --quiet -e ".[test,ray]"
	touch $(STAMP)

setup: $(STAMP)

# The main job: a real NAS experiment (train NB201 cells on scikit-learn's digits, no download) with Ax and
# DiffusionNAG proposals, two trials at a time. Stored in runs/; the same command resumes after a crash.
demo: $(STAMP)
	$(VENV)/bin/bo-diffnag run --space nb201 --benchmark digits --optimizer diffusion \
	  --trials 30 --n-init 10 --parallel 2 --seed 0 \
	  --storage sqlite:///runs/demo.db --out runs/demo/trials.csv --plot runs/demo/best_so_far.png

# Two pytest workers (one per core), each process one thread: half the wall clock of a serial run, without
# the oversubscription that torch's default thread pool causes beside a second worker.
test: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/pytest -q -n 2 --dist worksteal

# Re-execute the notebooks in place from the committed full benchmark results (benchmarks/run_comparisons.sh).
notebooks: $(STAMP)
	$(PY) notebooks/execute.py --full

bench: $(STAMP)
	$(PY) benchmarks/bench_foundation.py
	$(PY) benchmarks/bench_prior.py
	$(PY) benchmarks/bench_ax.py
	$(PY) benchmarks/bench_proxies.py
	$(PY) benchmarks/bench_top_region.py

clean:
	rm -rf $(VENV) .pytest_cache
