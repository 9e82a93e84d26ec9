//! Checks `launch` makes before anything bills (and `--dry-run` makes too): the image
//! family exists in the region for the instance's architecture, the SSH key the launch
//! uses exists locally and matches the account's, and the instance's disk holds the
//! checkpoint plus the SGLang environment.

use std::path::{Path, PathBuf};

use gpu_session_core::gpu::{CpuArchitecture, GpuType};
use gpu_session_core::plan::Plan;

use gpu_session_lambda::{families_in, Image, ImageArchitecture, SshKey};

/// Disk the instance needs besides the checkpoint, GiB: the SGLang 0.5.23 venv
/// (torch 2.14.1 with its CUDA 13 pip libraries, flashinfer 0.7.2, sglang-kernel: about
/// 12 GiB installed; uv runs with no cache, so wheels are not kept twice), the managed
/// CPython (0.1 GiB), FlashInfer's JIT cache (about 1 GiB) and logs, with room left for
/// the image itself growing (apt, journald). Policy with a rough measure: a real
/// install should confirm the venv size.
pub const ENV_DISK_MARGIN_GIB: u64 = 20;

/// The plan's image family (`gpu.image_family`, validated by core).
pub fn image_family(plan: &Plan) -> &str {
    &plan.gpu.image_family
}

/// The image architecture Lambda lists for an instance type's CPU (core's
/// [`GpuType::cpu_architecture`]: GH200 is arm64).
pub fn architecture(gpu: &GpuType) -> ImageArchitecture {
    match gpu.cpu_architecture() {
        CpuArchitecture::Arm64 => ImageArchitecture::Arm64,
        CpuArchitecture::X86_64 => ImageArchitecture::X86_64,
    }
}

/// The plan's regions where `family` exists for `architecture`; an error naming family,
/// regions, architecture and the families there when none has it.
pub fn regions_with_image(
    images: &[Image],
    family: &str,
    architecture: ImageArchitecture,
    regions: &[String],
) -> anyhow::Result<Vec<String>> {
    let usable: Vec<String> = regions
        .iter()
        .filter(|r| {
            families_in(images, r, architecture)
                .iter()
                .any(|f| f == family)
        })
        .cloned()
        .collect();
    if !usable.is_empty() {
        return Ok(usable);
    }
    let found: Vec<String> = regions
        .iter()
        .map(|r| {
            let there = families_in(images, r, architecture);
            format!(
                "{r}: {}",
                if there.is_empty() {
                    "none".to_owned()
                } else {
                    there.join(", ")
                }
            )
        })
        .collect();
    anyhow::bail!(
        "image family {family} (gpu.image_family) is not offered for {architecture} in {}; \
         families there for {architecture}: {}",
        regions.join(", "),
        found.join("; ")
    )
}

/// The key material of an OpenSSH public key line (`type base64 [comment]`), without
/// the comment.
fn key_material(line: &str) -> Option<(&str, &str)> {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(kind), Some(blob)) => Some((kind, blob)),
        _ => None,
    }
}

/// Default identity files ssh tries (ssh(1), `-i` default list), most common first.
const DEFAULT_IDENTITIES: [&str; 3] = [".ssh/id_ed25519", ".ssh/id_ecdsa", ".ssh/id_rsa"];

/// Checks that the key registered as `account_key` on Lambda has its private half here:
/// `key_path.pub` (the configured key) or one of ssh's default identities matches.
pub fn check_local_key(
    account_key: &SshKey,
    key_path: Option<&Path>,
    home: Option<&Path>,
) -> anyhow::Result<PathBuf> {
    let wanted = key_material(&account_key.public_key).ok_or_else(|| {
        anyhow::anyhow!(
            "the Lambda account's SSH key '{}' has no readable public key",
            account_key.name
        )
    })?;
    let candidates: Vec<PathBuf> = match key_path {
        Some(path) => vec![path.to_owned()],
        None => home
            .map(|h| DEFAULT_IDENTITIES.iter().map(|i| h.join(i)).collect())
            .unwrap_or_default(),
    };
    let mut seen = Vec::new();
    for private in &candidates {
        let public = PathBuf::from(format!("{}.pub", private.display()));
        let Ok(text) = std::fs::read_to_string(&public) else {
            continue;
        };
        if key_material(text.trim()) == Some(wanted) {
            return Ok(private.clone());
        }
        seen.push(public.display().to_string());
    }
    if seen.is_empty() {
        anyhow::bail!(
            "no local SSH public key found ({}) to match the Lambda key '{}'; without its private \
             key gpu-session cannot watch the first start or open the tunnel: set \
             `gpu-session configure --ssh-key-path PATH` (with PATH.pub next to it)",
            candidates
                .iter()
                .map(|c| format!("{}.pub", c.display()))
                .collect::<Vec<_>>()
                .join(", "),
            account_key.name
        );
    }
    anyhow::bail!(
        "the Lambda key '{}' does not match the local public key(s) {}: the instance would not \
         accept this machine's SSH login; choose the matching key with --ssh-key or set \
         `gpu-session configure --ssh-key-path PATH`",
        account_key.name,
        seen.join(", ")
    )
}

/// Checks the instance type's disk holds the checkpoint plus [`ENV_DISK_MARGIN_GIB`].
/// With a file system the weights go there, so only the margin must fit.
pub fn check_disk(
    instance_type: &str,
    storage_gib: u32,
    checkpoint_bytes: Option<u64>,
    on_filesystem: bool,
) -> anyhow::Result<()> {
    let gib = 1u64 << 30;
    let weights_gib = match (checkpoint_bytes, on_filesystem) {
        (Some(b), false) => b.div_ceil(gib),
        _ => 0,
    };
    let needed = weights_gib + ENV_DISK_MARGIN_GIB;
    if u64::from(storage_gib) < needed {
        anyhow::bail!(
            "{instance_type} has {storage_gib} GiB of disk, but the checkpoint needs {weights_gib} GiB \
             plus {ENV_DISK_MARGIN_GIB} GiB for SGLang's environment; choose a larger instance type \
             or pass --filesystem NAME to keep the weights on a file system"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu_session_lambda::Region;

    fn image(family: &str, region: &str, arch: ImageArchitecture) -> Image {
        Image {
            id: format!("{family}-{region}"),
            name: family.to_owned(),
            description: String::new(),
            family: family.to_owned(),
            version: "1".to_owned(),
            architecture: arch,
            region: Region {
                name: region.to_owned(),
                description: String::new(),
            },
        }
    }

    #[test]
    fn gh200_is_arm64() {
        let gpu = |t: &str| gpu_session_core::gpu::find(t).unwrap();
        assert_eq!(architecture(gpu("gpu_1x_gh200")), ImageArchitecture::Arm64);
        assert_eq!(architecture(gpu("gpu_1x_a10")), ImageArchitecture::X86_64);
    }

    #[test]
    fn image_check_names_family_region_architecture_and_alternatives() {
        let images = [
            image("lambda-stack-22-04", "us-east-3", ImageArchitecture::Arm64),
            image("ubuntu-24-04", "us-east-3", ImageArchitecture::X86_64),
        ];
        let regions = vec!["us-east-3".to_owned()];
        let err = regions_with_image(
            &images,
            "lambda-stack-24-04",
            ImageArchitecture::Arm64,
            &regions,
        )
        .unwrap_err()
        .to_string();
        for part in [
            "lambda-stack-24-04",
            "us-east-3",
            "arm64",
            "lambda-stack-22-04",
        ] {
            assert!(err.contains(part), "{err}");
        }
        assert!(!err.contains("ubuntu-24-04"), "{err}");
        let ok = regions_with_image(
            &images,
            "lambda-stack-22-04",
            ImageArchitecture::Arm64,
            &regions,
        )
        .unwrap();
        assert_eq!(ok, regions);
    }

    #[test]
    fn disk_check() {
        let gib = 1u64 << 30;
        assert!(check_disk("t", 100, Some(70 * gib), false).is_ok());
        let err = check_disk("t", 100, Some(90 * gib), false).unwrap_err();
        assert!(err.to_string().contains("100 GiB"), "{err}");
        assert!(check_disk("t", 100, Some(90 * gib), true).is_ok());
        assert!(check_disk("t", 10, None, false).is_err());
    }

    #[test]
    fn local_key_must_match() {
        let dir = tempfile::tempdir().unwrap();
        let account = SshKey {
            id: "1".into(),
            name: "k".into(),
            public_key: "ssh-ed25519 AAAAxyz me@laptop".into(),
        };
        let err = check_local_key(&account, None, Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("no local SSH public key"), "{err}");
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        std::fs::write(dir.path().join(".ssh/id_rsa.pub"), "ssh-rsa AAAAother x\n").unwrap();
        let err = check_local_key(&account, None, Some(dir.path())).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
        std::fs::write(
            dir.path().join(".ssh/id_ed25519.pub"),
            "ssh-ed25519 AAAAxyz other-comment\n",
        )
        .unwrap();
        let found = check_local_key(&account, None, Some(dir.path())).unwrap();
        assert!(found.ends_with(".ssh/id_ed25519"));
    }
}
