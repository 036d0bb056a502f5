#!/usr/bin/env bash
# Builds tcpdash's release from a clean clone into dist/: static binaries
# (tcpdash, and tcpdash-exporter, which `tcpdash exporter` runs)
# for linux/amd64 and linux/arm64 (CGO_ENABLED=0, -trimpath) stamped with
# the version and commit, their checksums, the man page, the shell
# completions, and .deb and .rpm packages for both architectures, made by
# nfpm run through the Go module proxy (pinned).
#
#   scripts/package.sh [VERSION]    (default: from git describe)
set -euo pipefail
cd "$(dirname "$0")/.."
NFPM_VERSION=v2.45.2
commit=$(git rev-parse HEAD)
date=$(git log -1 --format=%cI)
version=${1:-$(git describe --tags --always --dirty 2>/dev/null || echo "0.0.0-$commit")}
version=${version#v}
[[ $version =~ ^[0-9]+\.[0-9]+ ]] || version="0.0.0~git${version//-/.}"
dist=$PWD/dist
rm -rf "$dist"
mkdir -p "$dist/completions"

pkg=github.com/tcpdash/tcpdash/internal/version
ldflags="-s -w -X $pkg.version=v$version -X $pkg.commit=$commit -X $pkg.date=$date"
for arch in amd64 arm64; do
  mkdir -p "$dist/$arch"
  for cmd in tcpdash tcpdash-exporter; do
    src=.
    [ "$cmd" = tcpdash ] || src=./cmd/$cmd
    CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false -ldflags "$ldflags" -o "$dist/$arch/$cmd" "$src"
    cp "$dist/$arch/$cmd" "$dist/$cmd-linux-$arch"
  done
done

# What the packages hold besides the binary, from the binary itself.
host=$dist/$(go env GOARCH)/tcpdash
"$host" completion bash >"$dist/completions/tcpdash.bash"
"$host" completion zsh >"$dist/completions/_tcpdash"
"$host" completion fish >"$dist/completions/tcpdash.fish"
gzip -9n <docs/tcpdash.1 >"$dist/tcpdash.1.gz"
# The packaged unit runs /usr/bin/tcpdash-exporter with the defaults file's flags.
sed -e 's|^ExecStart=.*|EnvironmentFile=-/etc/default/tcpdash-exporter\nExecStart=/usr/bin/tcpdash-exporter $TCPDASH_EXPORTER_ARGS|' \
  -e 's|^#   sudo cp .*|#   installed by the tcpdash package; flags in /etc/default/tcpdash-exporter|' \
  deploy/systemd/tcpdash-exporter.service >"$dist/tcpdash-exporter.service"

# nfpm expands no variables in file paths: the config is written out per
# architecture.
go build -o "$dist/nfpm" "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION" 2>/dev/null ||
  GOBIN=$dist go install "github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION"
for arch in amd64 arm64; do
  sed -e "s|\${ARCH}|$arch|g" -e "s|\${VERSION}|$version|g" -e "s|\${DIST}|$dist|g" \
    deploy/packaging/nfpm.yaml >"$dist/nfpm-$arch.yaml"
  for packager in deb rpm; do
    "$dist/nfpm" package --config "$dist/nfpm-$arch.yaml" --packager "$packager" --target "$dist/"
  done
done
rm -f "$dist/nfpm" "$dist"/nfpm-*.yaml
(cd "$dist" && sha256sum tcpdash-linux-* tcpdash-exporter-linux-* ./*.deb ./*.rpm >SHA256SUMS)
ls -l "$dist"
