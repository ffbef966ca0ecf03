//! Generates the typed API from `manifest.json` into `$OUT_DIR/user_management_api.rs`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    janus_codegen::configure()
        .client(true)
        .server(true)
        .compile("manifest.json")?;
    Ok(())
}
