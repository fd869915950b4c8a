# The two quick-start commands (README): `make demo` and `make test`. Both set up .venv first.
VENV ?= .venv
PY := $(VENV)/bin/python
# The venv runs the Lambda image's Python (read from the Dockerfile), so what is tested is what ships.
IMAGE_PYTHON := $(shell python3 devtools/lambda_image.py python-version)
PYTHON ?= $(shell python3 devtools/lambda_image.py find-python 2>/dev/null)
PYTEST_ARGS ?= -n 2
SAM := .tools/sam/bin/sam
CHECKOV := .tools/checkov/bin/checkov
LABEL_STUDIO := .tools/label-studio/bin/label-studio

UV := $(VENV)/bin/uv
LOCK := $(UV) pip compile --quiet --generate-hashes --no-strip-extras --custom-compile-command "make lock"

.PHONY: setup demo sandbox test lint format bench validate clean lock

setup: $(VENV)/.installed-$(IMAGE_PYTHON)

# Every file pip fetches is checked against the lock's SHA-256 (--require-hashes). A lock is
# complete, so pip installs exactly its lines (--no-deps; `pip check` then confirms that they fit
# together); the two local projects are built with the locked setuptools (no isolated fetch).
$(VENV)/.installed-$(IMAGE_PYTHON): requirements-dev.txt layers/requirements.txt pyproject.toml devtools/pyproject.toml Dockerfile
	@test -n "$(PYTHON)" || python3 devtools/lambda_image.py find-python
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e . -e devtools
	$(PY) -m pip check
	touch $@

demo: setup ## the S3 -> Lambda flow on an embedded local S3 + DynamoDB, with a generated AVI
	$(VENV)/bin/avi2mp4 demo

sandbox: setup ## the stack on loopback until Ctrl-C, for backfill, redrive and invoke (README "Operations")
	$(VENV)/bin/avi2mp4 sandbox

test: setup lint $(LABEL_STUDIO) ## lint, type-check, then every test (unit + integration)
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
	.tools/sam/bin/pip install --quiet --require-hashes --no-deps -r requirements-sam.txt && .tools/sam/bin/pip check
	touch $@

# checkov, like SAM CLI, pins what it needs in a venv of its own.
$(CHECKOV): requirements-checkov.txt
	python3 -m venv .tools/checkov
	.tools/checkov/bin/pip install --quiet --require-hashes --no-deps -r requirements-checkov.txt && .tools/checkov/bin/pip check
	touch $@

# Label Studio (a test imports our task files with it) pins its own Django stack: a venv of its own,
# on the image's Python.
$(LABEL_STUDIO): requirements-labelstudio.txt
	@test -n "$(PYTHON)" || python3 devtools/lambda_image.py find-python
	$(PYTHON) -m venv .tools/label-studio
	.tools/label-studio/bin/pip install --quiet --require-hashes --no-deps -r requirements-labelstudio.txt && .tools/label-studio/bin/pip check
	touch $@

# The .in files say what we choose; the .txt files are their locks (every transitive dependency, the
# SHA-256 of every file), re-resolved here (needs the network). The image and the dev tools run the
# image's Python; SAM CLI and checkov run on any Python 3 (3.10+), so theirs are universal.
lock: setup
	$(LOCK) --python-version $(IMAGE_PYTHON) -o layers/requirements.txt layers/requirements.in
	$(LOCK) --python-version $(IMAGE_PYTHON) -c layers/requirements.txt -o requirements-dev.txt requirements-dev.in
	$(LOCK) --universal --python-version 3.10 -o requirements-sam.txt requirements-sam.in
	$(LOCK) --universal --python-version 3.10 -o requirements-checkov.txt requirements-checkov.in
	$(LOCK) --python-version $(IMAGE_PYTHON) -o requirements-labelstudio.txt requirements-labelstudio.in

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup ## speed and memory against the ffmpeg CLI, measured in the same run
	$(PY) bench/bench_pipeline.py
	$(PY) bench/bench_deadframes.py

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache build *.egg-info .aws-sam demo-output
