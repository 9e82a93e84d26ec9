//! The closing-note table for SGLang's memory rules: every GPU type's default
//! `--mem-fraction-static` (without a request limit, and at `--max-running-requests 1`,
//! what a default plan passes), then each built-in model's KV pool on its cheapest fit.
//! `cargo run -p gpu-session-core --example fraction_table`

use gpu_session_core::serving::{sglang_defaults, AttentionBackend, SglangDefaultsInput};
use gpu_session_core::{builtins, recommend, EstimateMode, KvDtype, Settings, CATALOG};

fn main() {
    println!("| instance type | GPU MiB | TP | chunk | graph bs | reserved MiB | default --mem-fraction-static | at --max-running-requests 1 | attention |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for gpu in CATALOG {
        let at = |max_running_requests| {
            sglang_defaults(SglangDefaultsInput {
                gpu_memory_mib: gpu.memory_mib,
                tp: gpu.gpu_count,
                max_running_requests,
                mla: false,
            })
        };
        let (d, one) = (at(None), at(Some(1)));
        println!(
            "| {} | {} | {} | {} | {} | {:.0} | {:.3} | {:.3} | {} |",
            gpu.instance_type,
            gpu.memory_mib,
            gpu.gpu_count,
            d.chunked_prefill_size,
            d.cuda_graph_max_bs,
            d.reserved_mib,
            d.mem_fraction_static,
            one.mem_fraction_static,
            AttentionBackend::default_for(gpu.compute_capability, KvDtype::Auto).as_str()
        );
    }
    println!();
    println!("| model | cheapest fit | fit | --mem-fraction-static | KV-pool tokens |");
    println!("|---|---|---|---|---|");
    for model in builtins() {
        let r = recommend(
            model,
            &Settings::defaults_for(model),
            EstimateMode::Serving,
            None,
        );
        match r.cheapest() {
            Some(row) => println!(
                "| {} | {} | {} | {:.3} | {} |",
                model.id,
                row.gpu.instance_type,
                row.fit.as_str(),
                row.mem_fraction_static,
                row.kv_pool_tokens
            ),
            None => println!("| {} | none | — | — | — |", model.id),
        }
    }
}
