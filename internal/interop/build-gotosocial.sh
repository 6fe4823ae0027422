#!/bin/sh
# Builds GoToSocial $1 (e.g. v0.18.3) into directory $2 for the opt-in interop
# test (make interop). Nothing of GoToSocial is kept in the repository: the
# module comes from the Go module proxy, its vendor/ folder is dropped (it is
# incomplete without the module's own go.sum checks) and it is built with
# -mod=mod. The result is $2/gotosocial and $2/web (templates and assets the
# server reads at start).
set -eu
ver="$1"
out="$2"
mod=github.com/superseriousbusiness/gotosocial
if [ -x "$out/gotosocial" ] && [ -d "$out/web/template" ]; then
	echo "GoToSocial $ver already built in $out"
	exit 0
fi
echo "Building GoToSocial $ver into $out (10+ minutes on a small machine)..."
export GONOSUMDB="$mod" GOFLAGS=-mod=mod
# Outside any module, so that nothing touches the repository's go.mod or go.sum.
dir=$(cd / && "${GO:-go}" mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "go mod download $mod@$ver gave no directory" >&2; exit 1; }
src="$out/src"
rm -rf "$src"
mkdir -p "$out"
cp -r "$dir" "$src"
chmod -R u+w "$src"
rm -rf "$src/vendor"
(cd "$src" && CGO_ENABLED=0 "${GO:-go}" build -trimpath -mod=mod -o "$out/gotosocial.tmp" ./cmd/gotosocial)
rm -rf "$out/web"
cp -r "$src/web" "$out/web"
mv "$out/gotosocial.tmp" "$out/gotosocial"
rm -rf "$src"
echo "GoToSocial $ver built: $out/gotosocial"
