#!/usr/bin/env bash
# Install salsav into ./.venv (Python >= 3.11). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d .venv ] || python3 -m venv .venv
. .venv/bin/activate
pip install -q --upgrade pip
pip install -q -r requirements.txt
pip install -q --no-deps -e .
