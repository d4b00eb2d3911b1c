//! nftables tests: comments and names offline, and the table itself for real in a
//! network namespace each test creates.

use super::*;
use crate::netlink::testns::in_netns;

fn n(s: &str) -> IfName {
    IfName::new(s).unwrap()
}

fn masq(vif: &str, src: &str, out: Option<&str>) -> Masquerade {
    Masquerade {
        vif: n(vif),
        source: src.parse().unwrap(),
        out: out.map(n),
    }
}

/// The lock of a test: its own file, so that tests do not wait on a host's hotplug runs.
fn nft(test: &str) -> Nft {
    Nft::with(
        "nft",
        std::env::temp_dir().join(format!("vifkit-nat-{}-{test}.lock", std::process::id())),
    )
}

/// Runs `f` in a fresh namespace, where `nft` must work (it fails the test otherwise).
fn in_nft_netns(test: &str, f: impl FnOnce(&Nft) + Send) {
    in_netns(test, |_| {
        let nft = nft(test);
        if let Err(e) = nft.check() {
            panic!("{test}: nft does not work: {e} (install nftables: packaging/install-deps.sh)");
        }
        f(&nft);
        let _ = std::fs::remove_file(&nft.lock);
    });
}

/// A `postrouting` chain of the wrong type in a table named `vifkit`.
const WRONG_CHAIN: &str =
    "table ip vifkit { chain postrouting { type filter hook postrouting priority 0; }; }\n";

#[test]
fn comments_record_the_rule() {
    for m in [
        masq("vif7.0", "10.0.0.2", None),
        masq("vifdolly.0", "10.0.0.3", Some("eth1")),
    ] {
        let c = m.comment().unwrap();
        assert_eq!(Masquerade::from_comment(&c), Some(m), "{c}");
    }
    assert_eq!(
        masq("vif7.0", "10.0.0.2", Some("gw0")).comment().unwrap(),
        "vifkit vif=vif7.0 src=10.0.0.2 out=gw0"
    );
    for c in [
        "",
        "vifkit",
        "vifkit vif=vif7.0 src=10.0.0.2",
        "vifkit vif=vif7.0 src=10.0.0.300 out=*",
        "vifkit vif=vif7.0 src=10.0.0.2 out=* more",
        "other vif=vif7.0 src=10.0.0.2 out=*",
    ] {
        assert_eq!(Masquerade::from_comment(c), None, "{c}");
    }
}

#[test]
fn names_nft_would_misread_are_refused() {
    for bad in ["a\"b", "a;b", "a\\b", "a{b", "a$b"] {
        let m = masq("vif7.0", "10.0.0.2", Some(bad));
        assert!(matches!(m.comment(), Err(NftError::Name(_))), "{bad}");
        assert!(matches!(m.add_line(), Err(NftError::Name(_))), "{bad}");
    }
    assert!(masq("vif7.0-emu", "10.0.0.2", Some("br@x+1_y"))
        .add_line()
        .is_ok());
}

#[test]
#[ignore = "needs root: nftables in a network namespace"]
fn masquerade_rules_are_idempotent_and_owned_per_vif() {
    in_nft_netns("masquerade_rules_are_idempotent_and_owned_per_vif", |nft| {
        let a = n("vif7.0");
        let b = n("vif7.1");
        let ra = [masq("vif7.0", "10.0.0.2", None)];
        assert_eq!(nft.ensure_masquerade(&a, &ra).unwrap(), Change::Created);
        assert_eq!(nft.ensure_masquerade(&a, &ra).unwrap(), Change::Unchanged);
        let rb = [
            masq("vif7.1", "10.0.0.3", Some("up0")),
            masq("vif7.1", "10.0.0.4", Some("up0")),
        ];
        assert_eq!(nft.ensure_masquerade(&b, &rb).unwrap(), Change::Created);
        let l = nft.list().unwrap();
        assert!(l.table);
        assert_eq!(l.chains, vec![CHAIN.to_owned()]);
        let mut rules: Vec<Masquerade> = l.rules.iter().filter_map(|r| r.rule.clone()).collect();
        rules.sort();
        let mut want: Vec<Masquerade> = ra.iter().chain(&rb).cloned().collect();
        want.sort();
        assert_eq!(rules, want);
        // A changed address replaces the stale rule, and only that vif's.
        let ra2 = [masq("vif7.0", "10.0.0.5", None)];
        assert_eq!(nft.ensure_masquerade(&a, &ra2).unwrap(), Change::Updated);
        let l = nft.list().unwrap();
        assert_eq!(l.rules.len(), 3);
        assert!(l.rules.iter().any(|r| r.rule.as_ref() == Some(&ra2[0])));
        assert!(!l.rules.iter().any(|r| r.rule.as_ref() == Some(&ra[0])));
        // The kernel's own view agrees with the comments.
        let text = nft.run("list", &["list", "ruleset"], None).unwrap();
        assert!(
            text.contains("ip saddr 10.0.0.5 oifname != \"vif7.0\""),
            "{text}"
        );
        assert!(text.contains("ip saddr 10.0.0.3 oifname \"up0\""), "{text}");
        // Removing one vif's rules leaves the other's.
        assert_eq!(nft.remove_masquerade(&a).unwrap(), Change::Removed);
        assert_eq!(nft.remove_masquerade(&a).unwrap(), Change::Unchanged);
        let l = nft.list().unwrap();
        assert_eq!(l.rules.len(), 2);
        assert!(l.rules.iter().all(|r| r.rule.as_ref().unwrap().vif == b));
        // The last rule takes the table with it.
        assert_eq!(nft.remove_masquerade(&b).unwrap(), Change::Removed);
        assert_eq!(nft.list().unwrap(), Listing::default());
        let text = nft.run("list", &["list", "ruleset"], None).unwrap();
        assert!(text.trim().is_empty(), "{text}");
    });
}

/// A table of vifkit's name that someone else changed (another chain in it, a foreign
/// rule in the chain) is kept when vifkit's last rule goes; a chain of the wrong type
/// makes `ensure` fail with nft's message and change nothing.
#[test]
#[ignore = "needs root: nftables in a network namespace"]
fn foreign_content_is_left_alone() {
    in_nft_netns("foreign_content_is_left_alone", |nft| {
        let a = n("vif7.0");
        nft.ensure_masquerade(&a, &[masq("vif7.0", "10.0.0.2", None)])
            .unwrap();
        nft.run(
            "add",
            &["-f", "-"],
            Some("add rule ip vifkit postrouting ip saddr 10.9.9.9 counter\n"),
        )
        .unwrap();
        assert_eq!(nft.remove_masquerade(&a).unwrap(), Change::Removed);
        let l = nft.list().unwrap();
        assert!(l.table);
        assert_eq!(l.rules.len(), 1);
        assert_eq!(l.rules[0].rule, None);
        nft.run("delete", &["delete", "table", "ip", "vifkit"], None)
            .unwrap();
        nft.run("add", &["-f", "-"], Some(WRONG_CHAIN)).unwrap();
        let before = nft.run("list", &["list", "ruleset"], None).unwrap();
        let err = nft
            .ensure_masquerade(&a, &[masq("vif7.0", "10.0.0.2", None)])
            .unwrap_err();
        assert!(matches!(err, NftError::Failed { .. }), "{err}");
        assert_eq!(nft.run("list", &["list", "ruleset"], None).unwrap(), before);
    });
}

#[test]
fn a_missing_program_is_reported() {
    let nft = Nft::with(
        "/nonexistent/nft",
        std::env::temp_dir().join("vifkit-nat-missing.lock"),
    );
    let err = nft.check().unwrap_err();
    assert!(matches!(err, NftError::Spawn { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "Cannot run /nonexistent/nft (package nftables)"
    );
}
