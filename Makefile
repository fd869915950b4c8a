# The two quick-start commands (README): `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
# The venv runs the Lambda image's Python (read from the Dockerfile), so what is tested is what ships.
IMAGE_PYTHON := $(shell python3 devtools/lambda_image.py python-version)
PYTHON ?= $(shell python3 devtools/lambda_image.py find-python 2>/dev/null)
PYTEST_ARGS ?= -n 2
SAM := .tools/sam/bin/sam
CHECKOV := .tools/checkov/bin/checkov

.PHONY: setup demo test lint format bench validate clean

setup: $(VENV)/.installed-$(IMAGE_PYTHON)

$(VENV)/.installed-$(IMAGE_PYTHON): requirements-dev.txt layers/requirements.txt pyproject.toml devtools/pyproject.toml Dockerfile
	@test -n "$(PYTHON)" || python3 devtools/lambda_image.py find-python
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e . -e devtools
	touch $@

demo: setup ## the S3 -> Lambda flow on an embedded local S3 + DynamoDB, with a generated AVI
	$(VENV)/bin/avi2mp4 demo

test: setup lint ## lint, type-check, then every test (unit + integration)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup $(SAM) $(CHECKOV)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	AWS_DEFAULT_REGION=us-east-1 $(VENV)/bin/cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 $(SAM) validate --lint
	# Accepted findings are skipped in template.yaml, each with its reason (Metadata.checkov.skip);
	# checkov reads the template as written, and as SAM expands it (roles, policies, permissions).
	$(CHECKOV) -f template.yaml --framework cloudformation --compact --quiet --skip-download
	mkdir -p .aws-sam
	AWS_DEFAULT_REGION=us-east-1 .tools/sam/bin/python devtools/sam_expand.py template.yaml .aws-sam/expanded-template.json
	$(CHECKOV) -f .aws-sam/expanded-template.json --framework cloudformation --compact --quiet --skip-download

# SAM CLI pins its own boto3, so it lives in a venv of its own.
$(SAM): requirements-sam.txt
	python3 -m venv .tools/sam
	.tools/sam/bin/pip install --quiet -r requirements-sam.txt
	touch $@

# checkov, like SAM CLI, pins what it needs in a venv of its own.
$(CHECKOV): requirements-checkov.txt
	python3 -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup ## speed and memory against the ffmpeg CLI, measured in the same run
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_deadframes.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache build *.egg-info .aws-sam
