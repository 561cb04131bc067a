//! Connects to an MCP endpoint with rmcp, loads its tools in OpenAI format, prints them,
//! and calls one the way a Chat Completions tool call would.
//!
//! ```text
//! cargo run -p meshgate-bridge --example openai_tools -- \
//!     [URL] [--key KEY] [--call TOOL] [--arguments JSON]
//! ```
//!
//! - `URL`: the MCP endpoint (default: `$MCP_URL`, else `http://127.0.0.1:10000/mcp`,
//!   the gateway of `make run`);
//! - `--key`: the gateway key, sent as `Authorization: Bearer KEY` (default: `$MCP_API_KEY`;
//!   none when unset);
//! - `--call`: the tool to call (default: the first tool whose schema requires nothing);
//! - `--arguments`: the call's arguments as the model would send them, a JSON string
//!   (default `{}`).
//!
//! Output: one line per tool (its OpenAI function tool as JSON), then the tool message
//! the call produced, as JSON. Exit status 1 with the reason on stderr when anything
//! fails (connection, listing, a bad `--arguments`, the call).

use meshgate_bridge::{call_openai_tool, load_mcp_tools, Format, OpenAiToolCall};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::ServiceExt;
use serde_json::Value;
use std::process::ExitCode;

struct Options {
    url: String,
    key: Option<String>,
    call: Option<String>,
    arguments: String,
}

fn options() -> Result<Options, String> {
    let mut opts = Options {
        url: std::env::var("MCP_URL").unwrap_or_else(|_| "http://127.0.0.1:10000/mcp".into()),
        key: std::env::var("MCP_API_KEY").ok().filter(|k| !k.is_empty()),
        call: None,
        arguments: "{}".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "--key" => opts.key = Some(value("--key")?),
            "--call" => opts.call = Some(value("--call")?),
            "--arguments" => opts.arguments = value("--arguments")?,
            "-h" | "--help" => {
                return Err(
                    "usage: openai_tools [URL] [--key KEY] [--call TOOL] [--arguments JSON]".into(),
                )
            }
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            url => opts.url = url.to_string(),
        }
    }
    Ok(opts)
}

/// The first tool whose parameters require nothing (so `{}` is a valid call).
fn first_callable(tools: &[Value]) -> Option<String> {
    tools
        .iter()
        .find(|t| {
            t["function"]["parameters"]["required"]
                .as_array()
                .is_none_or(Vec::is_empty)
        })
        .and_then(|t| t["function"]["name"].as_str())
        .map(str::to_string)
}

async fn run(opts: Options) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(opts.url.as_str());
    if let Some(key) = &opts.key {
        config = config.auth_header(key.as_str());
    }
    let client = ().serve(StreamableHttpClientTransport::from_config(config)).await?;

    let tools = load_mcp_tools(&client, Format::OpenAi).await?;
    eprintln!("{} tools in OpenAI format from {}:", tools.len(), opts.url);
    for tool in &tools {
        println!("{tool}");
    }

    let name = match opts.call.or_else(|| first_callable(&tools)) {
        Some(name) => name,
        None => return Err("no tool to call: pass --call TOOL".into()),
    };
    // What a model's tool call looks like in `choices[0].message.tool_calls[0]`.
    let call = OpenAiToolCall::new(name.as_str(), opts.arguments).with_id("call_example_1");
    eprintln!("calling {name}:");
    let message = call_openai_tool(&client, &call).await?;
    println!("{}", serde_json::to_string(&message)?);

    client.cancel().await?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let opts = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(opts).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
