//! OpenAPI → MCP tools.
//!
//! Load a Swagger 2.0 / OpenAPI 3.0 / 3.1 document with [`ApiSpec::parse`], list its tools
//! with [`ApiSpec::tools`], turn a `tools/call` into an HTTP request with
//! [`ApiSpec::build_request`], and turn the HTTP response into a `CallToolResult` with
//! [`response_to_result`]. The crate is pure: no network, no filesystem, no async runtime.
//!
//! ## inputSchema layout
//! ```json
//! { "type": "object", "additionalProperties": false,
//!   "properties": {
//!     "path":   { "type": "object", "properties": { "<name>": <schema> }, "required": [..] },
//!     "query":  { .. }, "header": { .. }, "cookie": { .. },
//!     "body":   <request body schema> },
//!   "required": ["path", "body", ..] }
//! ```
//! A location object is present only when the operation has parameters there, and is
//! required when one of them is. `body` is required when the request body is.
//! See `README.md` for the naming, recursion and encoding rules.

mod body;
mod error;
mod load;
mod media;
mod model;
mod multipart;
mod naming;
mod numbers;
mod params;
mod refs;
mod request;
mod response;
mod schema;
mod serialize;
mod server;
mod tools;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use error::{redact_source, CallError, OpenApiError};
pub use naming::{ToolNaming, MAX_NAME_LEN};
pub use request::PreparedRequest;
pub use response::{error_result, response_to_result};
pub use tools::{SkippedOperation, ToolDef};

use load::Dialect;
use server::ServerInfo;

/// How a spec is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Which tool names are listed (the other spelling still resolves calls).
    pub naming: ToolNaming,
    /// Longest tool name (a longer one is cut and given a hash suffix). The gateway
    /// passes `128 - len("{prefix}-")` so that prefixed names stay SEP-986-valid.
    pub max_name_len: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            naming: ToolNaming::default(),
            max_name_len: MAX_NAME_LEN,
        }
    }
}

/// A loaded spec: its tools (with every `$ref` resolved) and what is needed to call them.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    dialect: Dialect,
    title: Option<String>,
    version: Option<String>,
    server: ServerInfo,
    tools: Vec<ToolDef>,
    /// Listed names, and the other scheme's names that no other tool claims.
    index: HashMap<String, usize>,
    skipped: Vec<SkippedOperation>,
    warnings: Vec<String>,
}

impl ApiSpec {
    /// Parse JSON or YAML bytes; Swagger 2.0, OpenAPI 3.0.x, 3.1.x. `source` is only used in
    /// error messages (credentials in a URL are stripped first).
    /// Tools get LiteLLM's names ([`ParseOptions::default`]).
    pub fn parse(bytes: &[u8], source: &str) -> Result<ApiSpec, OpenApiError> {
        Self::parse_with(bytes, source, ParseOptions::default())
    }

    /// [`parse`](Self::parse) with the naming scheme and name length given.
    pub fn parse_with(
        bytes: &[u8],
        source: &str,
        options: ParseOptions,
    ) -> Result<ApiSpec, OpenApiError> {
        let loaded = load::load(bytes, source)?;
        let refs = refs::Refs::new(&loaded.doc);
        let rules = tools::NameRules {
            scheme: options.naming,
            max: options.max_name_len.clamp(16, 128),
        };
        let tools::Built { tools, skipped } = tools::build(&loaded, &refs, rules);
        let index = name_index(&tools, &refs);
        let warnings = refs.into_warnings();
        let info = loaded.doc.get("info");
        let text = |k: &str| info.and_then(|i| i.get(k)).and_then(numbers::scalar_text);
        Ok(ApiSpec {
            dialect: loaded.dialect,
            title: text("title"),
            version: text("version"),
            server: ServerInfo::from_doc(&loaded.doc, loaded.dialect),
            tools,
            index,
            skipped,
            warnings,
        })
    }

    /// Operations left out because they could not be converted (also in [`warnings`](Self::warnings)).
    pub fn skipped(&self) -> &[SkippedOperation] {
        &self.skipped
    }

    /// Base URL from the spec: OpenAPI 3 `servers[0].url` (variables replaced by their
    /// defaults; a relative URL — or no `servers` at all, meaning `/` — is resolved against
    /// `spec_url`); Swagger 2 `{scheme}://{host}{basePath}` (first http/https scheme, else
    /// https; no host → resolved against `spec_url`). `None` when nothing usable. No trailing `/`.
    pub fn default_base_url(&self, spec_url: Option<&str>) -> Option<String> {
        self.server.base_url(spec_url)
    }

    pub fn tools(&self) -> &[ToolDef] {
        &self.tools
    }

    /// A tool by its listed name, or by its name in the other scheme when no other tool
    /// has that name (e.g. `getPetById` finds the tool listed as `getpetbyid`).
    pub fn tool(&self, name: &str) -> Option<&ToolDef> {
        self.index.get(name).and_then(|i| self.tools.get(*i))
    }

    /// `info.title`.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// `info.version`.
    pub fn api_version(&self) -> Option<&str> {
        self.version.as_deref()
    }

    /// `"2.0"`, `"3.0"` or `"3.1"`.
    pub fn spec_version(&self) -> &'static str {
        match self.dialect {
            Dialect::Swagger2 => "2.0",
            Dialect::OpenApi30 => "3.0",
            Dialect::OpenApi31 => "3.1",
        }
    }

    /// Problems that did not stop the load (unresolvable `$ref`s, skipped parameters…).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Build the HTTP request for a call. `base_url` is the configured server URL (or
    /// [`default_base_url`](Self::default_base_url)). `args` is the `tools/call` `arguments`.
    pub fn build_request(
        &self,
        tool: &str,
        args: &serde_json::Map<String, serde_json::Value>,
        base_url: &str,
    ) -> Result<PreparedRequest, CallError> {
        let t = self
            .tool(tool)
            .ok_or_else(|| CallError::UnknownTool(tool.to_string()))?;
        request::build(&t.op, args, base_url)
    }
}

/// Listed names first; then each tool's other-scheme name unless another tool lists it
/// (the listed name wins: it is what clients see; the clash is a warning). Each scheme
/// de-duplicates on its own, so two tools never share an other-scheme name.
fn name_index(tools: &[ToolDef], refs: &refs::Refs<'_>) -> HashMap<String, usize> {
    let mut index: HashMap<String, usize> = tools
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();
    for (i, t) in tools.iter().enumerate() {
        let Some(other) = t.other_name() else {
            continue;
        };
        match index.get(other) {
            Some(owner) if *owner != i => refs.warn(format!(
                "`{other}` is also the other spelling of `{}` ({} {}); a call by `{other}` reaches the tool listed under that name",
                t.name,
                t.method(),
                t.path_template()
            )),
            Some(_) => {}
            None => {
                index.insert(other.to_string(), i);
            }
        }
    }
    index
}
