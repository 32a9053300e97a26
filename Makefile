# The README's commands. Python tools live in .venv; the Cargo target folder
# is kept outside the clone so that CI and later runs reuse the build of
# aws-sdk-ec2 (minutes on two cores). One profile (dev) serves every target.

VENV := .venv
export CARGO_TARGET_DIR ?= $(HOME)/.cache/network-interface-manager/target
export MOTO_SERVER := $(abspath $(VENV))/bin/moto_server

.PHONY: test lint venv

## Run the linters and every test (moto included).
test: venv lint
	cargo test

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@
