# The README's commands. Python tools live in .venv; the Cargo target folder
# is kept outside the clone so that CI and later runs reuse the build of
# aws-sdk-ec2 (minutes on two cores). One profile (dev) serves every target.

VENV := .venv
export CARGO_TARGET_DIR ?= $(HOME)/.cache/network-interface-manager/target
export MOTO_SERVER := $(abspath $(VENV))/bin/moto_server
export CARGO_LAMBDA := $(abspath $(VENV))/bin/cargo-lambda

.PHONY: bench demo test lint venv zip mutants mutants-executor cdk-test terraform-test

# The Lambda package: x86_64, linked for glibc 2.34 (Amazon Linux 2023).
LAMBDA_TARGET := x86_64-unknown-linux-gnu.2.34
MAX_GLIBC := 2.34

## Play the story locally: moto as EC2, the Lambda under the runtime emulator.
demo: venv
	cargo build
	$(VENV)/bin/python scripts/demo.py --binary "$(CARGO_TARGET_DIR)/debug/network-interface-manager"

## Run the linters and every test (moto included), then the CDK library's
## and the Terraform modules' checks.
test: venv lint
	cargo test
	$(MAKE) cdk-test terraform-test

## The CDK construct library: npm ci from its lockfile, tsc, node --test,
## cfn-lint and cdk-nag on what it synthesizes.
cdk-test: venv
	cd cdk && npm ci --no-audit --no-fund && npm test

## The Terraform modules: parsed (python-hcl2), formatted and evaluated
## offline where a terraform or tofu binary is on the PATH.
terraform-test: venv
	$(VENV)/bin/python -m unittest discover -s terraform/tests

lint: venv
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	$(VENV)/bin/cfn-lint --non-zero-exit-code error cloudformation/*.yaml
	$(VENV)/bin/checkov --quiet --compact --skip-download --framework cloudformation \
		$(addprefix -f ,$(wildcard cloudformation/*.yaml))

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## Build the Lambda package dist/bootstrap.zip (release, zig-linked for AL2023).
zip: venv
	PATH="$(abspath $(VENV))/bin:$$PATH" cargo lambda build --release \
		--target $(LAMBDA_TARGET) --output-format zip --lambda-dir dist --flatten network-interface-manager
	$(VENV)/bin/python scripts/check-glibc.py dist/bootstrap.zip $(MAX_GLIBC)
	@ls -l dist/bootstrap.zip

## Benchmarks of the release binary against moto; writes docs/benchmarks.md.
bench: zip
	$(VENV)/bin/python -m zipfile -e dist/bootstrap.zip dist/
	chmod +x dist/bootstrap
	cargo test --test integration round_trips -- --nocapture > dist/round-trips.txt
	$(VENV)/bin/python scripts/bench.py --binary dist/bootstrap --zip dist/bootstrap.zip \
		--round-trips dist/round-trips.txt --out docs/benchmarks.md
	# The EC2 budget: pacing choices on moto behind EC2's buckets, then a
	# 10,000-instance fleet on the strict model (on a virtual clock).
	cargo test --test pacing_bench >> docs/benchmarks.md
	cargo test --test budget_bench >> docs/benchmarks.md

## Mutation testing of the pure cores (not in CI: an hour on two cores); see
## docs/testing.md. Writes mutants.out/.
CARGO_MUTANTS := $(HOME)/.cache/network-interface-manager/tools/bin/cargo-mutants
MUTATED := src/pool/plan.rs src/pool/survey.rs src/pool/assign.rs src/pool/index.rs src/pool/identity.rs src/pool/status.rs src/custom_resource/plan.rs \
	src/pool/volumes.rs src/pool/succession.rs src/custom_resource/volume_plan.rs \
	src/custom_resource/elastic_ip_plan.rs src/custom_resource/ordinals.rs \
	src/custom_resource/changes.rs src/custom_resource/declaration.rs src/custom_resource/claims.rs \
	src/custom_resource/properties.rs src/custom_resource/response.rs src/event.rs \
	src/disposition.rs
# The test groups that exercise them (tests/integration/*/mod.rs say what
# each holds): the pure planners, the strict models, random declarations.
MUTANT_TESTS := tests:: planner:: strict:: random::declarations --skip moto

$(CARGO_MUTANTS):
	cargo install --locked cargo-mutants@27.1.0 --root $(HOME)/.cache/network-interface-manager/tools

# The strict-model tests mostly wait on simulated latency: 8 test threads
# halve a mutant's test time on two cores.
mutants: venv $(CARGO_MUTANTS)
	RUST_TEST_THREADS=8 $(CARGO_MUTANTS) mutants $(addprefix -f ,$(MUTATED)) \
		-- --lib --test integration -- $(MUTANT_TESTS)

## Mutation testing of the executor: what carries a plan out against EC2,
## Auto Scaling and CloudFormation (hours on two cores; not in CI). The
## same groups, plus the moto tests of the one adapter whose behaviour is
## in what it makes of an answer (stacks.rs). Writes mutants.out/.
EXECUTOR := src/pool/attach.rs src/pool/claim.rs src/pool/proceed.rs src/pool/lifecycle.rs \
	src/pool/handover.rs src/pool/apply.rs src/pool/read.rs src/custom_resource/cleanup.rs \
	src/custom_resource/provider.rs src/custom_resource/removal.rs src/stacks.rs src/ec2/paced.rs \
	src/handler.rs src/pool/move_volumes.rs src/custom_resource/volumes.rs src/custom_resource/invocation.rs \
	src/pool/keep_open.rs src/pool/warning.rs src/custom_resource/elastic_ips.rs
EXECUTOR_TESTS := tests:: planner:: strict:: random::declarations moto::custom_resource::stack

mutants-executor: venv $(CARGO_MUTANTS)
	RUST_TEST_THREADS=8 $(CARGO_MUTANTS) mutants \
		$(addprefix -f ,$(EXECUTOR)) -- --lib --test integration -- $(EXECUTOR_TESTS)
