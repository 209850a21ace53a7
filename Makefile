# sslab: `make demo` runs every recipe offline; `make test` runs the test suite.
# Both create .venv and install torch from the 2.13.0 pin first: any other torch
# spec would pull gigabytes of CUDA wheels on a CPU machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test install dev clean bench gpu-check

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PIP) install -q --disable-pip-version-check "$(TORCH_PIN)"
	$(PIP) install -q --disable-pip-version-check -e .
	touch $@

$(DEVSTAMP): $(STAMP)
	$(PIP) install -q --disable-pip-version-check -e ".[dev]"
	touch $@

install: $(STAMP)
dev: $(DEVSTAMP)

demo: $(STAMP)
	$(VENV)/bin/sslab run all --preset quick --out runs

# One test process per core (pytest-xdist), each test file on one of them: the tests run one intra-op
# thread each (tests/conftest.py), so a 2-core CI machine runs two files at once.
test: $(DEVSTAMP)
	$(PY) -m pytest tests -n auto --dist loadfile --durations=25

bench: $(STAMP)
	for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) runs .pytest_cache

# One command on a GPU machine: a venv that sees a preinstalled CUDA torch (or installs the pin,
# the CUDA build on PyPI for Linux), sslab, then every benchmark and a time-boxed paper-scale
# run of each recipe; the table goes to $$OUT (or gpu-check/). CI: make gpu-check ARGS="--device cpu --tiny"
GPU_VENV := .venv-gpu
ARGS ?= --device cuda
gpu-check:
	test -x $(GPU_VENV)/bin/python || $(PYTHON) -m venv --system-site-packages $(GPU_VENV)
	$(GPU_VENV)/bin/python -c "import torch" 2>/dev/null || $(GPU_VENV)/bin/pip install -q --disable-pip-version-check "$(TORCH_PIN)"
	$(GPU_VENV)/bin/pip install -q --disable-pip-version-check -e .
	$(GPU_VENV)/bin/python benchmarks/gpu_check.py $(ARGS)
