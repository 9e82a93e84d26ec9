//! Weight quantization and KV-cache dtypes: their names, byte widths and the
//! reference's quantization table.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How the model's weights are stored on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Quantization {
    Fp32,
    Fp16,
    Bf16,
    /// FP8 weights, quantized by SGLang at load time (`--quantization fp8`).
    Fp8,
    /// INT8 weights from a pre-quantized (W8A8) checkpoint.
    Int8,
    /// INT4 weights from a pre-quantized AWQ or GPTQ checkpoint.
    Int4,
    /// MXFP4 experts as gpt-oss ships them: routed-expert weights in 4-bit E2M1 with one
    /// E8M0 scale per 32 elements; attention, router, embeddings and lm_head in 16 bit
    /// (`modules_to_not_convert` of openai/gpt-oss-*'s quantization_config).
    Mxfp4,
}

impl Quantization {
    pub const ALL: [Quantization; 7] = [
        Quantization::Fp32,
        Quantization::Fp16,
        Quantization::Bf16,
        Quantization::Fp8,
        Quantization::Int8,
        Quantization::Int4,
        Quantization::Mxfp4,
    ];

    /// Short lowercase name used in links, plans, config files and flags.
    pub fn as_str(self) -> &'static str {
        match self {
            Quantization::Fp32 => "fp32",
            Quantization::Fp16 => "fp16",
            Quantization::Bf16 => "bf16",
            Quantization::Fp8 => "fp8",
            Quantization::Int8 => "int8",
            Quantization::Int4 => "int4",
            Quantization::Mxfp4 => "mxfp4",
        }
    }

    /// Display label as the reference writes it.
    pub fn label(self) -> &'static str {
        match self {
            Quantization::Fp32 => "FP32",
            Quantization::Fp16 => "FP16",
            Quantization::Bf16 => "BF16",
            Quantization::Fp8 => "FP8",
            Quantization::Int8 => "INT8",
            Quantization::Int4 => "INT4",
            Quantization::Mxfp4 => "MXFP4",
        }
    }

    /// Bytes per parameter in the reference formula ("Quantization Levels" table of
    /// the registry reference). FP8 and MXFP4 are not in that table; one byte and half
    /// a byte are their element widths.
    pub fn reference_bytes_per_param(self) -> f64 {
        match self {
            Quantization::Fp32 => 4.0,
            Quantization::Fp16 | Quantization::Bf16 => 2.0,
            Quantization::Fp8 | Quantization::Int8 => 1.0,
            Quantization::Int4 | Quantization::Mxfp4 => 0.5,
        }
    }

    /// Bits per element of a quantized linear-layer weight.
    pub fn weight_bits(self) -> u32 {
        match self {
            Quantization::Fp32 => 32,
            Quantization::Fp16 | Quantization::Bf16 => 16,
            Quantization::Fp8 | Quantization::Int8 => 8,
            Quantization::Int4 | Quantization::Mxfp4 => 4,
        }
    }

    /// Whether the linear layers are stored below 16 bits (embeddings, lm_head,
    /// norms and biases then stay in 16 bit, as real quantized checkpoints do).
    pub fn is_quantized(self) -> bool {
        matches!(
            self,
            Quantization::Fp8 | Quantization::Int8 | Quantization::Int4 | Quantization::Mxfp4
        )
    }

    /// Bytes of the non-quantized tensors (embeddings, norms, biases, lm_head).
    /// FP32 models keep everything in 4 bytes; every other mode serves them in 16 bit.
    pub fn unquantized_tensor_bytes(self) -> u64 {
        match self {
            Quantization::Fp32 => 4,
            _ => 2,
        }
    }

    /// Bytes per KV-cache element when `--kv-cache-dtype auto`: SGLang uses the
    /// model's activation dtype, which is 16 bit for every mode but FP32.
    pub fn auto_kv_bytes(self) -> u64 {
        self.unquantized_tensor_bytes()
    }
}

impl fmt::Display for Quantization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unrecognised quantization, KV dtype, or other enumerated name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}' (expected one of: {expected})")]
pub struct UnknownName {
    pub kind: &'static str,
    pub value: String,
    pub expected: String,
}

impl FromStr for Quantization {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Quantization::ALL
            .into_iter()
            .find(|q| q.as_str() == lower)
            .ok_or_else(|| UnknownName {
                kind: "quantization",
                value: s.to_string(),
                expected: Quantization::ALL.map(|q| q.as_str()).join(", "),
            })
    }
}

/// One row of the reference's "Quantization Levels" table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct QuantizationLevel {
    pub label: &'static str,
    pub bytes_per_param: f64,
    pub memory_vs_fp32: &'static str,
    pub quality_loss: &'static str,
}

/// The reference's "Quantization Levels" table, verbatim.
pub const QUANTIZATION_LEVELS: [QuantizationLevel; 4] = [
    QuantizationLevel {
        label: "FP32",
        bytes_per_param: 4.0,
        memory_vs_fp32: "100%",
        quality_loss: "0% (baseline)",
    },
    QuantizationLevel {
        label: "FP16/BF16",
        bytes_per_param: 2.0,
        memory_vs_fp32: "50%",
        quality_loss: "~0-1%",
    },
    QuantizationLevel {
        label: "INT8",
        bytes_per_param: 1.0,
        memory_vs_fp32: "25%",
        quality_loss: "~3-5%",
    },
    QuantizationLevel {
        label: "INT4 (GPTQ/AWQ)",
        bytes_per_param: 0.5,
        memory_vs_fp32: "12.5%",
        quality_loss: "~5-8%",
    },
];

/// KV-cache element type (SGLang `--kv-cache-dtype`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvDtype {
    /// The model's dtype (16 bit for all but FP32 models).
    #[default]
    Auto,
    Fp8E5m2,
    Fp8E4m3,
}

impl KvDtype {
    pub const ALL: [KvDtype; 3] = [KvDtype::Auto, KvDtype::Fp8E5m2, KvDtype::Fp8E4m3];

    pub fn as_str(self) -> &'static str {
        match self {
            KvDtype::Auto => "auto",
            KvDtype::Fp8E5m2 => "fp8_e5m2",
            KvDtype::Fp8E4m3 => "fp8_e4m3",
        }
    }

    /// Bytes per cached K or V element.
    pub fn bytes(self, weights: Quantization) -> u64 {
        match self {
            KvDtype::Auto => weights.auto_kv_bytes(),
            KvDtype::Fp8E5m2 | KvDtype::Fp8E4m3 => 1,
        }
    }
}

impl fmt::Display for KvDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KvDtype {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        KvDtype::ALL
            .into_iter()
            .find(|k| k.as_str() == lower)
            .ok_or_else(|| UnknownName {
                kind: "KV-cache dtype",
                value: s.to_string(),
                expected: KvDtype::ALL.map(|k| k.as_str()).join(", "),
            })
    }
}

/// MXFP4 (OCP Microscaling spec, as gpt-oss stores it): one E8M0 scale byte per block
/// of 32 E2M1 elements, so 4.25 bits per weight.
pub const MXFP4_BLOCK: u32 = 32;

/// How SGLang is told to load a checkpoint (`--quantization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum QuantMethod {
    /// Weights in their stored 16/32-bit dtype: no `--quantization` flag.
    None,
    /// FP8 applied by SGLang at load time (`--quantization fp8`) to a 16-bit checkpoint,
    /// or a pre-quantized FP8 checkpoint with per-tensor scales.
    Fp8,
    /// Pre-quantized FP8 checkpoint with block-wise scales (`weight_block_size`
    /// [128, 128]: DeepSeek-V3/R1, Kimi K2, Qwen3-*-FP8). SGLang reads the method from
    /// the checkpoint; `--quantization fp8` names it.
    Fp8Block,
    /// Pre-quantized MXFP4 checkpoint (gpt-oss; `--quantization mxfp4`).
    Mxfp4,
    /// Pre-quantized AWQ checkpoint (no `--quantization` flag: SGLang reads the
    /// checkpoint's config and picks the awq_marlin kernel).
    Awq,
    /// Pre-quantized GPTQ checkpoint (no flag: SGLang picks gptq_marlin).
    Gptq,
    /// Pre-quantized compressed-tensors W8A8 checkpoint (`--quantization compressed-tensors`).
    CompressedTensors,
}

impl QuantMethod {
    /// The value of SGLang's `--quantization` flag, if one is passed. AWQ and GPTQ
    /// checkpoints get none: SGLang then detects them and converts to the Marlin kernels
    /// (awq_marlin / gptq_marlin on sm80+), while an explicit `awq` / `gptq` forces the
    /// slow dequantize-then-matmul kernels ("you specified quantization=awq explicitly,
    /// so forcing awq", sglang 0.5.23 srt/layers/quantization/awq/awq.py and
    /// gptq/gptq.py, `override_quantization_method`). Omitting it, unlike passing
    /// `awq_marlin`, still loads when a layer cannot use Marlin (SGLang falls back).
    pub fn sglang_flag(self) -> Option<&'static str> {
        match self {
            QuantMethod::None | QuantMethod::Awq | QuantMethod::Gptq => None,
            QuantMethod::Fp8 | QuantMethod::Fp8Block => Some("fp8"),
            QuantMethod::Mxfp4 => Some("mxfp4"),
            QuantMethod::CompressedTensors => Some("compressed-tensors"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            QuantMethod::None => "none",
            QuantMethod::Fp8 => "fp8",
            QuantMethod::Fp8Block => "fp8-block",
            QuantMethod::Mxfp4 => "mxfp4",
            QuantMethod::Awq => "awq",
            QuantMethod::Gptq => "gptq",
            QuantMethod::CompressedTensors => "compressed-tensors",
        }
    }

    /// The method a checkpoint of this quantization is assumed to use when nobody says.
    pub fn default_for(q: Quantization) -> QuantMethod {
        match q {
            Quantization::Fp32 | Quantization::Fp16 | Quantization::Bf16 => QuantMethod::None,
            Quantization::Fp8 => QuantMethod::Fp8,
            Quantization::Int8 => QuantMethod::CompressedTensors,
            Quantization::Int4 => QuantMethod::Awq,
            Quantization::Mxfp4 => QuantMethod::Mxfp4,
        }
    }

    /// Methods a checkpoint of this quantization may use.
    pub fn allowed_for(q: Quantization) -> &'static [QuantMethod] {
        match q {
            Quantization::Fp32 | Quantization::Fp16 | Quantization::Bf16 => &[QuantMethod::None],
            Quantization::Fp8 => &[
                QuantMethod::Fp8,
                QuantMethod::Fp8Block,
                QuantMethod::CompressedTensors,
            ],
            Quantization::Int8 => &[QuantMethod::CompressedTensors],
            Quantization::Int4 => &[
                QuantMethod::Awq,
                QuantMethod::Gptq,
                QuantMethod::CompressedTensors,
            ],
            Quantization::Mxfp4 => &[QuantMethod::Mxfp4],
        }
    }
}

impl QuantMethod {
    /// Every method, in the order names are listed.
    pub const ALL: [QuantMethod; 7] = [
        QuantMethod::None,
        QuantMethod::Fp8,
        QuantMethod::Fp8Block,
        QuantMethod::Mxfp4,
        QuantMethod::Awq,
        QuantMethod::Gptq,
        QuantMethod::CompressedTensors,
    ];
}

impl std::str::FromStr for QuantMethod {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let all = QuantMethod::ALL;
        all.into_iter()
            .find(|m| m.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| UnknownName {
                kind: "quantization method",
                value: s.to_string(),
                expected: all.map(|m| m.as_str()).join(", "),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_reject_unknown() {
        for q in Quantization::ALL {
            assert_eq!(q.as_str().parse::<Quantization>().unwrap(), q);
        }
        assert_eq!("INT4".parse::<Quantization>().unwrap(), Quantization::Int4);
        let err = "int3".parse::<Quantization>().unwrap_err();
        assert!(err.to_string().contains("'int3'"), "{err}");
        for k in KvDtype::ALL {
            assert_eq!(k.as_str().parse::<KvDtype>().unwrap(), k);
        }
        assert!("fp4".parse::<KvDtype>().is_err());
    }

    #[test]
    fn reference_table_matches_bytes_per_param() {
        assert_eq!(
            QUANTIZATION_LEVELS[0].bytes_per_param,
            Quantization::Fp32.reference_bytes_per_param()
        );
        assert_eq!(
            QUANTIZATION_LEVELS[1].bytes_per_param,
            Quantization::Bf16.reference_bytes_per_param()
        );
        assert_eq!(
            QUANTIZATION_LEVELS[2].bytes_per_param,
            Quantization::Int8.reference_bytes_per_param()
        );
        assert_eq!(
            QUANTIZATION_LEVELS[3].bytes_per_param,
            Quantization::Int4.reference_bytes_per_param()
        );
    }
}
