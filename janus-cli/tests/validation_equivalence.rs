//! The mock server's argument checks (`janus_cli::mock`, which `janus call
//! --manifest` shares through `janus_cli::validate`) answer exactly what the
//! generated servers answer: for every request of every snapshot manifest
//! and thousands of argument objects derived from a valid one (members
//! removed, replaced by values of every type and around every limit,
//! unknown members added at every level), `Service::validate` of the mock
//! channel and of the generated dispatcher return the same result: the same
//! error code, message, `field`, `value`, `constraints` and `details`.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{SNAPSHOT_MANIFESTS, manifest};
use janus_cli::mock::MockChannel;
use janus_cli::sample::Sampler;
use janus_codegen::model::{Validator, load};
use janus_runtime::{HandlerError, RequestContext, Service};
use janus_tests::{all_types, inheritance, names, user_management};
use serde_json::{Map, Value, json};

fn not_called<T, E>() -> Result<T, HandlerError<E>> {
    Err(HandlerError::internal(
        "not called: only `validate` is used",
    ))
}

struct Dummy;

impl user_management::user_service::UserServiceHandler for Dummy {
    async fn create_user(
        &self,
        _: &RequestContext,
        _: user_management::user_service::CreateUserArgs,
    ) -> Result<
        user_management::models::CreateUserResponse,
        HandlerError<user_management::user_service::CreateUserError>,
    > {
        not_called()
    }
}

impl all_types::catalog::CatalogHandler for Dummy {
    async fn any_object(&self, _: &RequestContext) -> Result<Map<String, Value>, HandlerError> {
        not_called()
    }
    async fn count_items(
        &self,
        _: &RequestContext,
    ) -> Result<all_types::catalog::CountItemsResponse, HandlerError> {
        not_called()
    }
    async fn flag(&self, _: &RequestContext) -> Result<bool, HandlerError> {
        not_called()
    }
    async fn item_state(
        &self,
        _: &RequestContext,
        _: all_types::catalog::ItemStateArgs,
    ) -> Result<all_types::catalog::ItemStateResponse, HandlerError> {
        not_called()
    }
    async fn list_tags(
        &self,
        _: &RequestContext,
    ) -> Result<Vec<all_types::catalog::ListTagsResponseItem>, HandlerError> {
        not_called()
    }
    async fn put_item(
        &self,
        _: &RequestContext,
        _: all_types::catalog::PutItemArgs,
    ) -> Result<all_types::catalog::PutItemResponse, HandlerError<all_types::catalog::PutItemError>>
    {
        not_called()
    }
    async fn ratio(&self, _: &RequestContext) -> Result<f64, HandlerError> {
        not_called()
    }
    async fn raw(&self, _: &RequestContext) -> Result<Value, HandlerError> {
        not_called()
    }
}

impl inheritance::directory::DirectoryHandler for Dummy {
    async fn add_team(
        &self,
        _: &RequestContext,
        _: inheritance::directory::AddTeamArgs,
    ) -> Result<
        inheritance::directory::AddTeamResponse,
        HandlerError<inheritance::directory::AddTeamError>,
    > {
        not_called()
    }
    async fn list_people(
        &self,
        _: &RequestContext,
    ) -> Result<Vec<inheritance::models::Employee>, HandlerError> {
        not_called()
    }
    async fn org_chart(
        &self,
        _: &RequestContext,
    ) -> Result<inheritance::models::TeamNode, HandlerError> {
        not_called()
    }
}

impl inheritance::health::HealthHandler for Dummy {
    async fn status(&self, _: &RequestContext) -> Result<Value, HandlerError> {
        not_called()
    }
}

impl names::r#async::AsyncHandler for Dummy {
    async fn r#await(
        &self,
        _: &RequestContext,
        _: names::r#async::AwaitArgs,
    ) -> Result<Value, HandlerError> {
        not_called()
    }
}

impl names::models_channel::ModelsHandler for Dummy {
    async fn r#type(
        &self,
        _: &RequestContext,
        _: names::models_channel::TypeArgs,
    ) -> Result<Value, HandlerError> {
        not_called()
    }
}

impl names::user_service::UserServiceHandler for Dummy {
    async fn channel_id(&self, _: &RequestContext) -> Result<Value, HandlerError> {
        not_called()
    }
    async fn create_user(
        &self,
        _: &RequestContext,
        _: names::user_service::CreateUserArgs,
    ) -> Result<Value, HandlerError> {
        not_called()
    }
    async fn update_user(
        &self,
        _: &RequestContext,
        _: names::user_service::UpdateUserArgs,
    ) -> Result<names::user_service::UpdateUserResponse, HandlerError> {
        not_called()
    }
}

/// The generated dispatchers of a snapshot manifest, by channel id.
fn generated(manifest: &str) -> BTreeMap<String, Arc<dyn Service>> {
    let services: Vec<Arc<dyn Service>> = match manifest {
        "user-management.json" => vec![Arc::new(
            user_management::user_service::UserServiceServer::new(Dummy),
        )],
        "all-types.json" => vec![Arc::new(all_types::catalog::CatalogServer::new(Dummy))],
        "inheritance.json" => vec![
            Arc::new(inheritance::directory::DirectoryServer::new(Dummy)),
            Arc::new(inheritance::health::HealthServer::new(Dummy)),
        ],
        "names.json" => vec![
            Arc::new(names::r#async::AsyncServer::new(Dummy)),
            Arc::new(names::models_channel::ModelsServer::new(Dummy)),
            Arc::new(names::user_service::UserServiceServer::new(Dummy)),
        ],
        other => panic!("no generated code for {other}"),
    };
    services
        .into_iter()
        .map(|s| (s.channel_id().to_owned(), s))
        .collect()
}

/// Values of every JSON type, around the limits the snapshot manifests use.
fn replacements() -> Vec<Value> {
    let mut v = vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(""),
        json!("a"),
        json!("abc"),
        json!("ABC-1234"),
        json!("abc-1234"),
        json!("ABC-12345"),
        json!("é"),
        json!("john@example.com"),
        json!("not an email"),
        json!("123456"),
        json!("12345"),
        json!("new"),
        json!("in-stock"),
        json!("mm"),
        json!("admin"),
        json!("won"),
        json!("on"),
        json!("2nd"),
        json!("a-1"),
        json!("A_1"),
        json!("x".repeat(17)),
        json!("x".repeat(51)),
        json!("t".repeat(81)),
        json!("t".repeat(101)),
        json!([]),
        json!(["a"]),
        json!([1]),
        json!([[0, 1], [2, 6]]),
        json!([[0, 1], [2, -6]]),
        json!([{}]),
        json!([{"id": "a-1", "name": "Ann"}]),
        json!([{"id": "A 1", "name": "Ann"}]),
        json!({}),
        json!({"zz": 1}),
        json!({"width": 1, "height": 2}),
        json!({"width": -1, "height": 2}),
        json!({"id": "a-1", "name": "", "title": "t"}),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1e300),
        json!(-1e300),
    ];
    for n in [
        -1_000_000, -6, -5, -1, 0, 1, 5, 6, 9, 10, 11, 12, 13, 120, 121, 10_000, 10_001,
    ] {
        v.push(json!(n));
    }
    for f in [
        -0.5, 0.001, 0.005, 0.01, 0.5, 1.0, 1.5, 99999.99, 99999.991, 100000.5,
    ] {
        v.push(json!(f));
    }
    v
}

/// Every path to a member or element in `value` (a path is a list of keys
/// and indices).
#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn paths(value: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(Step::Key(k.clone()));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(Step::Index(i));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn at<'v>(value: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let mut cur = value;
    for step in path {
        cur = match (step, cur) {
            (Step::Key(k), Value::Object(m)) => m.get_mut(k)?,
            (Step::Index(i), Value::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Argument objects derived from a valid one.
fn variants(valid: &Value) -> Vec<Value> {
    let mut out = vec![
        valid.clone(),
        Value::Null,
        json!({}),
        json!([]),
        json!("args"),
        json!(1),
        json!({"zz_unknown": 1}),
    ];
    let mut all = Vec::new();
    paths(valid, &mut Vec::new(), &mut all);
    for path in &all {
        let (last, parent) = path.split_last().expect("non-empty path");
        // Removed.
        let mut removed = valid.clone();
        match (last, at(&mut removed, parent)) {
            (Step::Key(k), Some(Value::Object(m))) => {
                m.remove(k);
            }
            (Step::Index(i), Some(Value::Array(a))) => {
                a.remove(*i);
            }
            _ => {}
        }
        out.push(removed);
        // Replaced.
        for replacement in replacements() {
            let mut changed = valid.clone();
            if let Some(slot) = at(&mut changed, path) {
                *slot = replacement;
                out.push(changed);
            }
        }
        // An unknown member beside it, and inside it when it is an object.
        for target in [parent, path.as_slice()] {
            let mut extra = valid.clone();
            if let Some(Value::Object(m)) = at(&mut extra, target) {
                m.insert("zz_unknown".into(), json!(0));
                out.push(extra);
            }
        }
    }
    out
}

#[test]
fn the_mock_answers_exactly_what_the_generated_servers_answer() {
    let mut compared = 0;
    let mut refused = 0;
    let mut by_keyword: BTreeMap<String, usize> = BTreeMap::new();
    for name in SNAPSHOT_MANIFESTS {
        let text = std::fs::read_to_string(manifest(name)).unwrap();
        let checked = load(name, &text).unwrap_or_else(|e| panic!("{e}"));
        let m = checked.manifest;
        let sampler = Sampler::new(&m);
        let validator = Arc::new(Validator::new(m.clone()));
        let mocks = MockChannel::for_manifest(validator, Arc::from(text.as_str()));
        let generated = generated(name);
        assert_eq!(mocks.len(), generated.len(), "{name}: channels");
        for mock in &mocks {
            let real = &generated[mock.channel_id()];
            assert_eq!(mock.requests().len(), real.requests().len());
            let channel = m.channel(mock.channel_id()).expect("channel");
            for request in &channel.requests {
                let valid = sampler.args(request).unwrap_or_else(|| json!({}));
                for args in variants(&valid) {
                    let ours = mock.validate(&request.name, &args);
                    let theirs = real.validate(&request.name, &args);
                    assert_eq!(
                        ours, theirs,
                        "{name} {}/{} with {args}",
                        channel.id, request.name
                    );
                    compared += 1;
                    if let Err(e) = &theirs {
                        refused += 1;
                        if let Some(Value::Object(c)) = e.constraints() {
                            for k in c.keys() {
                                *by_keyword.entry(k.clone()).or_default() += 1;
                            }
                        }
                    }
                }
            }
            // A request the channel does not have.
            assert_eq!(
                mock.validate("no-such-request", &json!({})),
                real.validate("no-such-request", &json!({}))
            );
        }
    }
    // The comparison covers every kind of refusal, and valid arguments too.
    println!("compared {compared} argument objects, {refused} refused: {by_keyword:?}");
    assert!(compared > 3000, "{compared}");
    assert!(
        refused > 1000 && refused < compared,
        "{refused} of {compared}"
    );
    for keyword in [
        "type",
        "required",
        "additionalProperties",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "enum",
    ] {
        assert!(
            by_keyword.contains_key(keyword),
            "no `{keyword}` refusal compared: {by_keyword:?}"
        );
    }
}

#[test]
fn local_checks_of_janus_call_share_the_same_answers() {
    // `janus call --manifest` goes through `janus_cli::validate::check`; the
    // mock channel through the same function. Spot-check it directly.
    let text = std::fs::read_to_string(manifest("user-management.json")).unwrap();
    let m = load("user-management.json", &text).unwrap().manifest;
    let validator = Validator::new(m.clone());
    let channel = m.channel("user-service").unwrap();
    let real = &generated("user-management.json")["user-service"];
    for args in [
        json!({"username": "jo", "email": "a@b.cc"}),
        json!({"username": "john", "email": "a@b.cc", "profile": {"age": 12}}),
        json!({"username": "john", "email": "a@b.cc", "role": "root"}),
        json!({"username": "john"}),
        json!({"username": "john", "email": "a@b.cc", "extra": 1}),
    ] {
        assert_eq!(
            janus_cli::validate::check(&validator, channel, "create-user", &args),
            real.validate("create-user", &args),
            "{args}"
        );
    }
}
