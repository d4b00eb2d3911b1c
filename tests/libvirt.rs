//! libvirt's own parser and schemas accept every element vifkit writes.
//!
//! - `virsh -c test:///default` runs libvirt's real domain parser and formatter in
//!   process: each output is defined inside a minimal `<domain type='test'>` and read
//!   back with `dumpxml`; the interfaces must come back unchanged, except for what
//!   libvirt fills in itself (a generated MAC and target name when none was given, an
//!   Open vSwitch interfaceid).
//! - `virt-xml-validate` checks a Xen domain holding them against libvirt's RelaxNG
//!   schema.
//!
//! Also `--connect test:///default`, whose `default` network exists.

mod common;

use std::path::Path;
use std::process::Command;

use common::{canonical, root, shared_corpus, vifkit};

/// Specs covering every key and form vifkit writes XML for.
const SPECS: &[(&str, &str)] = &[
    ("hvm", "mac=00:16:3e:00:00:01,bridge=xenbr0,script=vif-bridge,model=e1000"),
    ("hvm", "mac=00:16:3e:00:00:02,bridge=ovsbr0.102,script=vif-openvswitch"),
    ("hvm", "mac=00:16:3e:00:00:03,bridge=ovsbr0:101:202,script=vif-openvswitch,type=vif"),
    ("hvm", "mac=00:16:3e:00:00:04,bridge=ovsbr0.10:20:30,script=vif-openvswitch,rate=100Mb/s"),
    ("hvm", "bridge=br0,vlan=10p/20-22,mtu=9000,backend=netdom"),
    ("hvm", "bridge=br0,vlan=7"),
    ("hvm", "ip=10.0.0.1/24 2001:db8::1/64 10.1.1.1,script=vif-route,vifname=guest0.0"),
    ("hvm", "bridge=br.lan,script=vif-bridge,model=rtl8139,rate=2000000B/s"),
    ("hvm", "bridge=br0,model=e1000-82545em,rate=1GB/s"),
    ("hvm", "type=ioemu, bridge=br900"),
    ("hvm", "mac=02:00:00:00:00:01,script=/etc/xen/scripts/vif-nat,ip=10.0.0.2"),
    ("hvm", ""),
    ("pv", "mac=00:16:3e:4f:94:a9,ip=192.168.1.21,vifname=vifalice.0,script=/etc/xen/scripts/vif-route-ifup"),
    ("pv", "bridge=br1,backend=netdom,mtu=9000,type=vif"),
    ("pvh", "bridge=br1,model=netfront,rate=10MB/s"),
    ("hvm", "bridge=xenbr0,type=netfront,model=e1000"),
    ("hvm", "type=ioemu,  bridge=xenbr0,model=e1000e"),
    ("hvm", "bridge=xenbr0,model=virtio-net-pci,colo_sock_mirror_id=1,forwarddev=eth1"),
    ("pv", "bridge=xenbr0,model=rtl8139"),
];

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Every element vifkit writes for SPECS, the corpus and the examples, one string each.
fn outputs() -> Vec<String> {
    let mut all = Vec::new();
    let mut push_run = |out: common::Output| {
        assert_eq!(out.status, 0, "{}", out.stderr);
        all.extend(split_interfaces(&out.stdout));
    };
    for (guest, spec) in SPECS {
        push_run(vifkit(&["vif2xml", "--guest", guest, "--", spec], None));
    }
    let corpus = shared_corpus();
    for case in corpus["vif2xml"].as_array().unwrap() {
        if case.get("xl_conf").is_some() {
            continue;
        }
        let mut args = vec![
            "vif2xml".to_owned(),
            "--guest".to_owned(),
            case["guest"].as_str().unwrap().to_owned(),
            "--".to_owned(),
        ];
        args.extend(
            case["specs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned()),
        );
        push_run(vifkit(&args, None));
    }
    for entry in std::fs::read_dir(root().join("examples")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "cfg") {
            push_run(vifkit(&["cfg2xml", p.to_str().unwrap()], None));
        }
    }
    assert!(all.len() > 30, "only {} elements", all.len());
    all
}

/// Splits vifkit's output into its `<interface>` elements.
fn split_interfaces(xml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<interface") {
        let end =
            rest[start..].find("</interface>").expect("closed") + start + "</interface>".len();
        out.push(rest[start..end].to_owned());
        rest = &rest[end..];
    }
    out
}

/// Removes from libvirt's canonical interface what libvirt generated itself: a MAC or
/// a target when the input had none, and the parameters of an OVS virtualport.
fn without_fill_ins(ours: &[String], theirs: Vec<String>) -> Vec<String> {
    let has = |prefix: &str| ours.iter().any(|e| e.starts_with(prefix));
    let mut out = Vec::new();
    let mut skip_until: Option<String> = None;
    for e in theirs {
        if let Some(end) = &skip_until {
            if *end == e {
                skip_until = None;
            }
            continue;
        }
        let fill = (e.starts_with("<mac ") && !has("<mac "))
            || (e.starts_with("<target ") && !has("<target "))
            || (e.starts_with("<parameters ") && !has("<parameters "));
        if fill {
            let name = e[1..].split(' ').next().unwrap().to_owned();
            skip_until = Some(format!("</{name}>"));
            continue;
        }
        out.push(e);
    }
    out
}

fn domain(kind: &str, name: &str, os: &str, ifaces: &[String]) -> String {
    let mut d = format!(
        "<domain type='{kind}'>\n  <name>{name}</name>\n  <memory unit='KiB'>262144</memory>\n  <os>\n    <type>{os}</type>\n"
    );
    if os == "xen" {
        d.push_str("    <kernel>/boot/vmlinuz</kernel>\n");
    }
    d.push_str("  </os>\n  <devices>\n");
    for i in ifaces {
        d.push_str(i);
        d.push('\n');
    }
    d.push_str("  </devices>\n</domain>\n");
    d
}

#[test]
fn libvirt_parser_keeps_every_element() {
    if !have("virsh") {
        panic!("virsh is missing: run tests/run.sh, which installs libvirt-clients");
    }
    let ours = outputs();
    let dir = std::env::temp_dir().join(format!("vifkit-libvirt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dom.xml");
    std::fs::write(&file, domain("test", "vifkit", "hvm", &ours)).unwrap();
    let out = Command::new("virsh")
        .args(["-q", "-c", "test:///default"])
        .arg(format!("define {}; dumpxml vifkit", file.display()))
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "virsh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = split_interfaces(&stdout);
    assert_eq!(
        theirs.len(),
        ours.len(),
        "libvirt kept {} of {} interfaces",
        theirs.len(),
        ours.len()
    );
    for (o, t) in ours.iter().zip(theirs) {
        let co = canonical(o);
        let ct = without_fill_ins(&co, canonical(&t));
        assert_eq!(ct, co, "libvirt changed\n{o}\ninto\n{t}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Defines `ifaces` in a test domain and returns the interfaces libvirt prints back.
fn define_and_dump(name: &str, ifaces: &[String], inactive: bool) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!("vifkit-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dom.xml");
    std::fs::write(&file, domain("test", name, "hvm", ifaces)).unwrap();
    let dump = if inactive {
        "dumpxml --inactive"
    } else {
        "dumpxml"
    };
    let out = Command::new("virsh")
        .args(["-q", "-c", "test:///default"])
        .arg(format!("define {}; {dump} {name}", file.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "virsh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    split_interfaces(&String::from_utf8(out.stdout).unwrap())
}

#[test]
fn registry_models_are_names_libvirt_takes() {
    if !have("virsh") {
        panic!("virsh is missing: run tests/run.sh, which installs libvirt-clients");
    }
    // Every model of the registry, through vif2xml, as libvirt's parser sees it (it
    // refuses a model name with other characters than letters, digits, `_`, `-`).
    let mut ours = Vec::new();
    for m in translator::model::MODELS {
        let out = vifkit(
            &[
                "vif2xml",
                "--guest",
                "hvm",
                "--",
                &format!("bridge=br0,model={}", m.name),
            ],
            None,
        );
        assert_eq!(out.status, 0, "{}", out.stderr);
        ours.extend(split_interfaces(&out.stdout));
    }
    let theirs = define_and_dump("vifkit-models", &ours, false);
    assert_eq!(theirs.len(), ours.len());
    for (o, t) in ours.iter().zip(theirs) {
        let co = canonical(o);
        assert_eq!(without_fill_ins(&co, canonical(&t)), co);
    }
}

#[test]
fn libvirt_replaces_the_target_names_xml2vif_drops() {
    if !have("virsh") {
        panic!("virsh is missing: run tests/run.sh, which installs libvirt-clients");
    }
    // libvirt itself does not keep a generated name (`vnet*`, `macvtap*`; its libxl
    // driver also `vif*`) when it defines a domain: it is no name the user chose.
    let generated = ["vnet3", "macvtap0", "macvlan1"];
    let ifaces: Vec<String> = generated
        .iter()
        .map(|t| {
            format!(
                "<interface type='bridge'><source bridge='br0'/><target dev='{t}'/></interface>"
            )
        })
        .collect();
    for (t, back) in generated
        .iter()
        .zip(define_and_dump("vifkit-targets", &ifaces, true))
    {
        assert!(
            !back.contains(&format!("dev='{t}'")),
            "libvirt kept {t}: {back}"
        );
        // And xml2vif does not write it as vifname=.
        let out = vifkit(
            &["xml2vif", "--list", "--guest", "hvm", "-"],
            Some(&format!(
                "<interface type='bridge'><source bridge='br0'/><target dev='{t}'/></interface>"
            )),
        );
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert_eq!(out.stdout, "bridge=br0,script=vif-bridge\n");
        assert!(
            out.stderr
                .starts_with("warning: interface[0]: <target dev='"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn libvirt_schema_accepts_xen_domains() {
    if !have("virt-xml-validate") {
        panic!("virt-xml-validate is missing: run tests/run.sh, which installs libvirt-clients");
    }
    let dir = std::env::temp_dir().join(format!("vifkit-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = outputs();
    let file = dir.join("xen-hvm.xml");
    std::fs::write(&file, domain("xen", "vifkit-hvm", "hvm", &ours)).unwrap();
    validate(&file);
    // A broken element must fail, or this test proves nothing.
    let bad = dir.join("bad.xml");
    std::fs::write(
        &bad,
        domain(
            "xen",
            "bad",
            "hvm",
            &["<interface type='bridge'><mtu size='x'/></interface>".to_owned()],
        ),
    )
    .unwrap();
    let out = Command::new("virt-xml-validate")
        .arg(&bad)
        .arg("domain")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the schema accepted a broken <mtu>");
    let _ = std::fs::remove_dir_all(&dir);
}

fn validate(file: &Path) {
    let out = Command::new("virt-xml-validate")
        .arg(file)
        .arg("domain")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "virt-xml-validate refused {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn connect_looks_up_the_default_network() {
    let xml = "<interface type='network'><source network='default'/></interface>";
    let out = vifkit(
        &["xml2vif", "--list", "--connect", "test:///default", "-"],
        Some(xml),
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "bridge=virbr0,script=vif-bridge\n");
    // --network wins over the connection.
    let out = vifkit(
        &[
            "xml2vif",
            "--list",
            "--connect",
            "test:///default",
            "--network",
            "default=br7",
            "-",
        ],
        Some(xml),
    );
    assert_eq!(out.stdout, "bridge=br7,script=vif-bridge\n");
    // A network libvirt does not have is an error naming it.
    let xml = "<interface type='network'><source network='nosuchnet'/></interface>";
    let out = vifkit(&["xml2vif", "--connect", "test:///default", "-"], Some(xml));
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("error: interface[0]: ") && out.stderr.contains("nosuchnet"),
        "{}",
        out.stderr
    );
    // An unreachable URI is a clear error, not a hang or a panic.
    let out = vifkit(
        &["xml2vif", "--connect", "test:///nonexistent/file.xml", "-"],
        Some(xml),
    );
    assert_eq!(out.status, 1);
    // (libxml2 may print its own I/O warning first; libvirt's printer is silenced.)
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("error: Cannot connect to libvirt at test:///nonexistent")),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("libvirt: "),
        "libvirt's own error printer ran: {}",
        out.stderr
    );
}
