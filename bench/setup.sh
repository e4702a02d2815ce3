#!/usr/bin/env bash
# The benchmarks' own tools, never the project's dependencies (and not CI's):
# - wrk, the HTTP load generator (Debian package);
# - bench/.venv-werobot: WeRoBot and gunicorn, for the framework people would pick instead;
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y -q wrk
    else
        sudo apt-get install -y -q wrk
    fi
fi
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [ ! -x .venv-werobot/bin/gunicorn ]; then
    "$PYTHON" -m venv .venv-werobot
    .venv-werobot/bin/pip install -q 'werobot==1.13.1' 'gunicorn>=22,<28' 'cryptography>=42'
fi
