//! The helper binaries installed beside `vifkit` (`vifkit-libvirt`, `vifkit-xl`): they
//! link the big C libraries so that `vifkit` itself starts in a millisecond.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Where helper `name` is: `$ENV_VAR` if set, else beside the running `vifkit`, else
/// `name` on `PATH`.
pub fn path(name: &str, env_var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(name)))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Runs helper `name` with `args`, standard input passed through when `stdin` is set.
pub fn run(name: &str, env_var: &str, args: &[&str], stdin: bool) -> Result<Output, String> {
    let helper = path(name, env_var);
    Command::new(&helper)
        .args(args)
        .stdin(if stdin {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .output()
        .map_err(|e| format!("{} cannot run: {e}", helper.display()))
}

/// The last `error: ` line a helper printed on stderr (its message), or `fallback`.
pub fn error_line(stderr: &[u8], fallback: &str) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or(fallback)
        .to_owned()
}
