//! The Lambda Cloud instance-type catalog: GPU memory, bandwidth and a dated price
//! snapshot. Live prices come from the API (`gpu-session gpus --live`).

use serde::Serialize;

/// Bytes in one MiB.
pub const MIB: u64 = 1024 * 1024;
/// Bytes in one GiB.
pub const GIB: u64 = 1024 * MIB;

/// `bytes` in GiB.
pub fn in_gib(bytes: u64) -> f64 {
    bytes as f64 / GIB as f64
}

pub mod price_table;
mod prices;

/// One Lambda instance type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GpuType {
    /// Lambda's instance type name, e.g. `gpu_1x_a100_sxm4`.
    pub instance_type: &'static str,
    /// Short GPU label for tables.
    pub gpu: &'static str,
    /// The API's `description` for the type.
    pub description: &'static str,
    pub gpu_count: u32,
    /// Marketed memory per GPU in GB, as the instance name and datasheet say.
    pub nominal_memory_gb: u32,
    /// Memory per GPU as the driver reports it (`nvidia-smi --query-gpu=memory.total`,
    /// what `torch.cuda.mem_get_info` and SGLang's heuristics see), in MiB.
    pub memory_mib: u64,
    /// Peak memory bandwidth per GPU, GB/s (10^9 bytes), from NVIDIA's datasheets.
    pub bandwidth_gbps: u32,
    /// CUDA compute capability × 10 (Volta 70, Turing 75, Ampere 80/86, Hopper 90,
    /// Blackwell 100), from NVIDIA's CUDA GPUs table.
    pub compute_capability: u32,
    /// Dense (no sparsity) tensor-core peak per GPU, TFLOPS (10^12/s), NVIDIA datasheet.
    /// 16-bit: BF16, or FP16 on GPUs without BF16 (Turing, Volta).
    pub tflops_16bit: f64,
    /// FP8 dense tensor peak, TFLOPS; None where the GPU has no FP8 tensor cores.
    pub tflops_fp8: Option<f64>,
    /// FP4 dense tensor peak, TFLOPS; None where the GPU has none (Blackwell has it).
    pub tflops_fp4: Option<f64>,
    /// On-demand price of the whole instance, US cents per hour, at `price_as_of`.
    pub price_cents_per_hour: u32,
    /// When the price was observed: an ISO date, or "original tool docs" for the price
    /// only the original gpu-session documentation gives (undated there).
    pub price_as_of: &'static str,
    /// Whether Lambda offers the type on demand as of OFFERED_AS_OF.
    pub offered: bool,
}

impl GpuType {
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mib * MIB
    }

    pub fn price_per_hour_usd(&self) -> f64 {
        f64::from(self.price_cents_per_hour) / 100.0
    }

    /// Hardware FP8 tensor cores (Ada, Hopper, Blackwell). SGLang's `--quantization fp8`
    /// still loads on Ampere through weight-only Marlin kernels, so this does not gate fit.
    pub fn fp8_tensor_cores(&self) -> bool {
        self.tflops_fp8.is_some()
    }

    /// Why SGLang 0.5.23 cannot serve on this type at all, if it cannot: the GPU's
    /// generation is older than [`MIN_COMPUTE_CAPABILITY`].
    pub fn unsupported_reason(&self) -> Option<String> {
        let cc = format!(
            "compute capability {}.{}",
            self.compute_capability / 10,
            self.compute_capability % 10
        );
        if self.compute_capability < TURING_COMPUTE_CAPABILITY {
            Some(format!(
                "{} ({cc}) cannot run SGLang 0.5.23: its CUDA 13 build dropped Volta, and FlashInfer needs 7.5",
                self.gpu
            ))
        } else if self.compute_capability < MIN_COMPUTE_CAPABILITY {
            Some(format!(
                "{} ({cc}) predates Ampere: no BF16, and SGLang's AWQ/FP8 kernels need 8.0",
                self.gpu
            ))
        } else {
            None
        }
    }

    /// "not offered on demand as of <date>" for a type Lambda no longer lists.
    pub fn availability_note(&self) -> Option<String> {
        (!self.offered).then(|| format!("not offered on demand as of {OFFERED_AS_OF}"))
    }

    /// The instance's CPU architecture: GH200 pairs the GPU with a Grace (Arm Neoverse
    /// V2) CPU, so its instances are arm64 (Lambda lists only arm64 images in us-east-3
    /// for it); every other type here is x86_64.
    pub fn cpu_architecture(&self) -> CpuArchitecture {
        if self.gpu == "GH200" {
            CpuArchitecture::Arm64
        } else {
            CpuArchitecture::X86_64
        }
    }

    /// Whether Lambda offers the image family for this type's architecture; the error
    /// says which families it does offer.
    pub fn check_image_family(&self, family: &str) -> Result<(), String> {
        let arch = self.cpu_architecture();
        if arch.image_families().contains(&family) {
            return Ok(());
        }
        let offered = arch.image_families().join(", ");
        Err(if IMAGE_FAMILIES.contains(&family) {
            format!(
                "is not offered for {} ({} instances): choose one of {offered}",
                self.instance_type,
                arch.as_str()
            )
        } else {
            format!("is not a Lambda image family: choose one of {offered}")
        })
    }

    /// Memory of the whole instance in nominal GB.
    pub fn total_nominal_gb(&self) -> u32 {
        self.nominal_memory_gb * self.gpu_count
    }
}

/// The CPU architecture of an instance, as Lambda's `GET /images` names it
/// (`ImageArchitecture` in the Lambda Cloud API v1.8.3 spec: `x86_64`, `arm64`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CpuArchitecture {
    X86_64,
    Arm64,
}

impl CpuArchitecture {
    /// The API's spelling, for matching `GET /images` entries.
    pub fn as_str(self) -> &'static str {
        match self {
            CpuArchitecture::X86_64 => "x86_64",
            CpuArchitecture::Arm64 => "arm64",
        }
    }

    /// Image families Lambda offers for this architecture: GH200 (arm64, us-east-3)
    /// has only the Lambda Stack families; x86_64 types have all six
    /// (`GET /images` as observed in 2026-12, see "Launching on Lambda" in the manual).
    pub fn image_families(self) -> &'static [&'static str] {
        match self {
            CpuArchitecture::X86_64 => &IMAGE_FAMILIES,
            CpuArchitecture::Arm64 => &IMAGE_FAMILIES[..2],
        }
    }
}

/// Lambda image families seen in `GET /images` (2026-12), Lambda Stack first. A launch
/// request names one as `"image": {"family": ...}`; without it Lambda boots Lambda Stack
/// on Ubuntu 22.04.
pub const IMAGE_FAMILIES: [&str; 6] = [
    "lambda-stack-24-04",
    "lambda-stack-22-04",
    "gpu-base-24-04",
    "gpu-base-22-04",
    "ubuntu-24-04",
    "ubuntu-22-04",
];

/// The family a plan boots when it names none: Lambda Stack on Ubuntu 24.04, whose
/// NVIDIA driver (580.105 observed in 2026-07) is new enough for SGLang 0.5.23's CUDA 13
/// build, where the 22.04 image's default request got 570.x.
pub const DEFAULT_IMAGE_FAMILY: &str = "lambda-stack-24-04";

/// Oldest GPU generation SGLang's plans here run on: Ampere (compute capability 8.0).
/// The checkpoints are BF16 (no BF16 on Turing), and SGLang's AWQ and FP8 paths use
/// Marlin kernels built for sm_80 and newer.
pub const MIN_COMPUTE_CAPABILITY: u32 = 80;

/// Turing's compute capability: CUDA 13 (SGLang 0.5.23's build) and FlashInfer start here.
const TURING_COMPUTE_CAPABILITY: u32 = 75;

/// The date of the catalog's prices; the site shows this next to every price.
pub const PRICE_SNAPSHOT: &str = prices::AS_OF;

/// Where the catalog's prices come from, in words.
pub const PRICE_SOURCE: &str = prices::SOURCE;

/// The generated price table (`gpu/prices.rs`): every type Lambda lists, and the ones it
/// no longer lists.
pub const PRICES: &[Price] = prices::PRICES;

/// The date `GpuType::offered` is true of: the date of Lambda's list the prices come from.
pub const OFFERED_AS_OF: &str = prices::AS_OF;

/// One row of the price table `cargo xtask prices` generates (`gpu/prices.rs`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub instance_type: &'static str,
    /// US cents per instance-hour, as `GET /instance-types` gives `price_cents_per_hour`.
    pub cents_per_hour: u32,
    pub as_of: &'static str,
    /// In the answer the table was generated from.
    pub offered: bool,
}

/// The price table's row for a type; the catalog is built from it at compile time, so
/// a catalog type missing from the table does not compile.
const fn price_of(instance_type: &str) -> Price {
    let mut i = 0;
    while i < prices::PRICES.len() {
        if same_str(prices::PRICES[i].instance_type, instance_type) {
            return prices::PRICES[i];
        }
        i += 1;
    }
    panic!("an instance type of the catalog has no row in gpu/prices.rs")
}

/// `a == b`, usable in a `const fn`.
const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// One GPU model's datasheet facts, shared by every instance type built on it.
struct Chip {
    gpu: &'static str,
    nominal_memory_gb: u32,
    memory_mib: u64,
    bandwidth_gbps: u32,
    compute_capability: u32,
    tflops_16bit: f64,
    tflops_fp8: Option<f64>,
    tflops_fp4: Option<f64>,
}

/// The catalog entry for `count` GPUs of `chip`, priced from the price table.
const fn instance(
    instance_type: &'static str,
    description: &'static str,
    gpu_count: u32,
    chip: Chip,
) -> GpuType {
    let price = price_of(instance_type);
    GpuType {
        instance_type,
        gpu: chip.gpu,
        description,
        gpu_count,
        nominal_memory_gb: chip.nominal_memory_gb,
        memory_mib: chip.memory_mib,
        bandwidth_gbps: chip.bandwidth_gbps,
        compute_capability: chip.compute_capability,
        tflops_16bit: chip.tflops_16bit,
        tflops_fp8: chip.tflops_fp8,
        tflops_fp4: chip.tflops_fp4,
        price_cents_per_hour: price.cents_per_hour,
        price_as_of: price.as_of,
        offered: price.offered,
    }
}

// Memory as the driver reports it (`nvidia-smi` memory.total) in published outputs:
// A10 23028 MiB, A100 40 GB 40960, A100 80 GB 81920, H100 80 GB 81559 (the nvidia-smi
// totals modal-labs/modal-client PR 2797 lists); RTX A6000 49140, Quadro RTX 6000 24576,
// GH200 97871, B200 183359 (published nvidia-smi outputs of those cards); Tesla V100
// SXM2 16 GB 16160 (the nvidia-smi table in 4paradigm/k8s-vgpu-scheduler issue 7).
// Tensor peaks are NVIDIA's datasheet figures without sparsity (datasheets print the
// 2:4-sparse figure, twice the dense one, with an asterisk).

/// NVIDIA A10 datasheet: 24 GB GDDR6, 600 GB/s; BF16 tensor 125 TFLOPS (250 sparse).
const A10: Chip = Chip {
    gpu: "A10",
    nominal_memory_gb: 24,
    memory_mib: 23_028,
    bandwidth_gbps: 600,
    compute_capability: 86,
    tflops_16bit: 125.0,
    tflops_fp8: None,
    tflops_fp4: None,
};

/// Lambda's gpu_1x_rtx6000 is the 24 GB Turing Quadro RTX 6000 (API gpu_description
/// "RTX 6000 (24 GB)"), not the 48 GB RTX 6000 Ada the original tool listed. NVIDIA
/// Quadro RTX 6000 datasheet: 24 GB GDDR6, 672 GB/s, "Tensor performance 130.5 TFLOPS"
/// (FP16; Turing has no BF16).
const QUADRO_RTX_6000: Chip = Chip {
    gpu: "Quadro RTX 6000",
    nominal_memory_gb: 24,
    memory_mib: 24_576,
    bandwidth_gbps: 672,
    compute_capability: 75,
    tflops_16bit: 130.5,
    tflops_fp8: None,
    tflops_fp4: None,
};

/// NVIDIA RTX A6000 datasheet: 48 GB GDDR6, 768 GB/s; BF16 tensor 154.8 TFLOPS (its
/// "309.7" is with sparsity).
const RTX_A6000: Chip = Chip {
    gpu: "RTX A6000",
    nominal_memory_gb: 48,
    memory_mib: 49_140,
    bandwidth_gbps: 768,
    compute_capability: 86,
    tflops_16bit: 154.8,
    tflops_fp8: None,
    tflops_fp4: None,
};

/// NVIDIA A100 datasheet: 40 GB HBM2, 1,555 GB/s (PCIe and SXM4); BF16 tensor 312
/// TFLOPS (624 sparse).
const A100_40GB: Chip = Chip {
    gpu: "A100 SXM4",
    nominal_memory_gb: 40,
    memory_mib: 40_960,
    bandwidth_gbps: 1555,
    compute_capability: 80,
    tflops_16bit: 312.0,
    tflops_fp8: None,
    tflops_fp4: None,
};

/// NVIDIA A100 datasheet: 80 GB HBM2e SXM4, 2,039 GB/s; BF16 tensor 312 TFLOPS.
const A100_80GB: Chip = Chip {
    gpu: "A100 SXM4 80GB",
    nominal_memory_gb: 80,
    memory_mib: 81_920,
    bandwidth_gbps: 2039,
    compute_capability: 80,
    ..A100_40GB
};

/// NVIDIA GH200 Grace Hopper datasheet, 96 GB HBM3 variant: 4 TB/s; BF16 tensor 989
/// TFLOPS, FP8 1,979 (1,979 / 3,958 sparse).
const GH200: Chip = Chip {
    gpu: "GH200",
    nominal_memory_gb: 96,
    memory_mib: 97_871,
    bandwidth_gbps: 4000,
    compute_capability: 90,
    tflops_16bit: 989.0,
    tflops_fp8: Some(1979.0),
    tflops_fp4: None,
};

/// NVIDIA H100 datasheet, PCIe: 80 GB HBM2e, 2 TB/s; BF16 tensor 756 TFLOPS, FP8 1,513
/// (1,513 / 3,026 sparse).
const H100_PCIE: Chip = Chip {
    gpu: "H100 PCIe",
    nominal_memory_gb: 80,
    memory_mib: 81_559,
    bandwidth_gbps: 2000,
    compute_capability: 90,
    tflops_16bit: 756.0,
    tflops_fp8: Some(1513.0),
    tflops_fp4: None,
};

/// NVIDIA H100 datasheet, SXM5: 80 GB HBM3, 3.35 TB/s; BF16 tensor 989 TFLOPS, FP8
/// 1,979 (1,979 / 3,958 sparse).
const H100_SXM: Chip = Chip {
    gpu: "H100 SXM5",
    nominal_memory_gb: 80,
    memory_mib: 81_559,
    bandwidth_gbps: 3350,
    compute_capability: 90,
    tflops_16bit: 989.0,
    tflops_fp8: Some(1979.0),
    tflops_fp4: None,
};

/// NVIDIA HGX B200 specifications, per GPU: 180 GB HBM3e; FP4 tensor 9 PFLOPS, FP8 4.5,
/// BF16 2.25 dense (18 / 9 / 4.5 sparse). Bandwidth 8 TB/s per the DGX B200 datasheet
/// (64 TB/s for 8 GPUs); NVIDIA's later HGX table prints 7.7 TB/s for HGX B200.
const B200: Chip = Chip {
    gpu: "B200",
    nominal_memory_gb: 180,
    memory_mib: 183_359,
    bandwidth_gbps: 8000,
    compute_capability: 100,
    tflops_16bit: 2250.0,
    tflops_fp8: Some(4500.0),
    tflops_fp4: Some(9000.0),
};

/// NVIDIA Tesla V100 datasheet, SXM2 16 GB: 900 GB/s HBM2; tensor 125 TFLOPS (FP16;
/// Volta has no BF16). Lambda lists gpu_8x_v100 as "8x Tesla V100 (16 GB)".
const V100: Chip = Chip {
    gpu: "Tesla V100",
    nominal_memory_gb: 16,
    memory_mib: 16_160,
    bandwidth_gbps: 900,
    compute_capability: 70,
    tflops_16bit: 125.0,
    tflops_fp8: None,
    tflops_fp4: None,
};

// Prices: the generated price table (`gpu/prices.rs`, `cargo xtask prices`), from
// Lambda's 2026 on-demand list: a public copy of Lambda's `GET /instance-types` answer
// of 2026-05-28 and Lambda's instances page as transcribed on 2026-09-20 agree type for
// type (a third public price book, of 2026-04-11, agrees for B200 and H100). Lambda no
// longer lists gpu_1x_a100_sxm4_80gb: it keeps the original tool's price and is never
// a recommendation or default. `gpus --live` reads today's prices.
/// Every Lambda instance type the calculator knows, by GPU class, fewest GPUs first.
pub const CATALOG: &[GpuType] = &[
    instance("gpu_1x_a10", "1x A10 (24 GB PCIe)", 1, A10),
    instance("gpu_1x_rtx6000", "1x RTX 6000 (24 GB)", 1, QUADRO_RTX_6000),
    instance("gpu_1x_a6000", "1x RTX A6000 (48 GB)", 1, RTX_A6000),
    instance("gpu_2x_a6000", "2x RTX A6000 (48 GB)", 2, RTX_A6000),
    instance("gpu_4x_a6000", "4x RTX A6000 (48 GB)", 4, RTX_A6000),
    instance(
        "gpu_1x_a100",
        "1x A100 (40 GB PCIe)",
        1,
        Chip {
            gpu: "A100 PCIe",
            ..A100_40GB
        },
    ),
    instance("gpu_1x_a100_sxm4", "1x A100 (40 GB SXM4)", 1, A100_40GB),
    instance(
        "gpu_1x_a100_sxm4_80gb",
        "1x A100 (80 GB SXM4)",
        1,
        A100_80GB,
    ),
    instance("gpu_1x_gh200", "1x GH200 (96 GB)", 1, GH200),
    instance("gpu_1x_h100_pcie", "1x H100 (80 GB PCIe)", 1, H100_PCIE),
    instance("gpu_1x_h100_sxm5", "1x H100 (80 GB SXM5)", 1, H100_SXM),
    instance("gpu_2x_a100", "2x A100 (40 GB SXM4)", 2, A100_40GB),
    instance("gpu_4x_a100", "4x A100 (40 GB SXM4)", 4, A100_40GB),
    instance("gpu_8x_a100", "8x A100 (40 GB SXM4)", 8, A100_40GB),
    instance(
        "gpu_8x_a100_80gb_sxm4",
        "8x A100 (80 GB SXM4)",
        8,
        A100_80GB,
    ),
    instance("gpu_2x_h100_sxm5", "2x H100 (80 GB SXM5)", 2, H100_SXM),
    instance("gpu_4x_h100_sxm5", "4x H100 (80 GB SXM5)", 4, H100_SXM),
    instance("gpu_8x_h100_sxm5", "8x H100 (80 GB SXM5)", 8, H100_SXM),
    instance("gpu_1x_b200_sxm6", "1x B200 (180 GB SXM6)", 1, B200),
    instance("gpu_2x_b200_sxm6", "2x B200 (180 GB SXM6)", 2, B200),
    instance("gpu_4x_b200_sxm6", "4x B200 (180 GB SXM6)", 4, B200),
    instance("gpu_8x_b200_sxm6", "8x B200 (180 GB SXM6)", 8, B200),
    instance("gpu_8x_v100", "8x Tesla V100 (16 GB)", 8, V100),
];

/// Instance types the original tool documented under names Lambda has since changed;
/// old plans and links that use them keep resolving.
const ALIASES: &[(&str, &str)] = &[("gpu_8x_h100", "gpu_8x_h100_sxm5")];

/// Look an instance type up by its Lambda name (or a legacy alias).
pub fn find(instance_type: &str) -> Option<&'static GpuType> {
    let name = ALIASES
        .iter()
        .find(|(alias, _)| *alias == instance_type)
        .map_or(instance_type, |(_, canonical)| canonical);
    CATALOG.iter().find(|g| g.instance_type == name)
}

/// The smallest offered type with at least `gb` nominal GB in all (the original tool's
/// "recommended GPU" rule), fewest GPUs and then cheapest among equals. Types SGLang
/// cannot run on are never it.
pub fn smallest_with_memory(gb: u32) -> Option<&'static GpuType> {
    CATALOG
        .iter()
        .filter(|g| g.offered && g.unsupported_reason().is_none())
        .filter(|g| g.total_nominal_gb() >= gb)
        .min_by_key(|g| (g.total_nominal_gb(), g.gpu_count, g.price_cents_per_hour))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_every_type_of_lambdas_2026_list_and_the_original_ones() {
        // Lambda's 2026 on-demand list, type for type, at its price in cents per hour.
        let list_2026 = [
            ("gpu_1x_a10", 129),
            ("gpu_1x_rtx6000", 69),
            ("gpu_1x_a6000", 109),
            ("gpu_2x_a6000", 218),
            ("gpu_4x_a6000", 436),
            ("gpu_1x_a100", 199),
            ("gpu_1x_a100_sxm4", 199),
            ("gpu_2x_a100", 398),
            ("gpu_4x_a100", 796),
            ("gpu_8x_a100", 1592),
            ("gpu_8x_a100_80gb_sxm4", 2232),
            ("gpu_1x_gh200", 229),
            ("gpu_1x_h100_pcie", 329),
            ("gpu_1x_h100_sxm5", 429),
            ("gpu_2x_h100_sxm5", 838),
            ("gpu_4x_h100_sxm5", 1636),
            ("gpu_8x_h100_sxm5", 3192),
            ("gpu_1x_b200_sxm6", 699),
            ("gpu_2x_b200_sxm6", 1378),
            ("gpu_4x_b200_sxm6", 2716),
            ("gpu_8x_b200_sxm6", 5352),
            ("gpu_8x_v100", 632),
        ];
        for (name, cents) in list_2026 {
            let g = find(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(g.price_cents_per_hour, cents, "{name}");
            assert!(g.offered, "{name}");
            assert_eq!(g.price_as_of, OFFERED_AS_OF, "{name}");
        }
        // Everything else the catalog knows is a type Lambda no longer lists.
        let not_offered: Vec<_> = CATALOG.iter().filter(|g| !g.offered).collect();
        assert_eq!(not_offered.len(), CATALOG.len() - list_2026.len());
        assert_eq!(not_offered[0].instance_type, "gpu_1x_a100_sxm4_80gb");
        assert_eq!(
            not_offered[0].availability_note().unwrap(),
            format!("not offered on demand as of {OFFERED_AS_OF}")
        );
        assert_eq!(
            find("gpu_8x_h100").unwrap().instance_type,
            "gpu_8x_h100_sxm5"
        );
        let mut names: Vec<_> = CATALOG.iter().map(|g| g.instance_type).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOG.len(), "duplicate instance type");
    }

    #[test]
    fn catalog_numbers_are_sane() {
        for g in CATALOG {
            assert!(
                g.memory_mib * MIB <= u64::from(g.nominal_memory_gb) * GIB + GIB,
                "{}",
                g.instance_type
            );
            assert!(
                g.memory_mib * MIB >= u64::from(g.nominal_memory_gb) * GIB * 9 / 10,
                "{}",
                g.instance_type
            );
            assert!(g.bandwidth_gbps > 0 && g.price_cents_per_hour > 0);
            assert!(g.price_as_of <= PRICE_SNAPSHOT || g.price_as_of == "original tool docs");
            // FP8 doubles the 16-bit rate and FP4 doubles FP8 on every GPU that has them.
            assert!(g.tflops_16bit > 100.0, "{}", g.instance_type);
            if let Some(fp8) = g.tflops_fp8 {
                assert!(
                    (fp8 / g.tflops_16bit - 2.0).abs() < 0.01,
                    "{}",
                    g.instance_type
                );
                assert!(g.compute_capability >= 89, "{}", g.instance_type);
            }
            if let Some(fp4) = g.tflops_fp4 {
                assert_eq!(Some(fp4 / 2.0), g.tflops_fp8, "{}", g.instance_type);
                assert!(g.compute_capability >= 100, "{}", g.instance_type);
            }
            // One GPU model, one set of datasheet numbers, whatever the count.
            for same in CATALOG.iter().filter(|o| o.gpu == g.gpu) {
                assert_eq!(
                    (same.memory_mib, same.bandwidth_gbps, same.tflops_16bit),
                    (g.memory_mib, g.bandwidth_gbps, g.tflops_16bit)
                );
            }
            // The description names the GPU count, as Lambda's API does.
            assert!(
                g.description.starts_with(&format!("{}x ", g.gpu_count)),
                "{}",
                g.description
            );
        }
    }

    #[test]
    fn datasheet_peaks_of_the_new_types() {
        let b200 = find("gpu_1x_b200_sxm6").unwrap();
        assert_eq!(
            (b200.tflops_16bit, b200.tflops_fp8, b200.tflops_fp4),
            (2250.0, Some(4500.0), Some(9000.0))
        );
        assert_eq!(b200.compute_capability, 100);
        let h100 = find("gpu_4x_h100_sxm5").unwrap();
        assert_eq!((h100.tflops_16bit, h100.tflops_fp8), (989.0, Some(1979.0)));
        let v100 = find("gpu_8x_v100").unwrap();
        assert_eq!((v100.compute_capability, v100.memory_mib), (70, 16_160));
        assert_eq!((v100.tflops_fp8, v100.tflops_fp4), (None, None));
        assert!(!v100.fp8_tensor_cores() && h100.fp8_tensor_cores());
    }

    #[test]
    fn gpus_sglang_cannot_run_on_say_why() {
        let v100 = find("gpu_8x_v100").unwrap();
        let why = v100.unsupported_reason().unwrap();
        assert!(why.contains("CUDA 13") && why.contains("7.0"), "{why}");
        let why = find("gpu_1x_rtx6000")
            .unwrap()
            .unsupported_reason()
            .unwrap();
        assert!(
            why.contains("predates Ampere") && why.contains("7.5"),
            "{why}"
        );
        for g in CATALOG.iter().filter(|g| g.compute_capability >= 80) {
            assert_eq!(g.unsupported_reason(), None, "{}", g.instance_type);
        }
    }

    #[test]
    fn gh200_is_arm64_and_boots_only_lambda_stack() {
        let gh200 = find("gpu_1x_gh200").unwrap();
        assert_eq!(gh200.cpu_architecture(), CpuArchitecture::Arm64);
        assert_eq!(
            gh200.cpu_architecture().image_families(),
            ["lambda-stack-24-04", "lambda-stack-22-04"]
        );
        gh200.check_image_family(DEFAULT_IMAGE_FAMILY).unwrap();
        let err = gh200.check_image_family("ubuntu-24-04").unwrap_err();
        assert!(
            err.contains("arm64") && err.contains("lambda-stack-22-04"),
            "{err}"
        );
        for g in CATALOG.iter().filter(|g| g.gpu != "GH200") {
            assert_eq!(
                g.cpu_architecture(),
                CpuArchitecture::X86_64,
                "{}",
                g.instance_type
            );
            for family in IMAGE_FAMILIES {
                g.check_image_family(family).unwrap();
            }
        }
        let err = find("gpu_1x_a10")
            .unwrap()
            .check_image_family("windows-11")
            .unwrap_err();
        assert!(err.contains("not a Lambda image family"), "{err}");
    }

    #[test]
    fn smallest_with_memory_follows_the_original_rule_among_offered_types() {
        // The 1x A100 80 GB would be the original rule's answer for 80 GB: Lambda no
        // longer offers it, so the next smallest offered type is.
        let at_80 = smallest_with_memory(80).unwrap();
        assert_eq!(at_80.instance_type, "gpu_1x_h100_pcie");
        assert!(at_80.offered);
        // 24 GB: the A10, not the Turing RTX 6000 SGLang 0.5.23 cannot serve on.
        assert_eq!(
            smallest_with_memory(24).unwrap().instance_type,
            "gpu_1x_a10"
        );
        // 128 GB: 8x V100 has exactly that, and can never serve.
        assert_eq!(
            smallest_with_memory(128).unwrap().instance_type,
            "gpu_2x_h100_sxm5"
        );
        assert_eq!(
            smallest_with_memory(96).unwrap().instance_type,
            "gpu_1x_gh200"
        );
        for gb in (8..=1440).step_by(8) {
            if let Some(g) = smallest_with_memory(gb) {
                assert!(g.offered && g.unsupported_reason().is_none(), "{gb}");
            }
        }
    }
}
