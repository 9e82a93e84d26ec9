//! The Lambda API key: where it comes from and how it is kept out of output.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::LambdaError;

/// Environment variable holding the API key; it wins over every other source.
pub const API_KEY_ENV: &str = "LAMBDA_API_KEY";

/// The key file Lambda's own tooling writes, relative to the home directory.
pub const KEY_FILE_RELATIVE: &str = ".lambda_cloud/lambda_keys";

/// A Lambda Cloud API key.
///
/// `Debug` and `Display` print `***`, and there is no `Serialize`, so the key
/// cannot leak through logs, error messages, `--json` output or a plan file by
/// accident. The only way to read it is the deliberately named
/// [`ApiKey::expose_secret`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key, trimming surrounding whitespace.
    ///
    /// Rejects empty keys and keys with characters that cannot travel in an
    /// HTTP header (the error never contains the key itself).
    pub fn new(key: impl Into<String>) -> Result<Self, LambdaError> {
        let key = key.into();
        let trimmed = key.trim();
        if trimmed.is_empty() {
            return Err(LambdaError::MalformedApiKey { reason: "is empty" });
        }
        if !trimmed.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(LambdaError::MalformedApiKey {
                reason: "contains whitespace, control or non-ASCII characters",
            });
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The key itself, for the `Authorization` header and nothing else.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the key in `text` with `***`.
    ///
    /// Used on anything a server sent back before it goes into an error, in case
    /// a proxy or a misbehaving server echoes the request headers.
    pub(crate) fn redact(&self, text: &str) -> String {
        text.replace(self.0.as_str(), "***")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where a resolved key came from, so the CLI can tell the user which one it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `LAMBDA_API_KEY` environment variable.
    Env,
    /// The `api_key = ...` line of a Lambda key file.
    KeyFile(PathBuf),
    /// The `lambda.api_key` field of the gpu-session config file.
    Config,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env => write!(f, "${API_KEY_ENV}"),
            KeySource::KeyFile(path) => write!(f, "{}", path.display()),
            KeySource::Config => f.write_str("the config file (lambda.api_key)"),
        }
    }
}

/// The default key file, `~/.lambda_cloud/lambda_keys`, if a home directory is known.
pub fn default_key_file() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())?;
    Some(PathBuf::from(home).join(KEY_FILE_RELATIVE))
}

/// Resolves the API key from the environment, then `~/.lambda_cloud/lambda_keys`,
/// then `config_value` (the config file's `lambda.api_key`).
pub fn resolve_api_key(config_value: Option<&str>) -> Result<(ApiKey, KeySource), LambdaError> {
    let env = std::env::var(API_KEY_ENV).ok();
    resolve_api_key_from(env.as_deref(), default_key_file().as_deref(), config_value)
}

/// [`resolve_api_key`] with its inputs spelled out, so it can be tested without
/// touching the process environment or the real home directory.
///
/// Empty values count as absent. A missing key file, or one without an
/// `api_key` line, falls through to the next source; a key file that exists
/// but cannot be read is an error, because silently skipping it would pick a
/// different account's key.
pub fn resolve_api_key_from(
    env_value: Option<&str>,
    key_file: Option<&Path>,
    config_value: Option<&str>,
) -> Result<(ApiKey, KeySource), LambdaError> {
    if let Some(value) = env_value.filter(|v| !v.trim().is_empty()) {
        return Ok((ApiKey::new(value)?, KeySource::Env));
    }
    if let Some(path) = key_file {
        match std::fs::read_to_string(path) {
            Ok(contents) => {
                if let Some(value) = parse_key_file(&contents) {
                    return Ok((ApiKey::new(value)?, KeySource::KeyFile(path.to_owned())));
                }
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(LambdaError::KeyFile {
                    path: path.to_owned(),
                    source,
                })
            }
        }
    }
    if let Some(value) = config_value.filter(|v| !v.trim().is_empty()) {
        return Ok((ApiKey::new(value)?, KeySource::Config));
    }
    Err(LambdaError::MissingApiKey)
}

/// Extracts the value of the `api_key = ...` line from a Lambda key file.
///
/// Accepts blank lines, `#`/`;` comments, `[section]` headers, spaces around
/// `=` and a value wrapped in matching quotes. The last non-empty `api_key` wins,
/// as it would in an INI reader. Returns `None` when there is no non-empty key.
pub fn parse_key_file(contents: &str) -> Option<&str> {
    contents.lines().rev().find_map(|line| {
        let line = line.trim();
        let (name, value) = line.split_once('=')?;
        if name.trim() != "api_key" {
            return None;
        }
        let value = value.trim();
        let unquoted = ['"', '\'']
            .iter()
            .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
            .unwrap_or(value)
            .trim();
        (!unquoted.is_empty()).then_some(unquoted)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "secret_abc123.DEF-456";

    #[test]
    fn debug_and_display_redact_the_key() {
        let key = ApiKey::new(SECRET).unwrap();
        assert_eq!(format!("{key}"), "***");
        assert_eq!(format!("{key:?}"), "***");
        assert_eq!(format!("{:?}", Some(&key)), "Some(***)");
        assert!(!format!("{:#?}", (&key, KeySource::Env)).contains(SECRET));
        assert_eq!(key.expose_secret(), SECRET);
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let key = ApiKey::new(SECRET).unwrap();
        let echoed = format!("Authorization: Bearer {SECRET}; again {SECRET}");
        assert_eq!(key.redact(&echoed), "Authorization: Bearer ***; again ***");
    }

    #[test]
    fn new_trims_and_rejects_unusable_keys() {
        assert_eq!(
            ApiKey::new(format!("  {SECRET}\n"))
                .unwrap()
                .expose_secret(),
            SECRET
        );
        for bad in ["", "   ", "two words", "tab\tkey", "k\u{e9}y"] {
            let err = ApiKey::new(bad).unwrap_err();
            assert!(
                matches!(err, LambdaError::MalformedApiKey { .. }),
                "{bad:?}"
            );
            if !bad.trim().is_empty() {
                assert!(!err.to_string().contains(bad.trim()), "{err}");
            }
        }
    }

    #[test]
    fn parses_lambda_key_file_variants() {
        assert_eq!(parse_key_file("api_key = secret_x\n"), Some("secret_x"));
        assert_eq!(parse_key_file("api_key=secret_x"), Some("secret_x"));
        assert_eq!(
            parse_key_file("# Lambda keys\n\n[default]\n  api_key  =  \"secret_q\"  \n"),
            Some("secret_q")
        );
        assert_eq!(parse_key_file("api_key = 'secret_s'"), Some("secret_s"));
        assert_eq!(
            parse_key_file("api_key = old\napi_key = new\n"),
            Some("new"),
            "last line wins"
        );
        assert_eq!(parse_key_file("api_key_id = nope\nother = 1"), None);
        assert_eq!(parse_key_file("api_key =   \n"), None);
        assert_eq!(parse_key_file("# api_key = commented"), None);
        assert_eq!(parse_key_file(""), None);
        assert_eq!(
            parse_key_file("api_key = secret=with=equals\r\n"),
            Some("secret=with=equals")
        );
    }

    #[test]
    fn resolution_order_is_env_then_file_then_config() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("lambda_keys");
        std::fs::write(&file, "api_key = from_file\n").unwrap();

        let (key, source) =
            resolve_api_key_from(Some("from_env"), Some(&file), Some("from_config")).unwrap();
        assert_eq!((key.expose_secret(), source), ("from_env", KeySource::Env));

        let (key, source) =
            resolve_api_key_from(Some("  "), Some(&file), Some("from_config")).unwrap();
        assert_eq!(
            (key.expose_secret(), source),
            ("from_file", KeySource::KeyFile(file.clone()))
        );

        let missing = dir.path().join("absent");
        let (key, source) =
            resolve_api_key_from(None, Some(&missing), Some("from_config")).unwrap();
        assert_eq!(
            (key.expose_secret(), source),
            ("from_config", KeySource::Config)
        );

        let keyless = dir.path().join("keyless");
        std::fs::write(&keyless, "# no key here\n").unwrap();
        let (_, source) = resolve_api_key_from(None, Some(&keyless), Some("c")).unwrap();
        assert_eq!(source, KeySource::Config);

        let err = resolve_api_key_from(None, Some(&missing), None).unwrap_err();
        assert!(matches!(err, LambdaError::MissingApiKey));
        let message = err.to_string();
        assert!(message.contains(API_KEY_ENV) && message.contains("lambda_keys"));
    }

    #[test]
    fn unreadable_key_file_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be cannot be read as text.
        let err = resolve_api_key_from(None, Some(dir.path()), Some("c")).unwrap_err();
        assert!(matches!(err, LambdaError::KeyFile { .. }));
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }
}
