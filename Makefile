# The two commands of the README: `make certify` (DESIGN=mirror|proxy|...|all) and `make test`.
DESIGN ?= mirror
MAILHA := .venv/bin/mailha
PYTEST := .venv/bin/python -m pytest

.PHONY: setup certify test unit images clean

setup:
	@bash scripts/setup

images: setup
	@$(MAILHA) images build

certify: setup
	@$(MAILHA) certify $(DESIGN)

test: setup
	@$(MAILHA) images build
	@$(PYTEST) $(PYTEST_ARGS)

# fast logic tests only, no Docker
unit: setup
	@$(PYTEST) tests $(PYTEST_ARGS)

clean: setup
	@$(MAILHA) sweep --all
