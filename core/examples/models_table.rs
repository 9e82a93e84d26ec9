//! Print every current (non-reference) built-in model's parameter counts, weights, KV
//! cache per token and cheapest fit at its defaults (the manual's docs/src/generated/models.md):
//! `cargo run -p gpu-session-core --example models_table`.

#[allow(dead_code)]
#[path = "../tests/book/tables.rs"]
mod tables;

fn main() {
    print!("{}", tables::models_table());
}
