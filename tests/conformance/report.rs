//! The score table (terminal and `target/conformance/summary.md`) and the verdict.

use crate::cli::Run;

/// One conformance run: which server, reached how, for which revision.
pub struct Row {
    pub target: &'static str,
    pub via: Via,
    pub spec: String,
    pub run: Run,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Via {
    Direct,
    Gateway,
}

impl Via {
    pub fn label(self) -> &'static str {
        match self {
            Via::Direct => "direct",
            Via::Gateway => "gateway",
        }
    }
}

fn status(run: &Run) -> String {
    let mut notes = Vec::new();
    if run.timed_out {
        notes.push("timed out".to_string());
    }
    if run.scenarios.len() < run.total() {
        notes.push(format!(
            "{} not reported",
            run.total() - run.scenarios.len()
        ));
    }
    let warnings: usize = run.scenarios.iter().map(|s| s.warnings).sum();
    if warnings > 0 {
        notes.push(format!("{warnings} warning(s)"));
    }
    if run.scenarios.is_empty() {
        notes.push(format!("no results (see {})", run.log.display()));
    }
    notes.join(", ")
}

fn one_line(s: &str) -> String {
    let flat = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|");
    if flat.chars().count() > 240 {
        format!("{}…", flat.chars().take(240).collect::<String>())
    } else {
        flat
    }
}

/// The table as Markdown, then the failing checks of every run.
pub fn markdown(rows: &[Row], suite_version: &str) -> String {
    let mut out = format!(
        "# MCP conformance (`@modelcontextprotocol/conformance@{suite_version}`, active suite)\n\n\
         | target | via | spec | scenarios passed | checks passed | failing scenarios | notes |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n"
    );
    for r in rows {
        let (cp, ct) = r.run.checks();
        let failing: Vec<&str> = r.run.failing().iter().map(|s| s.name.as_str()).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {}/{} | {}/{} | {} | {} |\n",
            r.target,
            r.via.label(),
            r.spec,
            r.run.passed(),
            r.run.total(),
            cp,
            ct,
            if failing.is_empty() {
                "—".to_string()
            } else {
                failing.join(", ")
            },
            status(&r.run),
        ));
    }
    for r in rows {
        let failing = r.run.failing();
        if failing.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n## {} via {}, {}\n\n",
            r.target,
            r.via.label(),
            r.spec
        ));
        for s in failing {
            for (check, message) in &s.failures {
                out.push_str(&format!(
                    "- `{}` / `{}`: {}\n",
                    s.name,
                    check,
                    one_line(message)
                ));
            }
            if s.failures.is_empty() {
                out.push_str(&format!("- `{}`: {} failed check(s)\n", s.name, s.failed));
            }
        }
    }
    out
}

/// A plain-text table for the terminal.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<18} {:<8} {:<11} {:>10} {:>8}  failing\n",
        "target", "via", "spec", "scenarios", "checks"
    );
    for r in rows {
        let (cp, ct) = r.run.checks();
        let failing: Vec<&str> = r.run.failing().iter().map(|s| s.name.as_str()).collect();
        out.push_str(&format!(
            "{:<18} {:<8} {:<11} {:>10} {:>8}  {}\n",
            r.target,
            r.via.label(),
            r.spec,
            format!("{}/{}", r.run.passed(), r.run.total()),
            format!("{cp}/{ct}"),
            failing.join(", "),
        ));
    }
    out
}

/// Why the run fails, if it does: the fixture must pass everything directly and through
/// the gateway; server-everything must score as well through the gateway as directly.
pub fn verdict(rows: &[Row], fixture: &str, everything: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let find = |target: &str, via: Via, spec: &str| {
        rows.iter()
            .find(|r| r.target == target && r.via == via && r.spec == spec)
    };
    for r in rows.iter().filter(|r| r.target == fixture) {
        if r.run.total() == 0 || r.run.passed() < r.run.total() {
            problems.push(format!(
                "{} via {} ({}): {}/{} scenarios pass{}",
                r.target,
                r.via.label(),
                r.spec,
                r.run.passed(),
                r.run.total(),
                if r.via == Via::Direct {
                    " — the fixture itself is broken"
                } else {
                    ""
                }
            ));
        }
    }
    for r in rows
        .iter()
        .filter(|r| r.target == everything && r.via == Via::Gateway)
    {
        if let Some(direct) = find(everything, Via::Direct, &r.spec) {
            if r.run.passed() < direct.run.passed() {
                problems.push(format!(
                    "{} via gateway ({}): {} scenarios pass, fewer than directly ({})",
                    r.target,
                    r.spec,
                    r.run.passed(),
                    direct.run.passed()
                ));
            }
        }
    }
    problems
}
