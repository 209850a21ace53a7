# sslab: `make demo` runs every recipe offline; `make test` runs the test suite.
# Both create .venv and install torch from the 2.13.0 pin first, unless .venv already has a torch
# (TORCH_INDEX below: where the pin comes from).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
TORCH_PIN ?= torch==2.13.0
# Where the pin comes from: empty for pip's own indexes (PyPI's Linux wheel is the CUDA build; this
# project's machines serve a local CPU wheel); https://download.pytorch.org/whl/cpu for the CPU build
# elsewhere.
TORCH_INDEX ?=

.PHONY: demo test install dev clean bench gpu-check

$(PY):
	$(PYTHON) -m venv $(VENV)

# A torch already in the venv (the build you chose) is kept; otherwise the pin is installed first.
$(STAMP): $(PY) pyproject.toml
	$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q --disable-pip-version-check \
		$(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_PIN)"
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

# The speed scripts, each with its defaults. The others take a run directory or real data
# (generate_quality, note_hold, denoise_quality), a GPU (gpu_check) or long timed runs (parallel_seeds);
# reference_models is a module the others import.
BENCHES := augment_throughput pretext_throughput barlow_throughput denoise_speed generate_speed
bench: $(STAMP)
	for b in $(BENCHES); do echo "== benchmarks/$$b.py"; $(PY) benchmarks/$$b.py || exit 1; done

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
