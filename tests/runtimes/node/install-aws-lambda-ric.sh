#!/usr/bin/env bash
# Install AWS's official Node.js runtime interface client (npm "aws-lambda-ric") where
# test_aws_lambda_ric_parity.py looks for it, so that the bundled Node runtime can be
# compared with it behind the emulator.
#
#   tests/runtimes/node/install-aws-lambda-ric.sh [DIR]
#
# DIR defaults to ${OPENRUNTIME_CACHE:-$HOME/.cache/openruntime}/aws-lambda-ric; the
# tests read $OPENRUNTIME_AWS_LAMBDA_RIC (the package directory) or that default.
#
# Version 3.3.0 is pinned: it is the release line for Node 20 and the last one with
# callback-style handlers (4.x needs Node >= 22 and rejects callback handlers).
# Its install step builds a native addon (aws-lambda-cpp + libcurl from bundled
# sources), which needs: cmake make g++ autoconf automake libtool (Debian/Ubuntu:
# apt-get install -y cmake make g++ autoconf automake libtool). Takes about a minute.
set -euo pipefail
version=3.3.0
dir=${1:-${OPENRUNTIME_CACHE:-$HOME/.cache/openruntime}/aws-lambda-ric}
for tool in node npm cmake make g++ autoreconf libtoolize; do
  command -v "$tool" >/dev/null || { echo "missing build tool: $tool" >&2; exit 1; }
done
mkdir -p "$dir"
cd "$dir"
[[ -f package.json ]] || printf '{"name":"aws-lambda-ric-for-tests","private":true}\n' >package.json
npm install --no-audit --no-fund "aws-lambda-ric@$version"
pkg=$dir/node_modules/aws-lambda-ric
if [[ ! -f $pkg/dist/rapid-client.node ]]; then
  echo "aws-lambda-ric installed but its native client was not built ($pkg/dist/rapid-client.node)" >&2
  exit 1
fi
echo "installed: $pkg"
echo "tests use it via OPENRUNTIME_AWS_LAMBDA_RIC=$pkg (or this default location)"
