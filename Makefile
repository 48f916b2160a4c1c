# Introduction to Diffusion Models: set-up, tests, site.
#   make serve   create .venv if needed, execute the lessons, build and serve the site
#   make test    unit tests + every lesson executed (fast mode)
#   make bench   speed and quality figures, printed as tables (TABLES=quality,ten-steps for some)
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -ec
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# `make bench TABLES=quality,ten-steps` prints only those tables (python -m course_lib.bench --help).
TABLES ?=
# Lessons run in fast mode by default (CI, laptops); `make test LESSON_MODE=full` on a GPU runner.
LESSON_MODE ?= fast
LESSON_FAST := $(if $(filter full,$(LESSON_MODE)),0,1)
# Lessons run several at a time, one CPU thread each: for these small models that is faster
# than one lesson at a time on all threads.
LESSON_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
LESSON_ENV := OMP_NUM_THREADS=1 COURSE_FAST=$(LESSON_FAST)

.PHONY: help venv test test-unit test-lessons notebooks site serve check-site slides-pdf bundle bench lock clean

help:
	@echo "make serve   set up .venv, execute the lessons, build and serve the site on http://127.0.0.1:8000"
	@echo "make test    unit tests, every lesson executed in fast mode (COURSE_FAST=1), then the site checks"
	@echo "make check-site  build the site and check links, page weights, pages and slides in a browser"
	@echo "make bench   print the speed and sample-quality tables (TABLES=ten-steps,... for a subset)"
	@echo "make slides-pdf  print every slide deck to PDF"
	@echo "make bundle  one archive with the site, notebooks, decks and weights for offline workshops"

venv: $(STAMP)

# The venv is (re)built whenever the lock or the package metadata is newer than it.
$(STAMP): requirements.lock pyproject.toml
	@echo "==> [setup] Creating $(VENV) from requirements.lock with $(PYTHON) (a few minutes the first time)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --progress-bar on -r requirements.lock
	@echo "==> [setup] Installing course_lib in editable mode"
	@$(BIN)/python -m pip install --no-deps --no-build-isolation -q -e .
	@touch $(STAMP)
	@echo "==> [setup] $(VENV) ready: $$(du -sh $(VENV) | cut -f1)"

# Each notebook is stamped with its lesson's cache key in $(LESSON_MODE) mode: the same
# $(LESSON_ENV) as nbmake's, so the stamp names the mode the lesson is tested in.
notebooks: $(STAMP)
	@echo "==> [notebooks] Converting lessons/*.py to build/notebooks/*.ipynb ($(LESSON_MODE) mode)"
	@$(LESSON_ENV) $(BIN)/python scripts/build_notebooks.py

# The site and browser tests run once, in check-site, against the site it builds.
test-unit: $(STAMP)
	@echo "==> [test 1/3] Unit tests of course_lib ($(LESSON_JOBS) workers)"
	@OMP_NUM_THREADS=1 $(BIN)/python -m pytest tests -n $(LESSON_JOBS) $(PYTEST_ARGS) \
	  --ignore=tests/test_site.py --ignore=tests/test_browser.py

# --overwrite keeps the outputs in build/notebooks/, where `make site` takes them from.
test-lessons: notebooks
	@echo "==> [test 2/3] Executing every lesson in $(LESSON_MODE) mode (nbmake)"
	@$(LESSON_ENV) $(BIN)/python -m pytest --nbmake --overwrite -n $(LESSON_JOBS) build/notebooks -p no:cacheprovider $(PYTEST_ARGS)

test: test-unit test-lessons
	@echo "==> [test 3/3] The website: build, links, page weights, site and browser tests"
	@$(MAKE) --no-print-directory check-site
	@echo "==> All tests passed"

# The site: lessons executed in fast mode into build/executed/ (a lesson whose code and
# library are unchanged comes from the cache, or from build/notebooks/ when test-lessons just
# ran it in fast mode), then rendered with mkdocs --strict: the lesson pages, the Colab
# notebooks (site/notebooks/) and the slide decks (site/slides/).
site: $(STAMP)
	@echo "==> [site 1/2] Executing the lessons in fast mode (unchanged ones come from the cache or the nbmake run)"
	@OMP_NUM_THREADS=1 COURSE_FAST=1 $(BIN)/python scripts/execute_lessons.py --jobs $(LESSON_JOBS)
	@echo "==> [site 2/2] Building site/ with mkdocs (strict: any warning fails)"
	@NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

serve: site
	@echo "==> [serve] Serving site/ on http://127.0.0.1:8000 (Ctrl-C to stop)"
	@$(BIN)/python -m http.server 8000 --bind 127.0.0.1 --directory site

# The browser tests need Chromium (/usr/bin/chromium; Debian: apt-get install -y chromium)
# and save screenshots to site-screenshots/.
check-site: site
	@echo "==> [check-site 1/5] Checking the internal links of site/"
	@$(BIN)/python scripts/check_links.py site
	@echo "==> [check-site 2/5] Page weights (a page's own HTML under 1 MB, with what it loads under 2.5 MB, the site under 60 MB)"
	@$(BIN)/python scripts/page_weight.py site
	@echo "==> [check-site 3/5] Site tests"
	@$(BIN)/python -m pytest tests/test_site.py $(PYTEST_ARGS)
	@echo "==> [check-site 4/5] Browser tests (headless Chromium, screenshots in site-screenshots/)"
	@$(BIN)/python -m pytest tests/test_browser.py $(PYTEST_ARGS)
	@echo "==> [check-site 5/5] The offline bundle (build/bundle/), then checked as a user would (without Chromium: no PDF decks)"
	@$(BIN)/python scripts/make_bundle.py --allow-no-pdf

# PDF of every slide deck, for instructors: site/slides/NN_topic.pdf (needs Chromium; about 2 s a deck).
slides-pdf: site
	@echo "==> [slides-pdf] Printing site/slides/*.slides.html to PDF with headless Chromium"
	@$(BIN)/python scripts/slides_pdf.py site

# One zip for offline workshops: the site (lessons, notebooks, decks), a serve script and the
# course_lib wheel with its weights, the PDF decks (needs Chromium), checked once packed.
bundle: site
	@echo "==> [bundle] Packing site/, the PDF decks, the course_lib wheel and a serve script into build/bundle/"
	@$(BIN)/python scripts/make_bundle.py

bench: $(STAMP)
	@$(BIN)/python -m course_lib.bench $(if $(TABLES),--tables $(TABLES))

lock:
	@echo "==> Writing requirements.lock from $(VENV)"
	@{ head -2 requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^course.lib' \
	   | sed -E 's/^((nvidia|cuda)-[A-Za-z0-9_.-]+|triton)==[^ ;]+$$/&; sys_platform == "linux"/'; } > requirements.lock.new
	@mv requirements.lock.new requirements.lock

clean:
	rm -rf build site site-screenshots .pytest_cache
