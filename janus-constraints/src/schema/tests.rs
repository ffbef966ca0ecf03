use serde_json::{Value, json};

use super::*;

/// A schema exercising every keyword, nesting, arrays of arrays and a
/// recursive model.
fn checker() -> Checker {
    let schema = Schema {
        channels: vec![ChannelSchema {
            id: "shop".into(),
            requests: vec![
                RequestSchema {
                    name: "order".into(),
                    args: vec![
                        Field::required("sku", Node::string().pattern("^[A-Z]{3}$")),
                        Field::defaulted(
                            "qty",
                            Node::Integer {
                                minimum: Some(1),
                                maximum: Some(9),
                            },
                        ),
                        Field::optional("size", Node::string().one_of(&["s", "m"])),
                        Field::optional("note", Node::string().min_length(2).max_length(4)),
                        Field::optional(
                            "grid",
                            Node::array(Node::array(Node::Number {
                                minimum: Some(0.5),
                                maximum: None,
                            })),
                        ),
                        Field::optional("buyer", Node::model("Person")),
                        Field::optional(
                            "box",
                            Node::object(vec![Field::required("w", Node::Boolean)]),
                        ),
                        Field::optional("extra", Node::Object { fields: None }),
                        Field::optional("anything", Node::Any),
                    ],
                    response: Some(Node::model("Person")),
                },
                RequestSchema {
                    name: "status".into(),
                    args: vec![],
                    response: None,
                },
            ],
        }],
        models: vec![ModelSchema {
            name: "Person".into(),
            fields: vec![
                Field::required("name", Node::string().min_length(1)),
                Field::optional("friends", Node::array(Node::model("Person"))),
            ],
        }],
    };
    Checker::new(schema).expect("valid schema")
}

/// `(path, keyword)` of every violation of `args` for `order`.
fn violations(args: Value) -> Vec<(String, String)> {
    let c = checker();
    let order = c.request("shop", "order").expect("request");
    match c.check_args(order, &args) {
        Ok(()) => vec![],
        Err(errors) => errors
            .iter()
            .map(|e| (e.path().to_owned(), e.violation().keyword().to_owned()))
            .collect(),
    }
}

fn base(key: &str, value: Value) -> Value {
    let mut args = json!({"sku": "ABC"});
    args[key] = value;
    args
}

#[test]
fn every_keyword_is_reported_with_its_path() {
    let table: &[(Value, &[(&str, &str)])] = &[
        (json!({"sku": "ABC"}), &[]),
        (json!([]), &[("", "type")]),
        (json!({}), &[("sku", "required")]),
        (base("sku", json!("abc")), &[("sku", "pattern")]),
        (base("sku", json!(3)), &[("sku", "type")]),
        (base("qty", json!(0)), &[("qty", "minimum")]),
        (base("qty", json!(10)), &[("qty", "maximum")]),
        (base("qty", json!(1.5)), &[("qty", "type")]),
        // A member with a default is checked when null.
        (base("qty", Value::Null), &[("qty", "type")]),
        // An optional member without default may be null.
        (base("note", Value::Null), &[]),
        (base("size", json!("xl")), &[("size", "enum")]),
        (base("note", json!("x")), &[("note", "minLength")]),
        (base("note", json!("xxxxx")), &[("note", "maxLength")]),
        (
            base("grid", json!([[1.0], [0.1, 2, 0.2]])),
            &[("grid[1][0]", "minimum"), ("grid[1][2]", "minimum")],
        ),
        (base("grid", json!([1])), &[("grid[0]", "type")]),
        (
            base("buyer", json!({"name": ""})),
            &[("buyer.name", "minLength")],
        ),
        (
            base(
                "buyer",
                json!({"name": "a", "friends": [{"name": "b"}, {"friends": []}]}),
            ),
            &[("buyer.friends[1].name", "required")],
        ),
        (base("box", json!({})), &[("box.w", "required")]),
        (base("box", json!({"w": "yes"})), &[("box.w", "type")]),
        (base("extra", json!(3)), &[("extra", "type")]),
        (base("extra", json!({"free": [1, {"x": null}]})), &[]),
        (base("anything", json!([1, "two", {"three": 3}])), &[]),
        (base("skew", json!(1)), &[("skew", "additionalProperties")]),
    ];
    for (args, expected) in table {
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(p, k)| ((*p).to_owned(), (*k).to_owned()))
            .collect();
        assert_eq!(violations(args.clone()), expected, "args {args}");
    }
}

#[test]
fn all_violations_come_in_schema_order() {
    let args = json!({
        "zzz": 1, "aaa": 2,
        "sku": "abcd", "qty": 12, "note": "x", "box": {"w": 1, "v": 2}
    });
    assert_eq!(
        violations(args),
        [
            ("aaa", "additionalProperties"),
            ("zzz", "additionalProperties"),
            ("sku", "pattern"),
            ("qty", "maximum"),
            ("note", "minLength"),
            ("box.v", "additionalProperties"),
            ("box.w", "type"),
        ]
        .map(|(p, k)| (p.to_owned(), k.to_owned()))
    );
}

#[test]
fn one_string_reports_every_rule_it_breaks() {
    let node = Node::string().min_length(5).pattern("^[0-9]+$");
    let c = Checker::new(Schema::default()).unwrap();
    // Patterns of nodes outside the schema are not compiled: use one inside.
    let c2 = Checker::new(Schema {
        channels: vec![],
        models: vec![ModelSchema {
            name: "M".into(),
            fields: vec![Field::required("v", node.clone())],
        }],
    })
    .unwrap();
    let errors = c2
        .check(&Node::model("M"), &json!({"v": "ab"}))
        .unwrap_err();
    let keywords: Vec<&str> = errors.iter().map(|e| e.violation().keyword()).collect();
    assert_eq!(keywords, ["minLength", "pattern"]);
    assert!(c.check(&Node::Boolean, &json!(true)).is_ok());
}

#[test]
fn integral_floats_are_integers_and_are_normalised() {
    for n in [
        json!(100.0),
        json!(1e2),
        serde_json::from_str::<Value>("1E2").unwrap(),
    ] {
        assert_eq!(as_integer(&n), Some(100));
        assert!(JsonType::Integer.matches(&n));
    }
    assert_eq!(as_integer(&json!(1e19)), None);
    assert_eq!(as_integer(&json!(u64::MAX)), None);
    assert_eq!(violations(base("qty", json!(9e0))), vec![]);
    assert_eq!(violations(base("qty", json!(5.0))), vec![]);
    assert_eq!(
        violations(base("qty", json!(1e1))),
        [("qty".to_owned(), "maximum".to_owned())]
    );
    let c = checker();
    let order = c.request("shop", "order").unwrap();
    let mut args = json!({"sku": "ABC", "qty": 3.0});
    c.normalise_args(order, &mut args);
    assert!(args["qty"].is_i64());
    assert_eq!(args["qty"], json!(3));
}

#[test]
fn non_finite_numbers_are_refused() {
    for n in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let v = crate::check_number(n, None, None).unwrap_err();
        assert_eq!(v.keyword(), "type");
    }
    assert!(crate::check_number(1.0, None, None).is_ok());
}

fn nested_people(levels: usize) -> Value {
    let mut v = json!({"name": "leaf"});
    for _ in 1..levels {
        v = json!({"name": "n", "friends": [v]});
    }
    v
}

#[test]
fn depth_is_limited_and_reported_once() {
    let c = checker();
    let order = c.request("shop", "order").unwrap();
    // Each person is two levels (object, then the friends array).
    let within = json!({"sku": "ABC", "buyer": nested_people(MAX_DEPTH / 2 - 1)});
    c.check_args(order, &within).unwrap();
    let beyond = json!({"sku": "ABC", "buyer": nested_people(MAX_DEPTH / 2 + 1)});
    let errors = c.check_args(order, &beyond).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].violation().keyword(), MAX_DEPTH_KEYWORD);
    // Untyped values are measured too.
    let mut deep = json!(1);
    for _ in 0..MAX_DEPTH + 1 {
        deep = json!([deep]);
    }
    let errors = c
        .check_args(order, &base("anything", deep.clone()))
        .unwrap_err();
    assert_eq!(errors[0].violation().keyword(), MAX_DEPTH_KEYWORD);
    assert_eq!(errors[0].path(), "anything");
}

#[test]
fn raw_depth_is_measured_without_parsing() {
    assert_eq!(depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 3), None);
    assert_eq!(depth_exceeds(br#"{"a":[1,{"b":2}]}"#, 2), Some(3));
    // Brackets inside strings, escaped quotes included, do not count.
    assert_eq!(depth_exceeds(br#"{"a":"[[[\"[[["}"#, 1), None);
    let deep = "[".repeat(200);
    assert_eq!(depth_exceeds(deep.as_bytes(), 100), Some(101));
}

#[test]
fn requests_without_arguments_take_null_or_nothing() {
    let c = checker();
    let status = c.request("shop", "status").unwrap();
    c.check_args(status, &Value::Null).unwrap();
    c.check_args(status, &json!({})).unwrap();
    let errors = c.check_args(status, &json!({"x": 1})).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "`x`: unknown member `x`; it takes none"
    );
}

#[test]
fn responses_are_checked_with_paths() {
    let c = checker();
    let order = c.request("shop", "order").unwrap();
    c.check_response(order, &json!({"name": "x"})).unwrap();
    let errors = c
        .check_response(order, &json!({"name": "x", "friends": [{"name": 3}]}))
        .unwrap_err();
    assert_eq!(errors[0].path(), "friends[0].name");
    assert_eq!(
        errors[0].to_string(),
        "`friends[0].name`: expected a string, found number 3"
    );
    let status = c.request("shop", "status").unwrap();
    c.check_response(status, &json!([1, 2])).unwrap();
}

#[test]
fn violations_serialise_for_error_data() {
    let c = checker();
    let order = c.request("shop", "order").unwrap();
    let errors = c.check_args(order, &json!({"qty": 0})).unwrap_err();
    assert_eq!(
        errors
            .iter()
            .map(PathViolation::to_json)
            .collect::<Vec<_>>(),
        [
            json!({"field": "sku", "constraints": {"required": true}, "message": "`sku` is required but missing"}),
            json!({"field": "qty", "value": 0, "constraints": {"minimum": 1}, "message": "`qty`: 0 is less than minimum 1"}),
        ]
    );
}

#[test]
fn the_schema_round_trips_through_json_and_is_compact() {
    let c = checker();
    let text = serde_json::to_string(c.schema()).unwrap();
    let back = Checker::from_json(&text).unwrap();
    assert_eq!(back.schema(), c.schema());
    assert!(
        text.contains(
            r#"{"name":"sku","required":true,"schema":{"type":"string","pattern":"^[A-Z]{3}$"}}"#
        ),
        "{text}"
    );
}

#[test]
fn bad_schemas_are_refused() {
    let bad_pattern = Schema {
        channels: vec![],
        models: vec![ModelSchema {
            name: "M".into(),
            fields: vec![Field::required("v", Node::string().pattern("(?=a)"))],
        }],
    };
    assert!(matches!(
        Checker::new(bad_pattern),
        Err(SchemaError::Pattern { .. })
    ));
    let dangling = Schema {
        channels: vec![],
        models: vec![ModelSchema {
            name: "M".into(),
            fields: vec![Field::required("v", Node::model("Nope"))],
        }],
    };
    assert_eq!(
        Checker::new(dangling).unwrap_err().to_string(),
        "no model named `Nope`"
    );
    assert!(matches!(Checker::from_json("{"), Err(SchemaError::Json(_))));
}
