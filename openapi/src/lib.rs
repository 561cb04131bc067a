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
pub use naming::MAX_NAME_LEN;
pub use request::PreparedRequest;
pub use response::{error_result, response_to_result};
pub use tools::ToolDef;

use load::Dialect;
use server::ServerInfo;

/// A loaded spec: its tools (with every `$ref` resolved) and what is needed to call them.
#[derive(Debug, Clone)]
pub struct ApiSpec {
    dialect: Dialect,
    title: Option<String>,
    version: Option<String>,
    server: ServerInfo,
    tools: Vec<ToolDef>,
    index: HashMap<String, usize>,
    warnings: Vec<String>,
}

impl ApiSpec {
    /// Parse JSON or YAML bytes; Swagger 2.0, OpenAPI 3.0.x, 3.1.x. `source` is only used in
    /// error messages (credentials in a URL are stripped first).
    pub fn parse(bytes: &[u8], source: &str) -> Result<ApiSpec, OpenApiError> {
        let loaded = load::load(bytes, source)?;
        let refs = refs::Refs::new(&loaded.doc);
        let tools = tools::build(&loaded, &refs);
        let warnings = refs.into_warnings();
        let info = loaded.doc.get("info");
        let text = |k: &str| {
            info.and_then(|i| i.get(k)).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let index = tools
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(ApiSpec {
            dialect: loaded.dialect,
            title: text("title"),
            version: text("version"),
            server: ServerInfo::from_doc(&loaded.doc, loaded.dialect),
            tools,
            index,
            warnings,
        })
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
