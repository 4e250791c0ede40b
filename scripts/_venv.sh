# Sourced by the scripts: ensure_venv EXTRAS creates .venv when missing and installs the package with the
# given extras (e.g. "dev" or "dev,bench") once per pyproject.toml version. Needs Python 3.11+ as python3
# (or $PYTHON).
ensure_venv() {
  local extras=$1 python=${PYTHON:-python3} stamp
  if [ ! -x .venv/bin/python ]; then
    "$python" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
    "$python" -m venv .venv
  fi
  stamp=.venv/.installed-${extras//,/-}-$(sha256sum pyproject.toml | cut -c1-16)
  if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[$extras]"
    touch "$stamp"
  fi
}
