# shellcheck shell=bash
# openruntime middleware helpers for bash (exec mode; docs/middleware-protocol.md).
#
#   #!/usr/bin/env bash
#   self=$0; [[ -L $self ]] && self=$(readlink -f "$self")   # forks only for a symlink
#   source "${self%/*}/../lib/bash/openruntime-middleware.sh"
#
#   before() {                      # the event is on STDIN, the new event goes to STDOUT
#     local event; or_read_payload event
#     [[ $event == *'"ping"'* ]] && or_respond '{"pong":true}'   # short-circuit, exit 3
#     local now; or_now_ms -v now
#     or_state_set started_ms "$now"
#     or_json_add_field seen_by '"bash"' "$event"
#   }
#   after() { cat; }                # a hook that is not defined passes through anyway
#   or_run "$@"
#
# The hook functions run in the main shell: `exit N` and or_respond/or_fail end the hook.
# Their return status is the exit status (0 continue, 3 respond, 4 fail with the error
# object on STDOUT as or_fail does; anything else fails as Middleware.ExitError).
# STDOUT is the payload: write diagnostics with or_log (or >&2), and call or_fail before
# writing anything to STDOUT (what is already written cannot be taken back).
# Bash variables cannot hold NUL bytes: stream binary payloads (cat, head, ...) instead
# of reading them into variables. Persistent mode is not offered by this helper; use
# `mode: exec` (the default) for bash middlewares.

# The invocation context (the full set is in the OPENRUNTIME_* variables).
or_hook() { printf '%s' "${OPENRUNTIME_HOOK:-}"; }
or_request_id() { printf '%s' "${OPENRUNTIME_REQUEST_ID:-}"; }

or_log() { printf '%s\n' "$*" >&2; }

# Helpers that produce a value print it, or with `-v VAR` (like printf) store it in VAR:
# no subshell, so no fork, which matters when the process starts once per call.
__or_out() {  # __or_out VAR VALUE: VAR empty means print
  if [[ -n $1 ]]; then printf -v "$1" '%s' "$2"; else printf '%s' "$2"; fi
}

# Milliseconds since the epoch ($EPOCHREALTIME needs bash >= 5; date is the fallback).
or_now_ms() {
  local __var=''
  [[ ${1:-} == -v ]] && { __var=$2; shift 2; }
  local __t
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    __t=${EPOCHREALTIME/[.,]/}
    __t=$(( 10#$__t / 1000 ))
  else
    __t=$(date +%s%3N)
  fi
  __or_out "$__var" "$__t"
}

# Milliseconds until the invocation's deadline, never negative; status 1 when unknown.
or_remaining_ms() {
  local __var=''
  [[ ${1:-} == -v ]] && { __var=$2; shift 2; }
  local __deadline=${OPENRUNTIME_DEADLINE_MS:-} __now
  [[ $__deadline =~ ^[0-9]+$ ]] || return 1
  or_now_ms -v __now
  local __left=$(( __deadline - __now ))
  (( __left < 0 )) && __left=0
  __or_out "$__var" "$__left"
}

# True when the payload's content type is JSON (or absent: Lambda's default).
or_is_json() {
  local media=${OPENRUNTIME_CONTENT_TYPE:-application/json}
  media=${media%%;*}
  media=${media,,}
  media=${media// /}
  [[ $media == application/json || ( $media == */*+json ) ]]
}

# Read STDIN into the variable named $1, byte-exact except for NUL bytes.
or_read_payload() {
  local -n __or_target=$1
  __or_target=$(cat; printf x)
  __or_target=${__or_target%x}
}

# Answer with a response (exit status 3): `or_respond PAYLOAD`, or, without an argument,
# whatever the hook already wrote to STDOUT. Short-circuits in before, recovers in error.
or_respond() {
  (( $# )) && printf '%s' "$1"
  exit 3
}

# Fail the invocation with its own error: `or_fail MESSAGE [ERROR_TYPE]` (default type
# Middleware.Failed) prints {"errorType": …, "errorMessage": …} on STDOUT and exits 4; the
# orchestrator makes it the invocation's error as it is. The last STDERR line is
# `ERROR_TYPE: MESSAGE`, for the logs and for orchestrators that predate exit status 4.
# Call it in the main shell (not inside `$( … )` or a pipeline), before anything is
# written to STDOUT.
or_fail() {
  local __type=${2:-Middleware.Failed} __type_json __message_json
  or_json_string -v __type_json "$__type"
  or_json_string -v __message_json "${1-}"
  printf '%s: %s\n' "$__type" "${1-}" >&2
  printf '{"errorType":%s,"errorMessage":%s}' "$__type_json" "$__message_json"
  exit 4
}

# Quote a string as a JSON string (with the quotes): `or_json_string [-v VAR] STRING`.
or_json_string() {
  local __var=''
  [[ ${1:-} == -v ]] && { __var=$2; shift 2; }
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  if [[ $s == *[$'\x01'-$'\x1f']* ]]; then
    local out='' c i
    for (( i = 0; i < ${#s}; i++ )); do
      c=${s:i:1}
      if [[ $c == [$'\x01'-$'\x1f'] ]]; then
        printf -v c '\\u%04x' "'$c"
      fi
      out+=$c
    done
    s=$out
  fi
  __or_out "$__var" "\"$s\""
}

# `or_json_add_field KEY RAW_JSON [DOCUMENT]`: add `"KEY": RAW_JSON` to the JSON object
# DOCUMENT (default: STDIN) and print it. Passing the document as an argument saves the
# fork of a pipe. The member goes last, so parsers that keep the last duplicate key see the
# new value. Anything that is not a JSON object is printed unchanged. RAW_JSON must already
# be JSON (see or_json_string).
or_json_add_field() {
  local key=$1 value=$2 doc trimmed quoted
  if (( $# > 2 )); then doc=$3; else or_read_payload doc; fi
  trimmed=${doc#"${doc%%[![:space:]]*}"}
  trimmed=${trimmed%"${trimmed##*[![:space:]]}"}
  if [[ $trimmed != \{*\} ]]; then
    printf '%s' "$doc"
    return 0
  fi
  local inner=${trimmed:1:${#trimmed}-2} sep=,
  [[ $inner =~ ^[[:space:]]*$ ]] && sep=''
  or_json_string -v quoted "$key"
  printf '%s%s%s:%s}' "${trimmed%\}}" "$sep" "$quoted" "$value"
}

# Invocation-scoped state in $OPENRUNTIME_STATE_FILE, as KEY=VALUE lines (one-line values).
or_state_get() {
  local key=$1 line file=${OPENRUNTIME_STATE_FILE:-}
  [[ -n $file && -s $file ]] || return 1
  while IFS= read -r line || [[ -n $line ]]; do
    if [[ $line == "$key="* ]]; then
      printf '%s' "${line#"$key="}"
      return 0
    fi
  done < "$file"
  return 1
}

or_state_set() {
  local key=$1 value=$2 file=${OPENRUNTIME_STATE_FILE:-} line
  if [[ ! $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
    or_log "or_state_set: invalid key '$key'"
    return 2
  fi
  if [[ $value == *$'\n'* ]]; then
    or_log "or_state_set: the value of '$key' contains a newline"
    return 2
  fi
  if [[ -z $file ]]; then
    or_log "or_state_set: OPENRUNTIME_STATE_FILE is not set"
    return 1
  fi
  local lines=()
  if [[ -s $file ]]; then
    while IFS= read -r line || [[ -n $line ]]; do
      [[ $line == "$key="* ]] || lines+=("$line")
    done < "$file"
  fi
  lines+=("$key=$value")
  printf '%s\n' "${lines[@]}" > "$file"
}

# Dispatch `$1` (the hook) to the function of that name; undefined hooks pass through.
or_run() {
  local hook=${1:-}
  case $hook in
    --persistent)
      or_log "$(basename "$0"): the bash helper serves exec mode only; declare this middleware with mode: exec"
      exit 2 ;;
    -h|--help)
      printf 'usage: %s before|after|error|received|done   (payload on STDIN, result on STDOUT)\n' "$(basename "$0")"
      exit 0 ;;
    '')
      or_log "usage: $(basename "$0") before|after|error|received|done"
      exit 2 ;;
  esac
  export OPENRUNTIME_HOOK=$hook
  # `done` is a reserved word: its hook is written `function done { …; }` and called quoted.
  if [[ $hook == before || $hook == after || $hook == error || $hook == received || $hook == done ]] \
      && declare -F "$hook" > /dev/null; then
    "$hook"
    exit $?
  fi
  [[ $hook == received || $hook == done ]] && exec cat > /dev/null  # an observer's output is not used
  exec cat
}
