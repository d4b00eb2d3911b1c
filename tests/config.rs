//! The configuration file, through the binary: the registry it names is the one every
//! entry point uses, including a libvirt hook run with libvirt's cleared environment.

use std::path::Path;
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

fn vifkit(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("VIFKIT_DB")
        .env_remove("VIFKIT_REGISTRY")
        .env_remove("VIFKIT_CONFIG");
    c
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn bridges(out: &Output) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_file_option_environment_and_default_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conf = d.join("vifkit.toml");
    let file_db = d.join("file.db");
    std::fs::write(
        &conf,
        format!("registry = \"sqlite:{}\"\n", file_db.display()),
    )
    .unwrap();
    let c = conf.to_str().unwrap();

    // A bridge registered through the file's registry...
    let out = vifkit(&["--config", c, "bridge", "add", "brfile"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(file_db.exists(), "the file's registry was not used");
    // ...is listed through it, also when the file comes from $VIFKIT_CONFIG.
    let out = vifkit(&["bridge", "list", "--json"])
        .env("VIFKIT_CONFIG", &conf)
        .output()
        .unwrap();
    assert_eq!(bridges(&out), ["brfile"], "{}", text(&out));
    // The environment's registry wins over the file, the option over both.
    let env_db = d.join("env.db");
    let out = vifkit(&["--config", c, "bridge", "list", "--json"])
        .env("VIFKIT_REGISTRY", format!("sqlite:{}", env_db.display()))
        .output()
        .unwrap();
    assert!(bridges(&out).is_empty(), "{}", text(&out));
    let out = vifkit(&[
        "--config",
        c,
        "--db",
        file_db.to_str().unwrap(),
        "bridge",
        "list",
        "--json",
    ])
    .env("VIFKIT_REGISTRY", format!("sqlite:{}", env_db.display()))
    .output()
    .unwrap();
    assert_eq!(bridges(&out), ["brfile"], "{}", text(&out));
}

#[test]
fn a_broken_file_names_its_line_and_stops_registry_commands_only() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("vifkit.toml");
    std::fs::write(
        &conf,
        "# vifkit\nregistry = \"sqlite:/x.db\"\nregsitry = 1\n",
    )
    .unwrap();
    let c = conf.to_str().unwrap();
    let out = vifkit(&["--config", c, "bridge", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{c}:3:")), "{err}");
    assert!(err.contains("regsitry"), "{err}");
    assert!(out.stdout.is_empty());
    // Translation needs no registry, so no configuration.
    let out = vifkit(&["--config", c, "vif2xml", "bridge=br0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // A file named on the command line must exist.
    let out = vifkit(&["--config", "/nonexistent/vifkit.toml", "show"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // --registry and --db name the same thing: one at a time.
    let out = vifkit(&["--registry", "sqlite:/a.db", "--db", "/b.db", "show"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// libvirt runs `/etc/libvirt/hooks/qemu.d/*` with only `LC_ALL`, `PATH` and `HOME` set:
/// the hook finds its registry in /etc/vifkit/vifkit.toml. The test gives itself a
/// private mount namespace with an overlay on /etc (so the host's /etc is untouched) and
/// a private network namespace (so the bridge the hook makes is not the host's).
#[test]
#[ignore = "needs root: mount and network namespaces"]
fn a_hook_in_a_cleared_environment_uses_the_registry_the_file_names() {
    let host_had_etc_vifkit = Path::new("/etc/vifkit").exists();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("hook.db");
    let out = vifkit(&[
        "--db",
        db.to_str().unwrap(),
        "bridge",
        "add",
        "brcfg",
        "--creatable",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let other = d.join("other.db");
    for name in ["upper", "work", "hooks/qemu.d"] {
        std::fs::create_dir_all(d.join(name)).unwrap();
    }
    let hook = d.join("hooks/qemu.d/50-vifkit");
    std::os::unix::fs::symlink(BIN, &hook).unwrap();
    let xml =
        "<domain type='kvm'><name>cfgguest</name><uuid>6c2b6c07-8a84-4bd8-8a43-0f3f0c29a5f1</uuid>\
               <os><type>hvm</type></os><devices><interface type='bridge'>\
               <mac address='52:54:00:aa:bb:01'/><source bridge='brcfg'/><model type='virtio'/>\
               </interface></devices></domain>";
    let run = |registry: &Path| -> Output {
        let script = format!(
            "set -e\n\
             mount --make-rprivate /\n\
             mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/upper,workdir={d}/work /etc\n\
             mkdir -p /etc/vifkit\n\
             printf 'registry = \"sqlite:%s\"\\n' '{reg}' > /etc/vifkit/vifkit.toml\n\
             ip link set lo up\n\
             env -i LC_ALL=C PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
               {hook} cfgguest prepare begin - < {d}/dom.xml\n\
             ip -o link show brcfg\n",
            d = d.display(),
            reg = registry.display(),
            hook = hook.display(),
        );
        std::fs::write(d.join("dom.xml"), xml).unwrap();
        Command::new("unshare")
            .args(["--mount", "--net", "sh", "-c", &script])
            .output()
            .unwrap()
    };
    let out = run(&db);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("brcfg"),
        "the hook did not make the registered bridge: {}",
        text(&out)
    );
    // The same hook with the file naming an empty registry refuses the unknown bridge:
    // it was the file, not a default, that named the first registry.
    let out = run(&other);
    assert!(!out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("brcfg") && err.contains("not in vifkit's registry"),
        "{err}"
    );
    assert_eq!(
        Path::new("/etc/vifkit").exists(),
        host_had_etc_vifkit,
        "the test changed the host's /etc"
    );
}

#[test]
fn install_hooks_writes_the_registry_into_the_file_under_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let r = root.to_str().unwrap();
    let db = dir.path().join("chosen.db");
    let d = db.to_str().unwrap();
    let conf = root.join("etc/vifkit/vifkit.toml");
    let out = vifkit(&["--db", d, "install-hooks", "--root", r, "--bin", BIN])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let written = std::fs::read_to_string(&conf).unwrap();
    assert!(
        written.contains(&format!("registry = \"sqlite:{d}\"")),
        "{written}"
    );
    // The hooks' registry is now the chosen one.
    let c = conf.to_str().unwrap();
    let out = vifkit(&["--config", c, "bridge", "add", "brchosen"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(db.exists());
    // Again with the same registry: nothing changes; with another: refused, file kept.
    let out = vifkit(&["--db", d, "install-hooks", "--root", r, "--bin", BIN])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unchanged"),
        "{}",
        text(&out)
    );
    let out = vifkit(&[
        "--db",
        "/elsewhere.db",
        "install-hooks",
        "--root",
        r,
        "--bin",
        BIN,
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), written);
    // Without --db or --registry the file is not touched at all.
    let bare = dir.path().join("bare");
    let out = vifkit(&[
        "install-hooks",
        "--root",
        bare.to_str().unwrap(),
        "--bin",
        BIN,
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(!bare.join("etc/vifkit").exists());
}
