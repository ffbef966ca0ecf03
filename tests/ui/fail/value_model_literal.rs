//! A value model's literal macro checks its literal against the model, and
//! an argument of the model's type takes only the model's type: not a
//! separate per-field enum.
mod api {
    janus_runtime::janus!("../manifests/value_models.json");
}

fn main() {
    let _tag = api::models::tag!("UPPER");
    let _percent = api::models::percent!(101);
    let _args = api::tasks::SetPriorityArgs::new(api::tasks::Priority::High);
}
