#!/usr/bin/env bash
# Install salsav's runtime into ./.venv (Python >= 3.11): the pinned requirements.txt, then the
# repository itself in editable mode. Idempotent. scripts/test.sh adds requirements-test.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .venv ] || python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q -r requirements.txt
pip install -q --no-deps -e .
