//! `--xl-parser=xen`: cfg2xml and patch-xml reading xl configs (and `--xl-conf`) with
//! Xen's libxlutil. With the `xen` feature, every committed config translates exactly as
//! with vifkit's parser, messages aside (no per-vif line numbers; libxlutil's own error
//! text); without it, `--xl-parser=xen` is a clear error.

mod common;

use common::vifkit;

#[cfg(feature = "xen")]
mod with_xen {
    use super::vifkit;

    /// `FILE:LINE:` -> `FILE:` and no ` (line N)` (libxlutil gives no line numbers).
    fn without_lines(stderr: &str) -> String {
        let mut out = String::new();
        let mut rest = stderr;
        while let Some(at) = rest.find([':', '(']) {
            let (head, tail) = rest.split_at(at);
            out.push_str(head);
            if let Some(after) = tail.strip_prefix(':') {
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                let is_file = head.ends_with(".cfg") || head.ends_with(".conf");
                if is_file && digits > 0 && after[digits..].starts_with(':') {
                    rest = &after[digits..];
                } else {
                    out.push(':');
                    rest = after;
                }
            } else if let Some(after) = tail.strip_prefix("(line ") {
                let digits = after.bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 && after[digits..].starts_with(')') {
                    out.pop(); // the space before
                    rest = &after[digits + 1..];
                } else {
                    out.push('(');
                    rest = &tail[1..];
                }
            } else {
                out.push('(');
                rest = &tail[1..];
            }
        }
        out.push_str(rest);
        out
    }

    #[test]
    fn line_numbers_are_dropped() {
        assert_eq!(
            without_lines("warning: a.conf:1: x (line 2)\nerror: vif[0]: b.cfg:3: y: z (q)\n"),
            "warning: a.conf: x\nerror: vif[0]: b.cfg: y: z (q)\n"
        );
    }

    #[test]
    fn committed_configs_translate_the_same() {
        let mut compared = 0;
        for dir in ["tests/data", "examples"] {
            let mut cfgs: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "cfg"))
                .collect();
            cfgs.sort();
            for cfg in cfgs {
                let file = cfg.to_str().unwrap().to_owned();
                let mut args = vec!["cfg2xml".to_owned()];
                if let Ok(extra) = std::fs::read_to_string(cfg.with_extension("args")) {
                    args.extend(extra.lines().map(|l| l.replace("$DATA", "tests/data")));
                }
                let ours = vifkit(&[args.clone(), vec![file.clone()]].concat(), None);
                args.push("--xl-parser=xen".to_owned());
                let xen = vifkit(&[args, vec![file.clone()]].concat(), None);
                assert_eq!(xen.status, ours.status, "{file}: {}", xen.stderr);
                assert_eq!(xen.stdout, ours.stdout, "{file}");
                if file.ends_with("syntax-error.cfg") {
                    // libxlutil's own message (bison's, lists fewer expected tokens).
                    assert_eq!(
                        xen.stderr,
                        "error: tests/data/syntax-error.cfg:2: config parsing error near \
                         `'bridge=br1'': syntax error, unexpected STRING, expecting ']'\n"
                    );
                } else {
                    assert_eq!(xen.stderr, without_lines(&ours.stderr), "{file}");
                }
                compared += 1;
            }
        }
        assert!(compared >= 10, "{compared}");
    }

    #[test]
    fn patch_xml_and_xl_conf() {
        let args = |parser: &str| {
            vec![
                "patch-xml".to_owned(),
                format!("--xl-parser={parser}"),
                "--xl-conf".to_owned(),
                "examples/xl.conf".to_owned(),
                "tests/data/vlan900-dom.domain.xml".to_owned(),
                "tests/data/xlconf-ovs.cfg".to_owned(),
            ]
        };
        let ours = vifkit(&args("vifkit"), None);
        let xen = vifkit(&args("xen"), None);
        assert_eq!(ours.status, 0, "{}", ours.stderr);
        assert_eq!(xen.status, 0, "{}", xen.stderr);
        assert_eq!(xen.stdout, ours.stdout);
        assert!(xen.stdout.contains("openvswitch"), "{}", xen.stdout);
    }

    #[test]
    fn libxlutil_messages() {
        let dir = std::env::temp_dir().join(format!("vifkit-xlp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &[u8]| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p.to_str().unwrap().to_owned()
        };
        // CRLF: fine for vifkit, libxlutil's lexical error (the CR shown as `\r`).
        let crlf = write("crlf.cfg", b"name = 'x'\r\nvif = ['bridge=br0']\r\n");
        assert_eq!(vifkit(&["cfg2xml", &crlf], None).status, 0);
        let out = vifkit(&["cfg2xml", "--xl-parser=xen", &crlf], None);
        assert_eq!(out.status, 1);
        assert!(out.stdout.is_empty());
        assert_eq!(
            out.stderr,
            format!(
                "error: {crlf}:1: config parsing error near `\\r': lexical error\n\
                 error: {crlf}:2: config parsing error near `\\r': lexical error\n"
            )
        );
        // Python hints are warnings, the error libxlutil's.
        let py = write("py.cfg", b"memory = 512\nx = +1\n");
        let out = vifkit(&["cfg2xml", "--xl-parser=xen", &py], None);
        assert_eq!(out.status, 1);
        assert!(
            out.stderr
                .starts_with("warning: Config file looks like it contains Python code.\n"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.ends_with(&format!(
                "error: {py}:2: config parsing error near `+1': lexical error\n"
            )),
            "{}",
            out.stderr
        );
        // A vif problem names the file, not the line.
        let bad = write(
            "bad.cfg",
            b"name = 'x'\nvif = [ 'bridge=br0',\n 'mtu=0' ]\n",
        );
        let out = vifkit(&["cfg2xml", "--xl-parser=xen", &bad], None);
        assert_eq!(
            out.stderr,
            format!("error: vif[1]: {bad}: Invalid mtu `0`: Expected a number from 1 to 65535\n")
        );
        let out = vifkit(&["cfg2xml", &bad], None);
        assert!(
            out.stderr.contains(&format!("{bad}:3: Invalid mtu")),
            "{}",
            out.stderr
        );
        // A list where a string belongs: libxlutil's words, without its "warning:".
        let ty = write("ty.cfg", b"type = ['hvm']\n");
        let out = vifkit(&["cfg2xml", "--xl-parser=xen", &ty], None);
        assert_eq!(
            out.stderr,
            format!("error: {ty}:1: parameter `type' is a list but should be a single value\n")
        );
        // A NUL byte never reaches libxlutil (it would abort).
        let nul = write("nul.cfg", b"name = 'a\0b'\n");
        let out = vifkit(&["cfg2xml", "--xl-parser=xen", &nul], None);
        assert_eq!(out.status, 1);
        assert!(out.stderr.contains("NUL byte"), "{}", out.stderr);
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[cfg(not(feature = "xen"))]
#[test]
fn without_xen_support_the_option_is_a_clear_error() {
    let out = vifkit(&["cfg2xml", "--xl-parser=xen", "examples/alice.cfg"], None);
    assert_eq!(out.status, 1);
    assert!(out.stdout.is_empty());
    assert_eq!(
        out.stderr,
        "error: --xl-parser=xen: this vifkit was built without libxenlight support (cargo \
         feature `xen`, which needs libxen-dev)\n"
    );
    // The default parser still works.
    assert_eq!(vifkit(&["cfg2xml", "examples/alice.cfg"], None).status, 0);
}

#[test]
fn help_says_how_the_parsers_differ() {
    let out = vifkit(&["cfg2xml", "--help"], None);
    assert_eq!(out.status, 0);
    let help = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "--xl-parser <PARSER>",
        "libxlutil",
        "no line (libxlutil gives no line numbers for list items)",
        "CRLF line ends",
        "[default: vifkit]",
    ] {
        assert!(help.contains(needle), "`{needle}` not in:\n{}", out.stdout);
    }
}
