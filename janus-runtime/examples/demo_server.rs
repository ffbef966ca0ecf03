//! A Janus server with a hand-written channel, `demo`:
//!
//! - `add`: `{"a": int, "b": int}` → `{"sum": int}` (both required);
//! - `sleep`: `{"ms": int}` → `{"slept_ms": int}` after sleeping that long;
//!
//! plus the built-in requests (`ping`, `echo`, `get_info`, `manifest`,
//! `validate`).
//!
//! ```text
//! cargo run -p janus-runtime --example demo_server -- /tmp/janus-demo.sock
//! cargo run -p janus-runtime --example demo_server -- /tmp/janus-demo.sock --stream /tmp/janus-demo-stream.sock
//! ```
//!
//! With `--stream PATH2` the same channel is served on a stream socket too.
//! Prints `listening on <path>` once per socket when ready; stops on SIGINT,
//! SIGTERM or SIGHUP, letting running requests finish and removing its
//! socket files.

use std::time::Duration;

use janus_runtime::constraints::{self, JsonType};
use janus_runtime::{BoxFuture, ErrorCode, ErrorObject, RequestContext, Server, Service};
use serde_json::{Value, json};

/// The `demo` channel.
struct Demo;

/// Reads a required integer argument, or says what is wrong with it.
fn int_arg(args: &Value, name: &str) -> Result<i64, ErrorObject> {
    let value = args
        .get(name)
        .ok_or_else(|| ErrorObject::invalid_param(name, None, &constraints::missing_required()))?;
    constraints::check_type(value, JsonType::Integer)
        .map_err(|v| ErrorObject::invalid_param(name, Some(value), &v))?;
    Ok(value.as_i64().expect("checked to be an integer"))
}

fn check_args(request: &str, args: &Value) -> Result<(), ErrorObject> {
    let expected: &[&str] = match request {
        "add" => &["a", "b"],
        _ => &["ms"],
    };
    if let Some(unknown) = args
        .as_object()
        .and_then(|m| m.keys().find(|k| !expected.contains(&k.as_str())))
    {
        return Err(ErrorObject::invalid_param(
            unknown,
            args.get(unknown),
            &constraints::unknown_property(unknown, expected),
        ));
    }
    for name in expected {
        let value = int_arg(args, name)?;
        if request == "sleep" {
            constraints::check_integer(value, Some(0), Some(300_000))
                .map_err(|v| ErrorObject::invalid_param(name, args.get(*name), &v))?;
        }
    }
    Ok(())
}

impl Service for Demo {
    fn channel_id(&self) -> &str {
        "demo"
    }

    fn requests(&self) -> Vec<String> {
        vec!["add".into(), "sleep".into()]
    }

    fn validate(&self, request: &str, args: &Value) -> Result<(), ErrorObject> {
        check_args(request, args)
    }

    fn call(
        &self,
        _ctx: RequestContext,
        request: &str,
        args: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        if let Err(e) = check_args(request, &args) {
            return Box::pin(std::future::ready(Err(e)));
        }
        match request {
            "add" => {
                let (a, b) = (
                    args["a"].as_i64().unwrap_or(0),
                    args["b"].as_i64().unwrap_or(0),
                );
                let sum = a
                    .checked_add(b)
                    .map(|sum| json!({ "sum": sum }))
                    .ok_or_else(|| {
                        ErrorObject::new(
                            ErrorCode::InvalidParams,
                            format!("{a} + {b} does not fit in a 64-bit integer"),
                        )
                    });
                Box::pin(std::future::ready(sum))
            }
            _ => {
                let ms = args["ms"].as_u64().unwrap_or(0);
                Box::pin(async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(json!({ "slept_ms": ms }))
                })
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let (path, stream) = parse_args(std::env::args().skip(1))?;

    let mut builder = Server::builder()
        .max_handler_timeout(Duration::from_secs(300))
        .shutdown_grace(Duration::from_secs(5));
    if let Some(stream) = &stream {
        builder = builder.stream(stream);
    }
    let server = builder.bind(&path)?.channel(Demo);
    // Stops on SIGINT, SIGTERM or SIGHUP, answering what is in flight and
    // removing the socket files.
    let serving = server.serve_until_signal()?;
    println!("listening on {path}");
    if let Some(stream) = &stream {
        println!("listening on {stream}");
    }
    serving.await?;
    Ok(())
}

/// `[PATH] [--stream PATH2]`: the datagram socket path (default
/// `/tmp/janus-demo.sock`) and the stream socket path, if any.
fn parse_args(
    mut args: impl Iterator<Item = String>,
) -> Result<(String, Option<String>), Box<dyn std::error::Error>> {
    let mut path = None;
    let mut stream = None;
    while let Some(arg) = args.next() {
        if arg == "--stream" {
            stream = Some(args.next().ok_or("--stream needs a socket path")?);
        } else if arg.starts_with('-') || path.is_some() {
            return Err(format!(
                "unexpected argument `{arg}`; usage: demo_server [PATH] [--stream PATH2]"
            )
            .into());
        } else {
            path = Some(arg);
        }
    }
    Ok((
        path.unwrap_or_else(|| "/tmp/janus-demo.sock".to_owned()),
        stream,
    ))
}
