# Two commands a newcomer needs: `make up` runs the whole system, `make test` runs every test.
SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

.PHONY: up down clean test lint typecheck pytest deps status docs demo chaos load

deps:
	@command -v uv >/dev/null 2>&1 || [ -x "$(HOME)/.local/bin/uv" ] || python3 -m pip install --quiet --user uv
	@$(UV) sync --frozen --quiet

up: deps
	@bash deploy/up.sh

down:
	@bash deploy/down.sh

# A Vietnamese retailer's customers from several channels (duplicates, conflicting consents), through the gateway.
demo: up
	@$(UV) run --frozen python tools/demo.py

# Stops everything and forgets the local data (keeps the cached jars): the next `make up` starts empty.
clean: down
	rm -rf .local/data .local/logs .local/test

status:
	@deploy/local/kafka.sh status; deploy/local/store.sh status; deploy/local/services.sh status || true

lint: deps
	$(UV) run --frozen ruff check --output-format concise .
	$(UV) run --frozen ruff format --check .

typecheck: deps
	$(UV) run --frozen mypy

pytest: deps
	@bash deploy/local/browser.sh
	$(UV) run --frozen pytest

test: lint typecheck pytest

# Load through the gateway while every service, the broker and the store are killed or restarted in turn; then
# every effect is accounted for (bench/chaos.py; docs/proof.md holds the results).
chaos: up
	@$(UV) run --frozen python bench/chaos.py

# Sustained load (the chaos mix without faults, half through the gateway, half straight to Kafka) for 1, 2 and 3
# replicas of identity and contacts, with Kafka's own producer benchmark beside it (bench/load.py).
load: up
	@$(UV) run --frozen python bench/load.py

docs: deps
	$(UV) run --frozen python tools/gen_docs.py
