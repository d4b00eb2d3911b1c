//! Golden tests: `tests/data/<case>.cfg` through `cfg2xml` gives `<case>.xml` (stdout)
//! and `<case>.stderr`; `tests/data/<case>.domain.xml` through `xml2vif` gives
//! `<case>.vif` and `<case>.vif.stderr`. An optional `<case>.args` holds extra
//! arguments, one per line. Run with `TEST_OVERWRITE=1` to rewrite the expected files
//! after a deliberate change, then review the diff.

mod common;

use std::path::{Path, PathBuf};

use common::{root, vifkit};

fn overwrite() -> bool {
    std::env::var_os("TEST_OVERWRITE").is_some_and(|v| v != "0")
}

fn check(expected: &Path, actual: &str, failures: &mut Vec<String>) {
    if overwrite() {
        std::fs::write(expected, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(expected).unwrap_or_default();
    if want != actual {
        failures.push(format!(
            "{} differs (TEST_OVERWRITE=1 regenerates):\n--- expected\n{want}\n--- actual\n{actual}",
            expected.display()
        ));
    }
}

fn cases(suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("tests/data"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().ends_with(suffix))
        .collect();
    v.sort();
    v
}

fn extra_args(base: &str) -> Vec<String> {
    std::fs::read_to_string(format!("{base}.args"))
        .map(|s| {
            s.lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Paths in output are relative to the repository, so goldens do not depend on it.
fn relative(s: &str) -> String {
    s.replace(&format!("{}/", root().display()), "")
}

#[test]
fn cfg2xml_goldens() {
    let mut failures = Vec::new();
    let cases = cases(".cfg");
    assert!(cases.len() >= 5, "golden cases missing");
    for cfg in cases {
        let base = cfg.to_str().unwrap().trim_end_matches(".cfg").to_owned();
        let mut args = vec!["cfg2xml".to_owned()];
        args.extend(
            extra_args(&base)
                .into_iter()
                .map(|a| a.replace("$DATA", &root().join("tests/data").display().to_string())),
        );
        args.push(cfg.display().to_string());
        let out = vifkit(&args, None);
        check(
            Path::new(&format!("{base}.xml")),
            &out.stdout,
            &mut failures,
        );
        let stderr = format!("{}exit {}\n", relative(&out.stderr), out.status);
        check(Path::new(&format!("{base}.stderr")), &stderr, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn xml2vif_goldens() {
    let mut failures = Vec::new();
    let cases = cases(".domain.xml");
    assert!(cases.len() >= 2, "golden cases missing");
    for xml in cases {
        let base = xml
            .to_str()
            .unwrap()
            .trim_end_matches(".domain.xml")
            .to_owned();
        let mut args = vec!["xml2vif".to_owned()];
        args.extend(extra_args(&base));
        args.push(xml.display().to_string());
        let out = vifkit(&args, None);
        check(
            Path::new(&format!("{base}.vif")),
            &out.stdout,
            &mut failures,
        );
        let stderr = format!("{}exit {}\n", relative(&out.stderr), out.status);
        check(
            Path::new(&format!("{base}.vif.stderr")),
            &stderr,
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
