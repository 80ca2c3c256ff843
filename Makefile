# Two commands set everything up on a fresh machine:  `make book`  and  `make test`.
# Both create .venv from the exact pins in requirements/lock.txt on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# MathJax for the offline site (package.json / package-lock.json; copied into the book by companion.book.pages).
NODE_STAMP := node_modules/.installed

.PHONY: book book-paper test test-fast colab check-colab browser-deps latex-deps clean help

help:
	@echo "make book        execute every chapter (CPU default, cached) and build the HTML book"
	@echo "make test        run the whole test suite (chapters at smoke scale, book build, browser)"
	@echo "make test-fast   the suite without slow, book and browser tests"
	@echo "make book-paper  execute the chapters at paper scale (for a GPU) and build the book"
	@echo "make colab       regenerate the Colab notebooks from the chapter sources"

$(STAMP): requirements/lock.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# --no-deps: the lock is complete; it bypasses neural-tangents' loose tensorflow/tf2jax requirements.
	$(PY) -m pip install -q --no-deps -r requirements/lock.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

book: $(STAMP) $(NODE_STAMP)
	$(PY) -m companion.book.build book --scale default
	@echo "Open _build/html/index.html"

book-paper: $(STAMP) $(NODE_STAMP)
	$(PY) -m companion.book.build book --scale paper

test: $(STAMP) $(NODE_STAMP) browser-deps latex-deps
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow and not book and not browser"

colab: $(STAMP)
	$(PY) -m companion.book.build colab

check-colab: $(STAMP)
	$(PY) -m companion.book.build check-colab

# The browser test drives Debian's chromium; install it when we may (root with apt-get).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (browser test)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the browser test will fail"; \
	  else echo "note: install Debian's chromium for the browser test (apt-get install chromium)"; fi; }

# The citation test compiles every figure's BibTeX entry with BibTeX and pdfLaTeX (tests/book/test_latex.py):
# Debian's texlive-latex-base (pdflatex, bibtex, natbib, hyperref); installed when we may (root with apt-get).
latex-deps:
	@{ command -v pdflatex >/dev/null 2>&1 && command -v bibtex >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing texlive-latex-base (citation test)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends texlive-latex-base >/dev/null) \
	      || echo "warning: could not install texlive-latex-base; the citation test will be skipped"; \
	  else echo "note: install Debian's texlive-latex-base for the citation test (apt-get install texlive-latex-base)"; fi; }

clean:
	rm -rf build _build
