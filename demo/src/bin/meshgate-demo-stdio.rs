//! Demo MCP server over stdio: newline-delimited JSON-RPC, requests answered
//! concurrently (so a slow call does not hold up the others).

use meshgate_demo::{parse_common, reply, spawn_lifetime_guards, Demo, Effect};
use serde_json::Value;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = parse_common("demo-stdio");
    args.exit_with_stdin = false; // stdin is the protocol here; EOF ends the loop below
    spawn_lifetime_guards(&args);
    eprintln!("{} ready on stdio (pid {})", args.name, std::process::id());
    let demo = Arc::new(Demo::new(&args.name).with_instructions_from(&args.rest));
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
        while let Some(mut msg) = rx.recv().await {
            msg.push(b'\n');
            if out.write_all(&msg).await.is_err() {
                return;
            }
            while let Ok(mut more) = rx.try_recv() {
                more.push(b'\n');
                if out.write_all(&more).await.is_err() {
                    return;
                }
            }
            if out.flush().await.is_err() {
                return;
            }
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let (Some(id), Some(method)) = (
            msg.get("id").cloned(),
            msg.get("method")
                .and_then(Value::as_str)
                .map(str::to_string),
        ) else {
            continue; // notifications and responses need no answer
        };
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let (outcome, effect) = demo.handle(&method, &params);
        let bytes = reply(&id, outcome);
        match effect {
            Effect::None => {
                let _ = tx.send(bytes);
            }
            Effect::ToolsChanged => {
                let _ = tx.send(bytes);
                let note = br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
                let _ = tx.send(note.to_vec());
            }
            Effect::Delay(d) => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(d).await;
                    let _ = tx.send(bytes);
                });
            }
            Effect::Exit => {
                let _ = tx.send(bytes);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                eprintln!("crash requested; exiting");
                std::process::exit(3);
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}
