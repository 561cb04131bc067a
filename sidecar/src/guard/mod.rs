//! What a server registered through the admin API (`/v1/mcp/server`, stored in the
//! database) may do on this host. The master key is a network credential, not a shell on
//! the sidecar's machine, so such servers only get what the operator opened on the
//! sidecar's command line: stdio commands from an allow-list, `os.environ/` names from an
//! allow-list (never `MESHGATE_*`), local spec files under one directory, and outbound
//! addresses outside the deny-list of [`outbound`]. Servers of the configuration file are
//! written by the operator and stay unrestricted.

pub mod connector;
pub mod flags;
pub mod outbound;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use meshgate_policy::env::{env_reference, EnvSource, ProcessEnv};
use meshgate_policy::ServerConfig;

pub use outbound::OutboundPolicy;

/// The operator's allowances for database servers.
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// Commands a database stdio server may run, exactly as written (`npx`, `/usr/bin/uvx`).
    pub stdio_commands: Vec<String>,
    /// Variables `os.environ/NAME` may read in a database server.
    pub env_names: Vec<String>,
    /// The directory (canonical) local `spec_path` files must be under.
    pub spec_dir: Option<PathBuf>,
    pub outbound: Arc<OutboundPolicy>,
}

/// A database server refused: the field (relative to the server) and why. The message
/// never depends on whether a variable or a file exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardError {
    pub field: String,
    pub message: String,
}

fn refuse(field: impl Into<String>, message: impl Into<String>) -> GuardError {
    GuardError {
        field: field.into(),
        message: message.into(),
    }
}

/// Variables of a stdio child that change what an allowed command runs (the loader, the
/// interpreter's startup code or search path): a database server may not set them.
const INJECTING_ENV: &[&str] = &[
    "PATH",
    "BASH_ENV",
    "ENV",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "DENO_DIR",
    "NPM_CONFIG_PREFIX",
    "NPM_CONFIG_USERCONFIG",
    "UV_INDEX_URL",
    "PIP_INDEX_URL",
];

fn injects(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    INJECTING_ENV.contains(&upper.as_str())
        || upper.starts_with("LD_")
        || upper.starts_with("DYLD_")
        || upper.starts_with("PYTHON")
        || upper.starts_with("GIT_")
}

/// Variables a database server may never read, whatever the allow-list says.
pub fn is_reserved_env(name: &str) -> bool {
    name.to_ascii_uppercase().starts_with("MESHGATE_")
}

impl HostPolicy {
    /// Refuses every `os.environ/NAME` of a stored server configuration whose name is not
    /// on the operator's list (or is reserved), before anything is looked up.
    pub fn check_env_refs(&self, config: &Map<String, Value>) -> Result<(), GuardError> {
        let mut found = None;
        walk_strings(config, &mut String::new(), &mut |path, s| {
            if found.is_some() {
                return;
            }
            if let Some(name) = env_reference(s) {
                if is_reserved_env(name) || !self.env_names.iter().any(|n| n == name) {
                    found = Some(refuse(
                        path,
                        format!(
                            "invalid {path}: `os.environ/{name}` is not allowed for servers registered through the API; \
                             the sidecar's operator lists the variables they may read (--allow-env, MESHGATE_ALLOWED_ENV_NAMES), never MESHGATE_*"
                        ),
                    ));
                }
            }
        });
        found.map_or(Ok(()), Err)
    }

    /// The environment database servers resolve `os.environ/` against: listed names only.
    pub fn env(&self) -> AllowedEnv<'_> {
        AllowedEnv(self)
    }

    /// The checks on a loaded database server that need no network: its command and its
    /// spec file. Returns the configuration to run (a local `spec_path` made canonical, so
    /// the file checked is the file read).
    pub fn check_server(&self, server: &ServerConfig) -> Result<ServerConfig, GuardError> {
        let mut server = server.clone();
        if let Some(command) = &server.command {
            if !self.stdio_commands.iter().any(|c| c == command) {
                return Err(refuse(
                    "command",
                    format!(
                        "invalid command: `{command}` is not allowed for servers registered through the API; \
                         the sidecar's operator lists the commands they may run (--allow-stdio-command, MESHGATE_ALLOWED_STDIO_COMMANDS){}",
                        if self.stdio_commands.is_empty() { "; none is allowed now" } else { "" }
                    ),
                ));
            }
        }
        if let Some(name) = server.env.keys().find(|k| injects(k)) {
            return Err(refuse(
                format!("env.{name}"),
                format!(
                    "invalid env.{name}: servers registered through the API may not set variables that change what their command runs (loader, interpreter options, search paths)"
                ),
            ));
        }
        if let Some(spec) = server.spec_path.as_deref().map(str::trim) {
            if !is_http_url(spec) {
                server.spec_path = Some(self.check_spec_file(spec)?);
            }
        }
        for (field, url) in [
            ("url", server.url.as_deref()),
            (
                "spec_path",
                server.spec_path.as_deref().filter(|s| is_http_url(s)),
            ),
            ("token_url", server.token_url.as_deref()),
        ] {
            if let Some(url) = url {
                check_literal_url(&self.outbound, field, url)?;
            }
        }
        Ok(server)
    }

    fn check_spec_file(&self, spec: &str) -> Result<String, GuardError> {
        let Some(dir) = &self.spec_dir else {
            return Err(refuse(
                "spec_path",
                "invalid spec_path: local spec files are not allowed for servers registered through the API \
                 (the sidecar's operator can allow a directory with --spec-dir / MESHGATE_SPEC_DIR); an http(s) URL is",
            ));
        };
        let outside = || {
            refuse(
                "spec_path",
                "invalid spec_path: it must name an existing file under the sidecar's spec directory",
            )
        };
        let path = Path::new(spec.strip_prefix("file://").unwrap_or(spec));
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            dir.join(path)
        };
        // Symlinks and `..` resolved: the file itself must lie under the directory.
        let real = std::fs::canonicalize(&path).map_err(|_| outside())?;
        if !real.starts_with(dir) || !real.is_file() {
            return Err(outside());
        }
        real.to_str().map(str::to_string).ok_or_else(outside)
    }

    /// Resolves the server's URLs and checks every address (for a clear 400 at
    /// registration; the connector checks again at every connection).
    pub async fn check_addresses(&self, server: &ServerConfig) -> Result<(), GuardError> {
        for (field, url) in [
            ("url", server.url.as_deref()),
            (
                "spec_path",
                server.spec_path.as_deref().filter(|s| is_http_url(s)),
            ),
            ("token_url", server.token_url.as_deref()),
        ] {
            let Some(url) = url else { continue };
            let Ok(uri) = url.trim().parse::<http::Uri>() else {
                continue; // validation reports malformed URLs
            };
            if uri.host().is_none() {
                continue;
            }
            connector::checked_addresses(&self.outbound, &uri)
                .await
                .map_err(|e| refuse(field, format!("invalid {field}: {e}")))?;
        }
        Ok(())
    }
}

/// An IP-literal URL is checked at once (no resolution needed).
fn check_literal_url(policy: &OutboundPolicy, field: &str, url: &str) -> Result<(), GuardError> {
    let Ok(uri) = url.trim().parse::<http::Uri>() else {
        return Ok(());
    };
    let Some(host) = uri.host().map(|h| h.trim_matches(['[', ']'])) else {
        return Ok(());
    };
    let Ok(ip) = host.parse::<std::net::IpAddr>() else {
        return Ok(());
    };
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    policy
        .check(std::net::SocketAddr::new(ip, port))
        .map_err(|kind| {
            refuse(
                field,
                format!("invalid {field}: outbound address refused for a database server: {kind}"),
            )
        })
}

fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn walk_strings(map: &Map<String, Value>, path: &mut String, f: &mut dyn FnMut(&str, &str)) {
    for (k, v) in map {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(k);
        walk_value(v, path, f);
        path.truncate(len);
    }
}

fn walk_value(v: &Value, path: &mut String, f: &mut dyn FnMut(&str, &str)) {
    match v {
        Value::String(s) => f(path, s),
        Value::Object(m) => walk_strings(m, path, f),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!(".{i}"));
                walk_value(item, path, f);
                path.truncate(len);
            }
        }
        _ => {}
    }
}

pub struct AllowedEnv<'a>(&'a HostPolicy);

impl EnvSource for AllowedEnv<'_> {
    fn var(&self, name: &str) -> Option<String> {
        let allowed = !is_reserved_env(name) && self.0.env_names.iter().any(|n| n == name);
        allowed.then(|| ProcessEnv.var(name)).flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy() -> HostPolicy {
        HostPolicy {
            stdio_commands: vec!["npx".into()],
            env_names: vec!["GITHUB_TOKEN".into(), "MESHGATE_SHARED_SECRET".into()],
            spec_dir: None,
            outbound: Arc::new(OutboundPolicy::default()),
        }
    }

    #[test]
    fn env_refs_need_the_list_and_never_reach_meshgate_variables() {
        let p = policy();
        let ok = json!({"auth_value": "os.environ/GITHUB_TOKEN"});
        p.check_env_refs(ok.as_object().unwrap()).unwrap();
        for (doc, field) in [
            (json!({"auth_value": "os.environ/HOME"}), "auth_value"),
            (
                json!({"env": {"S": "os.environ/MESHGATE_SHARED_SECRET"}}),
                "env.S",
            ),
            (json!({"args": ["x", "os.environ/PATH"]}), "args.1"),
        ] {
            let e = p.check_env_refs(doc.as_object().unwrap()).unwrap_err();
            assert_eq!(e.field, field);
        }
        // Same text whether the variable exists or not: no oracle.
        let set = p
            .check_env_refs(json!({"a": "os.environ/PATH"}).as_object().unwrap())
            .unwrap_err()
            .message
            .replace("PATH", "X");
        let unset = p
            .check_env_refs(
                json!({"a": "os.environ/NO_SUCH_VAR_123"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap_err()
            .message
            .replace("NO_SUCH_VAR_123", "X");
        assert_eq!(set, unset);
        assert_eq!(p.env().var("MESHGATE_SHARED_SECRET"), None);
        assert_eq!(p.env().var("PATH"), None);
    }

    #[test]
    fn commands_and_spec_files() {
        let dir = std::env::temp_dir().join(format!("mg-guard-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("spec.json"), "{}").unwrap();
        let mut p = policy();
        let npx = ServerConfig {
            command: Some("npx".into()),
            ..Default::default()
        };
        p.check_server(&npx).unwrap();
        let sh = ServerConfig {
            command: Some("/bin/sh".into()),
            ..Default::default()
        };
        assert_eq!(p.check_server(&sh).unwrap_err().field, "command");
        for name in ["LD_PRELOAD", "NODE_OPTIONS", "PYTHONSTARTUP", "path"] {
            let injected = ServerConfig {
                command: Some("npx".into()),
                env: [(name.to_string(), "x".to_string())].into(),
                ..Default::default()
            };
            assert_eq!(
                p.check_server(&injected).unwrap_err().field,
                format!("env.{name}")
            );
        }
        let token = ServerConfig {
            command: Some("npx".into()),
            env: [("GITHUB_TOKEN".to_string(), "x".to_string())].into(),
            ..Default::default()
        };
        p.check_server(&token).unwrap();
        let spec = |s: &str| ServerConfig {
            spec_path: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(
            p.check_server(&spec("/etc/passwd")).unwrap_err().field,
            "spec_path",
            "no spec directory: no local files"
        );
        p.spec_dir = Some(std::fs::canonicalize(&dir).unwrap());
        let inside = p
            .check_server(&spec(&dir.join("spec.json").display().to_string()))
            .unwrap();
        assert!(inside.spec_path.unwrap().ends_with("spec.json"));
        p.check_server(&spec("spec.json")).unwrap();
        let escape = dir.join("../../../../etc/passwd").display().to_string();
        let missing = dir.join("nope.json").display().to_string();
        let a = p.check_server(&spec(&escape)).unwrap_err();
        let b = p.check_server(&spec("/etc/shadow")).unwrap_err();
        let c = p.check_server(&spec(&missing)).unwrap_err();
        assert_eq!(a, b);
        assert_eq!(b, c, "outside, unreadable and missing look the same");
        #[cfg(unix)]
        {
            let link = dir.join("link.json");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
            assert!(p.check_server(&spec(&link.display().to_string())).is_err());
        }
        p.check_server(&spec("https://example.com/spec.json"))
            .unwrap();
        let local = ServerConfig {
            url: Some("http://169.254.169.254/latest".into()),
            ..Default::default()
        };
        assert_eq!(p.check_server(&local).unwrap_err().field, "url");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
