//! The names the manifest reader refuses as request names because
//! `janus_runtime::Client` already has a method of that name
//! (`janus_codegen`'s `CLIENT_METHODS`) are exactly the client's public
//! inherent methods plus the methods every type gets from the prelude's
//! traits. The code generator cannot depend on the runtime, so the list is
//! kept by hand; this test reads the runtime's source so that a method added
//! to `Client` without being added to the list fails here.

use std::collections::BTreeSet;

/// Methods `Client` gets from prelude traits (`Clone`, `Into`, `TryInto`,
/// `ToOwned`), callable with method syntax on every client.
const TRAIT_METHODS: &[&str] = &[
    "clone",
    "clone_from",
    "clone_into",
    "into",
    "to_owned",
    "try_into",
];

#[test]
fn client_methods_list_the_clients_public_methods_and_no_others() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../janus-runtime/src/client.rs"
    );
    let source = std::fs::read_to_string(path).expect("the runtime's client source");
    let file = syn::parse_file(&source).expect("the client source parses");
    let mut inherent = BTreeSet::new();
    for item in &file.items {
        let syn::Item::Impl(block) = item else {
            continue;
        };
        let is_client = matches!(&*block.self_ty, syn::Type::Path(p)
            if p.path.segments.last().is_some_and(|s| s.ident == "Client"));
        if !is_client || block.trait_.is_some() {
            continue;
        }
        for member in &block.items {
            if let syn::ImplItem::Fn(f) = member
                && matches!(f.vis, syn::Visibility::Public(_))
                && f.sig.receiver().is_some()
            {
                inherent.insert(f.sig.ident.to_string());
            }
        }
    }
    assert!(
        inherent.contains("call") && inherent.contains("stats"),
        "found no `impl Client` methods in {path}: {inherent:?}"
    );
    let expected: BTreeSet<String> = inherent
        .iter()
        .cloned()
        .chain(TRAIT_METHODS.iter().map(|m| m.to_string()))
        .collect();
    let listed: BTreeSet<String> = janus_codegen::ident::CLIENT_METHODS
        .iter()
        .map(|m| m.to_string())
        .collect();
    assert_eq!(
        listed, expected,
        "CLIENT_METHODS must list exactly Client's public methods (with a receiver) and the prelude trait methods"
    );
}
