//! Benchmark of the built web calculator in headless Chromium.
//!
//! Measures the gzip size of the release bundle (wasm + js + css + html), the time to
//! the first render of the result table over fresh page loads (the app records
//! `window.__gpuSessionFirstRender = performance.now()` once mounted), and the
//! input→update latency of the context slider, measured in the page from just before
//! the input event to the last DOM change it causes.
//!
//! Usage: `cargo run --release -p gpu-session-tests --bin bench-web [LOADS] [INPUTS]`
//! (defaults 10 loads, 60 slider inputs per load). The site comes from
//! `GPU_SESSION_SITE_DIR` (default `<workspace>/target/site`); build it first.

use flate2::write::GzEncoder;
use flate2::Compression;
use gpu_session_tests::browser::{output_dir, site_dir, Browser, StaticServer};
use serde_json::json;
use std::io::Write;
use std::path::Path;

/// Targets from the design: total gzip size, first render, input latency.
const TARGET_GZIP_KB: f64 = 130.0;
const TARGET_FIRST_RENDER_MS: f64 = 200.0;
const TARGET_INPUT_P95_MS: f64 = 8.0;

fn gzip_len(bytes: &[u8]) -> usize {
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory").len()
}

/// (file, raw bytes, gzip bytes) of every wasm, js, css and html file of the site.
fn bundle(dir: &Path) -> Vec<(String, usize, usize)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("read the site directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("wasm" | "js" | "css" | "html")
            )
        })
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read a site file");
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, bytes.len(), gzip_len(&bytes))
        })
        .collect();
    files.sort();
    files
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p / 100.0 * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    v
}

/// Dispatch `inputs` slider inputs, each to a new position, and report for each the
/// milliseconds from just before dispatch to the last DOM mutation it caused.
const INPUT_LATENCY: &str = r#"
const inputs = Number(arguments[0]);
const slider = document.querySelector('[data-testid=ctx-slider]');
const positions = Number(slider.max) + 1;
let last = 0;
const observer = new MutationObserver(() => { last = performance.now(); });
observer.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
const out = [];
let i = 0;
let pos = Number(slider.value);
const step = () => {
  if (i >= inputs) { observer.disconnect(); done(out); return; }
  pos = (pos + 5) % positions;
  last = 0;
  const t0 = performance.now();
  slider.value = String(pos);
  slider.dispatchEvent(new Event('input', { bubbles: true }));
  // A macrotask runs after every microtask, so after Leptos' effects and the observer.
  setTimeout(() => { out.push(last ? last - t0 : -1); i += 1; step(); }, 0);
};
step();
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let loads: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10)
        .max(1);
    let inputs: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(60)
        .max(1);
    let dir = site_dir().unwrap_or_else(|e| {
        eprintln!("bench-web: {e}");
        std::process::exit(1);
    });

    let files = bundle(&dir);
    let total_raw: usize = files.iter().map(|f| f.1).sum();
    let total_gz: usize = files.iter().map(|f| f.2).sum();

    let server = StaticServer::start(&dir, "/").expect("start the static server");
    let browser = Browser::start(1280, 900).await.unwrap_or_else(|e| {
        eprintln!("bench-web: headless Chromium: {e}");
        std::process::exit(1);
    });
    let mut first_render = Vec::new();
    let mut latency = Vec::new();
    let mut no_update = 0usize;
    for _ in 0..loads {
        browser
            .client
            .goto("about:blank")
            .await
            .expect("blank page");
        browser.open(&server.url()).await;
        let t = browser
            .wait_for("window.__gpuSessionFirstRender", "the first-render mark")
            .await;
        first_render.push(t.as_f64().unwrap_or(f64::NAN));
        let v = browser
            .client
            .execute_async(
                &format!("const done = arguments[arguments.length - 1];\n{INPUT_LATENCY}"),
                vec![json!(inputs)],
            )
            .await
            .expect("run the slider script");
        for x in v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_f64())
        {
            if x < 0.0 {
                no_update += 1;
            } else {
                latency.push(x);
            }
        }
    }
    browser.close().await;

    let fr = sorted(first_render);
    let lat = sorted(latency);
    let fr_median = percentile(&fr, 50.0);
    let lat_median = percentile(&lat, 50.0);
    let lat_p95 = percentile(&lat, 95.0);
    let gz_kb = total_gz as f64 / 1024.0;
    let verdict = |ok: bool| if ok { "ok" } else { "MISSED" };

    println!("gpu-session web benchmark ({loads} fresh loads, {inputs} slider inputs each)");
    println!();
    println!("{:<48} {:>10} {:>10}", "bundle file", "bytes", "gzip");
    for (name, raw, gz) in &files {
        println!("{name:<48} {raw:>10} {gz:>10}");
    }
    println!("{:<48} {total_raw:>10} {total_gz:>10}", "total");
    println!();
    println!(
        "bundle gzip total      {gz_kb:8.1} KB   target <= {TARGET_GZIP_KB} KB   {}",
        verdict(gz_kb <= TARGET_GZIP_KB)
    );
    println!(
        "first render median    {fr_median:8.1} ms   target < {TARGET_FIRST_RENDER_MS} ms   {}   (min {:.1}, max {:.1})",
        verdict(fr_median < TARGET_FIRST_RENDER_MS),
        fr.first().copied().unwrap_or(f64::NAN),
        fr.last().copied().unwrap_or(f64::NAN),
    );
    println!(
        "input->update median   {lat_median:8.2} ms   p95 {lat_p95:.2} ms   target p95 < {TARGET_INPUT_P95_MS} ms   {}   ({} samples{})",
        verdict(lat_p95 < TARGET_INPUT_P95_MS),
        lat.len(),
        if no_update > 0 { format!(", {no_update} inputs changed nothing") } else { String::new() },
    );

    let report = json!({
        "loads": loads,
        "inputs_per_load": inputs,
        "files": files.iter().map(|(n, r, g)| json!({"file": n, "bytes": r, "gzip": g})).collect::<Vec<_>>(),
        "bundle_gzip_bytes": total_gz,
        "first_render_ms": { "median": fr_median, "samples": fr },
        "input_latency_ms": { "median": lat_median, "p95": lat_p95, "samples": lat.len() },
    });
    let path = output_dir().join("bench-web.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report).unwrap())
        .unwrap_or_else(|e| eprintln!("bench-web: write {}: {e}", path.display()));
    println!();
    println!("report: {}", path.display());
}
