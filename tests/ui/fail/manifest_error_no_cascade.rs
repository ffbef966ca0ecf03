//! A manifest error is the only error: the modules and the `MANIFEST`
//! constant the code that uses them expects are there (empty), so their uses
//! add no "unresolved import" after it. The misspelt `modelRef` gets a
//! suggestion, at the value's own line and column.
janus_runtime::janus!("../manifests/model_ref_case.json");

#[allow(unused_imports)]
use models::*;
#[allow(unused_imports)]
use profiles::*;

fn main() {
    assert!(!MANIFEST.is_empty());
}
