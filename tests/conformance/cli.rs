//! Running the conformance CLI (`conformance server --suite active …`) and reading what
//! it reports: the summary it prints and the `checks.json` of every scenario it writes
//! under `-o DIR` (`server-<scenario>-<ISO timestamp>/checks.json`).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// One check as the suite reports it.
#[derive(Debug, Clone)]
pub struct Check {
    pub id: String,
    pub status: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub name: String,
    pub passed: usize,
    pub failed: usize,
    pub warnings: usize,
    /// Failing checks (id, message).
    pub failures: Vec<(String, String)>,
}

impl Scenario {
    pub fn ok(&self) -> bool {
        self.failed == 0
    }
}

/// What one `conformance server` run produced.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub scenarios: Vec<Scenario>,
    /// "Running active suite (N scenarios)", when printed.
    pub announced: Option<usize>,
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub log: PathBuf,
}

impl Run {
    /// Scenarios counted: those reported, or the announced number if more (a crash).
    pub fn total(&self) -> usize {
        self.scenarios.len().max(self.announced.unwrap_or(0))
    }

    pub fn passed(&self) -> usize {
        self.scenarios.iter().filter(|s| s.ok()).count()
    }

    pub fn checks(&self) -> (usize, usize) {
        let passed = self.scenarios.iter().map(|s| s.passed).sum();
        let failed = self.scenarios.iter().map(|s| s.failed).sum::<usize>();
        (passed, passed + failed)
    }

    pub fn failing(&self) -> Vec<&Scenario> {
        self.scenarios.iter().filter(|s| !s.ok()).collect()
    }
}

pub struct Cli {
    pub node: PathBuf,
    pub script: PathBuf,
    pub inject_key: PathBuf,
}

/// Through the gateway: the key to inject into every request the CLI sends.
pub struct KeyInjection<'a> {
    pub key: &'a str,
    pub header: &'a str,
}

const RUN_TIMEOUT: Duration = Duration::from_secs(20 * 60);

impl Cli {
    /// Runs the active suite against `url` for `spec`, keeping results in `dir`.
    pub async fn run(
        &self,
        url: &str,
        spec: &str,
        dir: &Path,
        key: Option<KeyInjection<'_>>,
    ) -> Run {
        let _ = std::fs::remove_dir_all(dir);
        let results = dir.join("results");
        let _ = std::fs::create_dir_all(&results);
        let log = dir.join("cli.log");
        let (out, err) = match std::fs::File::create(&log).and_then(|f| Ok((f.try_clone()?, f))) {
            Ok(files) => files,
            Err(e) => {
                eprintln!("cannot write {}: {e}", log.display());
                return Run {
                    log,
                    ..Run::default()
                };
            }
        };
        let mut cmd = Command::new(&self.node);
        cmd.arg(&self.script)
            .args([
                "server",
                "--url",
                url,
                "--suite",
                "active",
                "--spec-version",
                spec,
                "-o",
            ])
            .arg(&results)
            .env_remove("NODE_OPTIONS")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true);
        if let Some(k) = key {
            cmd.env(
                "NODE_OPTIONS",
                format!("--require \"{}\"", self.inject_key.display()),
            )
            .env("MESHGATE_CONFORMANCE_KEY", k.key)
            .env("MESHGATE_CONFORMANCE_KEY_HEADER", k.header);
        }
        let mut run = Run {
            log: log.clone(),
            ..Run::default()
        };
        match cmd.spawn() {
            Ok(mut child) => match tokio::time::timeout(RUN_TIMEOUT, child.wait()).await {
                Ok(Ok(status)) => run.exit_code = status.code(),
                Ok(Err(e)) => eprintln!("conformance CLI: {e}"),
                Err(_) => {
                    run.timed_out = true;
                    let _ = child.kill().await;
                }
            },
            Err(e) => eprintln!("cannot start {}: {e}", self.node.display()),
        }
        let stdout = std::fs::read_to_string(&log).unwrap_or_default();
        let (announced, summary) = parse_stdout(&stdout);
        run.announced = announced;
        run.scenarios = merge(summary, read_results(&results));
        run
    }
}

/// The announced scenario count and the summary lines (`✓ name: N passed, M failed`).
pub fn parse_stdout(text: &str) -> (Option<usize>, Vec<Scenario>) {
    let announced = text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Running ")?;
        let open = rest.find('(')?;
        rest[open + 1..].split_whitespace().next()?.parse().ok()
    });
    let mut scenarios = Vec::new();
    let mut in_summary = false;
    for line in text.lines() {
        let line = line.trim();
        if line.contains("=== SUMMARY ===") {
            in_summary = true;
            continue;
        }
        if !in_summary {
            continue;
        }
        let Some(rest) = line.strip_prefix("✓ ").or_else(|| line.strip_prefix("✗ ")) else {
            continue;
        };
        let Some((name, counts)) = rest.rsplit_once(": ") else {
            continue;
        };
        let number_before = |word: &str| -> usize {
            counts
                .split(", ")
                .find_map(|part| part.strip_suffix(word)?.trim().parse().ok())
                .unwrap_or(0)
        };
        scenarios.push(Scenario {
            name: name.to_string(),
            passed: number_before(" passed"),
            failed: number_before(" failed"),
            ..Scenario::default()
        });
    }
    (announced, scenarios)
}

/// `server-<scenario>-<timestamp>`: the suite's result directory name → scenario.
pub fn scenario_of_dir(dir: &str) -> Option<&str> {
    // The timestamp is `new Date().toISOString()` with ':' and '.' replaced by '-':
    // 24 characters, e.g. 2026-11-21T16-11-06-066Z.
    const STAMP: usize = 24;
    let rest = dir.strip_prefix("server-")?;
    if rest.len() <= STAMP + 1 || !rest.ends_with('Z') {
        return None;
    }
    let (name, stamp) = rest.split_at(rest.len() - STAMP - 1);
    (stamp.starts_with('-') && stamp.as_bytes().get(11) == Some(&b'T')).then_some(name)
}

/// Every scenario's checks from the `-o` directory (the latest directory per scenario).
pub fn read_results(dir: &Path) -> BTreeMap<String, Vec<Check>> {
    let mut dirs: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    scenario_of_dir(&name)?;
                    Some((name, e.path().join("checks.json")))
                })
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    let mut out = BTreeMap::new();
    for (name, path) in dirs {
        let Some(scenario) = scenario_of_dir(&name) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let checks = items
            .iter()
            .map(|c| Check {
                id: c
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                status: c
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                error: c
                    .get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
            .collect();
        out.insert(scenario.to_string(), checks);
    }
    out
}

fn from_checks(name: &str, checks: &[Check]) -> Scenario {
    let count = |s: &str| checks.iter().filter(|c| c.status == s).count();
    Scenario {
        name: name.to_string(),
        passed: count("SUCCESS"),
        failed: count("FAILURE"),
        warnings: count("WARNING"),
        failures: checks
            .iter()
            .filter(|c| c.status == "FAILURE")
            .map(|c| (c.id.clone(), c.error.clone().unwrap_or_default()))
            .collect(),
    }
}

/// The summary's scenarios (its order), with details from `checks.json` where written;
/// a scenario in the summary without `checks.json` crashed before its checks were saved.
pub fn merge(summary: Vec<Scenario>, mut files: BTreeMap<String, Vec<Check>>) -> Vec<Scenario> {
    let mut out = Vec::new();
    for s in summary {
        match files.remove(&s.name) {
            Some(checks) => out.push(from_checks(&s.name, &checks)),
            None => {
                let mut s = s;
                if s.failed > 0 {
                    s.failures.push((
                        s.name.clone(),
                        "scenario failed before writing checks.json (see cli.log)".into(),
                    ));
                }
                out.push(s);
            }
        }
    }
    // Scenarios with results but missing from the summary (the CLI died before it).
    for (name, checks) in files {
        out.push(from_checks(&name, &checks));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_dir_names() {
        assert_eq!(
            scenario_of_dir("server-ping-2026-11-21T16-11-06-066Z"),
            Some("ping")
        );
        assert_eq!(
            scenario_of_dir("server-server-initialize-2026-11-21T16-11-06-066Z"),
            Some("server-initialize")
        );
        assert_eq!(scenario_of_dir("ping-2026-11-21T16-11-06-066Z"), None);
        assert_eq!(scenario_of_dir("server-ping"), None);
    }

    #[test]
    fn summary_lines() {
        let text = "Running active suite (3 scenarios) against http://x\n\n=== SUMMARY ===\n✓ ping: 1 passed, 0 failed\n✗ dns-rebinding-protection: 1 passed, 1 failed\n\nTotal: 2 passed, 1 failed\n";
        let (announced, s) = parse_stdout(text);
        assert_eq!(announced, Some(3));
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[1].name.as_str(), s[1].passed, s[1].failed),
            ("dns-rebinding-protection", 1, 1)
        );
    }
}
