//! The generated dispatchers, validators, types and error enums, called
//! directly (no socket): every type and constraint of `manifests/all-types.json`,
//! nested field paths, defaults, recursion and argument-less requests.

use janus_runtime::{
    ApplicationError, ErrorCode, ErrorObject, HandlerError, RequestContext, Service,
};
use janus_tests::all_types::catalog::{
    self, CatalogHandler, CatalogServer, Condition, CountItemsResponse, Discount, ItemStateArgs,
    ItemStateResponse, ListTagsResponseItem, PutItemArgs, PutItemError, PutItemResponse, Quantity,
    Title, Unit,
};
use janus_tests::inheritance::{directory, health, models as dir_models};
use serde_json::{Map, Value, json};

struct Catalog;

impl CatalogHandler for Catalog {
    async fn any_object(&self, _: &RequestContext) -> Result<Map<String, Value>, HandlerError> {
        Ok(Map::new())
    }
    async fn count_items(&self, _: &RequestContext) -> Result<CountItemsResponse, HandlerError> {
        CountItemsResponse::new(3).map_err(|e| HandlerError::internal(e.to_string()))
    }
    async fn flag(&self, _: &RequestContext) -> Result<bool, HandlerError> {
        Ok(true)
    }
    async fn item_state(
        &self,
        _: &RequestContext,
        _: ItemStateArgs,
    ) -> Result<ItemStateResponse, HandlerError> {
        Ok(ItemStateResponse::SoldOut)
    }
    async fn list_tags(
        &self,
        _: &RequestContext,
    ) -> Result<Vec<ListTagsResponseItem>, HandlerError> {
        Ok(vec![])
    }
    async fn put_item(
        &self,
        _: &RequestContext,
        args: PutItemArgs,
    ) -> Result<PutItemResponse, HandlerError<PutItemError>> {
        if args.sku.as_str() == "DUP-0000" {
            return Err(PutItemError::SkuTaken.into());
        }
        Ok(PutItemResponse {
            id: *args.quantity * 100 + args.count,
            stored: args.visible,
            warnings: Some(vec![args.label, args.discount.to_string()]),
        })
    }
    async fn ratio(&self, _: &RequestContext) -> Result<f64, HandlerError> {
        Ok(0.25)
    }
    async fn raw(&self, _: &RequestContext) -> Result<Value, HandlerError> {
        Ok(json!({"anything": [1, 2]}))
    }
}

fn minimal() -> Value {
    json!({"sku": "ABC-1234", "title": "Lamp", "price": 12.5, "condition": "new"})
}

fn with(path: &[&str], value: Value) -> Value {
    let mut args = minimal();
    let mut cur = &mut args;
    for key in &path[..path.len() - 1] {
        cur = cur
            .as_object_mut()
            .expect("object")
            .entry(key.to_string())
            .or_insert_with(|| json!({}));
    }
    cur[path[path.len() - 1]] = value;
    args
}

fn refused(args: Value) -> ErrorObject {
    CatalogServer::new(Catalog)
        .validate(catalog::PUT_ITEM, &args)
        .expect_err(&format!("{args} must be refused"))
}

#[test]
fn every_type_and_constraint_is_checked_with_its_field_path() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(&["sku"], json!("abc-1234")), "sku", "pattern"),
        (with(&["title"], json!("")), "title", "minLength"),
        (
            with(&["title"], json!("t".repeat(81))),
            "title",
            "maxLength",
        ),
        (with(&["quantity"], json!(-1)), "quantity", "minimum"),
        (with(&["quantity"], json!(10001)), "quantity", "maximum"),
        (with(&["quantity"], json!(1.5)), "quantity", "type"),
        (with(&["price"], json!(0)), "price", "minimum"),
        (with(&["price"], json!(100000)), "price", "maximum"),
        (with(&["price"], json!("12")), "price", "type"),
        (with(&["discount"], json!(1.5)), "discount", "maximum"),
        (with(&["count"], json!("ten")), "count", "type"),
        (with(&["visible"], json!("yes")), "visible", "type"),
        (with(&["visible"], Value::Null), "visible", "type"),
        (with(&["featured"], json!(1)), "featured", "type"),
        (with(&["note"], json!(5)), "note", "type"),
        (with(&["weight"], json!("heavy")), "weight", "type"),
        (with(&["tags"], json!("a")), "tags", "type"),
        (
            with(&["tags"], json!(["ok", "x".repeat(17)])),
            "tags[1]",
            "maxLength",
        ),
        (with(&["tags"], json!(["ok", 3])), "tags[1]", "type"),
        (
            with(&["matrix"], json!([[0, 1], [2, 6]])),
            "matrix[1][1]",
            "maximum",
        ),
        (with(&["matrix"], json!([[0], 1])), "matrix[1]", "type"),
        (
            with(&["dimensions"], json!({"width": 1})),
            "dimensions.height",
            "required",
        ),
        (
            with(&["dimensions"], json!({"width": -1, "height": 1})),
            "dimensions.width",
            "minimum",
        ),
        (
            with(
                &["dimensions"],
                json!({"width": 1, "height": 1, "unit": "ft"}),
            ),
            "dimensions.unit",
            "enum",
        ),
        (
            with(
                &["dimensions"],
                json!({"width": 1, "height": 1, "depth": 1}),
            ),
            "dimensions.depth",
            "additionalProperties",
        ),
        (with(&["attributes"], json!([])), "attributes", "type"),
        (with(&["metadata"], json!(true)), "metadata", "type"),
        (with(&["condition"], json!("broken")), "condition", "enum"),
        (with(&["extra"], json!(1)), "extra", "additionalProperties"),
    ];
    for (args, field, keyword) in cases {
        let e = refused(args.clone());
        assert_eq!(e.code, -32602, "{args}: {e}");
        assert_eq!(e.field(), Some(field), "{args}: {e}");
        assert!(
            e.constraints().and_then(|c| c.get(keyword)).is_some(),
            "{args}: {e} lacks {keyword}"
        );
    }
    for required in ["sku", "title", "price", "condition"] {
        let mut args = minimal();
        args.as_object_mut().expect("object").remove(required);
        assert_eq!(refused(args).field(), Some(required));
    }
}

#[test]
fn valid_arguments_pass_and_defaults_fill_in() {
    let server = CatalogServer::new(Catalog);
    let full = json!({
        "sku": "ABC-1234", "title": "Lamp", "price": 12, "condition": "used",
        "note": null, "featured": false, "weight": 1.25, "tags": ["a", "b"],
        "matrix": [[-5, 5], []], "dimensions": {"width": 1.5, "height": 2},
        "attributes": {"any": ["thing"]}, "metadata": {"k": 1}
    });
    server.validate(catalog::PUT_ITEM, &full).expect("valid");
    let args: PutItemArgs = serde_json::from_value(minimal()).expect("decodes");
    assert_eq!(args.quantity, Quantity::new(1).expect("1"));
    assert_eq!(args.discount.get(), 0.5);
    assert_eq!(args.count, 10);
    assert!(args.visible);
    assert_eq!(args.label, "new");
    assert_eq!(args.condition, Condition::New);
    let args: PutItemArgs = serde_json::from_value(full).expect("decodes");
    let dims = args.dimensions.expect("dimensions");
    assert_eq!(dims.unit, Unit::Mm, "inline object default");
    assert_eq!(args.matrix.expect("matrix")[0][1].get(), 5);
}

#[tokio::test]
async fn the_dispatcher_decodes_calls_and_encodes() {
    let server = CatalogServer::new(Catalog);
    let ctx = || RequestContext::detached("catalog", "put-item");
    let out = server
        .call(ctx(), catalog::PUT_ITEM, minimal())
        .await
        .expect("result");
    assert_eq!(
        out,
        json!({"id": 110, "stored": true, "warnings": ["new", "0.5"]})
    );
    let err = server
        .call(ctx(), catalog::PUT_ITEM, with(&["sku"], json!("DUP-0000")))
        .await
        .expect_err("declared error");
    assert_eq!(err.code, -32000);
    assert_eq!(err.error_type(), Some("SKU_TAKEN"));
    let err = server
        .call(ctx(), catalog::PUT_ITEM, with(&["title"], json!("")))
        .await
        .expect_err("invalid");
    assert_eq!(err.field(), Some("title"));
    assert_eq!(
        server
            .call(ctx(), catalog::COUNT_ITEMS, json!({}))
            .await
            .expect("ok"),
        json!(3)
    );
    assert_eq!(
        server
            .call(ctx(), catalog::ITEM_STATE, json!({"sku": "ABC-1234"}))
            .await
            .expect("ok"),
        json!("sold-out")
    );
    assert_eq!(
        server
            .call(ctx(), catalog::RATIO, json!({}))
            .await
            .expect("ok"),
        json!(0.25)
    );
    assert_eq!(
        server
            .call(ctx(), catalog::FLAG, json!({}))
            .await
            .expect("ok"),
        json!(true)
    );
    assert_eq!(
        server
            .call(ctx(), catalog::RAW, json!({}))
            .await
            .expect("ok"),
        json!({"anything": [1, 2]})
    );
    assert_eq!(
        server
            .call(ctx(), catalog::ANY_OBJECT, json!({}))
            .await
            .expect("ok"),
        json!({})
    );
    assert_eq!(
        server
            .call(ctx(), catalog::LIST_TAGS, json!({}))
            .await
            .expect("ok"),
        json!([])
    );
    let e = server
        .call(ctx(), catalog::RAW, json!({"x": 1}))
        .await
        .expect_err("no args");
    assert_eq!(
        e.details(),
        Some("argument `x`: unknown member `x`; it takes none")
    );
    let e = server
        .call(ctx(), "nope", json!({}))
        .await
        .expect_err("unknown request");
    assert_eq!(e.code, -32601);
    assert_eq!(server.channel_id(), "catalog");
    assert_eq!(
        server.requests(),
        [
            "any-object",
            "count-items",
            "flag",
            "item-state",
            "list-tags",
            "put-item",
            "ratio",
            "raw"
        ]
    );
    assert_eq!(server.manifest(), Some(janus_tests::all_types::MANIFEST));
}

#[test]
fn newtypes_check_on_every_way_in() {
    assert!(Title::new("").is_err());
    let e = "".parse::<Title>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid Title: `` is shorter than minLength 1 (0 characters)"
    );
    assert_eq!(e.violation().keyword(), "minLength");
    assert!(Title::try_from("Lamp").is_ok());
    assert_eq!(&*Title::try_from(String::from("Lamp")).expect("ok"), "Lamp");
    assert!(serde_json::from_value::<Title>(json!("")).is_err());
    let q: Quantity = "42".parse().expect("parses");
    assert_eq!(q.get(), 42);
    assert_eq!(
        "4x".parse::<Quantity>().unwrap_err().to_string(),
        "invalid Quantity: expected an integer, found string `4x`"
    );
    assert!(Discount::new(1.01).is_err());
    assert_eq!(
        serde_json::to_value(Discount::new(0.25).expect("ok")).expect("json"),
        json!(0.25)
    );
    assert_eq!(Condition::ALL.len(), 3);
    assert_eq!(
        "refurbished".parse::<Condition>().expect("ok"),
        Condition::Refurbished
    );
    assert_eq!(Condition::Used.to_string(), "used");
    assert_eq!(
        "broken".parse::<Condition>().unwrap_err().to_string(),
        "invalid Condition: `broken` is not one of `new`, `used`, `refurbished`"
    );
    assert_eq!(Unit::default(), Unit::Mm);
}

#[test]
fn error_enums_round_trip_both_ways() {
    for e in PutItemError::ALL {
        let obj = e.to_error_object();
        assert_eq!(obj.error_type(), Some(e.error_type()));
        assert_eq!(PutItemError::from_error_object(&obj), Some(e), "{obj}");
        let expected = ErrorCode::from_error_type(e.error_type()).map_or(-32000, |c| c.code());
        assert_eq!(obj.code, expected, "{e}");
    }
    assert_eq!(PutItemError::SkuTaken.code(), ErrorCode::ServerError);
    assert_eq!(
        PutItemError::MessageTooLarge.code(),
        ErrorCode::ValidationFailed
    );
    // Without data.errorType: protocol names match on the code (first declared
    // wins), application names never do.
    let bare = |code: i32| ErrorObject::from_parts(code, "x", None);
    assert_eq!(
        PutItemError::from_error_object(&bare(-32005)),
        Some(PutItemError::ValidationFailed)
    );
    assert_eq!(
        PutItemError::from_error_object(&bare(-32010)),
        Some(PutItemError::ResourceLimitExceeded)
    );
    assert_eq!(PutItemError::from_error_object(&bare(-32000)), None);
    // With an errorType that is not declared: nothing.
    let other = ErrorObject::with_type(ErrorCode::ServerError, "NOT_DECLARED", "x");
    assert_eq!(PutItemError::from_error_object(&other), None);
}

struct Dir;

impl directory::DirectoryHandler for Dir {
    async fn add_team(
        &self,
        _: &RequestContext,
        args: directory::AddTeamArgs,
    ) -> Result<directory::AddTeamResponse, HandlerError<directory::AddTeamError>> {
        let size = directory::Size::new(args.members.len() as i64)
            .map_err(|e| HandlerError::internal(e.to_string()))?;
        Ok(directory::AddTeamResponse {
            team: dir_models::TeamNode {
                name: String::from("core"),
                members: None,
                parent: Some(Box::new(dir_models::TeamNode {
                    name: String::from("root"),
                    members: None,
                    parent: None,
                    children: None,
                })),
                children: Some(vec![]),
            },
            size,
        })
    }
    async fn list_people(
        &self,
        _: &RequestContext,
    ) -> Result<Vec<dir_models::Employee>, HandlerError> {
        Ok(vec![])
    }
    async fn org_chart(&self, _: &RequestContext) -> Result<dir_models::TeamNode, HandlerError> {
        Err(HandlerError::server("no chart yet"))
    }
}

struct Health;

impl health::HealthHandler for Health {
    async fn status(&self, _: &RequestContext) -> Result<Value, HandlerError> {
        Ok(json!("up"))
    }
}

#[tokio::test]
async fn inheritance_recursion_and_argument_less_requests() {
    let server = directory::DirectoryServer::new(Dir);
    let ctx = || RequestContext::detached("directory", "add-team");
    // Inherited required properties are required; arrays of models check each element.
    let e = server
        .validate(
            directory::ADD_TEAM,
            &json!({"members": [{"id": "a", "name": "A"}, {"id": "b"}]}),
        )
        .expect_err("name missing");
    assert_eq!(e.field(), Some("members[1].name"));
    let e = server
        .validate(
            directory::ADD_TEAM,
            &json!({"members": [], "lead": {"id": "UP", "name": "x", "title": "t"}}),
        )
        .expect_err("id pattern");
    assert_eq!(e.field(), Some("lead.id"));
    let e = server
        .validate(
            directory::ADD_TEAM,
            &json!({"members": [], "lead": {"id": "x", "name": "x"}}),
        )
        .expect_err("title missing");
    assert_eq!(e.field(), Some("lead.title"));
    let out = server
        .call(
            ctx(),
            directory::ADD_TEAM,
            json!({"members": [{"id": "a", "name": "A"}]}),
        )
        .await
        .expect("ok");
    assert_eq!(out["size"], 1);
    assert_eq!(out["team"]["parent"]["name"], "root");
    let back: directory::AddTeamResponse = serde_json::from_value(out).expect("decodes");
    assert_eq!(back.team.parent.expect("parent").name, "root");
    let e = server
        .call(ctx(), directory::ORG_CHART, json!({}))
        .await
        .expect_err("server error");
    assert_eq!(e.details(), Some("no chart yet"));
    let h = health::HealthServer::new(Health);
    assert_eq!(
        h.call(ctx(), health::STATUS, json!({})).await.expect("ok"),
        json!("up")
    );
    assert!(h.validate(health::STATUS, &json!({"x": 1})).is_err());
}
