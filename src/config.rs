//! vifkit's configuration: `/etc/vifkit/vifkit.toml`, read the same way by every entry
//! point (the CLI, the libvirt hook, the hotplug script, `serve`).
//!
//! libvirt runs its hooks with a cleared environment (`LC_ALL`, `PATH`, `HOME` only), so
//! whatever a hook needs must come from this file. Each setting is taken from, in order:
//! the command-line option, the environment, the file, the default.
//!
//! | setting | option | environment | file | default |
//! |---|---|---|---|---|
//! | the file itself | `--config FILE` | `VIFKIT_CONFIG` | | `/etc/vifkit/vifkit.toml` |
//! | the registry | `--registry URL`, `--db PATH` | `VIFKIT_REGISTRY`, `VIFKIT_DB` | `registry = "..."` | `sqlite:/var/lib/vifkit/registry.db` |
//! | this host's id | | | `host = "..."` | the host name |
//! | Xen's scripts directory (the hotplug script's `vif-post.d` hooks) | | | `xen-scripts-dir = "..."` | `/etc/xen/scripts` |
//!
//! A missing default file means the defaults; a file named by `--config` or
//! `VIFKIT_CONFIG` must exist. A file that cannot be read or parsed, an unknown key or a
//! value of the wrong kind is an error naming the file, the line and the key.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Where the configuration file is unless `--config` or [`CONFIG_ENV`] says otherwise.
pub const DEFAULT_CONFIG: &str = "/etc/vifkit/vifkit.toml";
/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "VIFKIT_CONFIG";
/// The environment variable naming the registry as a URL.
pub const REGISTRY_ENV: &str = "VIFKIT_REGISTRY";
/// The environment variable naming a SQLite registry file (short for `sqlite:PATH`).
pub const DB_ENV: &str = registry::DB_ENV;
/// Where Xen's hotplug scripts (and their `vif-post.d` hooks) are unless the file says.
pub const DEFAULT_XEN_SCRIPTS: &str = "/etc/xen/scripts";
/// The registry when nothing names one.
pub const DEFAULT_REGISTRY: &str = "sqlite:/var/lib/vifkit/registry.db";

/// The syntax of the configuration file, for `--help`.
pub const SYNTAX: &str = "\
/etc/vifkit/vifkit.toml (TOML; every key optional):
  registry = \"sqlite:/var/lib/vifkit/registry.db\"   # or etcd://H1:2379,H2:2379,H3:2379
  host = \"dom0-a\"                                    # default: the host name
  xen-scripts-dir = \"/etc/xen/scripts\"               # vif-post.d/*.hook run from here
  [etcd]                                              # for an etcd:// registry
  ca = \"/etc/vifkit/etcd-ca.pem\"                      # TLS (then etcds:// is implied)
  cert = \"/etc/vifkit/etcd-client.pem\"
  key = \"/etc/vifkit/etcd-client-key.pem\"
  timeout_ms = 5000                                   # one registry call, at most
  lease_ttl_s = 30                                    # a dead host's claims expire after
Precedence: --registry/--db, then $VIFKIT_REGISTRY/$VIFKIT_DB, then the file, then the
default. --config FILE or $VIFKIT_CONFIG name another file.";

/// Where the registry lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryUrl {
    /// A SQLite file on this host.
    Sqlite(PathBuf),
    /// An etcd cluster shared by a fleet: `etcd://H1:P1,H2:P2` (`etcds://`: TLS).
    Etcd(String),
}

impl RegistryUrl {
    /// Reads `sqlite:PATH` (PATH absolute, or relative to the working directory).
    pub fn parse(text: &str) -> Result<RegistryUrl, String> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(format!("{text:?}: sqlite: needs a file path"));
            }
            return Ok(RegistryUrl::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("etcd://") || text.starts_with("etcds://") {
            #[cfg(feature = "etcd")]
            {
                registry_etcd::EtcdConfig::parse_url(text)?;
                return Ok(RegistryUrl::Etcd(text.to_owned()));
            }
            #[cfg(not(feature = "etcd"))]
            return Err(format!(
                "{text:?}: this vifkit was built without the etcd registry (feature `etcd`); \
                 use sqlite:PATH"
            ));
        }
        Err(format!(
            "{text:?} is not a registry URL (expected sqlite:PATH or etcd://HOST:PORT,..., \
             e.g. {DEFAULT_REGISTRY})"
        ))
    }

    /// The SQLite file; `None` for a shared registry.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            RegistryUrl::Sqlite(p) => Some(p),
            RegistryUrl::Etcd(_) => None,
        }
    }
}

impl fmt::Display for RegistryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistryUrl::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            RegistryUrl::Etcd(u) => f.write_str(u),
        }
    }
}

/// The settings every entry point uses, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file the settings came from, when one was read.
    pub file: Option<PathBuf>,
    /// The registry.
    pub registry: RegistryUrl,
    /// This host's id in a fleet.
    pub host: String,
    /// Xen's scripts directory: the hotplug script runs `vif-post.d/*.hook` from it.
    pub xen_scripts_dir: PathBuf,
    /// How to reach an etcd registry.
    pub etcd: EtcdFile,
}

/// The `[etcd]` table: TLS files, the timeout of one call and the host lease's TTL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EtcdFile {
    /// The CA of the members' certificates (PEM).
    pub ca: Option<PathBuf>,
    /// This host's client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// Its key (PEM).
    pub key: Option<PathBuf>,
    /// The most one registry call may take, in milliseconds.
    pub timeout_ms: Option<u64>,
    /// The host lease's time to live, in seconds.
    pub lease_ttl_s: Option<u64>,
    /// The prefix of every key (default `/vifkit/v1/`).
    pub prefix: Option<String>,
}

/// What the command line says (the global options).
#[derive(Debug, Clone, Default)]
pub struct Overrides<'a> {
    /// `--config FILE`.
    pub config: Option<&'a Path>,
    /// `--registry URL`.
    pub registry: Option<&'a str>,
    /// `--db PATH`.
    pub db: Option<&'a Path>,
}

/// The file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    registry: Option<String>,
    host: Option<String>,
    #[serde(rename = "xen-scripts-dir")]
    xen_scripts_dir: Option<PathBuf>,
    #[serde(default)]
    etcd: EtcdFile,
}

/// The environment a process sees, as far as vifkit reads it.
pub trait Env {
    /// The value of `name`, if set and not empty.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process's own environment.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var_os(name)
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
    }
}

/// Resolves the settings from the command line, the environment and the file.
pub fn load(over: &Overrides<'_>, env: &dyn Env) -> Result<Config, String> {
    let (path, named) = match (over.config, env.get(CONFIG_ENV)) {
        (Some(p), _) => (p.to_path_buf(), true),
        (None, Some(p)) => (PathBuf::from(p), true),
        (None, None) => (PathBuf::from(DEFAULT_CONFIG), false),
    };
    let (file, parsed) = match std::fs::read_to_string(&path) {
        Ok(text) => (Some(path.clone()), parse_file(&path, &text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => (None, File::default()),
        Err(e) => return Err(format!("Config {}: cannot read it: {e}", path.display())),
    };
    let registry = if let Some(url) = over.registry {
        RegistryUrl::parse(url).map_err(|e| format!("--registry {e}"))?
    } else if let Some(db) = over.db {
        RegistryUrl::Sqlite(db.to_path_buf())
    } else if let Some(url) = env.get(REGISTRY_ENV) {
        RegistryUrl::parse(&url).map_err(|e| format!("${REGISTRY_ENV}: {e}"))?
    } else if let Some(db) = env.get(DB_ENV) {
        RegistryUrl::Sqlite(PathBuf::from(db))
    } else if let Some(url) = &parsed.registry {
        RegistryUrl::parse(url).map_err(|e| format!("Config {}: registry = {e}", path.display()))?
    } else {
        RegistryUrl::parse(DEFAULT_REGISTRY).expect("the default registry URL is valid")
    };
    let host = match parsed.host {
        Some(h) => check_host(&path, h)?,
        None => hostname(),
    };
    let xen_scripts_dir = match parsed.xen_scripts_dir {
        Some(d) if d.is_absolute() => d,
        Some(d) => {
            return Err(format!(
                "Config {}: xen-scripts-dir = {:?}: must be an absolute path",
                path.display(),
                d.display().to_string()
            ))
        }
        None => PathBuf::from(DEFAULT_XEN_SCRIPTS),
    };
    Ok(Config {
        file,
        registry,
        host,
        xen_scripts_dir,
        etcd: parsed.etcd,
    })
}

/// The registry's SQLite file, resolved from the command line, the process's
/// environment and the configuration file. A shared (etcd) registry is refused with a
/// line naming the command that needs a file.
pub fn registry_path(over: &Overrides<'_>) -> Result<PathBuf, String> {
    let config = load(over, &ProcessEnv)?;
    match config.registry.sqlite_path() {
        Some(p) => Ok(p.to_path_buf()),
        None => Err(format!(
            "Registry {}: this command works on a SQLite registry (sqlite:PATH) only \
             (`registry migrate --from etcd://... --to sqlite:PATH` makes one); every other \
             command works on etcd too",
            config.registry
        )),
    }
}

/// For `install-hooks` and `install-service` given `--registry` or `--db`: makes
/// `ROOT/etc/vifkit/vifkit.toml` name that registry, so the hooks (whose environment
/// libvirt clears) and the service use it. Writes a new file; a file that already names
/// the same registry is left as it is; one that names another, or says anything the
/// writer cannot keep, is refused (the administrator's file is never rewritten).
/// Returns a line saying what was done, or `None` when no registry was given.
pub fn install(root: &Path, over: &Overrides<'_>) -> Result<Option<String>, String> {
    let url = match (over.registry, over.db) {
        (Some(u), _) => RegistryUrl::parse(u).map_err(|e| format!("--registry {e}"))?,
        (None, Some(db)) => RegistryUrl::Sqlite(
            std::path::absolute(db).map_err(|e| format!("--db {}: {e}", db.display()))?,
        ),
        (None, None) => return Ok(None),
    };
    let path = root.join(DEFAULT_CONFIG.trim_start_matches('/'));
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let parsed = parse_file(&path, &text)?;
            let same = match &parsed.registry {
                Some(r) => RegistryUrl::parse(r).ok().as_ref() == Some(&url),
                None => false,
            };
            if same {
                return Ok(Some(format!(
                    "{}: unchanged (registry {url})",
                    path.display()
                )));
            }
            Err(format!(
                "Config {} exists and does not name registry {url}: edit its `registry` \
                 line yourself (vifkit never rewrites it)",
                path.display()
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path.parent().expect("the config path has a directory");
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("Cannot create {}: {e}", dir.display()))?;
            let text = format!(
                "# vifkit's configuration (see `vifkit --help`).\nregistry = {}\n",
                toml_string(&url.to_string())
            );
            crate::fsutil::create_atomic(&path, text.as_bytes(), 0o644)
                .map_err(|e| format!("Cannot write {}: {e:#}", path.display()))?;
            Ok(Some(format!(
                "{}: written (registry {url})",
                path.display()
            )))
        }
        Err(e) => Err(format!("Config {}: cannot read it: {e}", path.display())),
    }
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn parse_file(path: &Path, text: &str) -> Result<File, String> {
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        let msg = e.message().trim_end();
        match line {
            Some(l) => format!("Config {}:{l}: {msg}", path.display()),
            None => format!("Config {}: {msg}", path.display()),
        }
    })
}

fn check_host(path: &Path, host: String) -> Result<String, String> {
    let ok = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if ok {
        Ok(host)
    } else {
        Err(format!(
            "Config {}: host = {:?}: a host id is 1 to 253 letters, digits, '-', '.' or '_'",
            path.display(),
            host.chars().take(64).collect::<String>()
        ))
    }
}

/// The host name (`uname -n`), or `localhost` when the kernel has none.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    struct Fake(HashMap<&'static str, String>);

    impl Env for Fake {
        fn get(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned().filter(|v| !v.is_empty())
        }
    }

    fn env(pairs: &[(&'static str, &str)]) -> Fake {
        Fake(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
    }

    fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
        let p = dir.path().join("vifkit.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn sqlite(p: &str) -> RegistryUrl {
        RegistryUrl::Sqlite(PathBuf::from(p))
    }

    #[test]
    fn the_file_names_the_registry_and_the_host() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "registry = \"sqlite:/srv/r.db\"\nhost = \"dom0-a\"\n");
        let over = Overrides {
            config: Some(&p),
            ..Overrides::default()
        };
        let c = load(&over, &env(&[])).unwrap();
        assert_eq!(c.registry, sqlite("/srv/r.db"));
        assert_eq!(c.host, "dom0-a");
        assert_eq!(c.file.as_deref(), Some(p.as_path()));
    }

    #[test]
    fn option_then_environment_then_file_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "registry = \"sqlite:/file.db\"\n");
        let p = p.as_path();
        let all = env(&[(REGISTRY_ENV, "sqlite:/env-url.db"), (DB_ENV, "/env-db.db")]);
        let with = |registry, db| Overrides {
            config: Some(p),
            registry,
            db,
        };
        let c = load(
            &with(Some("sqlite:/opt.db"), Some(Path::new("/db.db"))),
            &all,
        );
        assert_eq!(c.unwrap().registry, sqlite("/opt.db"));
        let c = load(&with(None, Some(Path::new("/db.db"))), &all).unwrap();
        assert_eq!(c.registry, sqlite("/db.db"));
        assert_eq!(
            load(&with(None, None), &all).unwrap().registry,
            sqlite("/env-url.db")
        );
        let only_db = env(&[(DB_ENV, "/env-db.db")]);
        assert_eq!(
            load(&with(None, None), &only_db).unwrap().registry,
            sqlite("/env-db.db")
        );
        assert_eq!(
            load(&with(None, None), &env(&[])).unwrap().registry,
            sqlite("/file.db")
        );
        let none = Overrides {
            config: Some(Path::new("/nonexistent/but/named.toml")),
            ..Overrides::default()
        };
        assert!(load(&none, &env(&[])).is_err(), "a named file must exist");
    }

    #[test]
    fn the_config_file_comes_from_the_environment_too() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "registry = \"sqlite:/from-env-file.db\"\n");
        let e = env(&[(CONFIG_ENV, p.to_str().unwrap())]);
        let c = load(&Overrides::default(), &e).unwrap();
        assert_eq!(c.registry, sqlite("/from-env-file.db"));
    }

    #[test]
    fn a_broken_file_is_an_error_naming_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, line, what) in [
            ("host = \"a\"\nregistry = \n", 2, ""),
            ("host = \"a\"\n\nregsitry = \"sqlite:/x\"\n", 3, "regsitry"),
            ("registry = 5\n", 1, ""),
            ("registry = \"mysql://x\"\n", 0, "not a registry URL"),
            ("host = \"a b\"\n", 0, "host id"),
        ] {
            let p = write(&dir, text);
            let over = Overrides {
                config: Some(&p),
                ..Overrides::default()
            };
            let e = load(&over, &env(&[])).unwrap_err();
            let file = p.display().to_string();
            assert!(e.contains(&file), "{text:?}: {e}");
            if line > 0 {
                assert!(e.contains(&format!("{file}:{line}:")), "{text:?}: {e}");
            }
            assert!(e.contains(what), "{text:?}: {e}");
        }
    }

    #[test]
    fn registry_urls() {
        assert_eq!(RegistryUrl::parse("sqlite:/a/b.db"), Ok(sqlite("/a/b.db")));
        assert_eq!(
            RegistryUrl::parse("sqlite:///a/b.db"),
            Ok(sqlite("/a/b.db"))
        );
        assert_eq!(RegistryUrl::parse("sqlite:rel.db"), Ok(sqlite("rel.db")));
        assert!(RegistryUrl::parse("sqlite:").is_err());
        assert!(RegistryUrl::parse("/a/b.db").is_err());
        #[cfg(feature = "etcd")]
        {
            let url = "etcd://h1:2379,10.0.0.2:2379,[::1]:2379";
            assert_eq!(RegistryUrl::parse(url), Ok(RegistryUrl::Etcd(url.into())));
            assert_eq!(RegistryUrl::parse(url).unwrap().to_string(), url);
            let e = RegistryUrl::parse("etcd://h1:2379,h2").unwrap_err();
            assert!(e.contains("member \"h2\" is not HOST:PORT"), "{e}");
            assert!(RegistryUrl::parse("etcd://").is_err());
            assert!(RegistryUrl::parse("etcd://h1:0").is_err());
            assert!(RegistryUrl::parse("etcd://h 1:2379").is_err());
        }
        #[cfg(not(feature = "etcd"))]
        {
            let e = RegistryUrl::parse("etcd://h1:2379").unwrap_err();
            assert!(e.contains("built without the etcd registry"), "{e}");
        }
        assert_eq!(sqlite("/x.db").to_string(), "sqlite:/x.db");
    }
}
