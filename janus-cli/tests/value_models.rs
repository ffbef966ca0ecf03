//! Value models over the command line: `janus serve` (the mock server of a
//! manifest), `janus call --manifest` (checked before sending) and the
//! generated server accept and refuse the same arguments, with the same
//! error.

mod common;

use common::{Serve, janus_async, manifest};
use janus_runtime::{HandlerError, RequestContext, Server};
use janus_tests::value_models::models::{Percent, Priority, Task};
use janus_tests::value_models::tasks::{AddArgs, SetPriorityArgs, TasksHandler, TasksServer};
use serde_json::Value;

type Never = std::convert::Infallible;

/// A generated-code server of the value-models manifest.
struct Tasks;

impl TasksHandler for Tasks {
    async fn add(&self, _: &RequestContext, a: AddArgs) -> Result<Task, HandlerError<Never>> {
        Ok(Task::new(a.priority, a.tags.unwrap_or_default(), a.title))
    }

    async fn set_priority(
        &self,
        _: &RequestContext,
        a: SetPriorityArgs,
    ) -> Result<Percent, HandlerError<Never>> {
        Percent::new(a.tag.len() as i64).map_err(|e| HandlerError::internal(e.to_string()))
    }

    async fn top_priority(&self, _: &RequestContext) -> Result<Priority, HandlerError<Never>> {
        Ok(Priority::High)
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The error text after its first line (which names where it was found).
fn body(stderr: &str) -> String {
    stderr
        .split_once('\n')
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_call_and_the_generated_server_agree_on_value_models() {
    let path = manifest("value-models.json");
    let text = path.display().to_string();
    let mock = Serve::start(&path, &["--quiet"]);
    let dir = common::temp_dir();
    let generated_sock = dir.path().join("tasks.sock");
    let generated = Server::bind(&generated_sock)
        .expect("bind")
        .channel(TasksServer::new(Tasks))
        .spawn();
    let generated_sock = generated_sock.display().to_string();

    let good: &[&[&str]] = &[
        &["set-priority", "-a", "priority=high"],
        &["set-priority", "-a", "priority=low", "-a", "tag=abc"],
        &[
            "add",
            "-a",
            "title=x",
            "-a",
            "progress=100",
            "-a",
            "tags=[\"a\"]",
        ],
    ];
    for call in good {
        for sock in [mock.sock(), generated_sock.clone()] {
            let mut a = strings(&["call", &sock]);
            a.extend(strings(call));
            a.extend(strings(&["--manifest", &text]));
            let out = janus_async(a).await.expect_code(0);
            let _: Value = serde_json::from_str(&out.stdout).expect("JSON result");
        }
    }
    let bad: &[&[&str]] = &[
        &["set-priority", "-a", "priority=urgent"],
        &["set-priority", "-a", "priority=low", "-a", "tag=UP"],
        &["add", "-a", "title=x", "-a", "progress=101"],
        &["add", "-a", "title=x", "-a", "tags=[\"waytoolongforatag\"]"],
    ];
    for call in bad {
        let mut local = strings(&["call", &generated_sock]);
        local.extend(strings(call));
        local.extend(strings(&["--manifest", &text]));
        let local = janus_async(local).await.expect_code(1);
        assert!(
            local.stderr.contains("nothing was sent"),
            "{}",
            local.stderr
        );
        assert!(body(&local.stderr).contains("field: "), "{}", local.stderr);
        for sock in [mock.sock(), generated_sock.clone()] {
            let mut remote = strings(&["call", &sock]);
            remote.extend(strings(call));
            let remote = janus_async(remote).await.expect_code(1);
            assert_eq!(
                body(&local.stderr),
                body(&remote.stderr),
                "{call:?} at {sock}"
            );
        }
    }
    generated.shutdown().await;
    drop(mock);
}

#[test]
fn docs_describe_value_models_once_and_refer_to_them() {
    let dir = common::temp_dir();
    let out_dir = dir.path().join("docs");
    let path = manifest("value-models.json");
    common::janus_run(&[
        "docs".as_ref(),
        path.as_os_str(),
        "-o".as_ref(),
        out_dir.as_os_str(),
    ])
    .expect_code(0);
    let markdown = std::fs::read_to_string(out_dir.join("README.md")).expect("README.md");
    assert!(
        markdown.contains("### `Priority`\n\nHow urgent a task is.\n\nType: string (one of `low`, `normal`, `high`)\n"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| `priority` | [`Priority`](#model-priority) |"),
        "{markdown}"
    );
    let html = std::fs::read_to_string(out_dir.join("index.html")).expect("index.html");
    assert!(html.contains("id=\"model-percent\""), "{html}");
    let openapi: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("openapi.json")).expect("openapi.json"),
    )
    .expect("JSON");
    let schemas = &openapi["components"]["schemas"];
    assert_eq!(
        schemas["Priority"],
        serde_json::json!({"type": "string", "enum": ["low", "normal", "high"], "description": "How urgent a task is."})
    );
    assert_eq!(
        schemas["Percent"],
        serde_json::json!({"type": "integer", "minimum": 0, "maximum": 100})
    );
    let task = &schemas["Task"]["properties"];
    assert_eq!(
        task["priority"],
        serde_json::json!({"$ref": "#/components/schemas/Priority"})
    );
    assert_eq!(
        task["progress"],
        serde_json::json!({"$ref": "#/components/schemas/Percent", "default": 0})
    );
    assert_eq!(
        task["tags"]["items"],
        serde_json::json!({"$ref": "#/components/schemas/Tag"})
    );
}
