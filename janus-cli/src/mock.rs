//! The mock server's channels: one [`Service`] per channel of a manifest,
//! served by the real [`janus_runtime::Server`] (which answers the built-in
//! requests and enforces the protocol's limits itself).
//!
//! Each request is checked exactly as a generated dispatcher checks it (see
//! [`crate::validate`]) and answered with a result synthesised from its
//! response schema (see [`crate::sample`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use janus_codegen::model::Validator;
use janus_runtime::{BoxFuture, ErrorObject, RequestContext, Service};
use serde_json::Value;

use crate::sample::Sampler;
use crate::validate;

/// Receives one line per request a channel answered.
pub type LogSink = Arc<dyn Fn(String) + Send + Sync>;

/// One channel of a manifest, answered with synthesised results.
#[derive(Clone)]
pub struct MockChannel {
    id: String,
    requests: Vec<String>,
    /// The synthesised result of each request (they never change).
    results: Arc<HashMap<String, Value>>,
    validator: Arc<Validator>,
    manifest_text: Arc<str>,
    delay: Duration,
    log: Option<LogSink>,
}

impl std::fmt::Debug for MockChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockChannel")
            .field("id", &self.id)
            .field("requests", &self.requests)
            .field("delay", &self.delay)
            .finish_non_exhaustive()
    }
}

impl MockChannel {
    /// One mock channel per channel of the validator's manifest, whose
    /// `manifest` built-in returns `manifest_text`.
    pub fn for_manifest(validator: Arc<Validator>, manifest_text: Arc<str>) -> Vec<MockChannel> {
        let sampler = Sampler::new(validator.manifest());
        validator
            .manifest()
            .channels
            .iter()
            .map(|c| MockChannel {
                id: c.id.clone(),
                requests: c.requests.iter().map(|r| r.name.clone()).collect(),
                results: Arc::new(
                    c.requests
                        .iter()
                        .map(|r| (r.name.clone(), sampler.response(r)))
                        .collect(),
                ),
                validator: validator.clone(),
                manifest_text: manifest_text.clone(),
                delay: Duration::ZERO,
                log: None,
            })
            .collect()
    }

    /// Waits this long before answering each request.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Sends a line to `log` for each request answered.
    pub fn with_log(mut self, log: LogSink) -> Self {
        self.log = Some(log);
        self
    }

    /// The answer to `request` with `args`, without waiting or logging:
    /// the argument error a generated server would send, or a synthesised
    /// result.
    pub fn answer(&self, request: &str, args: &Value) -> Result<Value, ErrorObject> {
        Service::validate(self, request, args)?;
        Ok(self.results.get(request).cloned().unwrap_or(Value::Null))
    }
}

impl Service for MockChannel {
    fn channel_id(&self) -> &str {
        &self.id
    }

    fn requests(&self) -> Vec<String> {
        self.requests.clone()
    }

    fn manifest(&self) -> Option<&str> {
        Some(&self.manifest_text)
    }

    fn validate(&self, request: &str, args: &Value) -> Result<(), ErrorObject> {
        match self.validator.manifest().channel(&self.id) {
            Some(channel) => validate::check(&self.validator, channel, request, args),
            None => Err(validate::unknown_request(&self.id, request)),
        }
    }

    fn call(
        &self,
        ctx: RequestContext,
        request: &str,
        args: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        let this = self.clone();
        let request = request.to_owned();
        let started = Instant::now();
        Box::pin(async move {
            // Logs the request however it ends, also when the server cancels
            // it (its timeout passed, or the server is shutting down).
            let mut entry = LogEntry {
                log: this.log.clone(),
                ctx,
                started,
                verdict: None,
            };
            if !this.delay.is_zero() {
                tokio::time::sleep(this.delay).await;
            }
            let outcome = this.answer(&request, &args);
            entry.verdict = Some(match &outcome {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("{} {}", e.code, e.details().unwrap_or(&e.message)),
            });
            outcome
        })
    }
}

/// One request's log line, written when the request ends.
struct LogEntry {
    log: Option<LogSink>,
    ctx: RequestContext,
    started: Instant,
    /// `None` until answered: dropped before, it was cancelled.
    verdict: Option<String>,
}

impl Drop for LogEntry {
    fn drop(&mut self) {
        if let Some(log) = &self.log {
            let verdict = self
                .verdict
                .take()
                .unwrap_or_else(|| "cancelled by the server (timeout or shutdown)".to_owned());
            log(log_line(&self.ctx, &verdict, self.started.elapsed()));
        }
    }
}

/// `2025-08-06T12:34:56.789Z user-service/create-user ok 0.04 ms pid 4242`,
/// or the error code and details instead of `ok`.
fn log_line(ctx: &RequestContext, verdict: &str, took: Duration) -> String {
    let from = match ctx.peer() {
        Some(p) => format!(" (pid {})", p.pid),
        None => String::new(),
    };
    let notify = if ctx.is_notification() {
        " [no reply]"
    } else {
        ""
    };
    format!(
        "{} {}/{} {verdict}{notify} {:.2} ms{from}",
        janus_runtime::wire::timestamp_now(),
        ctx.channel_id(),
        ctx.request(),
        took.as_secs_f64() * 1000.0,
    )
}
