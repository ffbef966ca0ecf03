//! The mock server's channels: one [`Service`] per channel of a manifest,
//! served by the real [`janus_runtime::Server`] (which answers the built-in
//! requests and enforces the protocol's limits itself).
//!
//! Each request is checked exactly as a generated dispatcher checks it (see
//! [`crate::validate`]) and answered with a result synthesised from its
//! response schema (see [`crate::sample`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use janus_codegen::model::Validator;
use janus_runtime::{
    BoxFuture, ErrorObject, RequestContext, RequestOutcome, RequestRecord, Service,
};
use serde_json::Value;

use crate::sample::Sampler;
use crate::validate;

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
            })
            .collect()
    }

    /// Waits this long before answering each request.
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
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
        _ctx: RequestContext,
        request: &str,
        args: Value,
    ) -> BoxFuture<'static, Result<Value, ErrorObject>> {
        let this = self.clone();
        let request = request.to_owned();
        Box::pin(async move {
            if !this.delay.is_zero() {
                tokio::time::sleep(this.delay).await;
            }
            this.answer(&request, &args)
        })
    }
}

/// One line per request, whatever became of it (the server's observer):
/// `2025-08-06T12:34:56.789Z user-service/create-user ok 0.04 ms (pid 4242)`,
/// or the error code and details instead of `ok`.
pub fn log_line(record: &RequestRecord) -> String {
    let verdict = match &record.outcome {
        RequestOutcome::Success => "ok".to_owned(),
        RequestOutcome::Error(e) => format!("{} {}", e.code, e.details().unwrap_or(&e.message)),
        RequestOutcome::Unanswered { reason } => format!("not answered: {reason}"),
        _ => "?".to_owned(),
    };
    let from = match &record.peer {
        Some(p) => format!(" (pid {})", p.pid),
        None => String::new(),
    };
    let notify = if record.notification {
        " [no reply]"
    } else {
        ""
    };
    let name = match (&record.channel, &record.request) {
        (Some(c), Some(r)) => format!("{c}/{r}"),
        (None, Some(r)) => r.clone(),
        (_, None) => "(unreadable request)".to_owned(),
    };
    format!(
        "{} {name} {verdict}{notify} {:.2} ms{from}",
        janus_runtime::wire::timestamp_now(),
        record.elapsed.as_secs_f64() * 1000.0,
    )
}
