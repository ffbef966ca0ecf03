//! Request handling that does not depend on the transport: routing, access
//! control, admission, built-in requests, and running handlers under their
//! timeout with panics caught.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{Control, ServerConfig};
use crate::context::{PeerCredentials, RequestContext};
use crate::error::{ErrorCode, ErrorObject};
use crate::security;
use crate::service::{BoxFuture, Service};
use crate::wire::{self, Request};

/// Request names the server answers itself; a manifest may not define them.
pub use janus_constraints::names::RESERVED_REQUESTS;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Builtin {
    Ping,
    Echo,
    GetInfo,
    Manifest,
    Validate,
    SlowProcess,
}

enum Target {
    Builtin(Builtin),
    Service {
        service: Arc<dyn Service>,
        request: String,
    },
}

/// An admitted request, ready to run.
pub(crate) struct Job {
    target: Target,
    ctx: RequestContext,
    args: Value,
    _permit: OwnedSemaphorePermit,
}

impl Job {
    /// The channel the request was routed to (empty for a built-in sent
    /// without `channelId`).
    pub fn channel(&self) -> &str {
        self.ctx.channel_id()
    }
}

/// A started request: its handler's future (panics caught) and its limits.
pub(crate) struct Running {
    work: BoxFuture<'static, std::thread::Result<Result<Output, ErrorObject>>>,
    deadline: tokio::time::Instant,
    timeout: Duration,
    request: String,
    _permit: OwnedSemaphorePermit,
    /// Counts the handler in `in_flight` from its start until its future
    /// completes or is dropped (also when its peer goes away first).
    _counted: super::stats::Running,
}

/// What a request produced.
pub(crate) enum Output {
    Value(Value),
    /// The server's manifest (kept as raw JSON text).
    Manifest,
}

pub(crate) struct Dispatcher {
    services: HashMap<String, Arc<dyn Service>>,
    /// request name -> channels that have it (sorted).
    routes: HashMap<String, Vec<String>>,
    channels: Vec<String>,
    manifest: Box<RawValue>,
    /// The socket types served, for `get_info`.
    transports: Vec<&'static str>,
    allowed_uids: Option<Vec<u32>>,
    default_timeout: Duration,
    max_timeout: Duration,
    slow_process: bool,
    in_flight: Arc<Semaphore>,
    max_in_flight: usize,
    control: Arc<Control>,
    tasks: TaskTracker,
    /// Cancels handlers still running when the shutdown grace period ends.
    abort: CancellationToken,
}

fn config_error(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Dispatcher {
    pub fn new(
        services: Vec<Arc<dyn Service>>,
        manifest_override: Option<String>,
        config: &ServerConfig,
        control: Arc<Control>,
        transports: Vec<&'static str>,
    ) -> io::Result<Arc<Self>> {
        let mut by_channel = HashMap::new();
        let mut routes: HashMap<String, Vec<String>> = HashMap::new();
        let mut described = Vec::new();
        for service in services {
            let channel = service.channel_id().to_owned();
            security::check_name("channel", &channel).map_err(config_error)?;
            let mut requests = service.requests();
            requests.sort();
            requests.dedup();
            for request in &requests {
                security::check_name("request", request)
                    .map_err(|e| config_error(format!("channel `{channel}`: {e}")))?;
                if RESERVED_REQUESTS.contains(&request.as_str()) {
                    return Err(config_error(format!(
                        "channel `{channel}` defines `{request}`, a request name the server reserves"
                    )));
                }
                routes
                    .entry(request.clone())
                    .or_default()
                    .push(channel.clone());
            }
            described.push((
                channel.clone(),
                requests,
                service.manifest().map(str::to_owned),
            ));
            if by_channel.insert(channel.clone(), service).is_some() {
                return Err(config_error(format!("channel `{channel}` was added twice")));
            }
        }
        for channels in routes.values_mut() {
            channels.sort();
        }
        let mut channels: Vec<String> = by_channel.keys().cloned().collect();
        channels.sort();
        let manifest = match manifest_override {
            Some(text) => RawValue::from_string(text)
                .map_err(|e| config_error(format!("the server manifest is not JSON: {e}")))?,
            None => server_manifest(described)?,
        };
        Ok(Arc::new(Dispatcher {
            services: by_channel,
            routes,
            channels,
            manifest,
            transports,
            allowed_uids: config.allowed_uids.clone(),
            default_timeout: config.default_handler_timeout,
            max_timeout: config.max_handler_timeout,
            slow_process: config.slow_process,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            max_in_flight: config.max_in_flight,
            control,
            tasks: TaskTracker::new(),
            abort: CancellationToken::new(),
        }))
    }

    pub fn stats(&self) -> &super::stats::Stats {
        &self.control.stats
    }

    fn builtin(&self, name: &str) -> Option<Builtin> {
        Some(match name {
            "ping" => Builtin::Ping,
            "echo" => Builtin::Echo,
            "get_info" => Builtin::GetInfo,
            "manifest" => Builtin::Manifest,
            "validate" => Builtin::Validate,
            "slow_process" if self.slow_process => Builtin::SlowProcess,
            _ => return None,
        })
    }

    /// Finds the service for a request: by channel when named, otherwise by
    /// the request name if exactly one channel has it.
    fn route(
        &self,
        channel: Option<&str>,
        request: &str,
    ) -> Result<(Arc<dyn Service>, String), ErrorObject> {
        match channel {
            Some(channel) => {
                let Some(service) = self.services.get(channel) else {
                    return Err(ErrorObject::new(
                        ErrorCode::ResourceNotFound,
                        format!(
                            "unknown channel `{channel}`; this server has {}",
                            list_or_none(&self.channels)
                        ),
                    ));
                };
                let has = self
                    .routes
                    .get(request)
                    .is_some_and(|chs| chs.iter().any(|c| c == channel));
                if !has {
                    return Err(ErrorObject::new(
                        ErrorCode::MethodNotFound,
                        format!(
                            "channel `{channel}` has no request `{request}`; it has {}",
                            list_or_none(&self.requests_of(channel))
                        ),
                    ));
                }
                Ok((service.clone(), channel.to_owned()))
            }
            None => match self.routes.get(request).map(Vec::as_slice) {
                None | Some([]) => Err(ErrorObject::new(
                    ErrorCode::MethodNotFound,
                    format!("unknown request `{request}`; no channel of this server has it"),
                )),
                Some([only]) => Ok((self.services[only].clone(), only.clone())),
                Some(many) => Err(ErrorObject::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "request `{request}` is ambiguous without `channelId`: channels {} all have it",
                        many.iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            },
        }
    }

    fn requests_of(&self, channel: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .routes
            .iter()
            .filter(|(_, chs)| chs.iter().any(|c| c == channel))
            .map(|(r, _)| r.clone())
            .collect();
        v.sort();
        v
    }

    /// Checks a decoded request against access rules, routing and the
    /// in-flight limit; on success the request holds an in-flight slot.
    pub fn admit(
        &self,
        req: Request,
        peer: Option<PeerCredentials>,
        received_at: Instant,
    ) -> Result<Job, ErrorObject> {
        if let Some(allowed) = &self.allowed_uids {
            match peer {
                Some(p) if allowed.contains(&p.uid) => {}
                Some(p) => {
                    return Err(ErrorObject::new(
                        ErrorCode::AuthenticationFailed,
                        format!("uid {} is not allowed to call this server", p.uid),
                    ));
                }
                None => {
                    return Err(ErrorObject::new(
                        ErrorCode::AuthenticationFailed,
                        "the sender's credentials are unknown and this server allows only listed uids",
                    ));
                }
            }
        }
        let (target, channel) = match self.builtin(&req.request) {
            Some(b) => (
                Target::Builtin(b),
                req.channel_id.clone().unwrap_or_default(),
            ),
            None => {
                let (service, channel) = self.route(req.channel_id.as_deref(), &req.request)?;
                (
                    Target::Service {
                        service,
                        request: req.request.clone(),
                    },
                    channel,
                )
            }
        };
        let Ok(permit) = self.in_flight.clone().try_acquire_owned() else {
            self.stats().rejected_busy();
            return Err(ErrorObject::new(
                ErrorCode::ResourceLimitExceeded,
                format!(
                    "{} requests are already being handled; try again later",
                    self.max_in_flight
                ),
            ));
        };
        let requested = req
            .timeout
            .map(Duration::from_secs_f64)
            .unwrap_or(self.default_timeout);
        let timeout = requested.min(self.max_timeout);
        let ctx = RequestContext::new(
            req.id,
            channel,
            req.request,
            req.reply_to,
            peer,
            timeout,
            received_at,
        );
        Ok(Job {
            target,
            ctx,
            args: Value::Object(req.args.unwrap_or_default()),
            _permit: permit,
        })
    }

    /// Starts an admitted request: the handler's future, not yet polled.
    /// A service whose `call` panics before returning a future is answered
    /// `-32603` at once.
    pub fn start(self: &Arc<Self>, job: Job) -> Result<Running, ErrorObject> {
        let Job {
            target,
            ctx,
            args,
            _permit,
        } = job;
        let timeout = ctx.timeout();
        let deadline = tokio::time::Instant::from_std(ctx.deadline());
        let request = ctx.request().to_owned();
        let work: BoxFuture<'static, Result<Output, ErrorObject>> = match target {
            Target::Builtin(b) => {
                let this = self.clone();
                Box::pin(async move { this.run_builtin(b, &args).await })
            }
            Target::Service { service, request } => {
                match std::panic::catch_unwind(AssertUnwindSafe(|| {
                    service.call(ctx, &request, args)
                })) {
                    Ok(fut) => Box::pin(async move { fut.await.map(Output::Value) }),
                    Err(panic) => return Err(self.panicked(&request, panic.as_ref())),
                }
            }
        };
        Ok(Running {
            work: Box::pin(AssertUnwindSafe(work).catch_unwind()),
            deadline,
            timeout,
            request,
            _permit,
            _counted: self.stats().running(),
        })
    }

    /// Polls a started request once, on the receiving task: most handlers
    /// (and every built-in but `slow_process`) finish at once, and are then
    /// answered without a task of their own. `None` when it has to wait.
    pub fn poll_now(&self, running: &mut Running) -> Option<Result<Output, ErrorObject>> {
        let mut cx = Context::from_waker(Waker::noop());
        match running.work.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(outcome)) => Some(outcome),
            Poll::Ready(Err(panic)) => Some(Err(self.panicked(&running.request, panic.as_ref()))),
            Poll::Pending => None,
        }
    }

    /// Runs a started request to the end on its own task: cancelled at its
    /// timeout (`-32006`) or when shutdown gives up waiting (`-32001`); a
    /// panic becomes `-32603`.
    pub async fn finish(self: &Arc<Self>, running: Running) -> Result<Output, ErrorObject> {
        let Running {
            work,
            deadline,
            timeout,
            request,
            _permit,
            _counted,
        } = running;
        let outcome = tokio::select! {
            biased;
            _ = self.abort.cancelled() => Err(ErrorObject::new(
                ErrorCode::ServiceUnavailable,
                format!("the server shut down before the handler for `{request}` finished"),
            )),
            r = tokio::time::timeout_at(deadline, work) => match r {
                Err(_) => {
                    self.stats().handler_timeout();
                    Err(ErrorObject::new(
                        ErrorCode::HandlerTimeout,
                        format!(
                            "the handler for `{request}` did not finish within {:.1} s",
                            timeout.as_secs_f64()
                        ),
                    ))
                }
                Ok(Err(panic)) => Err(self.panicked(&request, panic.as_ref())),
                Ok(Ok(result)) => result,
            },
        };
        outcome
    }

    fn panicked(&self, request: &str, panic: &(dyn std::any::Any + Send)) -> ErrorObject {
        self.stats().handler_panic();
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        tracing::error!(request, panic = %message, "handler panicked");
        ErrorObject::new(
            ErrorCode::InternalError,
            format!("the handler for `{request}` failed unexpectedly (it panicked)"),
        )
    }

    async fn run_builtin(&self, builtin: Builtin, args: &Value) -> Result<Output, ErrorObject> {
        Ok(Output::Value(match builtin {
            Builtin::Ping => json!({"pong": true, "timestamp": wire::timestamp_now()}),
            Builtin::Echo => json!({"echo": args.get("message").cloned().unwrap_or(Value::Null)}),
            Builtin::GetInfo => json!({
                "implementation": "janus-rust",
                "version": env!("CARGO_PKG_VERSION"),
                "protocol": self.transports.first().copied().unwrap_or("SOCK_DGRAM"),
                "transports": self.transports,
                "channels": self.channels,
            }),
            Builtin::Manifest => return Ok(Output::Manifest),
            Builtin::Validate => self.validate(args)?,
            Builtin::SlowProcess => {
                let ms = match args.get("ms") {
                    None => 1000,
                    Some(v) => v.as_u64().ok_or_else(|| {
                        ErrorObject::new(
                            ErrorCode::InvalidParams,
                            "`ms` must be a non-negative integer",
                        )
                    })?,
                };
                tokio::time::sleep(Duration::from_millis(ms)).await;
                json!({"slept_ms": ms})
            }
        }))
    }

    /// The `validate` built-in: a dry run of routing and argument checks.
    fn validate(&self, args: &Value) -> Result<Value, ErrorObject> {
        let request = args.get("request").and_then(Value::as_str).ok_or_else(|| {
            ErrorObject::new(
                ErrorCode::InvalidParams,
                "`validate` needs `request` (the request name to check), and optionally `channelId` and `args`",
            )
        })?;
        let channel = match args.get("channelId") {
            None | Some(Value::Null) => None,
            Some(Value::String(c)) => Some(c.as_str()),
            Some(_) => {
                return Err(ErrorObject::new(
                    ErrorCode::InvalidParams,
                    "`channelId` must be a string",
                ));
            }
        };
        let inner = match args.get("args") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(other) => {
                let e = ErrorObject::new(
                    ErrorCode::InvalidParams,
                    format!(
                        "`args` must be a JSON object, found {}",
                        janus_constraints::describe_value(other)
                    ),
                );
                return Ok(json!({"valid": false, "errors": [e]}));
            }
        };
        if self.builtin(request).is_some() {
            return Ok(json!({"valid": true, "errors": []}));
        }
        let verdict = self
            .route(channel, request)
            .and_then(|(service, _)| service.validate(request, &inner));
        Ok(match verdict {
            Ok(()) => json!({"valid": true, "errors": []}),
            Err(e) => json!({"valid": false, "errors": [e]}),
        })
    }

    /// Appends the response JSON for `outcome` to `out`, in the form of the
    /// request it answers (see [`wire::dialect`]).
    pub fn encode(
        &self,
        out: &mut Vec<u8>,
        to: &wire::Correlation,
        outcome: &Result<Output, ErrorObject>,
    ) {
        use wire::dialect::encode_response_in_kind as encode;
        let result = match outcome {
            Ok(Output::Value(v)) => encode(out, to, Ok(v)),
            Ok(Output::Manifest) => encode(out, to, Ok(&*self.manifest)),
            Err(e) => encode::<Value>(out, to, Err(e)),
        };
        if let Err(e) = result {
            // A handler's JSON value always serializes; keep a clear answer anyway.
            out.clear();
            let err = ErrorObject::new(
                ErrorCode::InternalError,
                format!("the response could not be encoded: {e}"),
            );
            encode::<Value>(out, to, Err(&err)).expect("an error object always serializes");
        }
    }

    /// Cancelled when shutdown stops waiting for running requests.
    pub fn abort_token(&self) -> CancellationToken {
        self.abort.clone()
    }

    /// Runs `fut` as a tracked task (waited for at shutdown).
    pub fn spawn<F>(&self, fut: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(fut);
    }

    /// Waits for running requests, up to `grace`; then cancels the rest
    /// (answered `-32001`) and waits for their answers to go out.
    pub async fn drain(&self, grace: Duration) {
        self.tasks.close();
        if tokio::time::timeout(grace, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                running = self.tasks.len(),
                "shutdown grace period over; cancelling running handlers"
            );
            self.abort.cancel();
            if tokio::time::timeout(Duration::from_secs(2), self.tasks.wait())
                .await
                .is_err()
            {
                tracing::warn!(
                    running = self.tasks.len(),
                    "some answers could not be sent before shutdown"
                );
            }
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The manifest served by the `manifest` built-in when none is set: the
/// services' own manifest if they share one, otherwise a merge of their
/// channels (services without a manifest contribute their request names).
fn server_manifest(
    described: Vec<(String, Vec<String>, Option<String>)>,
) -> io::Result<Box<RawValue>> {
    let mut texts: Vec<&str> = described
        .iter()
        .filter_map(|(_, _, m)| m.as_deref())
        .collect();
    texts.sort();
    texts.dedup();
    let all_have_one = described.iter().all(|(_, _, m)| m.is_some());
    if let ([only], true) = (texts.as_slice(), all_have_one) {
        return RawValue::from_string((*only).to_owned())
            .map_err(|e| config_error(format!("a service's manifest is not JSON: {e}")));
    }
    let mut channels = BTreeMap::new();
    let mut models = Map::new();
    for (channel, requests, manifest) in &described {
        let from_manifest = match manifest {
            Some(text) => {
                let doc: Value = serde_json::from_str(text).map_err(|e| {
                    config_error(format!("channel `{channel}`'s manifest is not JSON: {e}"))
                })?;
                if let Some(Value::Object(m)) = doc.get("models") {
                    models.extend(m.clone());
                }
                doc.get("channels").and_then(|c| c.get(channel)).cloned()
            }
            None => None,
        };
        let entry = from_manifest.unwrap_or_else(|| {
            let reqs: Map<String, Value> = requests
                .iter()
                .map(|r| (r.clone(), json!({"name": r})))
                .collect();
            json!({"name": channel, "requests": reqs})
        });
        channels.insert(channel.clone(), entry);
    }
    #[derive(Serialize)]
    struct Merged<'a> {
        version: &'a str,
        name: &'a str,
        description: &'a str,
        channels: BTreeMap<String, Value>,
        models: Map<String, Value>,
    }
    let merged = Merged {
        version: "1.0.0",
        name: "janus-rust server",
        description: "The channels this server answers",
        channels,
        models,
    };
    let text = serde_json::to_string(&merged).map_err(|e| config_error(e.to_string()))?;
    RawValue::from_string(text).map_err(|e| config_error(e.to_string()))
}
