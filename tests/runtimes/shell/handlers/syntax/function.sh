handler() {
  if [ -n "$1" ]; then
    echo "unterminated"
}
