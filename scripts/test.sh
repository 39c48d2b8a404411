#!/usr/bin/env bash
# Install everything the tests need (Python deps + Debian's chromium and postgresql) and run the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/pip install -q -r requirements-test.txt   # pytest, Playwright, notebooks, psycopg, librosa
# Debian packages: chromium (browser tests) and postgresql (the study tests start a throwaway server)
pkgs=""
command -v chromium >/dev/null 2>&1 || pkgs="$pkgs chromium"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || pkgs="$pkgs postgresql"
if [ -n "$pkgs" ]; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $pkgs >/dev/null;
  else sudo apt-get update -qq && sudo apt-get install -y -qq $pkgs >/dev/null; fi
fi
. .venv/bin/activate
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 JAX_PLATFORMS=cpu
export SALSAV_REQUIRE_POSTGRES=1   # the PostgreSQL tests fail rather than skip without a server
python -m pytest -q "$@"
