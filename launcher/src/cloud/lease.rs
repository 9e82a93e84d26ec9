//! The local lease record: deadlines `extend` pushed, by instance id, kept beside the
//! config file so `status` can show them (the instance's tags only know the deadline
//! set at launch). A display aid, not a source of truth.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config_file;
use crate::context::Context;

/// Extensions recorded locally (instance id → deadline), beside the config file.
const EXTENSIONS_FILE: &str = "lease-extensions.json";

fn extensions_path(ctx: &Context) -> Option<PathBuf> {
    let config = ctx.config_path().ok()?;
    Some(config.parent()?.join(EXTENSIONS_FILE))
}

/// Deadlines `extend` set, by instance id. A missing or unreadable file is empty:
/// this is a display aid, not a source of truth.
pub fn load_extensions(ctx: &Context) -> BTreeMap<String, u64> {
    extensions_path(ctx)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save_extensions(ctx: &Context, map: &BTreeMap<String, u64>) {
    let Some(path) = extensions_path(ctx) else {
        return;
    };
    let written = serde_json::to_vec_pretty(map)
        .map_err(std::io::Error::other)
        .and_then(|bytes| config_file::write_atomic(&path, &bytes, config_file::CONFIG_MODE));
    if let Err(err) = written {
        ctx.printer.detail(&format!(
            "could not record the lease in {}: {err}",
            path.display()
        ));
    }
}

pub fn record_extension(ctx: &Context, id: &str, deadline: u64) {
    let mut map = load_extensions(ctx);
    map.insert(id.to_owned(), deadline);
    save_extensions(ctx, &map);
}

/// Drops the records of terminated instances.
pub fn forget_extensions(ctx: &Context, ids: &[String]) {
    let mut map = load_extensions(ctx);
    let before = map.len();
    map.retain(|id, _| !ids.contains(id));
    if map.len() != before {
        save_extensions(ctx, &map);
    }
}
