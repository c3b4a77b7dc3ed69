#!/usr/bin/env bash
# The coordinationz peer's own virtual environment (its dependencies, spaCy among them, stay out
# of swarmscope's): coordinationz 0.2.2 and spaCy from PyPI, then the offline stand-ins that
# bench/peers/cz_run.py writes (nothing else is downloaded). Idempotent; prints the interpreter.
#   bash bench/peers/coordinationz_env.sh [VENV]      (default: .venv-coordinationz)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
venv=${1:-$repo/.venv-coordinationz}
if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q coordinationz==0.2.2 spacy==3.8.18 spacy-lookups-data==1.0.5
if [ ! -f "$venv/standins/nltk_data/corpora/stopwords/english" ]; then
    "$venv/bin/python" "$repo/bench/peers/cz_run.py" standins "$venv/standins"
fi
echo "$venv/bin/python"
