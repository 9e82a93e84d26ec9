//! The full recommendation table for every model × every quantization (each call
//! evaluates every GPU type): what one slider move in the calculator costs.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use gpu_session_core::{builtins, recommend, EstimateMode, Quantization, Settings};

fn full_table(c: &mut Criterion) {
    c.bench_function(
        "recommend: 7 models x 6 quantizations x all GPU types",
        |b| {
            b.iter(|| {
                let mut fits = 0usize;
                for model in builtins() {
                    for quantization in Quantization::ALL {
                        let settings = Settings {
                            quantization,
                            ..Settings::defaults_for(model)
                        };
                        let r = recommend(
                            black_box(model),
                            black_box(&settings),
                            EstimateMode::Serving,
                            None,
                        );
                        fits += r
                            .rows
                            .iter()
                            .filter(|row| row.fit == gpu_session_core::Fit::Fits)
                            .count();
                    }
                }
                fits
            });
        },
    );
    let model = &builtins()[0];
    c.bench_function("recommend: one model, one settings", |b| {
        b.iter(|| {
            recommend(
                black_box(model),
                black_box(&Settings::defaults_for(model)),
                EstimateMode::Serving,
                None,
            )
        });
    });
}

/// Choosing by service level: one model over the whole catalog (each offered type's
/// largest concurrency within the targets, its replicas, and its speed at the rate).
fn service_level(c: &mut Criterion) {
    use gpu_session_core::service_level::{choose, Targets};
    use gpu_session_core::settings::Rate;
    let model = gpu_session_core::builtin("llama-3.1-8b").expect("built in");
    let targets = Targets {
        ttft_max_ms: Some(500.0),
        tpot_max_ms: Some(30.0),
        rate: Rate::new("rate", 5.0).expect("in range"),
    };
    c.bench_function("service level: one model, all GPU types", |b| {
        b.iter(|| {
            choose(
                black_box(model),
                black_box(&Settings::defaults_for(model)),
                black_box(&targets),
            )
        });
    });
}

criterion_group!(benches, full_table, service_level);
criterion_main!(benches);
