//! Every case of `shared/corpus/translation.json` (the public sample of the translation
//! contract) through the real `vifkit` binary.

mod common;

use common::{compare_xml, shared_corpus, vifkit, Output};
use serde_json::Value;

fn strings(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|s| s.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// Every expected warning key appears in a `warning:` line; no warning at all when the
/// case lists none.
fn check_warnings(name: &str, out: &Output, expected: &[String]) {
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    if expected.is_empty() {
        assert!(lines.is_empty(), "{name}: unexpected warnings: {lines:?}");
    }
    for key in expected {
        assert!(
            lines.iter().any(|l| l.contains(key.as_str())),
            "{name}: no warning names `{key}`: {lines:?}"
        );
    }
}

#[test]
fn vif2xml_cases() {
    let corpus = shared_corpus();
    let cases = corpus["vif2xml"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let mut args = vec!["vif2xml".to_owned(), "--guest".to_owned()];
        args.push(case["guest"].as_str().unwrap().to_owned());
        let dir = tempfile_dir(name);
        if let Some(conf) = case.get("xl_conf").and_then(Value::as_str) {
            let p = dir.join("xl.conf");
            std::fs::write(&p, conf).unwrap();
            args.push("--xl-conf".to_owned());
            args.push(p.display().to_string());
        }
        args.push("--".to_owned());
        args.extend(strings(case, "specs"));
        let out = vifkit(&args, None);
        assert_eq!(out.status, 0, "{name}: {}", out.stderr);
        let expected = strings(case, "xml");
        compare_xml(name, &out.stdout, &expected);
        check_warnings(name, &out, &strings(case, "warnings"));
    }
}

#[test]
fn vif2xml_error_cases() {
    let corpus = shared_corpus();
    for case in corpus["vif2xml_errors"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let key = case["key"].as_str().unwrap();
        let spec = case["spec"].as_str().unwrap();
        let guest = case["guest"].as_str().unwrap();
        let out = vifkit(&["vif2xml", "--guest", guest, "--", spec], None);
        assert_eq!(out.status, 1, "{name}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{name}: stdout not empty");
        let errors: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("error: vif[0]: "))
            .collect();
        assert!(
            errors.iter().any(|l| l.contains(key)),
            "{name}: no `error: vif[0]:` line names `{key}`: {}",
            out.stderr
        );
    }
}

fn wrap(xml: &str, guest: &str) -> String {
    let os = match guest {
        "pv" => "xen",
        "pvh" => "xenpvh",
        _ => "hvm",
    };
    format!("<domain type='xen'><name>t</name><os><type>{os}</type></os><devices>{xml}</devices></domain>")
}

#[test]
fn xml2vif_cases() {
    let corpus = shared_corpus();
    for case in corpus["xml2vif"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let guest = case["guest"].as_str().unwrap();
        let xml = case["xml"].as_str().unwrap();
        let expected = case["vif"].as_str().unwrap();
        let extra = strings(case, "args");
        // Bare, with --guest; and wrapped in a domain whose os type gives the guest.
        for (input, guest_args) in [
            (xml.to_owned(), vec!["--guest".to_owned(), guest.to_owned()]),
            (wrap(xml, guest), vec![]),
        ] {
            let mut args = vec!["xml2vif".to_owned(), "--list".to_owned()];
            args.extend(guest_args);
            args.extend(extra.iter().cloned());
            args.push("-".to_owned());
            let out = vifkit(&args, Some(&input));
            assert_eq!(out.status, 0, "{name}: {}", out.stderr);
            assert_eq!(out.stdout.trim_end(), expected, "{name}");
            check_warnings(name, &out, &strings(case, "warnings"));
        }
        // The xl form quotes the same spec.
        let mut args = vec!["xml2vif".to_owned(), "--guest".to_owned(), guest.to_owned()];
        args.extend(extra.iter().cloned());
        let out = vifkit(&args, Some(xml));
        assert_eq!(out.stdout, format!("vif = [ '{expected}' ]\n"), "{name}");
    }
}

#[test]
fn xml2vif_error_cases() {
    let corpus = shared_corpus();
    for case in corpus["xml2vif_errors"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let key = case["key"].as_str().unwrap();
        let out = vifkit(&["xml2vif", "-"], Some(case["xml"].as_str().unwrap()));
        assert_eq!(out.status, 1, "{name}: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{name}: stdout not empty");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("error: interface[0]: ") && l.contains(key)),
            "{name}: no `error: interface[0]:` line names `{key}`: {}",
            out.stderr
        );
    }
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("vifkit-corpus-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
