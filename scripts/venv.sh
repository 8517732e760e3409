# Sourced by scripts/serve and scripts/test: a virtualenv in .venv with the package
# installed (editable). Re-installs only when pyproject.toml changed since last time.
ensure_venv() {
  local extras="$1"
  local stamp=".venv/.installed${extras}"
  # The test install holds everything serve needs: no second pip run after scripts/test.
  if [ -z "$extras" ] && [ -f ".venv/.installed[test]" ] && [ ! pyproject.toml -nt ".venv/.installed[test]" ]; then
    return 0
  fi
  # A venv whose creation failed (Debian without python3-venv leaves a python but no
  # pip) is made again, not reused broken once the missing package is installed.
  if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    rm -rf .venv
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
  fi
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --editable ".${extras}"
    touch "$stamp"
  fi
}
