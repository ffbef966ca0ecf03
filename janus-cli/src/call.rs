//! `janus call`: one request, its result on stdout.

use std::time::Duration;

use janus_codegen::RESERVED_REQUESTS;
use janus_codegen::model::{Channel, Manifest, Request, Schema, Ty, Validator};
use serde_json::{Map, Value};

use crate::cli::{CallArgs, Color};
use crate::manifest_file::ManifestFile;
use crate::output::{call_failure, connect, format_error_object, outln};
use crate::{Exit, Failure, validate};

pub async fn run(args: CallArgs, color: Color) -> Result<(), Failure> {
    let manifest = match &args.manifest {
        None => None,
        Some(path) => {
            let file = ManifestFile::read(path, Exit::Usage)?;
            let checked = file.check(color, Exit::Usage)?;
            Some((file, Validator::new(checked.manifest)))
        }
    };
    let target = match &manifest {
        None => None,
        Some((file, validator)) => resolve(
            file,
            validator.manifest(),
            args.channel.as_deref(),
            &args.request,
        )?,
    };
    let mut value = initial_args(args.args.as_deref())?;
    if !args.arg.is_empty() {
        let Value::Object(map) = value.get_or_insert_with(|| Value::Object(Map::new())) else {
            return Err(usage(
                "-a sets members of an object, but --args is not a JSON object",
            ));
        };
        for pair in &args.arg {
            let schema = match (&manifest, &target) {
                (Some((file, validator)), Some((_, request))) => {
                    Some((file, validator.manifest(), *request))
                }
                _ => None,
            };
            set_arg(map, pair, schema)?;
        }
    }

    if let (Some((file, validator)), Some((channel, request))) = (&manifest, &target) {
        let checked = value.clone().unwrap_or_else(|| Value::Object(Map::new()));
        if let Err(e) = validator.check_args(&channel.id, &request.name, &checked) {
            let header = format!(
                "error (found by checking against {}, channel `{}`; nothing was sent)",
                file.name, channel.id
            );
            eprint!(
                "{}",
                format_error_object(&header, &validate::invalid_params(&e))
            );
            return Err(Failure::silent(Exit::Failure));
        }
    }

    let timeout = Duration::from_secs_f64(args.timeout);
    // A v1 command names its channel: the manifest's, when --channel is not given.
    let channel = match (&args.channel, &target) {
        (Some(channel), _) => Some(channel.as_str()),
        (None, Some((channel, _))) if args.wire.dialect.is_v1() => Some(channel.id.as_str()),
        (None, _) => None,
    };
    let client = connect(
        &args.socket,
        &args.reply_dir,
        timeout,
        1,
        &args.wire,
        channel,
    )
    .await?;
    let mut call = client.request(&args.request).timeout(timeout);
    if let Some(channel) = channel {
        call = call.channel(channel);
    }
    if let Some(value) = value {
        call = call.args(value);
    }
    let result = call
        .send()
        .await
        .map_err(|e| call_failure(&args.socket, e))?;
    let text = serde_json::to_string_pretty(&result)
        .map_err(|e| Failure::new(Exit::Failure, format!("cannot print the result: {e}")))?;
    outln(&text);
    if let (Some((file, validator)), Some((channel, request))) = (&manifest, &target)
        && let Err(errors) = validator.check_response(&channel.id, &request.name, &result)
    {
        eprintln!(
            "error: the result of `{}` breaks {} (channel `{}`):",
            request.name, file.name, channel.id
        );
        for e in &errors {
            let place = if e.path().is_empty() {
                "the result".to_owned()
            } else {
                format!("result.{}", e.path())
            };
            eprintln!(
                "  {place}: breaks `{}`: {}",
                e.violation().keyword(),
                e.violation().message()
            );
        }
        return Err(Failure::silent(Exit::Failure));
    }
    Ok(())
}

fn usage(message: impl Into<String>) -> Failure {
    Failure::new(Exit::Usage, message)
}

/// The request of the manifest a call goes to: `None` for a built-in.
fn resolve<'m>(
    file: &ManifestFile,
    manifest: &'m Manifest,
    channel: Option<&str>,
    request: &str,
) -> Result<Option<(&'m Channel, &'m Request)>, Failure> {
    if RESERVED_REQUESTS.contains(&request) {
        return Ok(None);
    }
    let names = |items: Vec<&str>| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    match channel {
        Some(id) => {
            let c = manifest.channel(id).ok_or_else(|| {
                usage(format!(
                    "{} has no channel `{id}`; its channels: {}",
                    file.name,
                    names(manifest.channels.iter().map(|c| c.id.as_str()).collect())
                ))
            })?;
            let r = c.request(request).ok_or_else(|| {
                usage(format!(
                    "channel `{id}` of {} has no request `{request}`; its requests: {}",
                    file.name,
                    names(c.requests.iter().map(|r| r.name.as_str()).collect())
                ))
            })?;
            Ok(Some((c, r)))
        }
        None => match manifest.channels_with(request).as_slice() {
            [] => Err(usage(format!(
                "{} has no request `{request}`; its requests: {}",
                file.name,
                names(
                    manifest
                        .channels
                        .iter()
                        .flat_map(|c| c.requests.iter().map(|r| r.name.as_str()))
                        .collect()
                )
            ))),
            [only] => Ok(only.request(request).map(|r| (*only, r))),
            many => Err(usage(format!(
                "request `{request}` is in channels {} of {}: name one with --channel",
                names(many.iter().map(|c| c.id.as_str()).collect()),
                file.name
            ))),
        },
    }
}

/// The `--args` value: JSON, `@FILE` holding JSON, or `@-` for JSON on stdin.
fn initial_args(text: Option<&str>) -> Result<Option<Value>, Failure> {
    let Some(text) = text else {
        return Ok(None);
    };
    let (json, source) = match text.strip_prefix('@') {
        Some("-") => {
            let mut json = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut json)
                .map_err(|e| usage(format!("--args @-: cannot read stdin: {e}")))?;
            (json, "--args @- (stdin)".to_owned())
        }
        Some(path) => (
            std::fs::read_to_string(path)
                .map_err(|e| usage(format!("--args @{path}: cannot read {path}: {e}")))?,
            path.to_owned(),
        ),
        None => (text.to_owned(), "--args".to_owned()),
    };
    serde_json::from_str(&json)
        .map(Some)
        .map_err(|e| usage(format!("{source} is not JSON: {e}")))
}

/// Applies one `-a key=value` to the arguments object.
fn set_arg(
    args: &mut Map<String, Value>,
    pair: &str,
    manifest: Option<(&ManifestFile, &Manifest, &Request)>,
) -> Result<(), Failure> {
    let (key, raw) = pair
        .split_once('=')
        .ok_or_else(|| usage(format!("-a expects KEY=VALUE, found `{pair}`")))?;
    let path: Vec<&str> = key.split('.').collect();
    if path.iter().any(|p| p.is_empty()) {
        return Err(usage(format!(
            "-a {pair}: `{key}` is not a member name or dotted path"
        )));
    }
    let value = match manifest.and_then(|(file, m, r)| schema_at(m, r, &path).map(|s| (file, s))) {
        Some((file, (schema, pointer))) => convert(raw, schema, key, &file.name, pointer)?,
        None => json_or_string(raw),
    };
    let (last, parents) = path.split_last().ok_or_else(|| usage("-a needs a key"))?;
    let mut map = args;
    for (depth, segment) in parents.iter().enumerate() {
        let slot = map
            .entry((*segment).to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        map = match slot {
            Value::Object(inner) => inner,
            _ => {
                return Err(usage(format!(
                    "-a {pair}: `{}` is already set to a value that is not an object",
                    path[..=depth].join(".")
                )));
            }
        };
    }
    map.insert((*last).to_owned(), value);
    Ok(())
}

/// The schema (and its manifest pointer) of the argument at a dotted path.
fn schema_at<'m>(
    manifest: &'m Manifest,
    request: &'m Request,
    path: &[&str],
) -> Option<(&'m Schema, &'m str)> {
    let (first, rest) = path.split_first()?;
    let mut field = request.args.iter().find(|f| f.name == *first)?;
    for segment in rest {
        let fields = match &field.schema.ty {
            Ty::Object(Some(fields)) => fields,
            Ty::ModelRef(name) => &manifest.model(name)?.properties,
            _ => return None,
        };
        field = fields.iter().find(|f| f.name == *segment)?;
    }
    Some((&field.schema, field.loc.pointer.as_str()))
}

/// A value that parses as JSON is that JSON; anything else is a string.
fn json_or_string(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// Converts `raw` to the type the manifest declares for `key`.
fn convert(
    raw: &str,
    schema: &Schema,
    key: &str,
    file: &str,
    pointer: &str,
) -> Result<Value, Failure> {
    let fail = |what: &str| {
        usage(format!(
            "-a {key}={raw}: `{key}` must be {what} ({file}: {pointer})"
        ))
    };
    let json = |want: fn(&Value) -> bool, what: &str| match serde_json::from_str::<Value>(raw) {
        Ok(v) if want(&v) => Ok(v),
        _ => Err(fail(what)),
    };
    match &schema.ty {
        Ty::String => Ok(Value::String(raw.to_owned())),
        Ty::Integer => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| fail("an integer")),
        Ty::Number => match serde_json::from_str::<serde_json::Number>(raw.trim()) {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => Err(fail("a number")),
        },
        Ty::Boolean => match raw.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(fail("true or false")),
        },
        Ty::Array(_) => json(Value::is_array, "a JSON array, e.g. '[\"a\", \"b\"]'"),
        Ty::Object(_) | Ty::ModelRef(_) => {
            json(Value::is_object, "a JSON object, e.g. '{\"key\": 1}'")
        }
        Ty::Unknown => Ok(json_or_string(raw)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use janus_codegen::model::load;
    use serde_json::json;

    fn seed() -> (ManifestFile, Manifest) {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/manifests/user-management.json");
        let file = ManifestFile::read(&path, Exit::Usage).unwrap();
        let m = load(&file.name, &file.text).unwrap().manifest;
        (file, m)
    }

    fn build(pairs: &[&str]) -> Result<Value, String> {
        let (file, m) = seed();
        let request = &m.channels[0].requests[0];
        let mut map = Map::new();
        for p in pairs {
            set_arg(&mut map, p, Some((&file, &m, request))).map_err(|f| f.message)?;
        }
        Ok(Value::Object(map))
    }

    #[test]
    fn values_take_the_manifest_types() {
        assert_eq!(
            build(&[
                "username=007",
                "profile.age=30",
                "profile.firstName=true",
                "role=admin"
            ])
            .unwrap(),
            json!({"username": "007", "role": "admin", "profile": {"age": 30, "firstName": "true"}})
        );
        let e = build(&["profile.age=abc"]).unwrap_err();
        assert!(
            e.starts_with("-a profile.age=abc: `profile.age` must be an integer ("),
            "{e}"
        );
        assert!(
            e.ends_with("user-management.json: /models/UserProfile/properties/age)"),
            "{e}"
        );
        let e = build(&["profile=3"]).unwrap_err();
        assert!(e.contains("must be a JSON object"), "{e}");
        assert!(
            e.ends_with("/channels/user-service/requests/create-user/args/profile)"),
            "{e}"
        );
        // Members the manifest does not know are left for the check to refuse.
        assert_eq!(build(&["nick=5"]).unwrap(), json!({"nick": 5}));
    }

    #[test]
    fn without_a_manifest_json_wins_else_strings() {
        let mut map = Map::new();
        for p in [
            "n=5",
            "ok=true",
            "s=hello",
            "list=[1,2]",
            "deep.er=null",
            "q=\"5\"",
        ] {
            set_arg(&mut map, p, None).unwrap();
        }
        assert_eq!(
            Value::Object(map.clone()),
            json!({"n": 5, "ok": true, "s": "hello", "list": [1, 2], "deep": {"er": null}, "q": "5"})
        );
        assert!(
            set_arg(&mut map, "n.x=1", None)
                .unwrap_err()
                .message
                .contains("not an object")
        );
        assert!(
            set_arg(&mut map, "novalue", None)
                .unwrap_err()
                .message
                .contains("KEY=VALUE")
        );
        assert!(set_arg(&mut map, "a..b=1", None).is_err());
    }

    #[test]
    fn requests_resolve_by_name_or_channel() {
        let (file, m) = seed();
        assert!(resolve(&file, &m, None, "ping").unwrap().is_none());
        let (c, r) = resolve(&file, &m, None, "create-user").unwrap().unwrap();
        assert_eq!(
            (c.id.as_str(), r.name.as_str()),
            ("user-service", "create-user")
        );
        let e = resolve(&file, &m, None, "delete-user").unwrap_err();
        assert!(
            e.message
                .contains("has no request `delete-user`; its requests: create-user"),
            "{}",
            e.message
        );
        let e = resolve(&file, &m, Some("nope"), "create-user").unwrap_err();
        assert!(
            e.message
                .contains("no channel `nope`; its channels: user-service"),
            "{}",
            e.message
        );
        assert_eq!(e.exit, Exit::Usage);
    }

    #[test]
    fn args_come_from_json_or_a_file() {
        assert_eq!(initial_args(None).unwrap(), None);
        assert_eq!(
            initial_args(Some("{\"a\":1}")).unwrap(),
            Some(json!({"a": 1}))
        );
        assert!(
            initial_args(Some("{"))
                .unwrap_err()
                .message
                .contains("--args is not JSON")
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, "[1]").unwrap();
        assert_eq!(
            initial_args(Some(&format!("@{}", path.display()))).unwrap(),
            Some(json!([1]))
        );
        assert!(
            initial_args(Some("@/nonexistent/x.json"))
                .unwrap_err()
                .message
                .contains("cannot read")
        );
    }
}
