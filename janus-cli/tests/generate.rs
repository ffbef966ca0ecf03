//! `janus generate` as a process: its output is the checked-in snapshot
//! (which the `janus-tests` crate compiles under `deny(warnings)`, and
//! whose own test compares it with the generator), byte for byte.

mod common;

use common::{SNAPSHOT_MANIFESTS, janus, repo, run, temp_dir};

#[test]
fn output_is_the_compiled_snapshot_for_every_manifest() {
    let dir = repo().join("tests/manifests");
    for name in SNAPSHOT_MANIFESTS {
        // Run where the manifest is, so that it is named as build.rs would
        // name a manifest beside it.
        let out = run(janus().current_dir(&dir).args(["generate", name])).expect_code(0);
        let snapshot = repo().join("tests/snapshots").join(format!(
            "{}.rs",
            name.trim_end_matches(".json").replace('-', "_")
        ));
        let expected = std::fs::read_to_string(&snapshot).unwrap();
        assert!(
            out.stdout == expected,
            "janus generate {name} differs from {}",
            snapshot.display()
        );
        assert!(out.stderr.is_empty(), "{}", out.stderr);
    }
}

#[test]
fn output_file_and_options() {
    let dir = temp_dir();
    let file = dir.path().join("api.rs");
    let manifests = repo().join("tests/manifests");
    run(janus()
        .current_dir(&manifests)
        .args(["generate", "user-management.json", "-o"])
        .arg(&file))
    .expect_code(0);
    let written = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        written,
        std::fs::read_to_string(repo().join("tests/snapshots/user_management.rs")).unwrap()
    );

    let out = run(janus().current_dir(&manifests).args([
        "generate",
        "user-management.json",
        "--no-server",
        "--derive",
        "Eq",
    ]))
    .expect_code(0);
    assert!(out.stdout.contains("pub trait UserServiceClient"));
    assert!(!out.stdout.contains("pub trait UserServiceHandler"));
    assert!(out.stdout.contains("::std::cmp::Eq"));
    let out = run(janus().current_dir(&manifests).args([
        "generate",
        "user-management.json",
        "--no-client",
    ]))
    .expect_code(0);
    assert!(!out.stdout.contains("pub trait UserServiceClient"));
    assert!(out.stdout.contains("pub trait UserServiceHandler"));
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // `janus generate m.json | head`: the reader goes away early.
    let mut child = janus()
        .current_dir(repo().join("tests/manifests"))
        .args(["generate", "all-types.json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}

#[test]
fn broken_manifests_fail_with_their_problems() {
    let dir = temp_dir();
    let path = dir.path().join("bad.json");
    std::fs::write(
        &path,
        r#"{"version": "1.0.0", "channels": {"c": {"requests": {"ping": {}}}}}"#,
    )
    .unwrap();
    let out = run(janus().arg("generate").arg(&path)).expect_code(1);
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .contains("error: request name `ping` is reserved for a built-in request"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("at /channels/c/requests/ping"),
        "{}",
        out.stderr
    );
    let out = run(janus().args(["generate", "/nonexistent/m.json"])).expect_code(1);
    assert!(
        out.stderr.contains("cannot read /nonexistent/m.json"),
        "{}",
        out.stderr
    );
}
