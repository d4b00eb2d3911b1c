//! Helpers shared by the integration tests: run the real binary, read the shared
//! corpus, compare XML as XML, a network namespace of the test's own ([`netns`]), and a
//! private libvirtd in one ([`libvirtd`]).
#![allow(dead_code)]

pub mod libvirtd;
pub mod netns;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use quick_xml::events::Event;
use quick_xml::Reader;

/// What a run of `vifkit` gave.
pub struct Output {
    /// Exit status.
    pub status: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs the real `vifkit` binary with `args`, feeding `stdin`, with a minimal
/// environment.
pub fn vifkit<S: AsRef<str>>(args: &[S], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vifkit"));
    cmd.args(args.iter().map(|a| a.as_ref()))
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("vifkit runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus/translation.json`, beside the checkout (CI has it there).
pub fn shared_corpus() -> serde_json::Value {
    let path = root().join("../shared/corpus/translation.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (shared/ must sit beside the checkout)",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

/// XML as a list of canonical events: whitespace-only text dropped, attributes sorted,
/// empty elements expanded. Child order matters; attribute order does not.
pub fn canonical(xml: &str) -> Vec<String> {
    let mut r = Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match r
            .read_event()
            .unwrap_or_else(|e| panic!("bad XML {xml:?}: {e}"))
        {
            Event::Start(e) => out.push(start(&e)),
            Event::Empty(e) => {
                out.push(start(&e));
                out.push(format!("</{}>", e.name().0));
            }
            Event::End(e) => out.push(format!("</{}>", e.name().0)),
            Event::Text(t) => {
                let t = t.xml10_content().trim().to_owned();
                if !t.is_empty() {
                    out.push(t);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn start(e: &quick_xml::events::BytesStart<'_>) -> String {
    let mut attrs: Vec<String> = e
        .attributes()
        .map(|a| {
            let a = a.unwrap();
            format!(
                "{}={:?}",
                a.key.0,
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .unwrap()
            )
        })
        .collect();
    attrs.sort();
    format!("<{} {}>", e.name().0, attrs.join(" "))
}

/// Asserts that `actual` holds exactly the `expected` elements, in order, as XML.
pub fn compare_xml(name: &str, actual: &str, expected: &[String]) {
    let want: Vec<String> = expected.iter().flat_map(|x| canonical(x)).collect();
    assert_eq!(canonical(actual), want, "{name}: got\n{actual}");
}

/// Whether this process runs as root (its effective uid, from /proc).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|u| u.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}
