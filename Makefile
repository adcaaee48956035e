# Baton's entry points. `make demo` and `make test` are the two the README promises.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv on PATH, or the pinned uv installed on first use (hack/uv.sh).
UV      ?= bash hack/uv.sh
PY      := .venv/bin/python
CLUSTER := .cluster
KUBECTL := $(CLUSTER)/bin/kubectl
export PATH := $(CURDIR)/$(CLUSTER)/bin:$(CURDIR)/.venv/bin:$(PATH)
# Every step prints its wall time ("== phase NAME: 12.3s"): cold and cached runs differ.
PHASE   := bash hack/phase.sh

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: venv
venv: .venv/.synced ## install the locked Python environment into .venv
.venv/.synced: pyproject.toml uv.lock
	@$(PHASE) "python environment (uv sync)" $(UV) sync --frozen --extra operator --extra ui --extra s3
	@touch $@

.PHONY: tools
tools: $(KUBECTL) ## kubectl + helm into .cluster/bin
$(KUBECTL): tests/cluster/tools.sh
	@$(PHASE) "kubectl + helm" bash tests/cluster/tools.sh

.PHONY: cluster-build
cluster-build: ## build etcd + Kubernetes components from Go modules (cached)
	@$(PHASE) "control plane build" bash tests/cluster/build.sh >/dev/null

.PHONY: s3-server
s3-server: ## build the S3-compatible server (versitygw) the log tests use (cached)
	@$(PHASE) "s3 server build" bash tests/cluster/s3.sh >/dev/null

.PHONY: cluster-up
cluster-up: tools ## start the local control plane; kubeconfig at .cluster/kubeconfig
	python3 tests/cluster/controlplane.py up --dir $(CLUSTER)

.PHONY: cluster-down
cluster-down: ## stop the local control plane
	python3 tests/cluster/controlplane.py down --dir $(CLUSTER)

NODE_PACKAGES := containerd runc containernetworking-plugins debootstrap docker.io
# Debian packages the tests need besides the node's: chromium for the ui tier (tests/ui,
# driven by Playwright), fish for tests/integration/test_completion.py.
TEST_PACKAGES := chromium fish

.PHONY: node-packages
node-packages: ## apt-get install what the e2e node and the tests need (root; a no-op when installed)
	@$(PHASE) "node packages (apt-get)" bash -c 'dpkg-query -W $(NODE_PACKAGES) $(TEST_PACKAGES) >/dev/null 2>&1 || { \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq --no-install-recommends $(NODE_PACKAGES) $(TEST_PACKAGES) >/dev/null; }'

.PHONY: images
images: node-packages ## build the pause, base, runtime, operator and examples images without a registry (cached; root)
	@$(PHASE) "images (debootstrap base, runtime, operator, examples)" python3 tests/cluster/node.py images

.PHONY: e2e-up
e2e-up: tools node-packages ## control plane + a real node (containerd, kubelet, scheduler) + the operator from the chart
	python3 tests/cluster/node.py up --dir $(CLUSTER)

.PHONY: e2e-down
e2e-down: ## stop the node and the control plane started by e2e-up
	python3 tests/cluster/node.py down --dir $(CLUSTER)

.PHONY: prefect-env
prefect-env: venv ## Prefect 3.8.8 in a virtualenv of its own, for the conformance suite and the SDK bench (cached)
	@$(PHASE) "Prefect 3.8.8 virtualenv" $(PY) tests/conformance/prefect_env.py >/dev/null

.PHONY: crds
crds: venv ## regenerate crds/ and the chart's copy from the pydantic models
	$(PY) -m baton.resources.generate

.PHONY: lint
lint: venv ## ruff + mypy --strict
	@$(PHASE) "ruff" bash -c '$(PY) -m ruff check operator tests bench examples hack && \
	  $(PY) -m ruff format --check operator tests bench examples hack'
	@$(PHASE) "mypy --strict" $(PY) -m mypy

.PHONY: test
test: lint tools cluster-build s3-server node-packages images prefect-env ## lint, then the wheel, unit, integration, ui (Chromium), conformance, fault and e2e tests (real control plane, real node)
	@$(PHASE) "pytest (every tier)" $(PY) -m pytest tests/packaging tests/unit tests/integration \
	  tests/ui tests/conformance tests/faults tests/e2e

.PHONY: unit
unit: venv ## unit tests only (no cluster)
	@$(PHASE) "unit tests" $(PY) -m pytest tests/unit

.PHONY: demo
demo: venv tools cluster-build ## start the control plane and show Baton running flows
	@$(PHASE) "demo" $(PY) examples/demo.py

.PHONY: ui
ui: venv ## serve `baton ui` on 127.0.0.1:4200 against the local control plane (make cluster-up first)
	$(PY) -m baton.cli --kubeconfig $(CLUSTER)/kubeconfig ui

.PHONY: ui-assets
ui-assets: ## re-vendor the UI's JavaScript from ui/package-lock.json (npm ci) into the package
	python3 hack/ui_assets.py

.PHONY: chart-readme
chart-readme: venv ## regenerate charts/baton/README.md from values.yaml (and README.md.gotmpl)
	$(PY) hack/chart_readme.py

.PHONY: argocd-cm
argocd-cm: venv ## regenerate argocd/argocd-cm.yaml from argocd/resource_customizations/baton.dev/*/health.lua
	$(PY) hack/argocd_cm.py

.PHONY: bench
bench: venv tools ## benchmarks: scheduling skew vs CronJob, operator throughput, SDK vs Prefect, UI pages (JSON)
	mkdir -p bench/results
	$(PY) bench/scheduling.py --sizes 100 1000 5000 --fires 3 --json bench/results/scheduling.json
	$(PY) bench/operator_load.py --json bench/results/operator.json
	$(PY) bench/sdk.py --json bench/results/sdk.json
	$(PY) bench/ui.py --json bench/results/ui.json

.PHONY: clean
clean: e2e-down
	rm -rf $(CLUSTER)
