//! Print each of the reference's seven models' serving estimate at its defaults next to the
//! reference formula (the manual's docs/src/generated/reference-comparison.md):
//! `cargo run -p gpu-session-core --example defaults_table`.

#[allow(dead_code)]
#[path = "../tests/book/tables.rs"]
mod tables;

fn main() {
    print!("{}", tables::reference_comparison_table());
}
