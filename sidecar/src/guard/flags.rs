//! The operator's flags (and environment variables) for what database servers may do.

use std::path::PathBuf;
use std::sync::Arc;

use super::outbound::{Cidr, OutboundPolicy, ENVOY_ADMIN_PORTS};
use super::{is_reserved_env, HostPolicy};

pub const USAGE: &str = "  --allow-stdio-command CMD   a command servers registered through the API may run (repeatable; env MESHGATE_ALLOWED_STDIO_COMMANDS, comma-separated; none by default)
  --allow-env NAME            a variable `os.environ/NAME` may read in such servers (repeatable; env MESHGATE_ALLOWED_ENV_NAMES; never MESHGATE_*)
  --spec-dir DIR              local spec_path files of such servers must be under DIR (env MESHGATE_SPEC_DIR; none by default)
  --allow-outbound-range CIDR addresses such servers may reach despite the deny-list (repeatable; env MESHGATE_ALLOWED_OUTBOUND_RANGES)
  --deny-outbound-port PORT   a port of this host they may never reach (repeatable; env MESHGATE_DENIED_OUTBOUND_PORTS; the sidecar's own, 9901 and 15000 always)";

#[derive(Debug, Default)]
pub struct HostArgs {
    commands: Vec<String>,
    env_names: Vec<String>,
    spec_dir: Option<String>,
    ranges: Vec<String>,
    ports: Vec<String>,
}

fn env_list(name: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl HostArgs {
    pub fn from_env() -> HostArgs {
        HostArgs {
            commands: env_list("MESHGATE_ALLOWED_STDIO_COMMANDS"),
            env_names: env_list("MESHGATE_ALLOWED_ENV_NAMES"),
            spec_dir: std::env::var("MESHGATE_SPEC_DIR")
                .ok()
                .filter(|v| !v.trim().is_empty()),
            ranges: env_list("MESHGATE_ALLOWED_OUTBOUND_RANGES"),
            ports: env_list("MESHGATE_DENIED_OUTBOUND_PORTS"),
        }
    }

    /// Takes one of this module's flags; false if `flag` is not one.
    pub fn take(&mut self, flag: &str, value: String) -> bool {
        match flag {
            "--allow-stdio-command" => self.commands.push(value),
            "--allow-env" => self.env_names.push(value),
            "--spec-dir" => self.spec_dir = Some(value),
            "--allow-outbound-range" => self.ranges.push(value),
            "--deny-outbound-port" => self.ports.push(value),
            _ => return false,
        }
        true
    }

    pub fn is_flag(flag: &str) -> bool {
        matches!(
            flag,
            "--allow-stdio-command"
                | "--allow-env"
                | "--spec-dir"
                | "--allow-outbound-range"
                | "--deny-outbound-port"
        )
    }

    /// The policy; a bad value is an error naming the flag.
    pub fn into_policy(self, own_port: u16, secret_env: &str) -> Result<HostPolicy, String> {
        for name in &self.env_names {
            if is_reserved_env(name) || name == secret_env {
                return Err(format!(
                    "--allow-env {name}: the gateway's own variables cannot be opened to servers registered through the API"
                ));
            }
        }
        let spec_dir = match self.spec_dir {
            None => None,
            Some(d) => Some(
                PathBuf::from(&d)
                    .canonicalize()
                    .map_err(|e| format!("--spec-dir {d}: not a readable directory ({e})"))?,
            ),
        };
        let allowed = self
            .ranges
            .iter()
            .map(|r| Cidr::parse(r).map_err(|e| format!("--allow-outbound-range: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut denied_ports = vec![own_port];
        denied_ports.extend_from_slice(ENVOY_ADMIN_PORTS);
        for p in &self.ports {
            denied_ports.push(
                p.parse()
                    .map_err(|_| format!("--deny-outbound-port {p}: not a port number"))?,
            );
        }
        Ok(HostPolicy {
            stdio_commands: self.commands,
            env_names: self.env_names,
            spec_dir,
            outbound: Arc::new(OutboundPolicy {
                allowed,
                denied_ports,
            }),
        })
    }
}
