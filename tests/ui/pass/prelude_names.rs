//! Fields named after prelude items (`from`, `into`, `option`, `result`,
//! `some`, `vec`, `string`) and models named `Default` and `Box` generate
//! types with the suffix `Value`, so glob
//! imports of the generated modules shadow nothing: `From`, `Into`,
//! `Option`, `Result`, `Some`, `Vec` and `String` keep their std meaning.
#![deny(warnings)]

mod api {
    janus_runtime::janus!("../manifests/prelude_names.json");
}

use api::models::*;
use api::reports::*;

struct Celsius(i64);
struct Kelvin(i64);

impl From<Celsius> for Kelvin {
    fn from(c: Celsius) -> Self {
        Kelvin(c.0 + 273)
    }
}

fn parse(text: &str) -> Result<i64, String> {
    text.parse().map_err(|_| String::from("not a number"))
}

fn main() {
    let k: Kelvin = Celsius(1).into();
    let first: Option<i64> = Some(k.0);
    let rows: Vec<Option<i64>> = vec![first, None];
    let _boxed: Box<Result<i64, String>> = Box::new(parse("3"));
    let _ = (rows, Ok::<_, ()>(()), Err::<(), _>(()));
    // The generated types, under their suffixed names.
    let args = ListArgs {
        from: FromValue::Start,
        into: Some(IntoValue::Json),
        option: Some(option_value!("x")),
        result: Some(result_value!(3)),
        mode: Some(BoxValue::On),
        some: Some(SomeValue::B),
        window: Some(Window {
            vec: VecValue::Rows,
            string: Some(string_value!("short")),
        }),
    };
    let answer = DefaultValue { rows: 2 };
    let _ = (args, answer);
}
