//! Value models (an enum or a constrained string, integer or number named
//! under `models`): every `modelRef` to one is the one Rust type, in
//! arguments, responses and other models' properties; defaults given where
//! it is used apply; generated servers and the manifest's run-time validator
//! accept and refuse the same arguments.

use std::sync::Mutex;

use janus_codegen::model::{Validator, load};
use janus_runtime::{Client, HandlerError, RequestContext, Server, Service};
use janus_tests::value_models::models::{Percent, Priority, Tag, Task, Weight};
use janus_tests::value_models::tasks::{
    AddArgs, SetPriorityArgs, TasksClient, TasksHandler, TasksServer,
};
use serde_json::{Value, json};

const MANIFEST: &str = include_str!("../manifests/value-models.json");

/// Remembers the last priority set; answers with the types the arguments
/// came in, unconverted.
#[derive(Default)]
struct Tasks {
    top: Mutex<Option<Priority>>,
}

impl TasksHandler for Tasks {
    async fn add(
        &self,
        _ctx: &RequestContext,
        args: AddArgs,
    ) -> Result<Task, HandlerError<std::convert::Infallible>> {
        // The argument's priority, tags and progress are the model's field types.
        let mut task = Task::new(args.priority, args.tags.unwrap_or_default(), args.title);
        if let Some(progress) = args.progress {
            task = task.with_progress(progress);
        }
        Ok(task)
    }

    async fn set_priority(
        &self,
        _ctx: &RequestContext,
        args: SetPriorityArgs,
    ) -> Result<Percent, HandlerError<std::convert::Infallible>> {
        let mut top = self
            .top
            .lock()
            .map_err(|_| HandlerError::internal("poisoned"))?;
        *top = Some(args.priority);
        Percent::new(args.tag.len() as i64).map_err(|e| HandlerError::internal(e.to_string()))
    }

    async fn top_priority(
        &self,
        _ctx: &RequestContext,
    ) -> Result<Priority, HandlerError<std::convert::Infallible>> {
        let top = self
            .top
            .lock()
            .map_err(|_| HandlerError::internal("poisoned"))?;
        Ok(top.unwrap_or(Priority::Low))
    }
}

#[test]
fn one_model_is_one_type_in_arguments_responses_and_models() {
    let args = AddArgs::new("write").with_priority(Priority::High);
    // Assignments between the argument's, the model field's and the
    // response's types compile only if they are one type.
    let from_args: Priority = args.priority;
    let mut task = Task::new(from_args, vec![Tag::new("home").expect("tag")], "write");
    task.priority = args.priority;
    let tags: Option<Vec<Tag>> = AddArgs::new("x").with_tags(task.tags.clone()).tags;
    assert_eq!(tags.as_deref(), Some(task.tags.as_slice()));
    let progress: Option<Percent> = AddArgs::new("x").with_progress(task.progress).progress;
    assert_eq!(progress, Some(task.progress));
    assert_eq!(
        Priority::ALL,
        [Priority::Low, Priority::Normal, Priority::High]
    );
}

#[test]
fn defaults_given_where_a_value_model_is_used_apply() {
    assert_eq!(AddArgs::new("x").priority, Priority::Normal);
    let decoded: AddArgs = serde_json::from_value(json!({"title": "x"})).expect("decodes");
    assert_eq!(decoded.priority, Priority::Normal);
    let set: SetPriorityArgs = serde_json::from_value(json!({"priority": "low"})).expect("decodes");
    assert_eq!(set.tag.as_str(), "misc");
    let task: Task = serde_json::from_value(json!({"title": "t", "priority": "high", "tags": []}))
        .expect("decodes");
    assert_eq!(task.progress.get(), 0);
    assert_eq!(task.weight.get(), -0.5);
    assert_eq!(task.weight, Weight::new(-0.5).expect("weight"));
    // The literal macros of the models check their literal while compiling.
    let tag: Tag = janus_tests::value_models::models::tag!("work");
    assert_eq!(tag.as_str(), "work");
}

#[tokio::test]
async fn value_models_round_trip_over_a_socket() {
    let dir = tempfile::Builder::new()
        .prefix("janus-value-models")
        .tempdir_in("/tmp")
        .expect("temp dir");
    let path = dir.path().join("tasks.sock");
    let server = Server::bind(&path)
        .expect("bind")
        .channel(TasksServer::new(Tasks::default()))
        .spawn();
    let client = Client::connect(&path).await.expect("connect");

    let task = client
        .add(AddArgs::new("write").with_tags(vec![Tag::new("home").expect("tag")]))
        .await
        .expect("added");
    assert_eq!(task.priority, Priority::Normal);
    assert_eq!(task.progress.get(), 0);
    assert_eq!(task.tags[0].as_str(), "home");

    let args = SetPriorityArgs::new(Priority::High).with_tag(Tag::new("abc").expect("tag"));
    let length: Percent = client.set_priority(args).await.expect("set");
    assert_eq!(length.get(), 3);
    let top: Priority = client.top_priority().await.expect("top");
    assert_eq!(top, Priority::High);
    server.shutdown().await;
}

/// Arguments each request must accept or refuse, whichever checks them.
fn cases() -> Vec<(&'static str, Value)> {
    vec![
        ("add", json!({"title": "x"})),
        (
            "add",
            json!({"title": "x", "priority": "high", "tags": ["a", "bc"]}),
        ),
        ("add", json!({"title": "x", "priority": "urgent"})),
        ("add", json!({"title": "x", "tags": ["UPPER"]})),
        ("add", json!({"title": "x", "tags": ["waytoolongforatag"]})),
        ("add", json!({"title": "x", "progress": 101})),
        ("add", json!({"title": "x", "progress": 100})),
        ("add", json!({"title": "x", "priority": 3})),
        ("set-priority", json!({"priority": "low"})),
        ("set-priority", json!({"priority": "low", "tag": "Bad"})),
        ("set-priority", json!({})),
        ("top-priority", json!({})),
    ]
}

#[test]
fn the_generated_server_and_the_validator_accept_and_refuse_the_same() {
    let checked = load("value-models.json", MANIFEST).unwrap_or_else(|e| panic!("{e}"));
    assert!(checked.warnings.is_empty(), "{:?}", checked.warnings);
    let validator = Validator::new(checked.manifest);
    let server = TasksServer::new(Tasks::default());
    let mut refused = 0;
    for (request, args) in cases() {
        let generated = server.validate(request, &args);
        let run_time = validator.check_args("tasks", request, &args);
        assert_eq!(
            generated.is_ok(),
            run_time.is_ok(),
            "{request} {args}: {generated:?} / {run_time:?}"
        );
        if let (Err(generated), Err(run_time)) = (generated, run_time) {
            refused += 1;
            let text = serde_json::to_string(&generated).expect("serializes");
            for violation in run_time {
                assert!(
                    text.contains(&violation.to_string()),
                    "{request} {args}: `{violation}` not in {text}"
                );
            }
        }
    }
    assert_eq!(refused, 7);
}
