//! The reference's published VRAM formula and minimum-GPU rule, exactly.

use crate::quant::Quantization;
use serde::Serialize;

/// `KV Cache = min(4.0 GB, context_length / 2048)` — the reference's cap, GB.
pub const KV_CAP_GB: f64 = 4.0;
/// Tokens per GB of KV cache in the reference formula.
pub const KV_TOKENS_PER_GB: f64 = 2048.0;
/// `Overhead = 2.0 GB (CUDA, framework)`.
pub const OVERHEAD_GB: f64 = 2.0;
/// `Activations = base × 0.1`.
pub const ACTIVATION_FRACTION: f64 = 0.1;
/// GPU sizes the original tool picked the minimum from, GB.
pub const MIN_GPU_SIZES_GB: [u32; 6] = [16, 24, 40, 48, 80, 160];
/// A GPU "fits" when the total is at most this share of its memory.
pub const MIN_GPU_UTILISATION: f64 = 0.9;

/// The reference formula's breakdown, in GB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ReferenceEstimate {
    pub base_gb: f64,
    pub kv_cache_gb: f64,
    pub overhead_gb: f64,
    pub activations_gb: f64,
    pub total_gb: f64,
    /// First of 16/24/40/48/80/160 GB with total ≤ 90 % of it (160 when none).
    pub min_gpu_gb: u32,
}

/// `Total = params_billions × bytes_per_param + min(4, ctx/2048) + 2 + 0.1 × base`.
pub fn reference_estimate(
    params_billions: f64,
    quantization: Quantization,
    context_length: u32,
) -> ReferenceEstimate {
    let base_gb = params_billions * quantization.reference_bytes_per_param();
    let kv_cache_gb = (f64::from(context_length) / KV_TOKENS_PER_GB).min(KV_CAP_GB);
    let activations_gb = base_gb * ACTIVATION_FRACTION;
    let total_gb = base_gb + kv_cache_gb + OVERHEAD_GB + activations_gb;
    let min_gpu_gb = MIN_GPU_SIZES_GB
        .into_iter()
        .find(|size| total_gb <= f64::from(*size) * MIN_GPU_UTILISATION)
        .unwrap_or(160);
    ReferenceEstimate {
        base_gb,
        kv_cache_gb,
        overhead_gb: OVERHEAD_GB,
        activations_gb,
        total_gb,
        min_gpu_gb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decimal::Fixed;

    fn row(e: &ReferenceEstimate) -> String {
        format!(
            "{} / {} / {} / {} / {}",
            Fixed::<1>(e.base_gb),
            Fixed::<1>(e.kv_cache_gb),
            Fixed::<1>(e.overhead_gb),
            Fixed::<1>(e.activations_gb),
            Fixed::<1>(e.total_gb),
        )
    }

    /// The reference's "VRAM Breakdown" table of every built-in model, digit for digit.
    #[test]
    fn reproduces_the_reference_breakdown_tables() {
        let tables = [
            ("deepseek-r1-70b", "35.0 / 4.0 / 2.0 / 3.5 / 44.5", 80),
            ("qwen2.5-coder-32b", "64.0 / 4.0 / 2.0 / 6.4 / 76.4", 160),
            (
                "qwen2.5-coder-32b-int4",
                "16.0 / 4.0 / 2.0 / 1.6 / 23.6",
                40,
            ),
            ("llama-3.1-70b", "35.0 / 4.0 / 2.0 / 3.5 / 44.5", 80),
            ("llama-3.1-8b", "16.0 / 4.0 / 2.0 / 1.6 / 23.6", 40),
            ("codellama-34b", "68.0 / 4.0 / 2.0 / 6.8 / 80.8", 160),
            ("mistral-7b", "14.0 / 4.0 / 2.0 / 1.4 / 21.4", 24),
        ];
        assert_eq!(tables.len(), crate::registry::reference_models().count());
        for (id, expected, min_gpu) in tables {
            let m = crate::registry::builtin(id).unwrap();
            let e = reference_estimate(m.params_billions, m.quantization, m.context_length);
            assert_eq!(row(&e), expected, "{id}");
            assert_eq!(e.min_gpu_gb, min_gpu, "{id}");
        }
    }

    #[test]
    fn kv_grows_with_context_until_the_cap() {
        assert_eq!(
            reference_estimate(7.0, Quantization::Fp16, 2048).kv_cache_gb,
            1.0
        );
        assert_eq!(
            reference_estimate(7.0, Quantization::Fp16, 1024).kv_cache_gb,
            0.5
        );
        assert_eq!(
            reference_estimate(7.0, Quantization::Fp16, 1 << 20).kv_cache_gb,
            4.0
        );
        assert_eq!(
            reference_estimate(400.0, Quantization::Fp32, 8192).min_gpu_gb,
            160
        );
    }
}
