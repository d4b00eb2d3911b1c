//! Bench inputs: representative vif specs and a deterministic 500-vif xl config.
//!
//! Lives in `benches/data/` (not `benches/data.rs`) so that Cargo's bench
//! auto-discovery does not turn it into a bench target of its own.

use std::fmt::Write;

/// `(name, spec)`: the specs `vif_parse`, `spec_to_xml` and `xml_to_spec` measure.
pub const SPECS: [(&str, &str); 3] = [
    ("short", "bridge=br0"),
    (
        "typical",
        "mac=00:16:3e:01:02:03,bridge=xenbr0,script=vif-bridge,model=e1000",
    ),
    (
        "rich_ovs",
        "mac=00:16:3e:0a:0b:0c,bridge=ovsbr0.102:200:300,script=vif-openvswitch,\
         rate=10MB/s,ip=10.0.0.1 10.0.1.1/24,vifname=vm12.0",
    ),
];

/// A `virsh dumpxml`-style element: what `xml_to_spec` sees from a live libvirt domain
/// (`<target>`, `<alias>` and `<address>` included; the reader drops the last two).
pub const VIRSH_XML: &str = "<interface type='bridge'>
  <mac address='00:16:3e:0a:0b:0c'/>
  <source bridge='ovsbr0'/>
  <vlan trunk='yes'>
    <tag id='102' nativeMode='untagged'/>
    <tag id='200'/>
    <tag id='300'/>
  </vlan>
  <virtualport type='openvswitch'/>
  <bandwidth>
    <outbound average='9766'/>
  </bandwidth>
  <ip address='10.0.0.1'/>
  <ip address='10.0.1.1' prefix='24'/>
  <script path='vif-openvswitch'/>
  <target dev='vm12.0'/>
  <model type='e1000'/>
  <alias name='net0'/>
  <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
</interface>
";

/// How many vifs [`config`] holds.
pub const VIFS: usize = 500;

/// Knuth's MMIX LCG; the high bits are the usable ones.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.below(100) < percent
    }
}

/// Which spellings a config uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// Everything vifkit reads.
    Full,
    /// Only what libvirt 9.0's own converter reads: no address prefixes (it refuses
    /// `ip=10.0.0.1/24`), and an OVS native VLAN with trunks (`br.10:20`, which it
    /// refuses) written as one more trunk (`br:10:20`). The same NICs otherwise: the
    /// same random draws, for comparing the two converters on one input.
    Libvirt,
}

/// One varied vif spec. Every spec translates for an HVM guest without warnings (a
/// typical config, not an error path): OVS access ports, trunks and native VLANs, Linux
/// bridges, the default script, rates with and without an interval, one to three IPv4
/// and IPv6 addresses, vifnames, emulated models, `type=vif`, jumbo MTUs.
fn spec(r: &mut Lcg, index: usize, form: Form) -> String {
    let mut s = String::with_capacity(160);
    let b = r.next();
    let _ = write!(
        s,
        "mac=00:16:3e:{:02x}:{:02x}:{:02x}",
        (b >> 16) & 0x7f,
        (b >> 8) & 0xff,
        b & 0xff
    );
    match r.below(10) {
        // Open vSwitch: access port, trunk, or native VLAN plus trunks.
        0..=4 => {
            let _ = write!(s, ",bridge=ovsbr{}", r.below(4));
            let vlans = r.below(3);
            if vlans != 1 {
                // A native VLAN before trunks: a trunk too, in libvirt's form.
                let sep = if vlans == 2 && form == Form::Libvirt {
                    ':'
                } else {
                    '.'
                };
                let _ = write!(s, "{sep}{}", 1 + r.below(4094));
            }
            if vlans != 0 {
                for _ in 0..1 + r.below(4) {
                    let _ = write!(s, ":{}", 1 + r.below(4094));
                }
            }
            s.push_str(",script=vif-openvswitch");
        }
        // A Linux bridge, script named (sometimes by path).
        5..=7 => {
            let _ = write!(s, ",bridge=xenbr{}", r.below(8));
            s.push_str(if r.chance(30) {
                ",script=/etc/xen/scripts/vif-bridge"
            } else {
                ",script=vif-bridge"
            });
        }
        // A Linux bridge with Xen's default script.
        _ => {
            let _ = write!(s, ",bridge=br{}", r.below(100));
        }
    }
    if r.chance(40) {
        s.push_str(",ip=");
        for i in 0..1 + r.below(3) {
            if i > 0 {
                s.push(' ');
            }
            if r.chance(25) {
                let _ = write!(
                    s,
                    "2001:db8:{:x}::{:x}",
                    r.below(0xffff),
                    1 + r.below(0xfff)
                );
                if form == Form::Full {
                    s.push_str("/64");
                }
            } else {
                let _ = write!(
                    s,
                    "10.{}.{}.{}",
                    r.below(256),
                    r.below(256),
                    1 + r.below(254)
                );
                if r.chance(50) {
                    let prefix = 8 + r.below(23);
                    if form == Form::Full {
                        let _ = write!(s, "/{prefix}");
                    }
                }
            }
        }
    }
    match r.below(10) {
        0..=5 => {
            const MODELS: [&str; 4] = ["e1000", "rtl8139", "virtio-net", "e1000-82545em"];
            let _ = write!(s, ",model={}", MODELS[r.below(4) as usize]);
        }
        6 => s.push_str(",type=vif"),
        7 => s.push_str(",type=ioemu"),
        _ => {}
    }
    if r.chance(40) {
        let _ = write!(s, ",vifname=vm{}.{}", r.below(1000), index % 8);
    }
    if r.chance(35) {
        const RATES: [&str; 6] = [
            "10MB/s",
            "100Mb/s",
            "1GB/s",
            "512Kb/s",
            "25MB/s@50ms",
            "2000000B/s",
        ];
        let _ = write!(s, ",rate={}", RATES[r.below(6) as usize]);
    }
    if r.chance(10) {
        s.push_str(",mtu=9000");
    }
    s
}

/// The 500-vif HVM guest config, the same bytes on every run.
pub fn config() -> String {
    config_in(Form::Full)
}

/// [`config`] in the given form.
pub fn config_in(form: Form) -> String {
    let mut r = Lcg(0x5eed_0f71_fc0f);
    let mut out = String::with_capacity(VIFS * 170);
    out.push_str(
        "# vifkit bench: 500 varied vifs (generated by translator/benches/data)\n\
         name = \"bench500\"\n\
         type = \"hvm\"\n\
         memory = 4096\n\
         vcpus = 8\n\
         disk = [ 'phy:/dev/vg0/bench500,xvda,w' ]\n\
         vif = [\n",
    );
    for i in 0..VIFS {
        let _ = writeln!(
            out,
            "    '{}'{}",
            spec(&mut r, i, form),
            if i + 1 < VIFS { "," } else { "" }
        );
    }
    out.push_str("]\n");
    out
}
