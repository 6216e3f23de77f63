# Handlers used by tests/runtimes/shell/test_shell_runtime.py.
# Sourced once at init; each handler runs in a subshell per invocation.

INIT_TIME_VALUE="set when the file was sourced"

# Echo the event back: stdin is the event's exact bytes.
echo_stdin() {
  cat
}

# $1 is the event too (the AWS tutorial convention).
echo_arg() {
  printf '%s' "$1"
}

# Both inputs, side by side, as JSON (the event is JSON here).
both() {
  local from_stdin
  from_stdin=$(cat)
  printf '{"stdin":%s,"arg":%s}' "$from_stdin" "$1"
}

context() {
  printf '{"LAMBDA_REQUEST_ID":"%s","AWS_REQUEST_ID":"%s","LAMBDA_FUNCTION_ARN":"%s",' \
    "$LAMBDA_REQUEST_ID" "$AWS_REQUEST_ID" "$LAMBDA_FUNCTION_ARN"
  printf '"LAMBDA_DEADLINE_MS":%s,"_X_AMZN_TRACE_ID":"%s","remaining":%s,' \
    "$LAMBDA_DEADLINE_MS" "${_X_AMZN_TRACE_ID:-}" "$(remaining_time_ms)"
  printf '"LAMBDA_CLIENT_CONTEXT":%s,"LAMBDA_COGNITO_IDENTITY":%s,"LAMBDA_TENANT_ID":"%s",' \
    "${LAMBDA_CLIENT_CONTEXT:-null}" "${LAMBDA_COGNITO_IDENTITY:-null}" "${LAMBDA_TENANT_ID:-}"
  printf '"init":"%s","task_root":"%s","function_name":"%s"}' \
    "$INIT_TIME_VALUE" "$LAMBDA_TASK_ROOT" "$AWS_LAMBDA_FUNCTION_NAME"
}

remaining_after_sleep() {
  local before after
  before=$(remaining_time_ms)
  sleep 0.3
  after=$(remaining_time_ms)
  printf '{"before":%s,"after":%s}' "$before" "$after"
}

fails() {
  echo "starting the work" >&2
  echo "could not reach the database: connection refused" >&2
  return 3
}

calls_exit() {
  echo "about to exit" >&2
  exit 42
}

exit_zero_early() {
  printf '"partial output, then exit 0"'
  exit 0
  printf 'never printed'
}

pid() {
  # $$ is the runtime's pid (subshells keep it); BASHPID is the subshell's own
  printf '{"runtime_pid":%s,"subshell_pid":%s}' "$$" "$BASHPID"
}

# Sets a variable and changes directory: none of that may leak into the next call.
mutate() {
  printf '{"seen":"%s","pwd":"%s"}' "${LEAKED_VAR:-}" "$PWD"
  LEAKED_VAR=leaked
  cd /
}

noisy_stderr() {
  local i
  for ((i = 0; i < 2000; i++)); do
    echo "noise line $i" >&2
  done
  echo "the last line says what went wrong" >&2
  return 1
}

binary_stderr() {
  printf 'ctl \001\002 tab\t quote" backslash\\ bad utf8 \377\376 ok é\n' >&2
  return 5
}

background_job() {
  sleep 30 &
  printf '"answered"'
}

empty_output() {
  :
}

size() {
  wc -c | tr -d ' \n'
}

logs() {
  echo "a log line for $LAMBDA_REQUEST_ID" >&2
  printf '"done"'
}
