# Everything a fresh machine needs is installed by these targets: Debian packages, the venv, Python deps.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# chromium: browser env; xvfb/xauth/xdotool: desktop env; adb: the real adb client against our device.
APT_PACKAGES := chromium xvfb xauth xdotool x11-utils adb fonts-dejavu-core python3-tk

.PHONY: demo test bench lint system-deps venv clean

demo: system-deps $(STAMP)
	$(VENV)/bin/gui-agent demo

test: system-deps $(STAMP)
	$(PY) -m pytest -q

bench: system-deps $(STAMP)
	$(PY) -m tests.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check agent environments tools tasks tests

system-deps:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0   # the local CPU wheel; an unpinned torch pulls GBs of CUDA
	$(PY) -m pip install -q -e '.[all,dev]'
	touch $@

clean:
	rm -rf $(VENV) runs .pytest_cache
