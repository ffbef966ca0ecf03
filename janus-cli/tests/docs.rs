//! `janus docs` as a process: the three files exist for every snapshot
//! manifest, name every request and model, and the OpenAPI document parses
//! back (with the `oas3` crate) into the structure the issue asks for.

mod common;

use common::{SNAPSHOT_MANIFESTS, janus, manifest, run, temp_dir};
use janus_codegen::model::{Manifest, load};
use serde_json::Value;

fn load_manifest(name: &str) -> Manifest {
    let text = std::fs::read_to_string(manifest(name)).unwrap();
    load(name, &text).unwrap_or_else(|e| panic!("{e}")).manifest
}

/// Every `$ref` in `value`, with where it is.
fn refs(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push((at.to_owned(), v.as_str().unwrap_or_default().to_owned()));
                }
                refs(v, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                refs(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn docs_for_every_snapshot_manifest() {
    for name in SNAPSHOT_MANIFESTS {
        let dir = temp_dir();
        let out_dir = dir.path().join("api-docs");
        let out = run(janus()
            .arg("docs")
            .arg(manifest(name))
            .arg("-o")
            .arg(&out_dir))
        .expect_code(0);
        for file in ["README.md", "index.html", "openapi.json"] {
            let path = out_dir.join(file);
            assert!(path.is_file(), "{name}: {file} missing");
            assert!(out.stdout.contains(&format!("wrote {}", path.display())));
        }
        let m = load_manifest(name);
        let md = std::fs::read_to_string(out_dir.join("README.md")).unwrap();
        let html = std::fs::read_to_string(out_dir.join("index.html")).unwrap();
        for c in &m.channels {
            assert!(
                md.contains(&format!("## Channel `{}`", c.id)),
                "{name}: {}",
                c.id
            );
            for r in &c.requests {
                assert!(
                    md.contains(&format!("### `{}`", r.name)),
                    "{name}: {} in Markdown",
                    r.name
                );
                assert!(
                    md.contains(&format!("\"request\": \"{}\"", r.name)),
                    "{name}: example datagram of {}",
                    r.name
                );
                assert!(
                    html.contains(&format!(
                        "<section class=\"entry\" id=\"request-{}-{}\">",
                        c.id.to_lowercase(),
                        r.name.to_lowercase()
                    )),
                    "{name}: {} in HTML",
                    r.name
                );
            }
        }
        for model in &m.models {
            assert!(
                md.contains(&format!("### `{}`", model.name)),
                "{name}: model {}",
                model.name
            );
            assert!(html.contains(&format!("<code>{}</code>", model.name)));
        }
        assert!(html.contains("id=\"search\""));
        assert!(
            !html.contains("<script src") && !html.contains("<link"),
            "self-contained"
        );
        check_openapi(
            name,
            &m,
            &std::fs::read_to_string(out_dir.join("openapi.json")).unwrap(),
        );
    }
}

fn check_openapi(name: &str, m: &Manifest, text: &str) {
    let spec = oas3::from_json(text).unwrap_or_else(|e| panic!("{name}: not OpenAPI: {e}"));
    let version = spec.validate_version().expect("a supported version");
    assert_eq!((version.major, version.minor), (3, 1), "{name}");
    assert_eq!(
        spec.info.title,
        m.name.clone().unwrap_or_default(),
        "{name}"
    );
    assert_eq!(spec.info.version, m.version, "{name}");

    let operations: Vec<(String, String, &oas3::spec::Operation)> = spec
        .operations()
        .map(|(path, method, op)| (path, method.as_str().to_owned(), op))
        .collect();
    assert_eq!(
        operations.len(),
        m.request_count(),
        "{name}: one operation per request"
    );
    let raw: Value = serde_json::from_str(text).unwrap();
    for c in &m.channels {
        for r in &c.requests {
            let path = format!("/{}/{}", c.id, r.name);
            let (_, method, op) = operations
                .iter()
                .find(|(p, _, _)| *p == path)
                .unwrap_or_else(|| panic!("{name}: no operation for {path}"));
            assert_eq!(method, "POST", "{name}: {path}");
            assert_eq!(
                op.operation_id.as_deref(),
                Some(format!("{}.{}", c.id, r.name).as_str())
            );
            assert_eq!(op.tags, std::slice::from_ref(&c.id));
            // The request body is the arguments' schema.
            match op.request_body(&spec).expect("resolvable body") {
                None => assert!(r.args.is_empty(), "{name}: {path} has args but no body"),
                Some(body) => {
                    let schema = body.content["application/json"]
                        .schema(&spec)
                        .expect("resolvable schema")
                        .expect("a schema");
                    let oas3::spec::Schema::Object(obj) = schema else {
                        panic!("{name}: {path}: body schema is not an object schema")
                    };
                    let oas3::spec::ObjectOrReference::Object(obj) = *obj else {
                        panic!("{name}: {path}: the body schema was not resolved")
                    };
                    let mut names: Vec<&str> = obj.properties.keys().map(String::as_str).collect();
                    names.sort();
                    let mut args: Vec<&str> = r.args.iter().map(|a| a.name.as_str()).collect();
                    args.sort();
                    assert_eq!(names, args, "{name}: {path} body properties");
                    let required: Vec<&str> = r
                        .args
                        .iter()
                        .filter(|a| a.required && a.schema.default.is_none())
                        .map(|a| a.name.as_str())
                        .collect();
                    assert_eq!(obj.required, required, "{name}: {path} required");
                }
            }
            // The response, and the declared errors.
            let responses = op.responses(&spec);
            let ok = responses.get("200").expect("a 200 response");
            let ok_schema = ok.content["application/json"]
                .schema(&spec)
                .expect("resolvable");
            assert!(ok_schema.is_some(), "{name}: {path} response schema");
            if let Some(declared) = &r.response
                && declared.json_type().is_some()
            {
                let raw_schema = &raw["paths"][&path]["post"]["responses"]["200"]["content"]["application/json"]
                    ["schema"];
                assert!(
                    raw_schema.get("type").is_some() || raw_schema.get("$ref").is_some(),
                    "{name}: {path}: {raw_schema}"
                );
            }
            assert!(
                responses.contains_key("default"),
                "{name}: {path} error response"
            );
            let errors: Vec<&str> = op
                .extensions
                .get("janus-errors")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|e| e["errorType"].as_str()).collect())
                .unwrap_or_default();
            let declared: Vec<&str> = r.error_codes.iter().map(|(e, _)| e.as_str()).collect();
            assert_eq!(errors, declared, "{name}: {path} declared errors");
        }
    }
    // Every reference resolves to a component, and every model is one.
    let schemas = raw["components"]["schemas"]
        .as_object()
        .expect("components");
    for model in &m.models {
        assert!(
            schemas.contains_key(&model.name),
            "{name}: model {}",
            model.name
        );
    }
    let mut found = Vec::new();
    refs(&raw, "", &mut found);
    for (at, target) in found {
        let key = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{name}: {at}: foreign $ref {target}"));
        assert!(
            schemas.contains_key(key),
            "{name}: {at}: dangling $ref {target}"
        );
    }
}

#[test]
fn broken_manifests_write_nothing() {
    let dir = temp_dir();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version": "x", "channels": {"c": {"requests": {"r": {}}}}}"#,
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = run(janus().arg("docs").arg(&bad).arg("-o").arg(&out_dir)).expect_code(1);
    assert!(out.stderr.contains("at /version"), "{}", out.stderr);
    assert!(!out_dir.exists());
    let out = run(janus().arg("docs").arg(&bad)).expect_code(2);
    assert!(out.stderr.contains("--output <DIR>"), "{}", out.stderr);
}
