//! Finds libxlutil and libxenlight with pkg-config and generates the Rust bindings of
//! vifkit's own declarations in `vendor-headers/` (never of Xen's installed headers) with
//! bindgen, layout tests included.

use std::env;
use std::path::PathBuf;

/// The Xen release whose ABI `vendor-headers/` declares.
const DECLARED_XEN: &str = "4.17";

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let headers = manifest.join("..").join("vendor-headers");
    let wrapper = headers.join("vifkit_xl.h");
    for h in ["vifkit_xl.h", "vifkit_xl_types.h"] {
        println!("cargo:rerun-if-changed={}", headers.join(h).display());
    }
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_LIBDIR");

    let mut versions = Vec::new();
    for lib in ["xlutil", "xenlight"] {
        match pkg_config::Config::new()
            .atleast_version(DECLARED_XEN)
            .probe(lib)
        {
            Ok(found) => versions.push((lib, found.version)),
            Err(e) => {
                eprintln!(
                    "xl-sys: pkg-config cannot find `{lib}` (Xen's libxlutil/libxenlight, \
                     Debian package libxen-dev, {DECLARED_XEN} or later):\n{e}\n\
                     Install libxen-dev, or build vifkit without the `xen` feature \
                     (`cargo build --no-default-features --features libvirt`)."
                );
                std::process::exit(1);
            }
        }
    }
    for (lib, version) in &versions {
        let major_minor: Vec<&str> = version.split('.').take(2).collect();
        if major_minor.join(".") != DECLARED_XEN {
            println!(
                "cargo:warning=xl-sys: {lib} is version {version}, but vendor-headers/ \
                 declares the Xen {DECLARED_XEN} ABI; run `cargo test -p xl-sys --test abi` \
                 to compare them with the installed headers"
            );
        }
    }

    let bindings = bindgen::Builder::default()
        .header(wrapper.to_string_lossy())
        .clang_arg(format!("-I{}", headers.display()))
        .rust_target(bindgen::RustTarget::stable(85, 0).expect("a known Rust version"))
        .allowlist_function("xlu_cfg_(init|readdata|destroy|get_string|get_list|get_listitem|get_listitem2|value_type|value_get_string|value_get_list)")
        .allowlist_function("xlu_vif_parse_rate")
        .allowlist_function("libxl_device_nic_(init|dispose)")
        .allowlist_function("libxl_nic_type_(to|from)_string")
        .allowlist_type("XLU_.*|libxl_.*")
        // Functions take `FILE *`: use libc's, not a second declaration of glibc's.
        .blocklist_type("FILE|_IO_.*|__.*")
        .layout_tests(true)
        .generate_comments(true)
        .derive_debug(true)
        .derive_default(false)
        .generate_cstr(true)
        .merge_extern_blocks(true)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .expect("bindgen could not read vendor-headers/vifkit_xl.h");
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    bindings
        .write_to_file(out_dir.join("bindings.rs"))
        .expect("cannot write the bindings");

    // bindgen carries no comment over for a macro: write the API version's constant here.
    let types = std::fs::read_to_string(headers.join("vifkit_xl_types.h"))
        .expect("cannot read vendor-headers/vifkit_xl_types.h");
    let version = types
        .lines()
        .find_map(|l| l.strip_prefix("#define VIFKIT_LIBXL_API_VERSION "))
        .map(str::trim)
        .filter(|v| v.starts_with("0x") && v[2..].bytes().all(|b| b.is_ascii_hexdigit()))
        .expect("vifkit_xl_types.h defines VIFKIT_LIBXL_API_VERSION as 0xVVSSEE");
    std::fs::write(
        out_dir.join("api_version.rs"),
        format!(
            "/// The libxl API version (`0xVVSSEE`) `vendor-headers/` follows: \
             `VIFKIT_LIBXL_API_VERSION`.\npub const LIBXL_API_VERSION: u32 = {version};\n"
        ),
    )
    .expect("cannot write api_version.rs");
}
