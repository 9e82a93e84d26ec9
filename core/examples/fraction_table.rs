//! SGLang's memory rules: every GPU type's default `--mem-fraction-static` (without a
//! request limit, and at `--max-running-requests 1`, what a default plan passes), then
//! each built-in model's KV pool on its cheapest fit (the manual's
//! docs/src/generated/sglang-defaults.md and kv-pools.md).
//! `cargo run -p gpu-session-core --example fraction_table`

#[allow(dead_code)]
#[path = "../tests/book/tables.rs"]
mod tables;

fn main() {
    print!("{}", tables::sglang_defaults_table());
    println!();
    print!("{}", tables::kv_pools_table());
}
