#!/usr/bin/env bash
# Regenerates the checked-in Go code for every proto under proto/.
#   tools/genproto/genproto.sh          rewrite the *.pb.go files
#   tools/genproto/genproto.sh --check  fail if the checked-in files are stale
# protoc comes from Debian (protobuf-compiler); the Go plugins are pinned here
# and installed through the Go module proxy into a private bin dir.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

if ! command -v protoc >/dev/null 2>&1; then
  echo "genproto: installing Debian's protobuf-compiler" >&2
  apt-get install -y -q protobuf-compiler >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q protobuf-compiler >/dev/null; }
fi

bin="${GENPROTO_BIN:-$root/.cache/genproto-bin}"
mkdir -p "$bin"
if [ ! -x "$bin/protoc-gen-go" ] || [ "$(cat "$bin/.versions" 2>/dev/null)" != "$PROTOC_GEN_GO_VERSION $PROTOC_GEN_GO_GRPC_VERSION" ]; then
  GOBIN="$bin" GOFLAGS=-mod=mod go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
  GOBIN="$bin" GOFLAGS=-mod=mod go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
  echo "$PROTOC_GEN_GO_VERSION $PROTOC_GEN_GO_GRPC_VERSION" > "$bin/.versions"
fi

out="$root/proto"
if [ "${1:-}" = "--check" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

protos=$(cd proto && ls */*.proto)
(cd proto && PATH="$bin:$PATH" protoc -I . \
  --go_out="$out" --go_opt=paths=source_relative \
  --go-grpc_out="$out" --go-grpc_opt=paths=source_relative \
  $protos)

if [ "${1:-}" = "--check" ]; then
  stale=0
  for f in $(cd "$out" && find . -name '*.go' | sort); do
    if ! cmp -s "$out/$f" "proto/$f"; then echo "genproto: proto/${f#./} is stale" >&2; stale=1; fi
  done
  for f in $(cd proto && find . -name '*.pb.go' | sort); do
    [ -f "$out/$f" ] || { echo "genproto: proto/${f#./} has no .proto source" >&2; stale=1; }
  done
  [ $stale = 0 ] || { echo "genproto: run tools/genproto/genproto.sh and commit the result" >&2; exit 1; }
  echo "genproto: checked-in code is fresh"
fi
