//! The workspace's layout, as `cargo metadata` reports it: one crate per concern with
//! the arrows going one way, and the heavy dependencies only where they belong.
//!
//! translator <- registry <- hostnet <- {hotplug, libvirt-hooks, dbus-service} <- vifkit
//! registry <- registry-etcd <- vifkit (which opens the registry the config names)
//! xl-sys <- xl-parser <- vifkit

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::Value;

/// Which workspace crates each crate may use as a normal (non-dev, non-build)
/// dependency.
const ALLOWED: &[(&str, &[&str])] = &[
    ("translator", &[]),
    ("registry", &["translator"]),
    ("registry-etcd", &["translator", "registry"]),
    ("hostnet", &["translator", "registry"]),
    ("hotplug", &["translator", "registry", "hostnet"]),
    ("libvirt-hooks", &["translator", "registry", "hostnet"]),
    ("dbus-service", &["translator", "registry", "hostnet"]),
    ("xl-sys", &[]),
    ("xl-parser", &["translator", "xl-sys"]),
    (
        "vifkit",
        &[
            "translator",
            "registry",
            "registry-etcd",
            "hostnet",
            "hotplug",
            "libvirt-hooks",
            "dbus-service",
            "xl-sys",
            "xl-parser",
        ],
    ),
];

/// Third-party crates that only these workspace crates may have in their normal
/// dependency graph (directly or through another crate).
const CONFINED: &[(&str, &[&str])] = &[
    ("zbus", &["dbus-service", "vifkit"]),
    // registry-etcd owns a current-thread runtime for etcd's async client and offers a
    // blocking registry: nothing else below the CLI gets an async runtime.
    ("tokio", &["dbus-service", "registry-etcd", "vifkit"]),
    ("etcd-client", &["registry-etcd", "vifkit"]),
    (
        "rusqlite",
        &[
            "registry",
            // Through `registry`, which holds the SQLite store; it names no rusqlite.
            "registry-etcd",
            "hostnet",
            "hotplug",
            "libvirt-hooks",
            "dbus-service",
            "vifkit",
        ],
    ),
    ("bindgen", &[]),
];

/// Third-party crates that only these workspace crates may name as a direct dependency
/// of any kind (normal, dev or build).
const DIRECT_ONLY: &[(&str, &[&str])] = &[
    ("rusqlite", &["registry"]),
    ("zbus", &["dbus-service", "vifkit"]),
    ("bindgen", &["xl-sys"]),
    ("etcd-client", &["registry-etcd"]),
];

struct Graph {
    /// Package id -> name.
    names: BTreeMap<String, String>,
    /// Package id -> ids of its normal dependencies (resolved).
    normal: BTreeMap<String, Vec<String>>,
    /// Workspace package name -> every direct dependency's name, of any kind.
    direct: BTreeMap<String, BTreeSet<String>>,
    /// Workspace package name -> id.
    members: BTreeMap<String, String>,
}

fn metadata() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--all-features",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let mut g = Graph {
        names: BTreeMap::new(),
        normal: BTreeMap::new(),
        direct: BTreeMap::new(),
        members: BTreeMap::new(),
    };
    for p in v["packages"].as_array().unwrap() {
        g.names.insert(
            p["id"].as_str().unwrap().to_owned(),
            p["name"].as_str().unwrap().to_owned(),
        );
    }
    for id in v["workspace_members"].as_array().unwrap() {
        let id = id.as_str().unwrap();
        g.members.insert(g.names[id].clone(), id.to_owned());
    }
    for p in v["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        if g.members.contains_key(name) {
            let deps = p["dependencies"].as_array().unwrap();
            let all = deps.iter().map(|d| d["name"].as_str().unwrap().to_owned());
            g.direct.insert(name.to_owned(), all.collect());
        }
    }
    for node in v["resolve"]["nodes"].as_array().unwrap() {
        let id = node["id"].as_str().unwrap().to_owned();
        let normal = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|k| k["kind"].is_null())
            })
            .map(|d| d["pkg"].as_str().unwrap().to_owned())
            .collect();
        g.normal.insert(id, normal);
    }
    g
}

impl Graph {
    fn normal_deps(&self, name: &str) -> BTreeSet<String> {
        self.normal[&self.members[name]]
            .iter()
            .map(|id| self.names[id].clone())
            .collect()
    }

    /// Every package in `name`'s normal dependency graph.
    fn reach(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![self.members[name].clone()];
        while let Some(id) = todo.pop() {
            for d in &self.normal[&id] {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen.into_iter().map(|id| self.names[&id].clone()).collect()
    }
}

#[test]
fn every_workspace_crate_is_listed_here() {
    let g = metadata();
    let listed: BTreeSet<&str> = ALLOWED.iter().map(|(n, _)| *n).collect();
    let members: BTreeSet<&str> = g.members.keys().map(String::as_str).collect();
    assert_eq!(
        members, listed,
        "a crate was added or removed: update ALLOWED"
    );
}

#[test]
fn workspace_arrows_go_one_way() {
    let g = metadata();
    let members: BTreeSet<String> = g.members.keys().cloned().collect();
    for (name, allowed) in ALLOWED {
        let inside: BTreeSet<String> = g
            .normal_deps(name)
            .intersection(&members)
            .cloned()
            .collect();
        let allowed: BTreeSet<String> = allowed.iter().map(|s| s.to_string()).collect();
        let extra: Vec<_> = inside.difference(&allowed).collect();
        assert!(
            extra.is_empty(),
            "{name} depends on {extra:?}, against the layout"
        );
    }
}

#[test]
fn heavy_dependencies_stay_in_their_crates() {
    let g = metadata();
    for (dep, allowed) in CONFINED {
        for name in g.members.keys() {
            if g.reach(name).contains(*dep) {
                assert!(
                    allowed.contains(&name.as_str()),
                    "{dep} is in {name}'s dependency graph (allowed only in {allowed:?})"
                );
            }
        }
    }
    for (dep, allowed) in DIRECT_ONLY {
        for (name, direct) in &g.direct {
            if direct.contains(*dep) {
                assert!(
                    allowed.contains(&name.as_str()),
                    "{name} depends on {dep} directly (allowed only in {allowed:?})"
                );
            }
        }
    }
}

#[test]
fn the_sys_crate_sits_at_the_bottom() {
    let g = metadata();
    let deps = g.normal_deps("xl-sys");
    assert_eq!(
        deps,
        BTreeSet::from(["libc".to_owned()]),
        "xl-sys's normal dependencies"
    );
}
