//! The embedded model registry is exactly what the generator makes of the source data.

use std::path::PathBuf;

#[test]
fn regenerating_the_registry_reproduces_the_embedded_file() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let source = std::env::var_os("CATALOG_MODEL_PRICES").map_or_else(
        || root.join("data/source/model_prices_and_context_window.json"),
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("cannot read the model price data {}: {e}", source.display()));
    let generated = catalog::registry::generate(&text).unwrap();
    let target = root.join("data/model_registry.json");
    if std::env::var_os("CATALOG_UPDATE_REGISTRY").is_some() {
        std::fs::write(&target, &generated).unwrap();
    }
    let embedded = std::fs::read_to_string(&target).unwrap_or_default();
    assert!(
        embedded == generated,
        "data/model_registry.json is stale: run `CATALOG_UPDATE_REGISTRY=1 cargo test --test it registry`"
    );
}
