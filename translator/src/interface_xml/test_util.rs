//! Helpers shared by the tests of the `interface_xml` modules.

use crate::interface::{Dropped, Interface, InterfaceType, IpElem, NativeMode, Vlan, VlanTag};

use super::{read_interface, write_interface, Style, XmlError};

pub(super) const PRETTY: &str = "    <interface type='bridge'>
      <mac address='00:16:3e:01:01:01'/>
      <source bridge='xenbr0'/>
      <vlan trunk='yes'>
        <tag id='10' nativeMode='untagged'/>
        <tag id='20'/>
      </vlan>
      <virtualport type='openvswitch'/>
      <bandwidth>
        <outbound average='12800'/>
      </bandwidth>
      <ip address='10.0.0.1' family='ipv4' prefix='24'/>
      <script path='vif-openvswitch'/>
      <backenddomain name='netdom'/>
      <target dev='vifalice.0'/>
      <model type='e1000'/>
      <mtu size='9000'/>
    </interface>
";

pub(super) fn full() -> Interface<'static> {
    let mut i = Interface::new(InterfaceType::Bridge);
    i.mac = Some("00:16:3e:01:01:01".parse().unwrap());
    i.source_bridge = Some("xenbr0".into());
    i.vlan = Some(Vlan {
        trunk: true,
        tags: vec![
            VlanTag {
                id: 10,
                native_mode: Some(NativeMode::Untagged),
            },
            VlanTag {
                id: 20,
                native_mode: None,
            },
        ],
    });
    i.virtualport = Some("openvswitch".into());
    i.outbound_average = Some(12800);
    i.ips = vec![IpElem {
        address: "10.0.0.1".parse().unwrap(),
        prefix: Some(24),
    }];
    i.script = Some("vif-openvswitch".into());
    i.backend_domain = Some("netdom".into());
    i.target_dev = Some("vifalice.0".into());
    i.model = Some("e1000".into());
    i.mtu = Some(9000);
    i
}

pub(super) fn pretty(iface: &Interface<'_>, indent: &str, step: &str) -> String {
    let mut s = String::new();
    write_interface(iface, Style::Pretty { indent, step }, &mut s);
    s
}

pub(super) fn compact(iface: &Interface<'_>) -> String {
    let mut s = String::new();
    write_interface(iface, Style::Compact, &mut s);
    s
}

pub(super) fn paths(d: &[Dropped]) -> Vec<&str> {
    d.iter().map(|d| d.path.as_str()).collect()
}

/// The innermost error of a chain, through `Interface` wrappers.
pub(super) fn inner(e: &XmlError) -> &XmlError {
    match e {
        XmlError::Interface { source, .. } => inner(source),
        other => other,
    }
}

pub(super) const DOMAIN: &str = "<?xml version='1.0'?>
<domain type='xen'>
  <name>alice</name>
  <metadata>
    <my:cfg xmlns:my='urn:example'>
      <interface type='bridge'><mac address='zz'/></interface>
    </my:cfg>
  </metadata>
  <os>
    <type arch='x86_64' machine='xenfv'>hvm</type>
    <loader type='rom'>/usr/lib/xen/boot/hvmloader</loader>
  </os>
  <devices>
    <emulator>/usr/lib/xen/bin/qemu-system-i386</emulator>
    <interface type='bridge'>
      <mac address='00:16:3e:01:01:01'/>
      <source bridge='xenbr0'/>
      <script path='vif-bridge'/>
    </interface>
    <disk type='file' device='disk'>
      <interface type='ignored'/>
    </disk>
    <interface type='ethernet'>
      <mac address='00:16:3e:01:01:02'/>
      <link state='down'/>
    </interface>
    <console type='pty'/>
  </devices>
</domain>
";

pub(super) fn err(xml: &str) -> XmlError {
    match read_interface(xml) {
        Ok(p) => panic!("{xml} read as {p:?}"),
        Err(e) => e,
    }
}

pub(super) fn wrap(children: &str) -> String {
    format!("<interface type='bridge'>{children}</interface>")
}
