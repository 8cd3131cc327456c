fn main() {
    let _ = serde_capnp::include_schema!("schemas/broken.capnp");
    let _ = serde_capnp::include_schema!("schemas/missing.capnp");
    let _ = serde_capnp::include_schema!(schemas);
    let _ = serde_capnp::include_schema!("schemas/addressbook.capnp", include = "x");
}
