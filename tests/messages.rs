//! Messages and the command line through the binary: untrusted values cannot forge
//! lines or flood stderr, and options work after a SPEC as in every GNU tool.

use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

fn vifkit(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_newline_in_a_value_cannot_forge_a_line() {
    let out = vifkit(&["vif2xml", "bridge=br0\nerror: vif[9]: forged\x1b[2J"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.lines().all(|l| l.starts_with("error: vif[0]: ")),
        "a line not vifkit's: {err:?}"
    );
    assert!(!err.contains('\x1b'), "{err:?}");
    assert!(err.contains("\\n") && err.contains("\\x1b"), "{err:?}");
}

#[test]
fn a_huge_value_gives_a_bounded_message() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("big.cfg");
    let name = "a".repeat(3 * 1024 * 1024);
    std::fs::write(
        &cfg,
        format!("vif = [ 'bridge={name}', 'bridge=br0,model=\u{202e}x' ]\n"),
    )
    .unwrap();
    let out = vifkit(&["cfg2xml", cfg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.len() < 16 * 1024,
        "{} bytes on stderr",
        out.stderr.len()
    );
    let err = stderr(&out);
    assert!(
        err.contains("bytes)"),
        "the cut is not said: {}",
        &err[..200]
    );
    assert!(
        !err.contains('\u{202e}'),
        "a bidi override reached the terminal"
    );
}

#[test]
fn options_after_a_spec_and_the_end_of_options() {
    // type=ioemu is fine on HVM (the default) and an error on PV: --guest pv after the
    // spec is read as the option, not as two more specs.
    let out = vifkit(&["vif2xml", "bridge=br0,type=ioemu"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = vifkit(&["vif2xml", "bridge=br0,type=ioemu", "--guest", "pv"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.lines().count() == 1 && err.contains("vif[0]"), "{err}");
    let out = vifkit(&["vif2xml", "bridge=br0", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("SPEC"));
    // After `--`, a word starting with `-` is a spec.
    let out = vifkit(&["vif2xml", "--", "--guest"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--guest"), "{}", stderr(&out));
}
