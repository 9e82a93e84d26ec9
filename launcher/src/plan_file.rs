//! Reading a plan file (`launch`, `plan check`): size-capped, parsed and validated by
//! core, errors naming the file.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context as _};
use gpu_session_core::plan::Plan;

/// The largest plan file read: 1 MiB. Policy: a plan is about 2 KB (a custom model's
/// architecture adds under 1 KB), so anything near this is not a plan (a checkpoint,
/// a log, `/dev/zero`) and is refused before it is read into memory.
pub const MAX_PLAN_BYTES: u64 = 1 << 20;

/// The plan in `path`, validated.
pub fn read(path: &Path) -> anyhow::Result<Plan> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read plan file {}", path.display()))?;
    let mut bytes = Vec::new();
    // One byte past the limit tells "too big" from "exactly at the limit", also for
    // files that are not regular (a pipe, a device) and report no size.
    file.take(MAX_PLAN_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read plan file {}", path.display()))?;
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        let size = std::fs::metadata(path)
            .map(|m| m.len())
            .ok()
            .filter(|len| *len > MAX_PLAN_BYTES)
            .map_or_else(
                || "more than 1 MiB".to_owned(),
                |len| format!("{len} bytes"),
            );
        bail!(
            "plan file {} is {size}, larger than a plan can be ({MAX_PLAN_BYTES} bytes); is it the right file?",
            path.display()
        );
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("plan file {} is not UTF-8 text", path.display()))?;
    Plan::parse(&text).map_err(|e| anyhow!("plan file {}: {e}", path.display()))
}
