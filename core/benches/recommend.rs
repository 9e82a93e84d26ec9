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

criterion_group!(benches, full_table);
criterion_main!(benches);
