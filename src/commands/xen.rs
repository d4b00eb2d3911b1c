//! `--xl-parser=xen`: xl configs read by Xen's libxlutil, through the `vifkit-xl`
//! helper (see `src/bin/vifkit-xl.rs` for its output format).

use std::borrow::Cow;
use std::path::Path;

use translator::cfg::{VifDefaults, VifItem, VifList};
use translator::GuestType;

use super::CfgFile;
use crate::helper;
use crate::report::{Failure, Report};

const HELPER: &str = "vifkit-xl";
const HELPER_ENV: &str = "VIFKIT_XL_HELPER";

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// Runs the helper; its records as (kind, value), warnings already reported.
fn records(report: &mut Report, mode: &str, path: &Path) -> Result<Vec<(String, String)>, Failure> {
    let p = path.display().to_string();
    let out = helper::run(HELPER, HELPER_ENV, &[mode, &p], p == "-").map_err(|e| {
        Failure::Invalid(vec![if cfg!(feature = "xen") {
            format!("--xl-parser=xen needs {e}")
        } else {
            "--xl-parser=xen: this vifkit was built without libxenlight support (cargo \
             feature `xen`, which needs libxen-dev)"
                .to_owned()
        }])
    })?;
    let mut recs = Vec::new();
    let mut errors = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((kind, value)) = line.split_once('\t') else {
            continue;
        };
        let value = unescape(value);
        match kind {
            "warning" => report.warn(value),
            "error" => errors.push(value),
            _ => recs.push((kind.to_owned(), value)),
        }
    }
    if !out.status.success() || !errors.is_empty() {
        if errors.is_empty() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            errors.push(format!("{HELPER} failed: {}", stderr.trim()));
        }
        return Err(Failure::Invalid(errors));
    }
    Ok(recs)
}

/// The guest type and vifs of an xl config, read by libxlutil. libxlutil gives no line
/// numbers for list items: line 0 names the file only.
pub(super) fn load_cfg(report: &mut Report, path: &Path) -> Result<CfgFile<'static>, Failure> {
    let mut guest = GuestType::Pv;
    let mut items = Vec::new();
    for (kind, value) in records(report, "cfg", path)? {
        match kind.as_str() {
            "guest" => {
                guest = value
                    .parse()
                    .map_err(|e| Failure::Invalid(vec![format!("{HELPER}: {e}")]))?
            }
            "vif" => items.push(VifItem {
                spec: Cow::Owned(value),
                line: 0,
            }),
            _ => {}
        }
    }
    Ok(CfgFile {
        name: path.display().to_string(),
        guest,
        vifs: VifList {
            items,
            warnings: Vec::new(),
        },
    })
}

/// The vif defaults of an xl.conf, read by libxlutil.
pub(super) fn load_defaults(report: &mut Report, path: &Path) -> Result<VifDefaults, Failure> {
    let mut d = VifDefaults::default();
    for (kind, value) in records(report, "defaults", path)? {
        match kind.as_str() {
            "script" => d.script = Some(value),
            "bridge" => d.bridge = Some(value),
            "backend" => d.backend = Some(value),
            "gatewaydev" => d.gatewaydev = Some(value),
            _ => {}
        }
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn unescapes_what_the_helper_escapes() {
        assert_eq!(unescape(r"a\tb\nc\\d\re"), "a\tb\nc\\d\re");
        assert_eq!(unescape(r"x\"), "x\\");
    }
}
