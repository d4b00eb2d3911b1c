//! The command line as users and scripts meet it: exit statuses, stdout/stderr rules,
//! patch-cfg/patch-xml keeping every other byte, atomic `--in-place`, `mac`, `--help`.

mod common;

use std::path::PathBuf;

use common::{root, vifkit};
use translator::interface_xml::read_document;

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vifkit-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn exit_statuses() {
    assert_eq!(vifkit(&["vif2xml", "bridge=br0"], None).status, 0);
    let bad = vifkit(&["vif2xml", "bridge=br0", "rate=10MB"], None);
    assert_eq!(bad.status, 1);
    assert!(
        bad.stdout.is_empty(),
        "stdout must stay empty on invalid input"
    );
    assert_eq!(
        bad.stderr,
        "error: vif[1]: Invalid rate `10MB`: Expected DIGITS[G|M|K](B|b)/s\n"
    );
    // Usage errors: 2.
    assert_eq!(vifkit(&["vif2xml"], None).status, 2);
    assert_eq!(vifkit(&["vif2xml", "--guest", "kvm", "x"], None).status, 2);
    assert_eq!(vifkit(&["frobnicate"], None).status, 2);
    assert_eq!(
        vifkit(&["xml2vif", "--network", "novalue", "-"], Some("")).status,
        2
    );
    // A missing file is invalid input, named.
    let out = vifkit(&["cfg2xml", "/nonexistent/guest.cfg"], None);
    assert_eq!(out.status, 1);
    assert!(
        out.stderr
            .starts_with("error: Cannot read /nonexistent/guest.cfg: "),
        "{}",
        out.stderr
    );
}

#[test]
fn warnings_and_strict_loss() {
    let out = vifkit(&["vif2xml", "bridge=br0,devid=3"], None);
    assert_eq!(out.status, 0);
    assert_eq!(
        out.stderr,
        "warning: vif[0]: devid=3: libvirt numbers NICs by their order: dropped\n"
    );
    let out = vifkit(&["vif2xml", "--strict-loss", "bridge=br0,devid=3"], None);
    assert_eq!(out.status, 1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.starts_with("error: vif[0]: devid=3"),
        "{}",
        out.stderr
    );
    // Advice is not a loss.
    assert_eq!(
        vifkit(
            &["vif2xml", "--strict-loss", "bridge=br0,vifname=vif1.0"],
            None
        )
        .status,
        0
    );
    // --lenient: unknown keys dropped with a warning.
    let out = vifkit(&["vif2xml", "--lenient", "bridge=br0,colour=blue"], None);
    assert_eq!(out.status, 0);
    assert!(out.stderr.contains("colour"));
    let out = vifkit(
        &[
            "vif2xml",
            "--lenient",
            "--strict-loss",
            "bridge=br0,colour=blue",
        ],
        None,
    );
    assert_eq!(out.status, 1);
}

#[test]
fn help_shows_every_syntax() {
    let out = vifkit(&["vif2xml", "--help"], None);
    assert_eq!(out.status, 0);
    for s in [
        translator::vif::SYNTAX,
        translator::rate::SYNTAX,
        translator::vlan::SYNTAX,
        translator::bridge_spec::SYNTAX,
    ] {
        // clap wraps long lines: compare word by word.
        let words: Vec<&str> = s.split_whitespace().collect();
        let got: Vec<&str> = out.stdout.split_whitespace().collect();
        assert!(
            got.windows(words.len()).any(|w| w == words.as_slice()),
            "--help lacks: {s}"
        );
    }
    let out = vifkit(&["cfg2xml", "--help"], None);
    let words: Vec<&str> = translator::cfg::SYNTAX.split_whitespace().collect();
    let got: Vec<&str> = out.stdout.split_whitespace().collect();
    assert!(
        got.windows(words.len()).any(|w| w == words.as_slice()),
        "cfg2xml --help lacks the cfg syntax"
    );
}

const CFG: &str = "# guest\r\nname = \"vlan900\"   # the name\r\nbuilder = 'hvm'\r\nvif = [ 'type=ioemu, bridge=br900',\r\n        'type=ioemu, bridge=br901' ] # old\r\nmemory = 2048\r\n";

#[test]
fn patch_cfg_keeps_every_other_byte() {
    let dir = scratch("patch-cfg");
    let cfg = dir.join("g.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    let xml = root().join("examples/vlan900.xml");
    let out = vifkit(
        &[
            "patch-cfg",
            "--network",
            "default=virbr0",
            cfg.to_str().unwrap(),
            xml.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let (head, rest) = CFG.split_at(CFG.find("vif = [").unwrap());
    let tail = &rest[rest.find(" # old").unwrap()..];
    assert!(
        out.stdout.starts_with(head),
        "bytes before vif changed:\n{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(tail),
        "bytes after vif changed:\n{}",
        out.stdout
    );
    // The new list is the domain's interfaces, and the file still parses.
    let conf = translator::cfg::parse(&out.stdout, "patched").unwrap();
    let specs: Vec<String> = conf
        .vifs()
        .unwrap()
        .items
        .into_iter()
        .map(|v| v.spec.into_owned())
        .collect();
    assert_eq!(specs.len(), 4);
    assert_eq!(specs[2], "bridge=virbr0,script=vif-bridge");
    // stdout mode leaves the file alone; --in-place replaces it with the same bytes.
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), CFG);
    let inplace = vifkit(
        &[
            "patch-cfg",
            "--in-place",
            "--network",
            "default=virbr0",
            cfg.to_str().unwrap(),
            xml.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(inplace.status, 0, "{}", inplace.stderr);
    assert!(inplace.stdout.is_empty());
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), out.stdout);
    // Nothing else left in the directory (no temporary file).
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn patch_cfg_failure_leaves_the_file_untouched() {
    let dir = scratch("patch-cfg-fail");
    let cfg = dir.join("g.cfg");
    std::fs::write(&cfg, CFG).unwrap();
    // The domain has a type='network' interface and no mapping: invalid.
    let xml = root().join("examples/vlan900.xml");
    let out = vifkit(
        &[
            "patch-cfg",
            "--in-place",
            cfg.to_str().unwrap(),
            xml.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.contains("error: interface[2]: ") && out.stderr.contains("default"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), CFG);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn patch_xml_keeps_every_other_byte() {
    let dir = scratch("patch-xml");
    let dom = dir.join("d.xml");
    let original = std::fs::read_to_string(root().join("examples/vlan900.xml")).unwrap();
    std::fs::write(&dom, &original).unwrap();
    let cfg = root().join("examples/ovs.cfg");
    let out = vifkit(
        &["patch-xml", dom.to_str().unwrap(), cfg.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    // Everything outside the interfaces is unchanged.
    let before = read_document(&original).unwrap();
    let after = read_document(&out.stdout).unwrap();
    let first = before.interfaces.first().unwrap().span.start;
    let last = before.interfaces.last().unwrap().span.end;
    assert_eq!(&out.stdout[..first], &original[..first]);
    let new_last = after.interfaces.last().unwrap().span.end;
    assert_eq!(&out.stdout[new_last..], &original[last..]);
    assert_eq!(after.interfaces.len(), 3);
    assert!(after
        .interfaces
        .iter()
        .all(|i| i.parsed.iface.is_openvswitch()));
    // The dropped <link> of the replaced interface is reported.
    assert!(
        out.stderr.contains("interface[2]: <link>"),
        "{}",
        out.stderr
    );
    // --in-place writes the same bytes, atomically.
    let inplace = vifkit(
        &[
            "patch-xml",
            "--in-place",
            dom.to_str().unwrap(),
            cfg.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(inplace.status, 0);
    assert_eq!(std::fs::read_to_string(&dom).unwrap(), out.stdout);
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    // Patching with the same config again changes nothing.
    let again = vifkit(
        &["patch-xml", dom.to_str().unwrap(), cfg.to_str().unwrap()],
        None,
    );
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn patch_xml_bad_cfg_leaves_the_file_untouched() {
    let dir = scratch("patch-xml-fail");
    let dom = dir.join("d.xml");
    let original = std::fs::read_to_string(root().join("examples/vlan900.xml")).unwrap();
    std::fs::write(&dom, &original).unwrap();
    let cfg = root().join("tests/data/bad-vifs.cfg");
    let out = vifkit(
        &[
            "patch-xml",
            "--in-place",
            dom.to_str().unwrap(),
            cfg.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status, 1);
    assert_eq!(std::fs::read_to_string(&dom).unwrap(), original);
}

#[test]
fn mac_strategies() {
    let out = vifkit(&["mac", "--count", "50"], None);
    assert_eq!(out.status, 0);
    let macs: Vec<translator::MacAddr> = out.stdout.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(macs.len(), 50);
    assert!(macs.iter().all(|m| m.is_local()));
    let out = vifkit(&["mac", "--xen-oui"], None);
    assert!(out.stdout.starts_with("00:16:3e:"));
    let b = u8::from_str_radix(&out.stdout[9..11], 16).unwrap();
    assert!(b < 0x80, "libxl keeps the fourth octet below 0x80");
    let out = vifkit(&["mac", "--oui", "AC:DE:48"], None);
    assert!(out.stdout.starts_with("ac:de:48:"));
    let out = vifkit(&["mac", "--oui", "01:00:5e"], None);
    assert_eq!(out.status, 1);
    assert!(out.stderr.contains("Multicast OUI"), "{}", out.stderr);
    assert_eq!(
        vifkit(&["mac", "--oui", "00:16:3e", "--xen-oui"], None).status,
        2
    );
}

#[test]
fn xml2vif_reads_stdin_and_domains() {
    let xml = std::fs::read_to_string(root().join("examples/vlan900.xml")).unwrap();
    let out = vifkit(
        &["xml2vif", "--list", "--network", "default=virbr0"],
        Some(&xml),
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 4);
    // A PV domain's emulated model is refused, naming the interface.
    let pv = xml.replace(">hvm<", ">xen<");
    let out = vifkit(&["xml2vif", "--network", "default=virbr0", "-"], Some(&pv));
    assert_eq!(out.status, 1);
    assert!(
        out.stderr.starts_with("error: interface[0]: <model>"),
        "{}",
        out.stderr
    );
    // Malformed XML: a clear error with a position, no panic.
    let out = vifkit(
        &["xml2vif", "-"],
        Some("<interface type='bridge'><source bridge='br0'>"),
    );
    assert_eq!(out.status, 1);
    assert!(out.stderr.starts_with("error: -: "), "{}", out.stderr);
}

/// `vifkit` itself links none of the big C libraries (libvirt, libxenlight): they cost
/// milliseconds at every start, and hooks and hotplug scripts start often. The helpers
/// `vifkit-libvirt` and `vifkit-xl` link them instead.
#[test]
fn vifkit_links_no_big_c_library() {
    let out = std::process::Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_vifkit"))
        .output()
        .expect("ldd runs");
    let libs = String::from_utf8_lossy(&out.stdout);
    for lib in ["libvirt", "libxen", "libxlutil"] {
        assert!(!libs.contains(lib), "vifkit links {lib}:\n{libs}");
    }
    assert!(libs.contains("libc.so"), "ldd said nothing useful:\n{libs}");
}
