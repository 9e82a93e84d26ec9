//! Strict patterns for every string that can reach a file name, a command line or a
//! shell on an instance. Anything outside them is rejected, never escaped.

use std::fmt;

/// A field whose value breaks a rule, named the way the document names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path, e.g. `model.checkpoint`.
    pub field: String,
    /// The offending value, shown with control characters escaped.
    pub value: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<String>,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> FieldError {
        FieldError {
            field: field.into(),
            value: value.to_string().escape_debug().to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: '{}' {}", self.field, self.value, self.reason)
    }
}

impl std::error::Error for FieldError {}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn check_segment(field: &str, whole: &str, segment: &str, what: &str) -> Result<(), FieldError> {
    let first_ok = segment
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    if segment.is_empty()
        || segment.len() > 96
        || !first_ok
        || !segment.chars().all(is_name_char)
        || segment.contains("..")
    {
        return Err(FieldError::new(
            field,
            whole,
            format!("is not a valid {what}: use letters, digits, '.', '_' or '-', starting with a letter or digit, at most 96 characters"),
        ));
    }
    Ok(())
}

/// `owner/name`, as Hugging Face allows repository ids.
pub fn hf_path(field: &str, value: &str) -> Result<(), FieldError> {
    let Some((owner, name)) = value.split_once('/') else {
        return Err(FieldError::new(
            field,
            value,
            "must be a Hugging Face repository like 'owner/name'",
        ));
    };
    check_segment(field, value, owner, "Hugging Face owner")?;
    check_segment(field, value, name, "Hugging Face repository name")
}

/// A model id: lowercase letters, digits, '.', '_' and '-'.
pub fn model_id(field: &str, value: &str) -> Result<(), FieldError> {
    let ok = value.len() <= 64
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if !ok {
        return Err(FieldError::new(
            field,
            value,
            "is not a valid model id: use lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64 characters",
        ));
    }
    Ok(())
}

/// A Lambda region name such as `us-west-1` or `europe-central-1`.
pub fn region(field: &str, value: &str) -> Result<(), FieldError> {
    let parts: Vec<&str> = value.split('-').collect();
    let ok = value.len() <= 32
        && parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if !ok {
        return Err(FieldError::new(
            field,
            value,
            "is not a Lambda region name like 'us-west-1'",
        ));
    }
    Ok(())
}

/// Longest Lambda file system name accepted.
pub const MAX_FILESYSTEM_NAME_LEN: usize = 60;

/// Lambda's type names: lowercase letters, digits and '_', e.g. `gpu_8x_h100_sxm5`.
pub fn instance_type_name(field: &str, value: &str) -> Result<(), FieldError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_lowercase())
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            value,
            "is not a Lambda instance type name (lowercase letters, digits and '_')",
        ))
    }
}

/// A Lambda file system name: letters, digits, '-' and '_', starting with a letter or
/// digit, at most [`MAX_FILESYSTEM_NAME_LEN`] characters. It becomes a path on the
/// instance (`/lambda/nfs/<name>/huggingface`), so no '.' or '/'.
pub fn filesystem_name(field: &str, value: &str) -> Result<(), FieldError> {
    let ok = (1..=MAX_FILESYSTEM_NAME_LEN).contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Err(FieldError::new(
            field,
            value,
            format!("is not a valid file system name: use letters, digits, '-' and '_', starting with a letter or digit, at most {MAX_FILESYSTEM_NAME_LEN} characters"),
        ));
    }
    Ok(())
}

/// Free text shown to people (display names, notes): printable, one line, bounded.
pub fn display_text(field: &str, value: &str, max: usize) -> Result<(), FieldError> {
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            value,
            format!("is longer than {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            value,
            "contains control characters or line breaks",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_paths() {
        for ok in [
            "Qwen/Qwen2.5-Coder-32B-Instruct-AWQ",
            "meta-llama/Llama-3.1-8B-Instruct",
            "a/b",
        ] {
            hf_path("f", ok).unwrap();
        }
        for bad in [
            "", "noslash", "a/b/c", "../etc", "a/..", "a/$(id)", "a/b c", "a/b;rm", "-a/b",
            "a/b\n", "a/'b'", "a/`b`", "a/b|c",
        ] {
            let e = hf_path("model.checkpoint", bad).unwrap_err();
            assert_eq!(e.field, "model.checkpoint");
        }
    }

    #[test]
    fn regions_and_ids() {
        region("r", "us-west-1").unwrap();
        region("r", "europe-central-1").unwrap();
        for bad in [
            "us west 1",
            "US-WEST-1",
            "us-west",
            "$(x)-1",
            "us-west-1;",
            "",
        ] {
            assert!(region("r", bad).is_err(), "{bad}");
        }
        model_id("id", "qwen2.5-coder-32b").unwrap();
        for bad in ["", "Upper", "-x", "a b", "a/b", "a$b"] {
            assert!(model_id("id", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn filesystem_names() {
        for ok in ["models", "coding-stack", "hf_cache-2", &"a".repeat(60)] {
            filesystem_name("fs", ok).unwrap();
        }
        for bad in ["", "../x", "a.b", "a b", "-x", "_x", "a/b", &"a".repeat(61)] {
            assert_eq!(filesystem_name("fs", bad).unwrap_err().field, "fs", "{bad}");
        }
    }

    #[test]
    fn errors_escape_control_characters() {
        let e = display_text("name", "a\nb", 80).unwrap_err();
        assert_eq!(
            e.to_string(),
            "name: 'a\\nb' contains control characters or line breaks"
        );
    }
}
