//! The generator's public API: diagnostics, options, the build.rs builder.

use janus_codegen::{Error, ManifestSource, Options, Severity, check, configure, generate};

const SEED: &str = include_str!("../../testdata/manifests/user-management.json");

fn gen_text(text: &str, options: &Options) -> Result<String, String> {
    generate(
        "m.json",
        text,
        options,
        &ManifestSource::Literal(text.to_owned()),
    )
    .map(|g| g.to_formatted_string("m.json"))
    .map_err(|e| e.to_string())
}

fn errors(text: &str) -> Vec<String> {
    check("m.json", text)
        .into_iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect()
}

fn warnings(text: &str) -> Vec<String> {
    check("m.json", text)
        .into_iter()
        .filter(|d| d.severity == Severity::Warning)
        .map(|d| d.to_string())
        .collect()
}

#[test]
fn seed_manifest_generates_without_warnings() {
    let g = generate(
        "user-management.json",
        SEED,
        &Options::default(),
        &ManifestSource::Literal(SEED.to_owned()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(g.warnings.is_empty(), "{:?}", g.warnings);
    let text = g.to_formatted_string("user-management.json");
    for item in [
        "pub struct CreateUserArgs",
        "pub type Username = ::janus_runtime::Constrained<",
        "pub enum Role",
        "pub enum CreateUserError",
        "pub trait UserServiceClient",
        "pub trait UserServiceHandler",
        "pub struct UserServiceServer<H>",
        "pub const CHANNEL_ID: &str = \"user-service\";",
        "pub const CREATE_USER: &str = \"create-user\";",
        "#[macro_export]\n    macro_rules! __janus_literal_username_",
    ] {
        assert!(text.contains(item), "missing `{item}`");
    }
    // The literal macro is public under its own name, in its type's module.
    assert!(
        text.lines().any(
            |l| l.trim().starts_with("pub use __janus_literal_username_")
                && l.trim().ends_with(" as username;")
        ),
        "missing the `username!` re-export"
    );
}

#[test]
fn every_error_is_reported_at_once_in_source_order() {
    let text = r#"{
  "version": "1",
  "channels": {
    "bad name": {"requests": {"ping": {}}},
    "ok": {"requests": {"r": {"args": {"a": {"type": "strin"}, "b": {"type": "array"}}}}}
  }
}"#;
    let errs = errors(text);
    assert_eq!(errs.len(), 5, "{errs:#?}");
    assert!(errs[0].starts_with("m.json:2:14: error: version `1` is not a semantic version"));
    assert!(errs[1].starts_with("m.json:4:5: error: invalid channel name `bad name`"));
    assert!(errs[2].starts_with("m.json:4:31: error: request name `ping` is reserved"));
    assert!(errs[3].contains("unknown type `strin`"));
    assert!(errs[3].ends_with("(at /channels/ok/requests/r/args/a/type)"));
    assert!(errs[4].contains("an array needs `items`"));
}

#[test]
fn model_ref_beside_inline_properties_warns_on_disagreement() {
    let text = r#"{
  "version": "1.0.0",
  "channels": {"c": {"requests": {"r": {
    "response": {"type": "object", "modelRef": "M",
      "properties": {"a": {"type": "integer"}, "zz": {"type": "string"}, "b": {"type": "string"}},
      "required": ["b"]}
  }}}},
  "models": {"M": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}}
}"#;
    assert!(errors(text).is_empty());
    let w = warnings(text);
    assert_eq!(w.len(), 3, "{w:#?}");
    assert!(
        w.iter()
            .any(|w| w.contains("`a` is an integer here but a string in model `M`"))
    );
    assert!(w.iter().any(|w| w.contains("`zz` is not in model `M`")));
    assert!(
        w.iter()
            .any(|w| w.contains("`b` is required here but optional"))
    );
    assert!(w.iter().all(|w| w.contains(": warning: ")));
    // The model defines the type.
    let code = gen_text(text, &Options::default()).expect("generates");
    assert!(code.contains("super::models::M"));
    assert!(!code.contains("pub struct RResponse"));
}

#[test]
fn commands_is_a_synonym_of_requests() {
    let text = r#"{"version": "1.0.0", "channels": {"c": {"commands": {"do": {}}}}}"#;
    assert!(errors(text).is_empty());
    assert!(
        gen_text(text, &Options::default())
            .expect("generates")
            .contains("pub const DO: &str = \"do\";")
    );
    let both = r#"{"version": "1.0.0", "channels": {"c": {"commands": {}, "requests": {}}}}"#;
    assert!(errors(both)[0].contains("either `requests` or its legacy synonym `commands`"));
}

#[test]
fn required_lists_must_name_properties() {
    let text = r#"{"version": "1.0.0", "channels": {"c": {"requests": {"r": {
      "response": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a", "b"]}}}}},
      "models": {"M": {"properties": {"x": {"type": "string"}}, "required": ["y"]}}}"#;
    let errs = errors(text);
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[0].contains("`required` names `b`, which is not a property here"));
    assert!(errs[1].contains("`required` names `y`, which is not a property of model `M`"));
}

#[test]
fn extends_flattens_and_refuses_redefinition() {
    let text = r#"{"version": "1.0.0", "channels": {"c": {"requests": {"r": {"response": {"modelRef": "B"}}}}},
      "models": {"A": {"properties": {"id": {"type": "string"}}, "required": ["id"]},
                 "B": {"extends": "A", "properties": {"name": {"type": "string"}}}}}"#;
    let code = gen_text(text, &Options::default()).expect("generates");
    let b = &code[code.find("pub struct B").expect("struct B")..];
    let b = &b[..b.find('}').expect("end")];
    assert!(b.contains("pub id: ::std::string::String"), "{b}");
    assert!(
        b.contains("pub name: ::std::option::Option<::std::string::String>"),
        "{b}"
    );
    let redefined = text.replace("\"name\"", "\"id\"");
    assert!(errors(&redefined)[0].contains("property `id` is already defined by a base model"));
    let missing = text.replace("\"extends\": \"A\"", "\"extends\": \"Z\"");
    assert!(errors(&missing)[0].contains("`extends` names `Z`, which is not a model"));
}

#[test]
fn a_required_argument_with_a_default_is_a_warning() {
    let text = r#"{"version": "1.0.0", "channels": {"c": {"requests": {"r": {"args": {
      "a": {"type": "integer", "required": true, "default": 3}}}}}}}"#;
    assert!(errors(text).is_empty());
    assert!(warnings(text)[0].contains("a required value never uses its `default`"));
}

#[test]
fn options_select_client_and_server() {
    let client_only = gen_text(
        SEED,
        &Options {
            server: false,
            ..Options::default()
        },
    )
    .expect("generates");
    assert!(client_only.contains("pub trait UserServiceClient"));
    assert!(!client_only.contains("UserServiceHandler"));
    let server_only = gen_text(
        SEED,
        &Options {
            client: false,
            ..Options::default()
        },
    )
    .expect("generates");
    assert!(!server_only.contains("UserServiceClient"));
    assert!(server_only.contains("pub struct UserServiceServer<H>"));
    let derives = gen_text(
        SEED,
        &Options {
            derives: vec!["::my::Derive".into()],
            ..Options::default()
        },
    )
    .expect("generates");
    assert!(derives.contains("::my::Derive"));
}

#[test]
fn output_is_deterministic_whatever_the_member_order() {
    let a = r#"{"version": "1.0.0", "channels": {"b": {"requests": {"y": {}, "x": {}}}, "a": {"requests": {}}}}"#;
    let b = r#"{"channels": {"a": {"requests": {}}, "b": {"requests": {"x": {}, "y": {}}}}, "version": "1.0.0"}"#;
    let opts = Options::default();
    let ga = generate("m.json", a, &opts, &ManifestSource::Literal(String::new())).expect("a");
    let gb = generate("m.json", b, &opts, &ManifestSource::Literal(String::new())).expect("b");
    assert_eq!(
        ga.to_formatted_string("m.json"),
        gb.to_formatted_string("m.json")
    );
}

#[test]
fn compile_writes_a_formatted_file_named_after_the_manifest() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("api.json");
    std::fs::write(&manifest, SEED).expect("write");
    let out = configure()
        .out_dir(dir.path())
        .emit_rerun_if_changed(false)
        .compile(&manifest)
        .expect("compiles");
    assert_eq!(
        out.file_name().and_then(|n| n.to_str()),
        Some("user_management_api.rs")
    );
    let first = std::fs::read_to_string(&out).expect("read");
    assert!(first.starts_with("// @generated by janus-codegen"));
    assert!(
        first.contains("\n    pub struct CreateUserArgs {\n"),
        "prettyplease-formatted"
    );
    let again = configure()
        .out_dir(dir.path())
        .emit_rerun_if_changed(false)
        .file_name("custom")
        .compile(&manifest)
        .expect("compiles");
    assert_eq!(std::fs::read_to_string(again).expect("read"), first);
}

#[test]
fn compile_error_lists_every_problem_with_position_and_pointer() {
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("bad.json");
    std::fs::write(
        &manifest,
        "{\n  \"version\": \"x\",\n  \"channels\": {\"c\": {\"requests\": {\"validate\": {}}}}\n}\n",
    )
    .expect("write");
    let err = configure()
        .out_dir(dir.path())
        .emit_rerun_if_changed(false)
        .compile(&manifest)
        .expect_err("bad manifest");
    assert!(matches!(err, Error::Manifest(_)));
    let shown = err.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    let file = manifest.display().to_string();
    assert_eq!(lines[0], "the manifest has 2 errors:");
    assert_eq!(
        lines[1],
        format!(
            "{file}:2:14: error: version `x` is not a semantic version (MAJOR.MINOR.PATCH, e.g. \"1.0.0\") (at /version)"
        )
    );
    assert!(lines[2].starts_with(&format!(
        "{file}:3:35: error: request name `validate` is reserved"
    )));
    assert!(lines[2].ends_with("(at /channels/c/requests/validate)"));
    let missing = configure()
        .out_dir(dir.path())
        .compile(dir.path().join("nope.json"))
        .expect_err("missing file");
    assert!(matches!(missing, Error::Io { .. }));
}

#[test]
fn both_entry_points_generate_the_same_code_but_for_the_manifest_source() {
    let opts = Options::default();
    let literal = generate(
        "m.json",
        SEED,
        &opts,
        &ManifestSource::Literal(SEED.to_owned()),
    )
    .expect("generates")
    .tokens
    .to_string();
    let included = generate(
        "m.json",
        SEED,
        &opts,
        &ManifestSource::IncludeStr("/abs/m.json".to_owned()),
    )
    .expect("generates")
    .tokens
    .to_string();
    let cut = |s: &str| s[..s.rfind("pub const MANIFEST").expect("MANIFEST")].to_owned();
    assert_eq!(cut(&literal), cut(&included));
    assert!(
        included.ends_with(":: core :: include_str ! (\"/abs/m.json\") ;"),
        "{included}"
    );
}

#[test]
fn identifier_collisions_point_at_both_names() {
    let text = "{\"version\": \"1.0.0\", \"channels\": {\"c\": {\"requests\": {\"r\": {\"args\": {\n  \"a\": {\"type\": \"string\", \"enum\": [\"in-progress\",\n     \"in_progress\"]}},\n  \"errorCodes\": [\"NOT_FOUND\", \"NotFound\"]}}}},\n  \"models\": {\"user-info\": {}, \"UserInfo\": {}}}";
    let errs = errors(text);
    assert_eq!(errs.len(), 3, "{errs:#?}");
    assert_eq!(
        errs[0],
        "m.json:3:6: error: enum value `in_progress` and `in-progress` (line 2, column 36) both become the Rust identifier `InProgress` (at /channels/c/requests/r/args/a/enum/1)"
    );
    assert!(
        errs[1].contains("error code `NotFound` and `NOT_FOUND`"),
        "{}",
        errs[1]
    );
    assert!(
        errs[2].contains("model `user-info` and `UserInfo`"),
        "{}",
        errs[2]
    );
}

/// A request without a declared `response` gives its handler and client a
/// public type, `::janus_runtime::Value`, not a path into the runtime's
/// hidden support module.
#[test]
fn an_undeclared_response_is_the_public_value_type() {
    let text = r#"{"version": "1.0.0", "channels": {"c": {"requests": {"poke": {}}}}}"#;
    let out = gen_text(text, &Options::default()).expect("generates");
    // The client's and the handler's signatures: from `fn poke(` to the
    // line that opens the body or ends the declaration.
    let lines: Vec<&str> = out.lines().collect();
    let signatures: Vec<String> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("fn poke("))
        .map(|(at, _)| {
            let end = lines[at..]
                .iter()
                .position(|l| l.ends_with('{') || l.ends_with(';'))
                .map_or(lines.len(), |n| at + n + 1);
            lines[at..end].join("\n")
        })
        .collect();
    assert_eq!(signatures.len(), 2, "client and handler: {signatures:?}");
    for signature in &signatures {
        assert!(
            signature.contains("::janus_runtime::Value"),
            "signature: {signature}"
        );
        assert!(!signature.contains("__private"), "signature: {signature}");
    }
}
