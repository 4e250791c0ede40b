#!/usr/bin/env bash
# The only writer of generated/: turns openapi/together-chat.yaml into the typed package
# generated/together_api_client with pinned tools, deterministically.
#
#   scripts/generate.sh            regenerate in place
#   scripts/generate.sh OUT_DIR    write the package to OUT_DIR/together_api_client instead (used by the
#                                  no-op test to compare against what is committed)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out_parent=${1:-"$root/generated"}
py="$root/.venv/bin/python"
[ -x "$py" ] || py=$(command -v python3)
bin=$(dirname "$py")
export PATH="$bin:$PATH"   # the generator's ruff post-hooks must find the pinned ruff

want_gen=0.29.1 want_ruff=0.17.6
have_gen=$("$py" -c 'import importlib.metadata as m; print(m.version("openapi-python-client"))' 2>/dev/null || true)
have_ruff=$(ruff --version 2>/dev/null | awk '{print $2}')
if [ "$have_gen" != "$want_gen" ] || [ "$have_ruff" != "$want_ruff" ]; then
  echo "generate.sh: needs openapi-python-client==$want_gen and ruff==$want_ruff (have '${have_gen:-none}', '${have_ruff:-none}')" >&2
  echo "  install them with: $py -m pip install -e '.[codegen]'" >&2
  exit 2
fi

# Generate outside the repository so the project's own ruff settings (which exclude generated/)
# cannot change how the post-hooks format the code.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && openapi-python-client generate \
  --path "$root/openapi/together-chat.yaml" \
  --config "$root/openapi/config.yaml" \
  --meta none \
  --output-path "$work/together_api_client" \
  --fail-on-warning >"$work/log" 2>&1) || { cat "$work/log" >&2; exit 1; }
rm -rf "$work/together_api_client/.ruff_cache"
printf '' >"$work/together_api_client/py.typed"   # typed package marker (PEP 561)

mkdir -p "$out_parent"
rm -rf "$out_parent/together_api_client"
cp -R "$work/together_api_client" "$out_parent/together_api_client"
echo "generated $out_parent/together_api_client"
