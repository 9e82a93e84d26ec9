//! Rewrites `core/src/gpu/prices.rs` from a saved Lambda `GET /instance-types` answer.
//! Run through `cargo xtask prices FILE [--as-of YYYY-MM-DD]`, which passes
//! `FILE AS_OF SOURCE`. Nothing is written unless the whole answer is valid.

use gpu_session_core::gpu::{self, price_table};
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, as_of, source] = args.as_slice() else {
        eprintln!("usage: regenerate_prices FILE AS_OF SOURCE");
        return ExitCode::from(2);
    };
    match regenerate(Path::new(file), as_of, source) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn regenerate(file: &Path, as_of: &str, source: &str) -> Result<String, String> {
    let json = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let answer =
        price_table::parse_answer(&json).map_err(|e| format!("{}: {e}", file.display()))?;
    let text =
        price_table::render(&answer, as_of, source, gpu::PRICES).map_err(|e| e.to_string())?;
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/gpu/prices.rs");
    // Written beside the target and renamed over it: never a half-written table.
    let partial = target.with_extension("rs.partial");
    std::fs::write(&partial, text)
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, &target)
        .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    Ok(summary(&answer, as_of))
}

/// What changed, for the person (or workflow log) running it.
fn summary(answer: &[price_table::AnswerPrice], as_of: &str) -> String {
    let mut lines = vec![format!(
        "Wrote core/src/gpu/prices.rs: {} types at their prices as of {as_of}.",
        answer.len()
    )];
    for p in answer {
        match gpu::PRICES
            .iter()
            .find(|old| old.instance_type == p.instance_type)
        {
            Some(old) if old.cents_per_hour != p.cents_per_hour => lines.push(format!(
                "  {}: {} -> {} cents/h",
                p.instance_type, old.cents_per_hour, p.cents_per_hour
            )),
            Some(_) => {}
            None => lines.push(format!(
                "  {}: new, {} cents/h",
                p.instance_type, p.cents_per_hour
            )),
        }
        if gpu::find(&p.instance_type).is_none() {
            lines.push(format!(
                "  {}: not in the catalog; add its GPU to gpu::CATALOG to estimate with it",
                p.instance_type
            ));
        }
    }
    for old in gpu::PRICES.iter().filter(|o| o.offered) {
        if !answer.iter().any(|p| p.instance_type == old.instance_type) {
            lines.push(format!(
                "  {}: no longer listed, now marked not offered",
                old.instance_type
            ));
        }
    }
    lines.join("\n")
}
