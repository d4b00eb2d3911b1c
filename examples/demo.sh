#!/usr/bin/env bash
# The main job on sample data: translate the seed guests under examples/ both ways.
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
bash packaging/build-release.sh --quiet
vifkit=target/release/vifkit
run() { printf '\n$ vifkit %s\n' "$*"; "$vifkit" "$@"; }
run cfg2xml examples/alice.cfg          # seed 000: routed guest
run cfg2xml examples/dolly.cfg          # seed 000: NAT guest
run cfg2xml examples/vlan900.cfg        # seed 004: xm-style ioemu NICs on br900..br903
run cfg2xml examples/ovs.cfg            # Open vSwitch: tagged, trunked, native+trunks
run cfg2xml examples/xen419-vlan.cfg   # Xen 4.19 vlan= on a Linux bridge
run vif2xml --xl-conf examples/xl.conf '' 'mac=00:16:3e:01:01:01,bridge=xenbr0.102'
run xml2vif --network default=virbr0 examples/vlan900.xml
run xml2vif --connect test:///default --list examples/vlan900.xml
run patch-cfg --network default=virbr0 examples/vlan900.cfg examples/vlan900.xml
run vif2xml --guest pv 'mac=00:16:3e:4f:94:a9,bridge=br0,rate=100Mb/s@20ms'
run mac --xen-oui --count 2
