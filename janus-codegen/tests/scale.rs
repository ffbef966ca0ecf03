//! Large and hostile manifests: the generated code stays valid Rust, the
//! diagnostics stay few and readable. Sizes are the smallest that show each
//! property; time and memory at full scale are measured by
//! `scripts/manifest-scale-bench`, not here.

use janus_codegen::{MAX_DIAGNOSTICS, ManifestSource, Options, Severity, check, generate, parse};
use serde_json::{Value, json};

fn manifest(channels: Value, models: Value) -> String {
    json!({"version": "1.0.0", "name": "scale", "channels": channels, "models": models}).to_string()
}

/// Generates the code, formats it, and parses the formatted text back with
/// `syn` as a whole file: what `include!` and the compiler will read.
fn generated_file(text: &str) -> syn::File {
    let generated = generate(
        "m.json",
        text,
        &Options::default(),
        &ManifestSource::Literal(text.to_owned()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let formatted = generated.to_formatted_string("m.json");
    syn::parse_file(&formatted).unwrap_or_else(|e| panic!("generated code is not valid Rust: {e}"))
}

fn item_names(file: &syn::File, module: &str) -> Vec<String> {
    let items = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == module => m.content.as_ref().map(|(_, i)| i),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no module `{module}`"));
    items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) => Some(s.ident.to_string()),
            syn::Item::Enum(e) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn thousands_of_chained_model_refs_generate_valid_rust() {
    const N: usize = 2_000;
    let mut models = serde_json::Map::new();
    for i in 0..N {
        let mut props = json!({"value": {"type": "integer", "required": true}});
        if i + 1 < N {
            props["next"] = json!({"type": "object", "modelRef": format!("Node{}", i + 1)});
        } else {
            // Closes the chain into one big cycle: every link must be boxed.
            props["next"] = json!({"type": "object", "modelRef": "Node0"});
        }
        models.insert(format!("Node{i}"), json!({"properties": props}));
    }
    let text = manifest(
        json!({"walk": {"requests": {"walk": {
            "args": {"start": {"type": "object", "modelRef": "Node0", "required": true}},
            "response": {"type": "object", "modelRef": "Node7"}}}}}),
        Value::Object(models),
    );
    let file = generated_file(&text);
    let names = item_names(&file, "models");
    assert_eq!(names.iter().filter(|n| n.starts_with("Node")).count(), N);
    let formatted = prettyplease::unparse(&file);
    assert!(
        formatted.contains("pub next: ::std::option::Option<::std::boxed::Box<Node0>>")
            || formatted.contains("Option<Box<Node0>>"),
        "the link closing the cycle is boxed"
    );
}

#[test]
fn thousands_of_error_codes_generate_valid_rust() {
    const N: usize = 3_000;
    let codes: Vec<String> = (0..N).map(|i| format!("ERROR_{i}")).collect();
    let text = manifest(
        json!({"svc": {"requests": {"fail": {"errorCodes": codes}}}}),
        json!({}),
    );
    let file = generated_file(&text);
    let error_enum = file
        .items
        .iter()
        .find_map(|item| match item {
            syn::Item::Mod(m) if m.ident == "svc" => m.content.as_ref().and_then(|(_, items)| {
                items.iter().find_map(|i| match i {
                    syn::Item::Enum(e) if e.ident == "FailError" => Some(e.variants.len()),
                    _ => None,
                })
            }),
            _ => None,
        })
        .expect("enum svc::FailError");
    assert_eq!(error_enum, N);
}

#[test]
fn diagnostics_are_capped_at_the_first_in_source_order() {
    let extra = 250;
    let args: serde_json::Map<String, Value> = (0..MAX_DIAGNOSTICS + extra)
        .map(|i| (format!("a{i:05}"), json!({"type": "strin"})))
        .collect();
    let text = manifest(
        json!({"svc": {"requests": {"r": {"args": args}}}}),
        json!({}),
    );
    let errors = parse("m.json", &text).unwrap_err();
    assert_eq!(errors.diagnostics().len(), MAX_DIAGNOSTICS);
    assert_eq!(errors.error_count(), MAX_DIAGNOSTICS + extra);
    assert_eq!(errors.omitted_errors(), extra);
    let offsets: Vec<usize> = errors.diagnostics().iter().map(|d| d.offset).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "source order");
    assert_eq!(
        errors.diagnostics()[MAX_DIAGNOSTICS - 1].pointer,
        format!(
            "/channels/svc/requests/r/args/a{:05}/type",
            MAX_DIAGNOSTICS - 1
        )
    );
    let shown = errors.to_string();
    assert!(
        shown.starts_with(&format!(
            "the manifest has {} errors:\n",
            MAX_DIAGNOSTICS + extra
        )),
        "{}",
        &shown[..100]
    );
    assert!(
        shown.ends_with(&format!("\nand {extra} more errors not shown")),
        "{}",
        &shown[shown.len() - 200..]
    );
}

#[test]
fn lists_in_messages_are_capped_and_names_cut() {
    let models: serde_json::Map<String, Value> = (0..50)
        .map(|i| (format!("Model{i:02}"), json!({"properties": {}})))
        .collect();
    let long_key = "k".repeat(10_000);
    let text = manifest(
        json!({"svc": {"requests": {"r": {
            "args": {"x": {"type": "object", "modelRef": "Nope"}},
            long_key.clone(): 1}}}}),
        Value::Object(models),
    );
    let diags = check("m.json", &text);
    let model_ref = diags
        .iter()
        .find(|d| d.message.starts_with("modelRef"))
        .expect("modelRef error");
    assert!(
        model_ref
            .message
            .ends_with("models: `Model00`, `Model01`, `Model02`, `Model03`, `Model04`, `Model05`, `Model06`, `Model07`, `Model08`, `Model09` and 40 more"),
        "{}",
        model_ref.message
    );
    let unknown = diags
        .iter()
        .find(|d| d.message.starts_with("unknown key"))
        .expect("unknown key error");
    assert!(unknown.message.len() < 400, "{}", unknown.message);
    assert!(
        unknown.message.contains("… (10000 bytes)"),
        "{}",
        unknown.message
    );
}

#[test]
fn a_deep_extends_chain_is_flattened_in_linear_time() {
    const N: usize = 400;
    let mut models = serde_json::Map::new();
    models.insert(
        "M0".into(),
        json!({"properties": {"p0": {"type": "integer"}}}),
    );
    for i in 1..N {
        models.insert(
            format!("M{i}"),
            json!({"extends": format!("M{}", i - 1), "properties": {format!("p{i}"): {"type": "integer"}}, "required": ["p0"]}),
        );
    }
    let text = manifest(
        json!({"svc": {"requests": {"get": {"response": {"type": "object", "modelRef": format!("M{}", N - 1)}}}}}),
        Value::Object(models),
    );
    let checked = parse("m.json", &text).unwrap_or_else(|e| panic!("{e}"));
    let deepest = checked.manifest.model(&format!("M{}", N - 1)).unwrap();
    assert_eq!(deepest.properties.len(), N);
    let p0 = deepest.properties.iter().find(|p| p.name == "p0").unwrap();
    assert!(p0.required);
    let root = checked.manifest.model("M0").unwrap();
    assert!(!root.properties[0].required);
}

#[test]
fn extends_that_would_flatten_past_the_limit_is_one_clear_error() {
    // 2,000 models extending one base of 1,000 properties: two million
    // flattened properties from a manifest of three thousand.
    let base: serde_json::Map<String, Value> = (0..1_000)
        .map(|i| (format!("p{i}"), json!({"type": "integer"})))
        .collect();
    let mut models = serde_json::Map::new();
    models.insert("Base".into(), json!({"properties": base}));
    for i in 0..2_000 {
        models.insert(format!("D{i}"), json!({"extends": "Base"}));
    }
    let text = manifest(
        json!({"svc": {"requests": {"get": {}}}}),
        Value::Object(models),
    );
    let diags = check("m.json", &text);
    let errors: Vec<_> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .message
            .starts_with("the models have 2001000 properties in all once `extends` is followed"),
        "{}",
        errors[0]
    );
}

#[test]
fn a_hundred_requests_with_arguments_on_one_line_generate_valid_rust() {
    const N: usize = 100;
    let requests: serde_json::Map<String, Value> = (0..N)
        .map(|i| {
            (
                format!("op-{i}"),
                json!({"args": {
                    "name": {"type": "string", "required": true, "minLength": 1, "maxLength": 64},
                    "count": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                    "tags": {"type": "array", "items": {"type": "string"}}},
                    "response": {"type": "object", "properties": {"ok": {"type": "boolean", "required": true}}}}),
            )
        })
        .collect();
    // `to_string` writes the manifest on one line.
    let text = manifest(json!({"bench": {"requests": requests}}), json!({}));
    assert!(!text.contains('\n'));
    let file = generated_file(&text);
    let names = item_names(&file, "bench");
    for suffix in ["Args", "Response", "Mode"] {
        assert_eq!(
            names.iter().filter(|n| n.ends_with(suffix)).count(),
            N,
            "{suffix}"
        );
    }
}

/// The items of `module`'s trait `name`, or of the impl of `name`.
fn trait_or_impl_len(file: &syn::File, module: &str, name: &str) -> (usize, usize) {
    let Some(syn::Item::Mod(m)) = file
        .items
        .iter()
        .find(|item| matches!(item, syn::Item::Mod(m) if m.ident == module))
    else {
        panic!("no module `{module}`");
    };
    let items = &m.content.as_ref().expect("inline module").1;
    let trait_items = items
        .iter()
        .find_map(|item| match item {
            syn::Item::Trait(t) if t.ident == name => Some(t.items.len()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no trait `{name}`"));
    let arms = items
        .iter()
        .find_map(|item| match item {
            syn::Item::Impl(i) if i.trait_.is_some() => i.items.iter().find_map(|f| match f {
                syn::ImplItem::Fn(f) if f.sig.ident == "call" => {
                    f.block.stmts.iter().find_map(|s| match s {
                        syn::Stmt::Expr(syn::Expr::Match(m), _) => Some(m.arms.len()),
                        _ => None,
                    })
                }
                _ => None,
            }),
            _ => None,
        })
        .expect("the dispatcher's match");
    (trait_items, arms)
}

#[test]
fn a_thousand_requests_written_as_generated_are_the_formatted_whole_and_valid_rust() {
    const N: usize = 1_000;
    let requests: serde_json::Map<String, Value> = (0..N)
        .map(|i| {
            let request = if i % 2 == 0 {
                json!({})
            } else {
                json!({"args": {"n": {"type": "integer", "minimum": 0}}})
            };
            (format!("op-{i}"), request)
        })
        .collect();
    let text = manifest(json!({"bench": {"requests": requests}}), json!({}));
    let source = ManifestSource::Literal(text.clone());
    let checked = parse("m.json", &text).unwrap_or_else(|e| panic!("{e}"));
    let mut streamed = Vec::new();
    checked
        .write_formatted(&Options::default(), &source, &mut streamed)
        .unwrap();
    let streamed = String::from_utf8(streamed).unwrap();
    assert_eq!(
        streamed,
        checked
            .emit(&Options::default(), &source)
            .to_formatted_string("m.json")
    );
    let file = syn::parse_file(&streamed)
        .unwrap_or_else(|e| panic!("generated code is not valid Rust: {e}"));
    // Every request in the handler trait and in the dispatcher (with the
    // arm for unknown requests).
    assert_eq!(
        trait_or_impl_len(&file, "bench", "BenchHandler"),
        (N, N + 1)
    );
    assert_eq!(trait_or_impl_len(&file, "bench", "BenchClient").0, N + 1);
}
