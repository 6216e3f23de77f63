# Shell handlers for the same behavioural checks as the Python and Node ones.
ok() {
  local event
  event=$(cat)
  printf '{"got":%s,"requestId":"%s","arn":"%s","remainingMs":%s}' \
    "$event" "$LAMBDA_REQUEST_ID" "$LAMBDA_FUNCTION_ARN" "$(remaining_time_ms)"
}

fail() {
  cat > /dev/null
  echo "shell handler failed on purpose" >&2
  return 7
}
