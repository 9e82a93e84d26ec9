//! Print every current (non-reference) built-in model's parameter counts, weights, KV
//! cache per token and cheapest fit at its defaults:
//! `cargo run -p gpu-session-core --example models_table`.

use gpu_session_core::gpu::GIB;
use gpu_session_core::serving::{kv_layout, weights_per_gpu};
use gpu_session_core::{builtins, recommend, EstimateMode, Settings};

fn main() {
    println!("| model | quant | total params | active (read per token) | weights | KV per token (TP 1) | cheapest fit | $/h | tok/s (1 seq) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for model in builtins().iter().filter(|m| m.reference.is_none()) {
        let settings = Settings::defaults_for(model);
        let (arch, _) = model.effective_architecture();
        let p = arch.param_breakdown();
        let weights = weights_per_gpu(&arch, settings.quantization, 1) as f64 / GIB as f64;
        let kv = kv_layout(&arch, settings.kv_dtype.bytes(settings.quantization), 1);
        let kv_text = if kv.state_bytes_per_seq > 0 {
            format!(
                "{} B + {:.1} MiB state per sequence",
                kv.bytes_per_token,
                kv.state_bytes_per_seq as f64 / 1_048_576.0
            )
        } else {
            format!("{} B", kv.bytes_per_token)
        };
        let r = recommend(model, &settings, EstimateMode::Serving, None);
        let (fit, price, speed) = match r.cheapest() {
            Some(f) => (
                format!("{} (TP {})", f.gpu.instance_type, f.tp),
                format!("{:.2}", f.price_per_hour_usd),
                format!("{:.0}", f.tokens_per_s),
            ),
            None => (
                r.no_fit.clone().unwrap_or_else(|| "only tight fits".into()),
                "-".into(),
                "-".into(),
            ),
        };
        println!(
            "| {} | {} | {:.2}B | {:.2}B ({:.2}B) | {:.1} GiB | {} | {} | {} | {} |",
            model.id,
            settings.quantization.label(),
            p.total() as f64 / 1e9,
            p.active() as f64 / 1e9,
            p.active_read_per_token() as f64 / 1e9,
            weights,
            kv_text,
            fit,
            price,
            speed
        );
    }
}
