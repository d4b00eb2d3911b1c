//! `patch-cfg --in-place` and `patch-xml --in-place` as careful as an editor, through
//! the binary: links followed, mode, owner, group and extended attributes kept, hard
//! links refused, nothing left behind, and concurrent writers never mixing their output.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

const CFG: &str = "name = \"g\"\n# keep me\nvif = [ 'bridge=xenbr0' ]\nmemory = 512\n";

fn domain(bridge: &str, mac: &str) -> String {
    format!(
        "<domain type='xen'><name>g</name><os><type>hvm</type></os><devices>\
         <interface type='bridge'><mac address='{mac}'/><source bridge='{bridge}'/>\
         </interface></devices></domain>"
    )
}

fn patch(cfg: &Path, xml: &Path) -> Output {
    Command::new(BIN)
        .args(["patch-cfg", "--in-place"])
        .arg(cfg)
        .arg(xml)
        .output()
        .unwrap()
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory's entries other than `keep`.
fn others(dir: &Path, keep: &[&str]) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| !keep.iter().any(|k| p.file_name().unwrap() == *k))
        .collect()
}

fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("g.cfg");
    fs::write(&cfg, CFG).unwrap();
    let xml = dir.path().join("g.xml");
    fs::write(&xml, domain("br1", "00:16:3e:00:00:01")).unwrap();
    (dir, cfg, xml)
}

#[test]
fn a_link_is_followed_and_its_target_replaced() {
    let (dir, cfg, xml) = setup();
    let sub = dir.path().join("xen");
    fs::create_dir(&sub).unwrap();
    let real = sub.join("real.cfg");
    fs::rename(&cfg, &real).unwrap();
    std::os::unix::fs::symlink("xen/real.cfg", &cfg).unwrap();
    ok(&patch(&cfg, &xml));
    assert!(fs::symlink_metadata(&cfg).unwrap().file_type().is_symlink());
    let text = fs::read_to_string(&real).unwrap();
    assert!(
        text.contains("bridge=br1") && text.contains("# keep me"),
        "{text}"
    );
    assert!(others(&sub, &["real.cfg"]).is_empty());
    assert!(others(dir.path(), &["g.cfg", "g.xml", "xen"]).is_empty());
}

#[test]
fn mode_and_extended_attributes_are_kept_and_hard_links_refused() {
    let (dir, cfg, xml) = setup();
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o600)).unwrap();
    let xattr = Command::new("python3")
        .args([
            "-c",
            "import os,sys; os.setxattr(sys.argv[1], 'user.vifkit', b'label')",
        ])
        .arg(&cfg)
        .status()
        .unwrap()
        .success();
    ok(&patch(&cfg, &xml));
    assert_eq!(
        fs::metadata(&cfg).unwrap().permissions().mode() & 0o7777,
        0o600
    );
    if xattr {
        let got = Command::new("python3")
            .args([
                "-c",
                "import os,sys; print(os.getxattr(sys.argv[1], 'user.vifkit'))",
            ])
            .arg(&cfg)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "b'label'");
    }
    let twin = dir.path().join("twin.cfg");
    fs::hard_link(&cfg, &twin).unwrap();
    let before = fs::read_to_string(&cfg).unwrap();
    let out = patch(&cfg, &xml);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hard links"));
    assert_eq!(fs::read_to_string(&twin).unwrap(), before);
    assert_eq!(
        fs::metadata(&cfg).unwrap().ino(),
        fs::metadata(&twin).unwrap().ino()
    );
}

#[test]
#[ignore = "needs root: gives the file to another owner"]
fn owner_and_group_are_kept() {
    let (_dir, cfg, xml) = setup();
    std::os::unix::fs::chown(&cfg, Some(65534), Some(65534)).unwrap();
    ok(&patch(&cfg, &xml));
    let m = fs::metadata(&cfg).unwrap();
    assert_eq!((m.uid(), m.gid()), (65534, 65534));
}

#[test]
fn concurrent_writers_never_mix_and_leave_nothing_behind() {
    let (dir, cfg, _) = setup();
    let xmls: Vec<PathBuf> = (0..2)
        .map(|i| {
            let p = dir.path().join(format!("d{i}.xml"));
            fs::write(
                &p,
                domain(&format!("br{i}"), &format!("00:16:3e:00:00:0{i}")),
            )
            .unwrap();
            p
        })
        .collect();
    for round in 0..20 {
        let children: Vec<_> = (0..8)
            .map(|k| {
                Command::new(BIN)
                    .args(["patch-cfg", "--in-place"])
                    .arg(&cfg)
                    .arg(&xmls[k % 2])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            ok(&out);
        }
        let text = fs::read_to_string(&cfg).unwrap();
        let one_of = ["bridge=br0", "bridge=br1"]
            .iter()
            .filter(|b| text.contains(*b))
            .count();
        assert_eq!(one_of, 1, "round {round}: {text}");
        assert!(
            text.starts_with("name = \"g\"\n# keep me\n"),
            "round {round}: {text}"
        );
        assert!(text.ends_with("memory = 512\n"), "round {round}: {text}");
        let left = others(dir.path(), &["g.cfg", "g.xml", "d0.xml", "d1.xml"]);
        assert!(left.is_empty(), "round {round}: left behind {left:?}");
    }
}
