# Two commands do everything on a fresh machine:
#   make lab    - set up, then open the tutorial in JupyterLab   (make demo: the headless main job)
#   make test   - set up, then run the whole test suite, notebooks included (what .ci/run calls)
#   (make site: the tutorials' static site from the committed outputs, in docs/site/_build/html)
# The virtual environment lives in .venv. TORCH_SPEC is what gets installed when the venv has no
# torch yet: torch==2.13.0 is the CPU wheel that these development machines keep on disk; on your
# own GPU machine use e.g. `make lab TORCH_SPEC=torch` (or install torch first, it is kept).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: setup lab demo test notebooks-outputs site bench lint clean

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
	rm -rf $(VENV) .pytest_cache build *.egg-info docs/site/_build
