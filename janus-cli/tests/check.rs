//! `janus check` as a process: valid manifests, broken ones (every problem
//! with its line, column, snippet and JSON pointer), warnings, missing files.

mod common;

use common::{SNAPSHOT_MANIFESTS, janus_run, manifest, repo, temp_dir};

#[test]
fn valid_manifests_pass_with_a_summary() {
    let paths: Vec<String> = SNAPSHOT_MANIFESTS
        .iter()
        .map(|m| manifest(m).display().to_string())
        .collect();
    let out = janus_run(&paths).expect_code(2); // no subcommand: usage
    assert!(out.stderr.contains("Usage"), "{}", out.stderr);

    let mut args = vec!["check".to_owned()];
    args.extend(paths);
    let out = janus_run(&args).expect_code(0);
    assert!(
        out.stdout
            .contains("user-management.json: ok (1 channel, 1 request, 2 models)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("inheritance.json: ok (2 channels, 4 requests, 4 models)"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 4, "{}", out.stdout);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
}

#[test]
fn the_seed_manifest_of_the_protocol_passes() {
    let seed = repo().join("testdata/manifests/user-management.json");
    janus_run(&["check".as_ref(), seed.as_os_str()]).expect_code(0);
}

/// A manifest with four problems on known lines.
const BROKEN: &str = r#"{
  "version": "1.0",
  "channels": {
    "users": {
      "requests": {
        "create": {
          "args": {
            "name": {"type": "text", "required": true},
            "age": {"type": "integer", "minimum": 10, "maximum": 5}
          },
          "respons": {}
        }
      }
    }
  }
}
"#;

#[test]
fn broken_manifests_show_every_problem_with_line_column_and_pointer() {
    let dir = temp_dir();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, BROKEN).unwrap();
    let out = janus_run(&["check".as_ref(), path.as_os_str()]).expect_code(1);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    let shown = path.display();
    let e = &out.stderr;
    // Each problem: message, `file:line:col`, the source line, a caret under
    // the token and the JSON pointer.
    for (message, line, column, source, pointer) in [
        (
            "error: version `1.0` is not a semantic version",
            2,
            14,
            "\"version\": \"1.0\",",
            "^^^^^ at /version",
        ),
        (
            "error: unknown type `text`",
            8,
            30,
            "\"name\": {\"type\": \"text\", \"required\": true},",
            "^^^^^^ at /channels/users/requests/create/args/name/type",
        ),
        (
            "error: minimum 10 is greater than maximum 5",
            9,
            51,
            "\"age\": {\"type\": \"integer\", \"minimum\": 10, \"maximum\": 5}",
            "^^ at /channels/users/requests/create/args/age/minimum",
        ),
        (
            "error: unknown key `respons` in a request (did you mean `response`?)",
            11,
            11,
            "\"respons\": {}",
            "^^^^^^^^^ at /channels/users/requests/create/respons",
        ),
    ] {
        assert!(e.contains(message), "missing {message:?} in\n{e}");
        assert!(
            e.contains(&format!("┌─ {shown}:{line}:{column}\n")),
            "missing position {line}:{column} in\n{e}"
        );
        assert!(
            e.contains(&format!("{line} │ ")) && e.contains(source),
            "missing source line {line} in\n{e}"
        );
        assert!(e.contains(pointer), "missing {pointer:?} in\n{e}");
    }
    // The caret sits under the column: the snippet line and the caret line
    // put the token at the same offset.
    let lines: Vec<&str> = e.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("2 │"))
        .expect("snippet of line 2");
    let token = lines[at].find("\"1.0\"").unwrap();
    let caret = lines[at + 1].find('^').unwrap();
    assert_eq!(
        lines[at][..token].chars().count(),
        lines[at + 1][..caret].chars().count()
    );
    assert!(e.ends_with(&format!("janus: {shown}: 4 errors\n")), "{e}");
    assert!(!e.contains('\u{1b}'), "no colour when not a terminal");
}

#[test]
fn colour_can_be_forced() {
    let dir = temp_dir();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, BROKEN).unwrap();
    let out = janus_run(&[
        "check".as_ref(),
        "--color=always".as_ref(),
        path.as_os_str(),
    ])
    .expect_code(1);
    assert!(out.stderr.contains('\u{1b}'), "{}", out.stderr);
}

#[test]
fn syntax_errors_and_missing_files_are_reported_and_fail() {
    let dir = temp_dir();
    let bad = dir.path().join("syntax.json");
    std::fs::write(&bad, "{\n  \"version\": \"1.0.0\",\n  \"channels\": {\n}\n").unwrap();
    let missing = dir.path().join("missing.json");
    let good = manifest("user-management.json");
    let out = janus_run(&[
        "check".as_ref(),
        bad.as_os_str(),
        missing.as_os_str(),
        good.as_os_str(),
    ])
    .expect_code(1);
    assert!(
        out.stderr.contains(&format!("┌─ {}:", bad.display())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "janus: cannot read {}: No such file",
            missing.display()
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("janus: 2 of 3 manifests have errors"),
        "{}",
        out.stderr
    );
    // The good one is still checked and reported.
    assert!(
        out.stdout.contains("user-management.json: ok"),
        "{}",
        out.stdout
    );
}

#[test]
fn warnings_are_printed_but_pass() {
    let dir = temp_dir();
    let path = dir.path().join("warn.json");
    std::fs::write(
        &path,
        r#"{"version": "1.0.0", "channels": {"quiet": {"requests": {}}, "c": {"requests": {"r": {}}}}}"#,
    )
    .unwrap();
    let out = janus_run(&["check".as_ref(), path.as_os_str()]).expect_code(0);
    assert!(
        out.stderr
            .contains("warning: channel `quiet` has no requests"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("at /channels/quiet/requests"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("warn.json: ok with 1 warning (2 channels, 1 request, 0 models)"),
        "{}",
        out.stdout
    );
}

/// Value models (enums and constrained values) with one problem each.
const BAD_VALUE_MODELS: &str = r#"{
  "version": "1.0.0",
  "models": {
    "Priority": {"type": "string", "enum": ["low", "low"]},
    "Flag": {"type": "boolean"},
    "Plain": {"type": "integer"}
  },
  "channels": {
    "tasks": {
      "requests": {
        "add": {
          "args": {
            "p": {"type": "integer", "modelRef": "Priority"},
            "q": {"modelRef": "Priority", "default": "mid"}
          }
        }
      }
    }
  }
}
"#;

#[test]
fn bad_value_models_and_their_uses_are_reported_where_they_are() {
    let dir = temp_dir();
    let path = dir.path().join("values.json");
    std::fs::write(&path, BAD_VALUE_MODELS).unwrap();
    let out = janus_run(&["check".as_ref(), path.as_os_str()]).expect_code(1);
    let shown = path.display();
    let e = &out.stderr;
    for (message, line, column, pointer) in [
        (
            "error: enum value `low` is listed twice",
            4,
            52,
            "at /models/Priority/enum/1",
        ),
        (
            "error: a model is an object, an enum or a constrained string, integer or number; a boolean needs no model",
            5,
            22,
            "at /models/Flag/type",
        ),
        (
            "error: model `Plain` is an integer without `minimum` or `maximum`",
            6,
            5,
            "at /models/Plain",
        ),
        (
            "error: modelRef `Priority` names a string model, but `type` here is integer",
            13,
            27,
            "at /channels/tasks/requests/add/args/p/type",
        ),
        (
            "error: default value breaks its own constraints: `mid` is not one of `low`",
            14,
            54,
            "at /channels/tasks/requests/add/args/q/default",
        ),
    ] {
        assert!(e.contains(message), "missing {message:?} in\n{e}");
        assert!(
            e.contains(&format!("┌─ {shown}:{line}:{column}\n")),
            "missing position {line}:{column} in\n{e}"
        );
        assert!(e.contains(pointer), "missing {pointer:?} in\n{e}");
    }
    assert!(e.ends_with(&format!("janus: {shown}: 5 errors\n")), "{e}");

    let good = repo().join("tests/manifests/value-models.json");
    let out = janus_run(&["check".as_ref(), good.as_os_str()]).expect_code(0);
    assert!(
        out.stdout
            .contains("value-models.json: ok (1 channel, 3 requests, 5 models)"),
        "{}",
        out.stdout
    );
}
