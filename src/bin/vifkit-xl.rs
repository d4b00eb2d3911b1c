//! `vifkit-xl`: the one part of vifkit that links libxenlight/libxlutil.
//!
//! Linking libxenlight pulls in some twenty libraries, several milliseconds at every
//! process start, so `vifkit` does not: for `--xl-parser=xen` it runs this helper, which
//! reads the file with Xen's own parser (through `xl-sys`) and prints what vifkit needs.
//!
//! Usage: `vifkit-xl cfg FILE` or `vifkit-xl defaults FILE` (`-` for standard input).
//! Output, one record per line, `KIND<TAB>VALUE`, the value escaped (`\\`, `\n`, `\t`,
//! `\r`): for `cfg`, `guest` then one `vif` per list item; for `defaults`, `script`,
//! `bridge`, `backend`, `gatewaydev` as set; both may add `warning` records. On failure,
//! `error` records and exit status 1. Usage errors exit 2.

use std::io::{Read, Write};
use std::process::ExitCode;

use xl_parser::view;
use xl_sys::safe;

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

struct Records(String);

impl Records {
    fn push(&mut self, kind: &str, value: &str) {
        self.0.push_str(kind);
        self.0.push('\t');
        escape(value, &mut self.0);
        self.0.push('\n');
    }

    /// libxlutil's report: one error per line; its `warning: ` lines are warnings.
    fn failure(&mut self, e: &dyn std::error::Error) {
        for line in e.to_string().lines() {
            match line.strip_prefix("warning: ") {
                Some(w) => self.push("warning", w),
                None => self.push("error", line),
            }
        }
    }
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let r = if path == "-" {
        std::io::stdin().read_to_end(&mut buf).map(|_| ())
    } else {
        std::fs::read(path).map(|b| buf = b)
    };
    r.map_err(|e| format!("Cannot read {path}: {e}"))?;
    Ok(buf)
}

fn run(mode: &str, path: &str, out: &mut Records) -> Result<(), ()> {
    let bytes = read(path).map_err(|e| out.push("error", &e))?;
    let conf = safe::parse_config(&bytes, path).map_err(|e| out.failure(&e))?;
    match mode {
        "cfg" => {
            let guest = view::guest_type(&conf).map_err(|e| out.failure(&e))?;
            let vifs = view::vifs(&conf).map_err(|e| out.failure(&e))?;
            out.push("guest", guest.as_str());
            for v in &vifs.items {
                out.push("vif", v);
            }
            for w in &vifs.warnings {
                out.push("warning", w);
            }
        }
        _ => {
            let (d, warnings) = view::vif_defaults(&conf).map_err(|e| out.failure(&e))?;
            for (k, v) in [
                ("script", &d.script),
                ("bridge", &d.bridge),
                ("backend", &d.backend),
                ("gatewaydev", &d.gatewaydev),
            ] {
                if let Some(v) = v {
                    out.push(k, v);
                }
            }
            for w in &warnings {
                out.push("warning", w);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode @ ("cfg" | "defaults")), Some(path), None) =
        (args.first().map(String::as_str), args.get(1), args.get(2))
    else {
        eprintln!("usage: vifkit-xl cfg|defaults FILE");
        return ExitCode::from(2);
    };
    let mut out = Records(String::new());
    let ok = run(mode, path, &mut out).is_ok();
    let _ = std::io::stdout().write_all(out.0.as_bytes());
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
