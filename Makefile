# Two commands do everything on a fresh machine:
#   make lab    - set up, then open the tutorial in JupyterLab   (make demo: the headless main job)
#   make test   - set up, then run the whole test suite, notebooks included, and the portability leg
#                 (what .ci/run calls)
#   (make test-portable: the numerics-sensitive tests again with torch and OpenCV forced to their lowest
#    SIMD dispatch level, so a figure that holds on one CPU's kernels only fails on every machine)
#   (make site: the tutorials' static site from the committed outputs, in docs/site/_build/html)
#   (make test-oldest: the suite in a second venv, .venv-oldest, at the oldest versions pyproject.toml's
#    ranges admit, Colab's among them (.ci/oldest-constraints.txt); not part of `make test` or CI: it
#    downloads torch 2.3.0, PyPI's CUDA build, about 2.7 GB; about 15 minutes here once it is cached)
# The virtual environment lives in .venv. TORCH_SPEC is what gets installed when the venv has no
# torch yet: torch==2.13.0 is the CPU wheel that these development machines keep on disk; on your
# own GPU machine use e.g. `make lab TORCH_SPEC=torch` (or install torch first, it is kept).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
# torch's and OpenCV's lowest dispatch levels: every OpenCV feature above SSE4.2 disabled
# (benchmarks/dispatch_levels.py holds the same list)
LOWEST_DISPATCH := ATEN_CPU_CAPABILITY=default \
	OPENCV_CPU_DISABLE=AVX,FP16,FMA3,AVX2,AVX512F,AVX512-COMMON,AVX512-SKX,AVX512-CLX,AVX512-CNL,AVX512-ICL,AVX512BW,AVX512CD,AVX512DQ,AVX512VL
# the tests whose figures come from OpenCV, DIS/ECC, BLAS or torch's kernels: preprocessing, registration,
# flow, magnification, shifts, batch assembly, training determinism, reference parity, pretrained predictions
PORTABLE_TESTS := tests/data/test_prep.py tests/data/test_registration.py tests/data/test_magnify.py \
	tests/data/test_shift.py tests/data/test_batch_assembly.py tests/training/test_train_rng.py tests/training/test_train.py \
	tests/training/test_pretrain.py \
	tests/model/test_compat.py tests/test_pretrained.py tests/test_dispatch_levels.py

.PHONY: setup lab demo test test-portable test-oldest notebooks-outputs site bench lint clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[lab,test,dev,site,cluster]"
	touch $@

setup: $(VENV)/.installed

lab: setup
	$(VENV)/bin/jupyter lab notebooks/00_quickstart.ipynb

demo: setup
	$(VENV)/bin/hsta-edu demo

test: setup
	HSTA_EDU_FAST=1 $(PY) -m pytest -n 2 --nbmake tests notebooks $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-portable

test-portable: setup
	$(LOWEST_DISPATCH) HSTA_EDU_FAST=1 $(PY) -m pytest -n 2 -p no:cacheprovider $(PORTABLE_TESTS) $(PYTEST_ARGS)

# the oldest versions the ranges admit: a venv of its own, every direct requirement pinned by
# .ci/oldest-constraints.txt (torch included), checked to be exactly the pins, then the suite as `make test`
# runs it, less two parts: tests/test_site.py (the site extra is not installed there) and tests/browser
# (Colab's ipywidgets 7.7.1 has no JupyterLab 4 front end: its widgets render on Colab only)
OLDEST_VENV ?= .venv-oldest
OLDEST_PINS ?= .ci/oldest-constraints.txt
OLDEST_PYTHON ?= python3.11

$(OLDEST_VENV)/.installed: pyproject.toml $(OLDEST_PINS)
	test -x $(OLDEST_VENV)/bin/python || $(OLDEST_PYTHON) -m venv $(OLDEST_VENV)
	$(OLDEST_VENV)/bin/python -m pip install -q --upgrade pip
	$(OLDEST_VENV)/bin/python -m pip install -q -c $(OLDEST_PINS) -e ".[lab,test,dev,cluster]"
	$(OLDEST_VENV)/bin/python -m pip check
	$(OLDEST_VENV)/bin/python .ci/check_pins.py $(OLDEST_PINS)
	touch $@

test-oldest: $(OLDEST_VENV)/.installed
	HSTA_EDU_FAST=1 $(OLDEST_VENV)/bin/python -m pytest -n 2 -p no:cacheprovider --nbmake tests notebooks \
		--ignore=tests/test_site.py --ignore=tests/browser $(PYTEST_ARGS)

notebooks-outputs: setup
	cd notebooks && HSTA_EDU_FAST=1 HSTA_EDU_WIDGETS=0 ../$(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=1200 [0-9]*.ipynb

# the tutorials as a static site (Sphinx + myst-nb + book theme) from the committed outputs, nothing
# executed; warnings are errors. Open docs/site/_build/html/index.html. Sources: docs/site/.
site: setup
	$(VENV)/bin/sphinx-build -E -W --keep-going -b html -c docs/site . docs/site/_build/html

bench: setup
	$(PY) benchmarks/model_speed.py

lint: setup
	$(VENV)/bin/ruff check hsta_edu tests benchmarks

clean:
	rm -rf $(VENV) $(OLDEST_VENV) .pytest_cache build *.egg-info docs/site/_build
