//! vifkit's parsers against Xen's libxlutil on the same inputs (see
//! `xl_parser::differential` for what is compared and the named known differences):
//!
//! - every xl config under `examples/` and `tests/data/`;
//! - 10,000+ generated configs (proptest), nasty ones included: escapes of every kind,
//!   nested and empty lists, trailing commas, `+=`, comments, CRLF, lone CRs, unterminated
//!   strings, bare words, Python-looking tokens, deep nesting, missing final newlines, and
//!   random byte edits on top (NUL, invalid UTF-8, brackets, quotes);
//! - 10,000+ generated rates against `xlu_vif_parse_rate`.
//!
//! Each disagreement must be explained by named known differences; the tallies are
//! printed (`cargo test -p xl-parser --test differential -- --nocapture`).

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, TestCaseError, TestRunner};
use xl_parser::differential::{classify_cfg, classify_rate, Verdict};

/// Generated inputs per property (at least 10,000; `VIFKIT_DIFF_CASES` raises it).
fn cases() -> u32 {
    std::env::var("VIFKIT_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
        .max(10_000)
}

#[derive(Default, Debug)]
struct Tally {
    total: usize,
    agree: usize,
    both_accept: usize,
    explained: usize,
    per_difference: BTreeMap<&'static str, usize>,
}

impl Tally {
    fn add<D: Copy>(&mut self, v: &Verdict<D>, name: fn(D) -> &'static str) {
        self.total += 1;
        match v {
            Verdict::Agree { accepted } => {
                self.agree += 1;
                self.both_accept += usize::from(*accepted);
            }
            Verdict::Explained(ds) => {
                self.explained += 1;
                for d in ds {
                    *self.per_difference.entry(name(*d)).or_default() += 1;
                }
            }
            Verdict::Unexplained(_) => {}
        }
    }

    fn print(&self, what: &str) {
        eprintln!(
            "{what}: {} compared, {} agree ({} both accept with the same values, {} both \
             reject), {} disagree, every one explained by:",
            self.total,
            self.agree,
            self.both_accept,
            self.agree - self.both_accept,
            self.explained
        );
        for (d, n) in &self.per_difference {
            eprintln!("  {d:<20} {n}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// The committed configs
// ---------------------------------------------------------------------------------------

#[test]
fn every_committed_config() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut tally = Tally::default();
    let mut seen = 0;
    for dir in ["examples", "tests/data"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "cfg" || e == "conf"))
            .collect();
        files.sort();
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            let v = classify_cfg(&bytes);
            if let Verdict::Unexplained(u) = &v {
                panic!("{}:\n{u}", path.display());
            }
            eprintln!("{}: {v:?}", path.display());
            tally.add(&v, |d| d.name());
            seen += 1;
        }
    }
    tally.print("committed configs");
    assert!(seen >= 10, "only {seen} configs found");
}

// ---------------------------------------------------------------------------------------
// Generated configs
// ---------------------------------------------------------------------------------------

type Gen = BoxedStrategy<String>;

fn pick(options: &[&'static str]) -> Gen {
    prop::sample::select(options.to_vec())
        .prop_map(str::to_owned)
        .boxed()
}

/// Each generator has a clean form (valid syntax, so both parsers accept and values get
/// compared) and a nasty one (everything else the grammar has edges for).
fn ident(nasty: bool) -> Gen {
    let common = pick(&[
        "vif",
        "name",
        "type",
        "builder",
        "memory",
        "disk",
        "vif.default.script",
        "vif.default.bridge",
        "vif.default.backend",
        "vifscript",
        "defaultbridge",
        "a",
        "b_2",
        "x.y.z",
    ]);
    if nasty {
        prop_oneof![
            3 => common,
            1 => "[a-z][a-z0-9._]{0,6}",
            1 => pick(&["A", "1a", "_x", "a-b", "é", "vif "]),
        ]
        .boxed()
    } else {
        prop_oneof![3 => common, 1 => "[a-z][a-z0-9._]{0,6}"].boxed()
    }
}

fn escape(nasty: bool) -> Gen {
    let letters = pick(&[
        "\\n", "\\t", "\\\\", "\\'", "\\\"", "\\a", "\\b", "\\f", "\\r", "\\v",
    ]);
    if nasty {
        prop_oneof![
            3 => letters,
            2 => "\\\\x[0-9a-fA-F]{0,3}",
            3 => "\\\\[0-7][0-9 +-]{0,4}",
            1 => pick(&["\\q", "\\8", "\\ ", "\\0", "\\\r"]),
        ]
        .boxed()
    } else {
        letters
    }
}

fn string_piece(nasty: bool) -> Gen {
    let plain = prop_oneof![
        5 => "[a-zA-Z0-9 =,.:/@_-]{1,10}",
        2 => pick(&[
            "mac=00:16:3e:00:00:01,bridge=xenbr0",
            "type=ioemu, bridge=br900",
            "rate=10MB/s@20ms",
            "hvm", "pv", "pvh", "generic", "HVM", "vif-openvswitch", "",
        ]),
        1 => pick(&["é", "#", "\t", "[", "]", ";", "\u{7f}", "\u{1}", "€"]),
    ];
    if nasty {
        prop_oneof![
            10 => plain,
            6 => escape(true),
            1 => pick(&["'", "\""]),
            2 => Just("\r".to_owned()),
        ]
        .boxed()
    } else {
        prop_oneof![8 => plain, 1 => escape(false)].boxed()
    }
}

fn string_literal(nasty: bool) -> Gen {
    (
        prop::sample::select(vec!['\'', '"']),
        prop::collection::vec(string_piece(nasty), 0..4),
        prop::bool::weighted(if nasty { 0.05 } else { 0.0 }),
    )
        .prop_map(|(q, pieces, unterminated)| {
            let mut s = String::new();
            s.push(q);
            for p in pieces {
                // In the clean form a piece never holds the closing quote.
                s.push_str(&p);
            }
            if !unterminated {
                s.push(q);
            }
            s
        })
        .boxed()
}

fn leaf(nasty: bool) -> Gen {
    if nasty {
        prop_oneof![
            10 => string_literal(true),
            3 => "[0-9][0-9a-fx]{0,6}",
            1 => pick(&["bridge=x", "hvm", "+1", "(1)", ":", "-", ".5", "x y", "'a' 'b'"]),
        ]
        .boxed()
    } else {
        prop_oneof![5 => string_literal(false), 1 => "[0-9][0-9a-fx]{0,6}"].boxed()
    }
}

fn separator(nasty: bool) -> Gen {
    if nasty {
        pick(&[
            ",",
            ", ",
            ",\n  ",
            " ,\t",
            ", # a comment\n",
            "\n,",
            ",\r\n",
            ",,",
            " ",
            "",
        ])
    } else {
        pick(&[
            ",",
            ", ",
            ",\n  ",
            " ,\t",
            ", # a comment, ]\n",
            "\n,",
            "\n ,\n",
        ])
    }
}

fn value(nasty: bool) -> Gen {
    let depth = if nasty { 4 } else { 3 };
    // A nasty value is mostly clean leaves with a nasty one here and there.
    let leaves = if nasty {
        prop_oneof![3 => leaf(false), 1 => leaf(true)].boxed()
    } else {
        leaf(false)
    };
    leaves
        .prop_recursive(depth, 32, 5, move |inner| {
            let list = (
                prop::collection::vec((inner, separator(nasty)), 0..5),
                prop::bool::weighted(0.3),
                pick(&["", " ", "\n", "\n  "]),
            )
                .prop_map(|(items, trailing, pad)| {
                    let mut s = format!("[{pad}");
                    let n = items.len();
                    for (i, (item, sep)) in items.into_iter().enumerate() {
                        s.push_str(&item);
                        if i + 1 < n || trailing {
                            s.push_str(&sep);
                        }
                    }
                    s.push_str(&pad);
                    s.push(']');
                    s
                });
            if nasty {
                prop_oneof![20 => list, 1 => Just("[,]".to_owned())].boxed()
            } else {
                list.boxed()
            }
        })
        .boxed()
}

/// A statement; a nasty one has exactly one nasty part (name, operator, value, comment
/// or end), so that the others do not hide it behind an error of their own.
fn statement(nasty: bool) -> Gen {
    let op = |nasty: bool| {
        if nasty {
            pick(&["+ =", "==", "=+", ""])
        } else {
            pick(&["=", "=", "=", "+="])
        }
    };
    let end = |nasty: bool| {
        if nasty {
            pick(&["\r\n", " ", "", ";;", "\r", "\n\r\n"])
        } else {
            pick(&["\n", "\n", "\n", ";", "; ", ";\n", "\n\n"])
        }
    };
    let comment = |nasty: bool| {
        if nasty {
            pick(&[" # \r", " #\u{1}", " # é\t'\"", "#"])
        } else {
            pick(&["", "", "", " # comment 'x' [", "\t#"])
        }
    };
    let which = if nasty { 0..5usize } else { 5..6usize };
    (
        which,
        (ident(false), ident(true)),
        pick(&["", " ", "\t", "  "]),
        (op(false), op(true)),
        pick(&["", " ", "\t"]),
        (value(false), value(true)),
        (comment(false), comment(true)),
        (end(false), end(true)),
    )
        .prop_map(|(which, name, w1, op, w2, v, comment, end)| {
            let pick = |k: usize, (clean, nasty): (String, String)| {
                if which == k {
                    nasty
                } else {
                    clean
                }
            };
            format!(
                "{}{w1}{}{w2}{}{}{}",
                pick(0, name),
                pick(1, op),
                pick(2, v),
                pick(3, comment),
                pick(4, end)
            )
        })
        .boxed()
}

fn line(nasty: bool) -> Gen {
    let quiet = prop_oneof![
        1 => Just("\n".to_owned()),
        1 => "# [ -~]{0,20}\n",
        1 => pick(&["  \t\n", ";\n", "\t# x\n"]),
    ];
    if nasty {
        // Mostly clean lines, so that one nasty feature is not hidden by another error.
        prop_oneof![
            16 => statement(false),
            4 => statement(true),
            3 => quiet,
            1 => pick(&["x = +1\n", "import os\n", "a = 'x' 'y'\n", "\r\n", "a = 1 # \r\n", "\r"]),
        ]
        .boxed()
    } else {
        prop_oneof![10 => statement(false), 2 => quiet].boxed()
    }
}

/// A byte edit: (where, what, byte).
type Edit = (usize, u8, u8);

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let byte = prop_oneof![
        3 => prop::sample::select(b"\0\r\n\xff\xc3[]'\"\\#;,= +x0a".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        4 => Just(Vec::new()),
        1 => prop::collection::vec((any::<usize>(), 0u8..3, byte), 1..4),
    ]
}

/// A config: clean statements (65%), or nasty ones with random byte edits on top.
fn config() -> impl Strategy<Value = Vec<u8>> {
    let clean = (
        prop::collection::vec(line(false), 0..8),
        prop::bool::weighted(0.1), // no final newline
    )
        .prop_map(|(lines, chop)| {
            let mut s = lines.concat();
            if chop {
                while s.ends_with('\n') {
                    s.pop();
                }
            }
            s.into_bytes()
        });
    let nasty = (
        prop::collection::vec(line(true), 0..8),
        prop::bool::weighted(0.2),                 // no final newline
        prop::bool::weighted(0.15),                // all line ends CRLF
        prop::option::weighted(0.03, 60usize..70), // deeply nested list
        prop::bool::weighted(0.2),                 // Latin-1 instead of UTF-8
        edits(),
    )
        .prop_map(|(lines, chop, crlf, deep, latin1, edits)| {
            let mut s = lines.concat();
            if let Some(d) = deep {
                s.push_str(&format!("deep = {}'x'{}\n", "[".repeat(d), "]".repeat(d)));
            }
            if crlf {
                s = s.replace("\r\n", "\n").replace('\n', "\r\n");
            }
            if chop {
                while s.ends_with('\n') || s.ends_with('\r') {
                    s.pop();
                }
            }
            let mut b = s.into_bytes();
            if latin1 {
                // Every `é` as the single byte 0xe9 (invalid UTF-8).
                let mut out = Vec::with_capacity(b.len());
                let mut i = 0;
                while i < b.len() {
                    if b[i..].starts_with("é".as_bytes()) {
                        out.push(0xe9);
                        i += 2;
                    } else {
                        out.push(b[i]);
                        i += 1;
                    }
                }
                b = out;
            }
            for (at, kind, byte) in edits {
                let at = if b.is_empty() { 0 } else { at % (b.len() + 1) };
                match kind {
                    0 => b.insert(at, byte),
                    1 if at < b.len() => {
                        b.remove(at);
                    }
                    _ if at < b.len() => b[at] = byte,
                    _ => b.push(byte),
                }
            }
            b
        });
    // A clean config with one string holding an escape or control character: the
    // escapes' and CRs' differences, alone.
    let one_odd_string = (
        prop::collection::vec(line(false), 0..4),
        ident(false),
        string_piece(false),
        prop_oneof![
            3 => "\\\\x[0-9a-fA-F]{0,3}",
            4 => "\\\\[0-7][0-9]{0,4}",
            1 => pick(&["\\0", "\\000", "\\x00", "\\177", "\\200", "\\q", "\r", "\r\r"]),
        ],
        string_piece(false),
        prop::collection::vec(line(false), 0..4),
    )
        .prop_map(|(before, name, a, odd, b, after)| {
            format!(
                "{}{name} = [ 'x', \"{a}{odd}{b}\" ]\n{}",
                before.concat(),
                after.concat()
            )
            .into_bytes()
        });
    prop_oneof![11 => clean, 6 => nasty, 3 => one_odd_string]
}

fn runner() -> TestRunner {
    TestRunner::new(PtConfig {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..PtConfig::default()
    })
}

#[test]
fn generated_configs() {
    let tally = std::cell::RefCell::new(Tally::default());
    let mut runner = runner();
    let result = runner.run(&config(), |input| {
        let v = classify_cfg(&input);
        if let Verdict::Unexplained(u) = &v {
            return Err(TestCaseError::fail(u.to_string()));
        }
        tally.borrow_mut().add(&v, |d| d.name());
        Ok(())
    });
    let tally = tally.into_inner();
    tally.print("generated configs");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(tally.total >= cases() as usize);
    // The generator reaches both sides of the comparison and every known difference
    // (else it has gone blind).
    assert!(tally.agree > cases() as usize / 10, "{tally:?}");
    for d in xl_parser::differential::CfgDifference::ALL {
        assert!(
            tally.per_difference.contains_key(d.name()),
            "no generated config showed `{}`: {tally:?}",
            d.name()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Generated rates
// ---------------------------------------------------------------------------------------

fn digits(nasty: bool) -> Gen {
    if nasty {
        prop_oneof![
            4 => "[0-9]{1,12}",
            2 => "0[0-9]{1,4}",
            1 => pick(&[
                "0", "4294967295", "4294967296", "18446744073709551615",
                "18446744073709551616", "4294968", "4295", "99999999999999999999999", "",
            ]),
        ]
        .boxed()
    } else {
        prop_oneof![
            12 => "[1-9][0-9]{0,5}",
            1 => "0[0-9]{1,4}",
            1 => pick(&["4294967295", "1", "8"]),
        ]
        .boxed()
    }
}

/// A rate: well-formed (70%), or with any part bent.
fn rate() -> impl Strategy<Value = String> {
    let clean = (
        digits(false),
        pick(&["", "K", "M", "G"]),
        pick(&["B", "b"]),
        prop::option::weighted(0.5, (digits(false), pick(&["", "s", "ms", "m", "us", "u"]))),
    )
        .prop_map(|(n, prefix, unit, interval)| {
            let mut s = format!("{n}{prefix}{unit}/s");
            if let Some((i, suffix)) = interval {
                s.push('@');
                s.push_str(&i);
                s.push_str(&suffix);
            }
            s
        });
    let bent = (
        digits(true),
        pick(&["", "K", "M", "G", "k", "m", "Z"]),
        pick(&["B", "b", "", "bit"]),
        pick(&["/s", "/s", "", "/m", "/S", "/s/s", " /s"]),
        prop::option::weighted(
            0.6,
            (
                digits(true),
                pick(&["", "s", "ms", "m", "us", "u", "h", "mss", "S", " ms"]),
            ),
        ),
        pick(&["", "", "", "", "", "@", " ", "\0", "é", "+", "\n", "-"]),
    )
        .prop_map(|(n, prefix, unit, per, interval, noise)| {
            let mut s = format!("{n}{prefix}{unit}{per}");
            if let Some((i, suffix)) = interval {
                s.push('@');
                s.push_str(&i);
                s.push_str(&suffix);
            }
            match noise.as_str() {
                "+" | " " | "-" => s.insert_str(0, &noise),
                _ => s.push_str(&noise),
            }
            s
        });
    prop_oneof![
        14 => clean,
        5 => bent,
        1 => "[0-9KMGBb/s@mu ]{0,14}",
    ]
}

#[test]
fn xen_rate_vectors() {
    // Xen's own check-xl-vif-parse vectors, accepted and rejected, plus octal ones.
    for s in [
        "2MB/s",
        "16Mb/s",
        "2000000B/s",
        "16000000b/s",
        "2KB/s",
        "1GB/s",
        "10MB/s@1s",
        "foo",
        "10MB",
        "10MB/m",
        "10ZB/s",
        "4294967296b/s",
        "0B/s",
        "@foo",
        "@10h",
        "1B/s@4294967296us",
        "@4294968ms",
        "@4295s",
        "@0us",
        "4294967295GB/s@5us",
        "4296MB/s@4294s",
        "@",
        "010MB/s",
        "08MB/s",
        "1MB/s@010",
    ] {
        let v = classify_rate(s);
        assert!(!v.is_unexplained(), "{s}: {v:?}");
    }
}

#[test]
fn generated_rates() {
    let tally = std::cell::RefCell::new(Tally::default());
    let mut runner = runner();
    let result = runner.run(&rate(), |input| {
        let v = classify_rate(&input);
        if let Verdict::Unexplained(u) = &v {
            return Err(TestCaseError::fail(u.to_string()));
        }
        tally.borrow_mut().add(&v, |d| d.name());
        Ok(())
    });
    let tally = tally.into_inner();
    tally.print("generated rates");
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(tally.total >= cases() as usize);
    assert!(tally.agree > cases() as usize / 2, "{tally:?}");
    for d in xl_parser::differential::RateDifference::ALL {
        assert!(
            tally.per_difference.contains_key(d.name()),
            "no generated rate showed `{}`: {tally:?}",
            d.name()
        );
    }
}
