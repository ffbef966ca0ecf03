//! trybuild UI tests: `ui/pass` must compile (under `#![deny(warnings)]`),
//! `ui/fail` must fail with the reviewed `.stderr`. Regenerate the expected
//! output with `TRYBUILD=overwrite cargo test -p janus-tests --test ui` and
//! review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
