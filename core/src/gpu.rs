//! The Lambda Cloud instance-type catalog: GPU memory, bandwidth and a dated price
//! snapshot. Live prices come from the API (`gpu-session gpus --live`).

use serde::Serialize;

/// Bytes in one MiB.
pub const MIB: u64 = 1024 * 1024;
/// Bytes in one GiB.
pub const GIB: u64 = 1024 * MIB;

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
    /// CUDA compute capability × 10 (Turing 75, Ampere 80/86, Hopper 90, Blackwell 100),
    /// from NVIDIA's CUDA GPUs table.
    pub compute_capability: u32,
    /// Hardware FP8 tensor cores (Ada, Hopper, Blackwell). SGLang's `--quantization fp8`
    /// still loads on Ampere through weight-only Marlin kernels, so this does not gate fit.
    pub fp8_tensor_cores: bool,
    /// On-demand price of the whole instance, US cents per hour, at `price_as_of`.
    pub price_cents_per_hour: u32,
    /// When the price was observed: an ISO date or month, or "original tool docs" for
    /// prices only the original gpu-session documentation gives (undated there).
    pub price_as_of: &'static str,
}

impl GpuType {
    pub fn memory_bytes(&self) -> u64 {
        self.memory_mib * MIB
    }

    pub fn price_per_hour_usd(&self) -> f64 {
        f64::from(self.price_cents_per_hour) / 100.0
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

/// Where the catalog's prices come from; the site shows this next to every price.
pub const PRICE_SNAPSHOT: &str = "2025-10";

// Memory as the driver reports it. Sources: nvidia-smi output published for each card
// (A10 23028 MiB, RTX A6000 49140 MiB, Quadro RTX 6000 24576 MiB, A100 40 GB 40960 MiB,
// A100 80 GB 81920 MiB, H100 80 GB 81559 MiB, GH200 97871 MiB, B200 183359 MiB).
// Bandwidth: NVIDIA datasheets (A10 600 GB/s; RTX A6000 768; Quadro RTX 6000 672;
// A100 40 GB 1555; A100 80 GB SXM4 2039; H100 PCIe 2000; H100 SXM5 3350; GH200 (HBM3) 4000;
// B200 8000).
// Prices: Lambda's published on-demand list (per GPU-hour, the same for 1x to 8x boards
// of one GPU: A10 $0.75, Quadro RTX 6000 $0.50, RTX A6000 $0.80, A100 40 GB $1.29,
// GH200 $1.49, H100 PCIe $2.49, H100 SXM $3.29, A100 80 GB SXM $1.79 (8x), H100 SXM
// $2.99 (8x), B200 $4.99 (8x)), as of October 2025; the Lambda Cloud API v1.8.3 spec's
// own examples agree (gpu_8x_a100 1032 cents, gpu_1x_gh200 149). One snapshot for all,
// so the cheapest-fit ranking compares like with like. A snapshot of 2026-05-07 showed
// about 15 % more for the types it listed (A10 $0.86, H100 SXM $3.78): `gpus --live`
// reads today's prices. The 1x A100 80 GB is priced from the original tool's docs.
/// Every Lambda instance type the calculator knows, cheapest first within a GPU class.
pub const CATALOG: &[GpuType] = &[
    GpuType {
        instance_type: "gpu_1x_a10",
        gpu: "A10",
        description: "1x A10 (24 GB PCIe)",
        gpu_count: 1,
        nominal_memory_gb: 24,
        memory_mib: 23_028,
        bandwidth_gbps: 600,
        compute_capability: 86,
        fp8_tensor_cores: false,
        price_cents_per_hour: 75,
        price_as_of: "2025-10",
    },
    // Lambda's gpu_1x_rtx6000 is the 24 GB Turing Quadro RTX 6000 (API gpu_description
    // "RTX 6000 (24 GB)"), not the 48 GB RTX 6000 Ada the original tool listed.
    GpuType {
        instance_type: "gpu_1x_rtx6000",
        gpu: "Quadro RTX 6000",
        description: "1x RTX 6000 (24 GB)",
        gpu_count: 1,
        nominal_memory_gb: 24,
        memory_mib: 24_576,
        bandwidth_gbps: 672,
        compute_capability: 75,
        fp8_tensor_cores: false,
        price_cents_per_hour: 50,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_1x_a6000",
        gpu: "RTX A6000",
        description: "1x RTX A6000 (48 GB)",
        gpu_count: 1,
        nominal_memory_gb: 48,
        memory_mib: 49_140,
        bandwidth_gbps: 768,
        compute_capability: 86,
        fp8_tensor_cores: false,
        price_cents_per_hour: 80,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_1x_a100",
        gpu: "A100 PCIe",
        description: "1x A100 (40 GB PCIe)",
        gpu_count: 1,
        nominal_memory_gb: 40,
        memory_mib: 40_960,
        bandwidth_gbps: 1555,
        compute_capability: 80,
        fp8_tensor_cores: false,
        price_cents_per_hour: 129,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_1x_a100_sxm4",
        gpu: "A100 SXM4",
        description: "1x A100 (40 GB SXM4)",
        gpu_count: 1,
        nominal_memory_gb: 40,
        memory_mib: 40_960,
        bandwidth_gbps: 1555,
        compute_capability: 80,
        fp8_tensor_cores: false,
        price_cents_per_hour: 129,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_1x_a100_sxm4_80gb",
        gpu: "A100 SXM4 80GB",
        description: "1x A100 (80 GB SXM4)",
        gpu_count: 1,
        nominal_memory_gb: 80,
        memory_mib: 81_920,
        bandwidth_gbps: 2039,
        compute_capability: 80,
        fp8_tensor_cores: false,
        price_cents_per_hour: 129,
        price_as_of: "original tool docs",
    },
    GpuType {
        instance_type: "gpu_1x_gh200",
        gpu: "GH200",
        description: "1x GH200 (96 GB)",
        gpu_count: 1,
        nominal_memory_gb: 96,
        memory_mib: 97_871,
        bandwidth_gbps: 4000,
        compute_capability: 90,
        fp8_tensor_cores: true,
        price_cents_per_hour: 149,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_1x_h100_pcie",
        gpu: "H100 PCIe",
        description: "1x H100 (80 GB PCIe)",
        gpu_count: 1,
        nominal_memory_gb: 80,
        memory_mib: 81_559,
        bandwidth_gbps: 2000,
        compute_capability: 90,
        fp8_tensor_cores: true,
        price_cents_per_hour: 249,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_1x_h100_sxm5",
        gpu: "H100 SXM5",
        description: "1x H100 (80 GB SXM5)",
        gpu_count: 1,
        nominal_memory_gb: 80,
        memory_mib: 81_559,
        bandwidth_gbps: 3350,
        compute_capability: 90,
        fp8_tensor_cores: true,
        price_cents_per_hour: 329,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_2x_a100",
        gpu: "A100 SXM4",
        description: "2x A100 (40 GB SXM4)",
        gpu_count: 2,
        nominal_memory_gb: 40,
        memory_mib: 40_960,
        bandwidth_gbps: 1555,
        compute_capability: 80,
        fp8_tensor_cores: false,
        price_cents_per_hour: 258,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_4x_a100",
        gpu: "A100 SXM4",
        description: "4x A100 (40 GB SXM4)",
        gpu_count: 4,
        nominal_memory_gb: 40,
        memory_mib: 40_960,
        bandwidth_gbps: 1555,
        compute_capability: 80,
        fp8_tensor_cores: false,
        price_cents_per_hour: 516,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_8x_a100",
        gpu: "A100 SXM4",
        description: "8x A100 (40 GB SXM4)",
        gpu_count: 8,
        nominal_memory_gb: 40,
        memory_mib: 40_960,
        bandwidth_gbps: 1555,
        compute_capability: 80,
        fp8_tensor_cores: false,
        price_cents_per_hour: 1032,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_8x_a100_80gb_sxm4",
        gpu: "A100 SXM4 80GB",
        description: "8x A100 (80 GB SXM4)",
        gpu_count: 8,
        nominal_memory_gb: 80,
        memory_mib: 81_920,
        bandwidth_gbps: 2039,
        compute_capability: 80,
        fp8_tensor_cores: false,
        price_cents_per_hour: 1432,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_8x_h100_sxm5",
        gpu: "H100 SXM5",
        description: "8x H100 (80 GB SXM5)",
        gpu_count: 8,
        nominal_memory_gb: 80,
        memory_mib: 81_559,
        bandwidth_gbps: 3350,
        compute_capability: 90,
        fp8_tensor_cores: true,
        price_cents_per_hour: 2392,
        price_as_of: "2025-10",
    },
    GpuType {
        instance_type: "gpu_8x_b200_sxm6",
        gpu: "B200",
        description: "8x B200 (180 GB SXM6)",
        gpu_count: 8,
        nominal_memory_gb: 180,
        memory_mib: 183_359,
        bandwidth_gbps: 8000,
        compute_capability: 100,
        fp8_tensor_cores: true,
        price_cents_per_hour: 3992,
        price_as_of: "2025-10",
    },
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

/// The smallest type with at least `gb` nominal GB in all (the original tool's
/// "recommended GPU" rule), fewest GPUs and then cheapest among equals.
pub fn smallest_with_memory(gb: u32) -> Option<&'static GpuType> {
    CATALOG
        .iter()
        .filter(|g| g.total_nominal_gb() >= gb)
        .min_by_key(|g| (g.total_nominal_gb(), g.gpu_count, g.price_cents_per_hour))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_the_original_types_and_current_ones() {
        for name in [
            "gpu_1x_a10",
            "gpu_1x_a6000",
            "gpu_1x_rtx6000",
            "gpu_1x_a100",
            "gpu_1x_a100_sxm4",
            "gpu_1x_a100_sxm4_80gb",
            "gpu_1x_h100_pcie",
            "gpu_1x_h100_sxm5",
            "gpu_2x_a100",
            "gpu_4x_a100",
            "gpu_8x_a100",
            "gpu_8x_h100",
            "gpu_1x_gh200",
            "gpu_8x_b200_sxm6",
        ] {
            assert!(find(name).is_some(), "{name} missing");
        }
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
    fn smallest_with_memory_follows_the_original_rule() {
        assert_eq!(
            smallest_with_memory(80).unwrap().instance_type,
            "gpu_1x_a100_sxm4_80gb"
        );
        assert_eq!(
            smallest_with_memory(24).unwrap().instance_type,
            "gpu_1x_rtx6000"
        );
        assert_eq!(
            smallest_with_memory(160).unwrap().instance_type,
            "gpu_4x_a100"
        );
        assert_eq!(
            smallest_with_memory(96).unwrap().instance_type,
            "gpu_1x_gh200"
        );
    }
}
