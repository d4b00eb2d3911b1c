#!/usr/bin/env bash
# Installs what building and testing vifkit needs on Debian (run as root). Idempotent:
# skips apt when every package is already there.
set -euo pipefail
pkgs=(
  build-essential pkg-config
  libclang-dev          # bindgen (xl-sys)
  libxen-dev            # libxlutil / libxenlight (xl-sys, differential tests)
  libvirt-dev           # the virt crate (--connect)
  libvirt-clients libvirt-daemon   # virsh -c test:///default: libvirt's own parser in tests
  libxml2-utils         # virt-xml-validate needs xmllint
  dbus-daemon dbus-bin systemd polkitd libglib2.0-bin   # D-Bus tests: private buses,
                        # busctl, gdbus, dbus-send, systemd-analyze verify, polkit's DTD
  libvirt-dbus          # the peer in packaging/bench-dbus.sh
  libglib2.0-dev-bin libglib2.0-dev   # gdbus-codegen and GIO's headers: a C client made
                        # from packaging/dbus/interfaces/ (tests/dbus.rs)
  libvirt-daemon-system qemu-system-x86   # a private real libvirtd with TCG guests
                        # (tests/libvirtd.rs, packaging/bench-libvirtd.sh)
  util-linux            # unshare, nsenter: the private libvirtd's namespaces
  hyperfine             # whole-process timings in benchmarks
  iputils-ping          # routed-guest reachability tests (ping inside a test netns)
  openvswitch-switch    # ovsdb-server, ovs-vswitchd, ovs-vsctl: private userspace OVS in tests
  nftables              # nft: masquerading for NAT guests (vif-nat), tested in a private netns
  debhelper lintian man-db bash-completion   # the Debian package: build, lint, install test
  ifupdown bridge-utils # vifkit export: ifquery reads, ifup brings up (in a test netns) its stanzas
  python3-gi gir1.2-nm-1.0   # vifkit export: libnm's keyfile reader checks its NetworkManager files
  protobuf-compiler libprotobuf-dev   # protoc and its well-known types: etcd-client's build
  etcd-server etcd-client   # etcd, etcdctl: the three-member clusters of the fleet tests
  cockpit-ws cockpit-bridge chromium   # tests/cockpit.rs: the Cockpit page served by
                        # cockpit-ws with a local session, in headless Chromium
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "cargo is missing: install Rust (rustup) first" >&2
    exit 1
  fi
fi
