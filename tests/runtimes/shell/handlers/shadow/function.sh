# A handler file that defines functions named like the tools the runtime uses.
curl() { echo "the user's curl" >&2; return 99; }
tee() { echo "the user's tee" >&2; return 99; }
tail() { echo "the user's tail" >&2; return 99; }
head() { echo "the user's head" >&2; return 99; }

handler() {
  printf '%s' "$(curl)"
  cat
}

fails() {
  echo "real failure" >&2
  return 2
}
