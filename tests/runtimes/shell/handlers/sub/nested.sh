handler() {
  printf '{"from":"sub/nested.sh"}'
}
