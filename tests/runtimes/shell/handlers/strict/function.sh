# A handler file in strict mode: the options apply to the handler, not to the runtime.
set -euo pipefail

handler() {
  local word
  word=$(printf '%s' "$1" | tr -d '"')
  if [[ $word == fail ]]; then
    false            # set -e: the handler stops here with status 1
    echo "not reached"
  fi
  if [[ $word == unset ]]; then
    echo "$NOT_DEFINED_ANYWHERE"   # set -u: an error
  fi
  printf '"ok %s"' "$word"
}
