//! What vifkit reads from an xl config parsed by libxlutil (`vifkit --xl-parser=xen`):
//! the guest type, the `vif` list and an `xl.conf`'s vif defaults. The meaning is that of
//! `translator::cfg`'s typed getters ([`translator::cfg::Config::guest_type`],
//! [`vifs`](translator::cfg::Config::vifs),
//! [`vif_defaults`](translator::cfg::Config::vif_defaults)); only the parser differs. The
//! differential tests check that both give the same results wherever the two parsers
//! agree on the values.
//!
//! libxlutil keeps no line numbers it would give out, so messages name the file only,
//! except libxlutil's own (a list where a string belongs: ``x.cfg:3: parameter `type' is
//! a list but should be a single value``).

use translator::cfg::VifDefaults;
use translator::GuestType;

use xl_sys::safe::{Config, XlError};

/// Why a setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// libxlutil's lookup failed (a list where a string belongs, or the reverse), with its
    /// message.
    #[error("{}", strip_warning_tag(&.0.to_string()))]
    Xl(#[from] XlError),
    /// A setting has a value outside its allowed set.
    #[error("{file}: Invalid {name} `{value}` (expected {expected})")]
    InvalidValue {
        /// The file.
        file: String,
        /// The setting.
        name: &'static str,
        /// The value found.
        value: String,
        /// The allowed values, in words.
        expected: &'static str,
    },
    /// `builder` and `type` name different guest types.
    #[error("{file}: Contradicting `builder` ({builder}) and `type` ({ty})")]
    ContradictingBuilder {
        /// The file.
        file: String,
        /// The value of `builder`.
        builder: String,
        /// The value of `type`.
        ty: String,
    },
    /// A string is not UTF-8 (libxlutil takes any byte).
    #[error("{file}: Setting `{name}` is not UTF-8: {lossy:?}")]
    NotUtf8 {
        /// The file.
        file: String,
        /// The setting (`vif[N]` for an item of the vif list).
        name: String,
        /// The text, invalid bytes replaced.
        lossy: String,
    },
}

/// libxlutil's lookup warnings read `FILE:LINE: warning: parameter ...`; as a vifkit
/// error or warning, whose prefix says which, the inner `warning: ` is dropped.
fn strip_warning_tag(message: &str) -> String {
    message.replacen(": warning: ", ": ", 1)
}

fn text(config: &Config, name: &str, bytes: &[u8]) -> Result<String, ViewError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| ViewError::NotUtf8 {
        file: config.file().to_owned(),
        name: name.to_owned(),
        lossy: String::from_utf8_lossy(bytes).into_owned(),
    })
}

fn string(config: &Config, name: &str) -> Result<Option<String>, ViewError> {
    config
        .get_string(name)?
        .map(|b| text(config, name, b))
        .transpose()
}

/// The guest type: `type = "hvm" | "pv" | "pvh"`, else the older `builder = "hvm"` (HVM)
/// or `"generic"` (PV), else PV; both given and disagreeing is an error.
pub fn guest_type(config: &Config) -> Result<GuestType, ViewError> {
    let file = || config.file().to_owned();
    let ty = match string(config, "type")? {
        None => None,
        Some(t) => Some((
            match t.as_str() {
                "hvm" => GuestType::Hvm,
                "pv" => GuestType::Pv,
                "pvh" => GuestType::Pvh,
                _ => {
                    return Err(ViewError::InvalidValue {
                        file: file(),
                        name: "type",
                        value: t,
                        expected: "hvm, pv or pvh",
                    })
                }
            },
            t,
        )),
    };
    let Some(builder) = string(config, "builder")? else {
        return Ok(ty.map_or(GuestType::Pv, |(t, _)| t));
    };
    let from_builder = match builder.as_str() {
        "hvm" => GuestType::Hvm,
        "generic" => GuestType::Pv,
        _ => {
            return Err(ViewError::InvalidValue {
                file: file(),
                name: "builder",
                value: builder,
                expected: "hvm or generic",
            })
        }
    };
    match ty {
        Some((t, text)) if t != from_builder => Err(ViewError::ContradictingBuilder {
            file: file(),
            builder,
            ty: text,
        }),
        _ => Ok(from_builder),
    }
}

/// The `vif` entries as xl reads them, and warnings about what xl ignores.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vifs {
    /// The specs, in order (the index is the device id).
    pub items: Vec<String>,
    /// Warnings (a string instead of a list, a nested list), each naming the file.
    pub warnings: Vec<String>,
}

/// The `vif` entries: a single string instead of a list gives no NICs and a warning; a
/// nested list ends the list (xl stops there silently; here with a warning counting what
/// is ignored). No `vif` at all: no entries, no warning.
pub fn vifs(config: &Config) -> Result<Vifs, ViewError> {
    let mut out = Vifs::default();
    let list = match config.get_list("vif") {
        Ok(Some(list)) => list,
        Ok(None) => return Ok(out),
        Err(XlError::WrongType { message, .. }) => {
            out.warnings.push(format!(
                "{}: xl creates no NICs from it",
                strip_warning_tag(&message)
            ));
            return Ok(out);
        }
        Err(e) => return Err(e.into()),
    };
    out.items.reserve(list.len());
    for i in 0..list.len() {
        match list.item(i) {
            Some(spec) => out.items.push(text(config, &format!("vif[{i}]"), spec)?),
            None => {
                let ignored = list.len() - i;
                let (noun, verb) = if ignored == 1 {
                    ("entry", "is")
                } else {
                    ("entries", "are")
                };
                out.warnings.push(format!(
                    "{}: Nested list inside `vif` (entry {i}): xl stops reading the list \
                     there, so {ignored} {noun} {verb} ignored",
                    config.file()
                ));
                break;
            }
        }
    }
    Ok(out)
}

/// The vif defaults of an `/etc/xen/xl.conf`. The deprecated `vifscript` and
/// `defaultbridge` still count, with a warning naming the new spelling; when both
/// spellings are set the new one wins (as in xl).
pub fn vif_defaults(config: &Config) -> Result<(VifDefaults, Vec<String>), ViewError> {
    let mut d = VifDefaults::default();
    let mut warnings = Vec::new();
    for (old, new, slot) in [
        ("vifscript", "vif.default.script", &mut d.script),
        ("defaultbridge", "vif.default.bridge", &mut d.bridge),
    ] {
        let old_value = string(config, old)?;
        let new_value = string(config, new)?;
        if old_value.is_some() {
            warnings.push(if new_value.is_some() {
                format!(
                    "{}: `{old}` is deprecated and overridden by `{new}`",
                    config.file()
                )
            } else {
                format!("{}: `{old}` is deprecated, use `{new}`", config.file())
            });
        }
        *slot = new_value.or(old_value);
    }
    d.backend = string(config, "vif.default.backend")?;
    d.gatewaydev = string(config, "vif.default.gatewaydev")?;
    Ok((d, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use xl_sys::safe::parse_config;

    fn cfg(src: &str) -> Config {
        parse_config(src.as_bytes(), "v.cfg").unwrap()
    }

    #[test]
    fn guest_types() {
        let gt = |s: &str| guest_type(&cfg(s)).map_err(|e| e.to_string());
        assert_eq!(gt(""), Ok(GuestType::Pv));
        assert_eq!(gt("type = 'hvm'"), Ok(GuestType::Hvm));
        assert_eq!(gt("type = \"pvh\""), Ok(GuestType::Pvh));
        assert_eq!(gt("builder = 'hvm'"), Ok(GuestType::Hvm));
        assert_eq!(gt("builder = 'generic'\ntype='pv'"), Ok(GuestType::Pv));
        assert_eq!(
            gt("type = 'HVM'"),
            Err("v.cfg: Invalid type `HVM` (expected hvm, pv or pvh)".into())
        );
        assert_eq!(
            gt("type = 'pvh'\nbuilder = 'generic'"),
            Err("v.cfg: Contradicting `builder` (generic) and `type` (pvh)".into())
        );
        assert_eq!(
            gt("\ntype = ['hvm']"),
            Err("v.cfg:2: parameter `type' is a list but should be a single value".into())
        );
    }

    #[test]
    fn vif_lists() {
        assert_eq!(vifs(&cfg("name='x'")).unwrap(), Vifs::default());
        let v = vifs(&cfg("vif = 'bridge=br0'\n")).unwrap();
        assert!(v.items.is_empty());
        assert_eq!(
            v.warnings,
            [
                "v.cfg:1: parameter `vif' is a single value but should be a list: xl creates \
              no NICs from it"
            ]
        );
        let v = vifs(&cfg("vif = [ 'a',\n 'b', [ 'c' ],\n 'd', ]\n")).unwrap();
        assert_eq!(v.items, ["a", "b"]);
        assert_eq!(
            v.warnings,
            [
                "v.cfg: Nested list inside `vif` (entry 2): xl stops reading the list there, \
              so 2 entries are ignored"
            ]
        );
        let v = vifs(&cfg("vif = [ 'a' ]\nvif += [ 'b\\tc' ]\n")).unwrap();
        assert_eq!(v.items, ["a", "b\tc"]);
        let e = vifs(&cfg("vif = [ '\u{e9}', 'x\u{ff}' ]")).unwrap();
        assert_eq!(e.items.len(), 2);
        let bad = parse_config(b"vif = [ 'ok', '\xff' ]", "b.cfg").unwrap();
        assert_eq!(
            vifs(&bad).unwrap_err().to_string(),
            "b.cfg: Setting `vif[1]` is not UTF-8: \"\u{fffd}\""
        );
    }

    #[test]
    fn xl_conf_defaults() {
        let (d, w) = vif_defaults(&cfg(
            "vif.default.script=\"vif-openvswitch\"\nvif.default.bridge=\"ovsbr0\"\n\
             vif.default.backend = 'drv'\nvif.default.gatewaydev = 'eth0'\n",
        ))
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(
            d,
            VifDefaults {
                script: Some("vif-openvswitch".into()),
                bridge: Some("ovsbr0".into()),
                backend: Some("drv".into()),
                gatewaydev: Some("eth0".into()),
            }
        );
        let (d, w) = vif_defaults(&cfg(
            "vifscript = 'vif-route'\ndefaultbridge = 'br1'\nvif.default.bridge = 'new'\n",
        ))
        .unwrap();
        assert_eq!(d.script.as_deref(), Some("vif-route"));
        assert_eq!(d.bridge.as_deref(), Some("new"));
        assert_eq!(
            w,
            [
                "v.cfg: `vifscript` is deprecated, use `vif.default.script`",
                "v.cfg: `defaultbridge` is deprecated and overridden by `vif.default.bridge`",
            ]
        );
        assert!(vif_defaults(&cfg("vif.default.script = ['x']")).is_err());
    }
}
