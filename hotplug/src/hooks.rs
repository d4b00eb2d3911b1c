//! The administrator's `vif-post.d/*.hook` files, run as Xen's scripts run them.
//!
//! Xen's `vif-bridge`, `vif-route`, `vif-nat` end with `call_hooks vif post`: every
//! executable `/etc/xen/scripts/vif-post.d/*.hook` is sourced, in the order the shell's
//! glob gives (byte order, Xen sets `LANG=POSIX`), after the device is wired or unwired
//! and before success is reported, for every command. A hook sees the script's
//! variables; one that fails fails the script.
//!
//! vifkit is not a shell and cannot source a file, so it runs each executable hook as a
//! program of its own, one after the other, with the variables Xen's hooks use exported
//! ([`HookEnv`]): `command`, `type_if`, `vif` and `dev` (the device), `XENBUS_PATH`,
//! `ip`, `bridge`, `script` (the mode), `main_ip` (dom0's address on a routed or NAT vif)
//! and `netdev`. A hook without a `#!` line is run by `/bin/bash` (Xen's scripts are
//! bash). A file that is not executable is skipped with a warning; a hook that exits
//! non-zero or cannot be run fails the run, and an `online`/`add` is then undone.
//!
//! The files are the administrator's: vifkit never writes them and never takes a hook
//! path from xenstore or a vif spec. Only the directory's own entries ending in `.hook`
//! run.

use std::io::Read as _;
use std::os::fd::AsFd as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::HotplugError;

/// Where Xen's scripts look for the hooks.
pub const DEFAULT_DIR: &str = "/etc/xen/scripts/vif-post.d";

/// The variables a hook gets, as Xen's scripts name them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookEnv {
    /// `(name, value)` pairs, in order.
    pub vars: Vec<(&'static str, String)>,
}

/// Why a hook failed.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The directory could not be read.
    #[error("Cannot read the hook directory {0}")]
    Dir(PathBuf, #[source] std::io::Error),
    /// The hook could not be started.
    #[error("Cannot run hook {0}")]
    Spawn(PathBuf, #[source] std::io::Error),
    /// The hook ran and failed.
    #[error("Hook {path} failed ({status})")]
    Failed {
        /// The hook.
        path: PathBuf,
        /// How it ended.
        status: std::process::ExitStatus,
    },
}

/// The hooks in `dir`, in glob order: `(path, executable)`. A missing directory has
/// none.
fn hooks(dir: &Path) -> Result<Vec<(PathBuf, bool)>, HookError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(HookError::Dir(dir.to_owned(), e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|err| HookError::Dir(dir.to_owned(), err))?;
        let name = e.file_name();
        let bytes = name.as_encoded_bytes();
        // The glob `*.hook` skips names starting with a dot.
        if !bytes.ends_with(b".hook") || bytes.starts_with(b".") {
            continue;
        }
        let path = e.path();
        let executable = std::fs::metadata(&path)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        out.push((path, executable));
    }
    out.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
    Ok(out)
}

/// Whether the file starts with `#!`.
fn has_shebang(path: &Path) -> bool {
    let mut head = [0u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| &head == b"#!")
}

/// Runs the hooks in `dir` with `env`; what a hook prints goes to stderr (which xl
/// keeps in its log). `log` hears of skipped files. Returns the hooks run.
pub fn run(dir: &Path, env: &HookEnv, log: &dyn Fn(&str)) -> Result<Vec<PathBuf>, HotplugError> {
    let mut ran = Vec::new();
    for (path, executable) in hooks(dir)? {
        if !executable {
            log(&format!(
                "skipped hook {}: not an executable file",
                path.display()
            ));
            continue;
        }
        let mut cmd = if has_shebang(&path) {
            Command::new(&path)
        } else {
            let shell = if Path::new("/bin/bash").exists() {
                "/bin/bash"
            } else {
                "/bin/sh"
            };
            let mut c = Command::new(shell);
            c.arg(&path);
            c
        };
        let stdout = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .map(Stdio::from)
            .unwrap_or_else(|_| Stdio::null());
        let status = cmd
            .envs(env.vars.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .status()
            .map_err(|e| HookError::Spawn(path.clone(), e))?;
        if !status.success() {
            return Err(HookError::Failed { path, status }.into());
        }
        ran.push(path);
    }
    Ok(ran)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_run_in_order_with_the_variables_and_a_failure_stops() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = d.join("out");
        let write = |name: &str, text: &str, mode: u32| {
            let p = d.join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        let line = format!(
            "echo \"$0 $command $dev $ip\" >> {}\n",
            out.to_str().unwrap()
        );
        write("20-b.hook", &format!("#!/bin/sh\n{line}"), 0o755);
        // No `#!`: run by bash, as Xen sources it.
        write("10-a.hook", &line, 0o755);
        write("30-c.hook", &line, 0o644);
        write("40-d.txt", &line, 0o755);
        write(".50-e.hook", &line, 0o755);
        let env = HookEnv {
            vars: vec![
                ("command", "online".into()),
                ("dev", "vif5.0".into()),
                ("ip", "10.0.0.2 10.0.0.3".into()),
            ],
        };
        let skipped = std::cell::RefCell::new(Vec::new());
        let ran = run(d, &env, &|l| skipped.borrow_mut().push(l.to_owned())).unwrap();
        assert_eq!(ran, [d.join("10-a.hook"), d.join("20-b.hook")]);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            format!(
                "{} online vif5.0 10.0.0.2 10.0.0.3\n{} online vif5.0 10.0.0.2 10.0.0.3\n",
                d.join("10-a.hook").display(),
                d.join("20-b.hook").display()
            )
        );
        assert_eq!(skipped.borrow().len(), 1, "{skipped:?}");
        assert!(skipped.borrow()[0].contains("30-c.hook"), "{skipped:?}");
        // A failing hook stops the run, naming itself.
        write("15-fail.hook", "#!/bin/sh\nexit 3\n", 0o755);
        let err = run(d, &env, &|_| {}).unwrap_err();
        assert!(
            err.to_string()
                .contains("15-fail.hook failed (exit status: 3)"),
            "{err}"
        );
        // No directory, no hooks.
        assert!(run(&d.join("nosuch"), &env, &|_| {}).unwrap().is_empty());
    }
}
