//! Print each of the reference's seven models' serving estimate at its defaults next to the reference
//! formula (the README's comparison table): `cargo run -p gpu-session-core --example defaults_table`.

use gpu_session_core::gpu::GIB;
use gpu_session_core::registry::reference_models;
use gpu_session_core::{recommend, EstimateMode, Settings};

fn main() {
    println!("| model | quick table | reference formula | serving estimate (cheapest fit) | cheapest fit | $/h | tok/s |");
    println!("|---|---|---|---|---|---|---|");
    for model in reference_models() {
        let r = recommend(
            model,
            &Settings::defaults_for(model),
            EstimateMode::Serving,
            None,
        );
        let quick = model.reference.as_ref().map_or(0, |c| c.est_vram_gb);
        match r.cheapest() {
            Some(fit) => println!(
                "| {} | {} GB | {:.1} GB | {:.1} GiB per GPU ({:.1} weights + {:.1} KV) | {} | {:.2} | {:.0} |",
                model.id,
                quick,
                r.reference.total_gb,
                fit.serving.total() as f64 / GIB as f64,
                fit.serving.weights as f64 / GIB as f64,
                fit.serving.kv_cache as f64 / GIB as f64,
                fit.gpu.instance_type,
                fit.price_per_hour_usd,
                fit.tokens_per_s
            ),
            None => println!("| {} | {} GB | {:.1} GB | — | none | — | — |", model.id, quick, r.reference.total_gb),
        }
    }
}
