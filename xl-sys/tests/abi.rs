//! vifkit's C declarations (`vendor-headers/`) against Xen's installed headers.
//!
//! Compiles `abi-check/layout.c` (sizes, alignments, field offsets and types, enumerator
//! values: `_Static_assert`s over our types, renamed, next to Xen's) and
//! `abi-check/prototypes.c` (our prototypes redeclaring Xen's: the C compiler rejects any
//! difference) with the system C compiler (`$CC`, else `cc`), `-fsyntax-only`. Then shows
//! that the check can fail: copies of our headers with one declaration broken each must be
//! rejected.
//!
//! The headers are found with pkg-config (`xlutil`, `xenlight`), as the build does: when
//! xl-sys builds, they are installed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vendor_headers() -> PathBuf {
    manifest_dir().join("../vendor-headers")
}

/// `-I` flags for Xen's headers.
fn xen_include_flags() -> Vec<String> {
    let mut flags = Vec::new();
    for lib in ["xlutil", "xenlight"] {
        let found = pkg_config::Config::new()
            .cargo_metadata(false)
            .env_metadata(false)
            .probe(lib)
            .unwrap_or_else(|e| panic!("pkg-config cannot find {lib} (libxen-dev): {e}"));
        for p in found.include_paths {
            flags.push(format!("-I{}", p.display()));
        }
    }
    flags
}

struct Outcome {
    ok: bool,
    stderr: String,
}

/// Compiles one of the check files with our headers taken from `headers`.
fn compile(check: &str, headers: &Path, extra: &[&str]) -> Outcome {
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let out = Command::new(&cc)
        .env("LC_ALL", "C")
        .args(["-fsyntax-only", "-std=gnu11"])
        .arg(format!(
            "-DLIBXL_API_VERSION={:#08x}",
            xl_sys::LIBXL_API_VERSION
        ))
        .arg(format!("-I{}", headers.display()))
        .args(xen_include_flags())
        .args(extra)
        .arg(manifest_dir().join("abi-check").join(check))
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{cc}`: {e}"));
    Outcome {
        ok: out.status.success(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The functions `vifkit_xl.h` declares: `name(` at the end of a declaration's first line.
fn declared_functions(header: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_comment = false;
    for line in header.lines() {
        let t = line.trim_start();
        if in_comment {
            in_comment = !t.contains("*/");
            continue;
        }
        if t.starts_with("/*") {
            in_comment = !t.contains("*/");
            continue;
        }
        if t.starts_with('#') || t.is_empty() || line.starts_with(' ') {
            continue;
        }
        if let Some(paren) = t.find('(') {
            let before = t[..paren].trim_end();
            let name: String = before
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

/// Checks both files against `headers`; `Err` names what is wrong.
fn check(headers: &Path) -> Result<(), String> {
    let layout = compile("layout.c", headers, &[]);
    if !layout.ok {
        return Err(format!("layout.c:\n{}", layout.stderr));
    }
    let protos = compile("prototypes.c", headers, &["-Wredundant-decls"]);
    if !protos.ok {
        return Err(format!("prototypes.c:\n{}", protos.stderr));
    }
    let ours = std::fs::read_to_string(headers.join("vifkit_xl.h")).map_err(|e| e.to_string())?;
    let functions = declared_functions(&ours);
    if functions.len() < 15 {
        return Err(format!(
            "found only {} functions in vifkit_xl.h: {functions:?}",
            functions.len()
        ));
    }
    let missing: Vec<&String> = functions
        .iter()
        .filter(|f| {
            !protos
                .stderr
                .contains(&format!("redundant redeclaration of '{f}'"))
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "not declared by Xen's headers (or declared differently): {missing:?}\n{}",
            protos.stderr
        ));
    }
    Ok(())
}

#[test]
fn vendored_declarations_match_the_installed_headers() {
    if let Err(e) = check(&vendor_headers()) {
        panic!("vendor-headers/ differs from Xen's installed headers:\n{e}");
    }
}

/// A copy of our headers with `from` replaced by `to` in `file`.
fn broken_copy(name: &str, file: &str, from: &str, to: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("abi-mutants")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for h in ["vifkit_xl.h", "vifkit_xl_types.h"] {
        let mut text = std::fs::read_to_string(vendor_headers().join(h)).unwrap();
        if h == file {
            assert!(text.contains(from), "{h} has no `{from}`");
            text = text.replacen(from, to, 1);
        }
        std::fs::write(dir.join(h), text).unwrap();
    }
    dir
}

#[test]
fn the_check_rejects_broken_declarations() {
    let mutants = [
        (
            "field-type",
            "vifkit_xl_types.h",
            "uint32_t rate_interval_usecs;",
            "uint64_t rate_interval_usecs;",
        ),
        (
            "field-order",
            "vifkit_xl_types.h",
            "char *ip;\n    /** The bridge to join (`bridge=`). */\n    char *bridge;",
            "char *bridge;\n    /** The bridge to join (`bridge=`). */\n    char *ip;",
        ),
        (
            "missing-field",
            "vifkit_xl_types.h",
            "    char *colo_checkpoint_port;\n",
            "",
        ),
        (
            "pointer-vs-int",
            "vifkit_xl_types.h",
            "char *backend_domname;",
            "long backend_domname;",
        ),
        (
            "enumerator",
            "vifkit_xl_types.h",
            "LIBXL_NIC_TYPE_VIF = 2,",
            "LIBXL_NIC_TYPE_VIF = 3,",
        ),
        (
            "parameter-type",
            "vifkit_xl.h",
            "const char *data, int length);",
            "const char *data, long length);",
        ),
        (
            "constness",
            "vifkit_xl.h",
            "int xlu_cfg_get_list(const XLU_Config *cfg,",
            "int xlu_cfg_get_list(XLU_Config *cfg,",
        ),
        (
            "return-type",
            "vifkit_xl.h",
            "const char *libxl_nic_type_to_string(",
            "char *libxl_nic_type_to_string(",
        ),
        (
            "parameter-count",
            "vifkit_xl.h",
            "void libxl_device_nic_init(libxl_device_nic *nic);",
            "void libxl_device_nic_init(libxl_device_nic *nic, int flags);",
        ),
        (
            "unknown-function",
            "vifkit_xl.h",
            "#endif /* VIFKIT_XL_H */",
            "int xlu_cfg_no_such_function(XLU_Config *cfg);\n#endif /* VIFKIT_XL_H */",
        ),
    ];
    for (name, file, from, to) in mutants {
        let dir = broken_copy(name, file, from, to);
        match check(&dir) {
            Ok(()) => panic!("the ABI check accepted a broken declaration ({name}: {to:?})"),
            Err(e) => {
                let why = e
                    .lines()
                    .find(|l| l.contains("error") || l.contains("not declared"))
                    .unwrap_or("");
                eprintln!("{name}: rejected as it should be: {why}");
            }
        }
    }
}

#[test]
fn declared_functions_are_found() {
    let ours = std::fs::read_to_string(vendor_headers().join("vifkit_xl.h")).unwrap();
    let f = declared_functions(&ours);
    assert!(f.contains(&"xlu_cfg_init".to_owned()), "{f:?}");
    assert!(
        f.contains(&"libxl_nic_type_from_string".to_owned()),
        "{f:?}"
    );
    assert_eq!(f.len(), 15, "{f:?}");
}
