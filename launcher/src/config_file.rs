//! The config file on disk: where it lives, reading it (a missing file is an empty
//! config), and writing it atomically with owner-only permissions. What the file means
//! is core's `config::ConfigDocument`.

use anyhow::{anyhow, Context as _};
use gpu_session_core::config::ConfigDocument;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The folder name the original tool used, kept so existing config files are found.
pub const APP_DIR: &str = "gpu-dashboard";
/// The config file's name inside [`APP_DIR`].
pub const FILE_NAME: &str = "config.yaml";
/// Permissions of the config file: it can hold the Lambda API key.
pub const CONFIG_MODE: u32 = 0o600;
/// Permissions of a config folder this tool creates.
pub const DIR_MODE: u32 = 0o700;

/// The default config path: `$XDG_CONFIG_HOME/gpu-dashboard/config.yaml` when that is
/// an absolute path, else `~/.config/gpu-dashboard/config.yaml`.
pub fn default_path() -> anyhow::Result<PathBuf> {
    default_path_from(std::env::var_os("XDG_CONFIG_HOME"), std::env::var_os("HOME")).ok_or_else(
        || anyhow!("cannot find the config file: neither XDG_CONFIG_HOME nor HOME is set; pass --config PATH"),
    )
}

fn default_path_from(xdg: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let xdg = xdg.map(PathBuf::from).filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        home.filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".config"))
    })?;
    Some(base.join(APP_DIR).join(FILE_NAME))
}

/// Read and parse the config file. A missing file is an empty config; a file that
/// cannot be read or is not YAML is an error naming the path (and the line).
pub fn load(path: &Path) -> anyhow::Result<ConfigDocument> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(ConfigDocument::default()),
        Err(e) => {
            return Err(anyhow!(e).context(format!("cannot read config file {}", path.display())))
        }
    };
    ConfigDocument::parse(&text).map_err(|e| anyhow!("config file {}: {e}", path.display()))
}

/// Write the config file atomically with mode 0600, creating its folder (0700).
pub fn save(path: &Path, document: &ConfigDocument) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)
            .with_context(|| format!("cannot create config folder {}", dir.display()))?;
    }
    let text = document
        .to_yaml()
        .with_context(|| format!("cannot write config file {}", path.display()))?;
    write_atomic(path, text.as_bytes(), CONFIG_MODE)
        .with_context(|| format!("cannot write config file {}", path.display()))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Replace `path` with `contents` so readers see the old file or the new one, never a
/// torn write: a temporary file in the same folder, fsync, rename, fsync the folder.
/// The file gets `mode` (on Unix) whatever it had before.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".tmp-");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(mode));
    // Dropped on any error, the temporary file is removed.
    let mut file = builder.tempfile_in(&dir)?;
    file.write_all(contents)?;
    file.as_file().sync_all()?;
    set_mode(file.path(), mode)?;
    file.persist(path).map_err(|e| e.error)?;
    // Make the rename itself durable; not every platform can open a folder for this.
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_prefers_an_absolute_xdg_config_home() {
        let p = |xdg: Option<&str>, home: Option<&str>| {
            default_path_from(xdg.map(OsString::from), home.map(OsString::from))
        };
        assert_eq!(
            p(Some("/x"), Some("/h")).unwrap(),
            Path::new("/x/gpu-dashboard/config.yaml")
        );
        assert_eq!(
            p(Some("relative"), Some("/h")).unwrap(),
            Path::new("/h/.config/gpu-dashboard/config.yaml")
        );
        assert_eq!(
            p(None, Some("/h")).unwrap(),
            Path::new("/h/.config/gpu-dashboard/config.yaml")
        );
        assert!(p(None, Some("")).is_none());
        assert!(p(None, None).is_none());
    }

    #[test]
    fn missing_file_is_empty_and_saving_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new").join(FILE_NAME);
        let mut doc = load(&path).unwrap();
        assert_eq!(doc, ConfigDocument::default());
        doc.set("lambda.default_region", "us-east-1".into());
        save(&path, &doc).unwrap();
        assert_eq!(load(&path).unwrap(), doc);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(path.parent().unwrap()), 0o700);
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers, [FILE_NAME]);
    }

    #[test]
    fn unreadable_and_invalid_files_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot read config file"),
            "{err:#}"
        );
        let path = dir.path().join(FILE_NAME);
        fs::write(&path, "a: 1\nb: [unclosed\n").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }
}
