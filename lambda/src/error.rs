//! Errors from the Lambda Cloud API client.
//!
//! The API reports failures as `{"error": {"code", "message", "suggestion"}}`;
//! callers branch on `code` (Lambda says `message` and `suggestion` may change),
//! through the predicates on [`LambdaError`].

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

/// Error codes from the Lambda Cloud API specification (v1.8.3) that the client
/// branches on.
pub(crate) mod codes {
    /// 401: the key is invalid, expired or deleted.
    pub(crate) const INVALID_API_KEY: &str = "global/invalid-api-key";
    /// 403: the account is not verified or has no payment method.
    pub(crate) const ACCOUNT_INACTIVE: &str = "global/account-inactive";
    /// 403 on launch: the billing address is invalid.
    pub(crate) const INVALID_ADDRESS: &str = "global/invalid-address";
    /// 404 (or 400 on launch): an instance, instance type, SSH key or filesystem does not exist.
    pub(crate) const OBJECT_DOES_NOT_EXIST: &str = "global/object-does-not-exist";
    /// 400 on launch: no capacity for the instance type in the region.
    pub(crate) const INSUFFICIENT_CAPACITY: &str =
        "instance-operations/launch/insufficient-capacity";
    /// 400 on launch: a requested filesystem lives in another region.
    pub(crate) const FILE_SYSTEM_IN_WRONG_REGION: &str =
        "instance-operations/launch/file-system-in-wrong-region";
    /// 400 on delete: instances still use the firewall ruleset.
    pub(crate) const FIREWALL_RULESET_IN_USE: &str = "firewall-rulesets/firewall-ruleset-in-use";
}

/// How much of an unparseable response body an error message quotes.
const BODY_SNIPPET_CHARS: usize = 200;

/// Everything that can go wrong talking to the Lambda Cloud API.
///
/// No variant ever holds the API key: server-provided text is redacted before
/// it is stored (see `ApiKey::redact`), and transport errors carry only the
/// URL, which never contains the key.
#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    /// The API answered with a well-formed error object.
    #[error("{}", ApiDisplay { status: *status, code, message, suggestion: suggestion.as_deref() })]
    Api {
        status: u16,
        code: String,
        message: String,
        suggestion: Option<String>,
    },

    /// The API answered with an error status but no readable error object
    /// (an HTML page from a proxy, an empty body, truncated JSON...).
    #[error("Lambda API returned HTTP {status} {}: {}", reason(*status), snippet_or_empty(body))]
    UnexpectedStatus { status: u16, body: String },

    /// The request could not be completed: DNS, connection, TLS, timeout.
    #[error("could not reach the Lambda API ({endpoint}): {detail}")]
    Transport {
        endpoint: String,
        detail: String,
        connect: bool,
    },

    /// A success response whose body does not match the API's documented shape.
    #[error("unexpected response from the Lambda API ({endpoint}): {detail}")]
    Decode { endpoint: String, detail: String },

    /// A launch request the client refuses to send because the API would reject
    /// it (or worse, accept it and do something unintended).
    #[error("invalid launch request: {0}")]
    InvalidRequest(String),

    /// The base URL is not usable.
    #[error("invalid Lambda API URL {url:?}: {reason}")]
    InvalidBaseUrl { url: String, reason: String },

    /// No API key in any of the places it is looked for.
    #[error(
        "no Lambda API key found: set LAMBDA_API_KEY, add `api_key = ...` to \
         ~/.lambda_cloud/lambda_keys, or set lambda.api_key in the config file"
    )]
    MissingApiKey,

    /// The key found is not something that can be sent in a header.
    #[error("the Lambda API key {reason}")]
    MalformedApiKey { reason: &'static str },

    /// The key file exists but could not be read.
    #[error("could not read the Lambda key file {}: {source}", path.display())]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl LambdaError {
    /// The API error code, when the API sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            LambdaError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, when the API answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            LambdaError::Api { status, .. } | LambdaError::UnexpectedStatus { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// No capacity for this instance type in this region: try the next region.
    pub fn is_insufficient_capacity(&self) -> bool {
        self.code() == Some(codes::INSUFFICIENT_CAPACITY)
    }

    /// A firewall ruleset cannot be deleted yet: instances still use it.
    pub fn is_firewall_ruleset_in_use(&self) -> bool {
        self.code() == Some(codes::FIREWALL_RULESET_IN_USE)
    }

    /// The key is wrong, expired or deleted (HTTP 401).
    pub fn is_invalid_key(&self) -> bool {
        self.code() == Some(codes::INVALID_API_KEY) || self.status() == Some(401)
    }

    /// The account cannot act: inactive account or invalid billing address (HTTP 403).
    pub fn is_account_blocked(&self) -> bool {
        matches!(
            self.code(),
            Some(codes::ACCOUNT_INACTIVE | codes::INVALID_ADDRESS)
        ) || self.status() == Some(403)
    }

    /// Any authentication or authorisation failure; retrying will not help.
    pub fn is_auth_failure(&self) -> bool {
        self.is_invalid_key() || self.is_account_blocked()
    }

    /// The instance, instance type, SSH key or filesystem named does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(codes::OBJECT_DOES_NOT_EXIST) || self.status() == Some(404)
    }

    /// A filesystem requested at launch is in another region than the instance.
    pub fn is_file_system_in_wrong_region(&self) -> bool {
        self.code() == Some(codes::FILE_SYSTEM_IN_WRONG_REGION)
    }

    /// HTTP 429: too many requests.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }

    /// HTTP 5xx: a failure on Lambda's side (or its upstream provider's).
    pub fn is_server_error(&self) -> bool {
        self.status().is_some_and(|s| (500..600).contains(&s))
    }

    /// The connection could not be established, so the request was never sent.
    pub fn is_connect(&self) -> bool {
        matches!(self, LambdaError::Transport { connect: true, .. })
    }

    /// Worth retrying after a pause: 429, 5xx, timeouts and connection failures.
    /// Other 4xx answers will not change by asking again.
    pub fn is_retryable(&self) -> bool {
        self.is_rate_limited()
            || self.is_server_error()
            || matches!(self, LambdaError::Transport { .. })
    }

    /// Builds the error for a non-success response from its status and body.
    ///
    /// `redact` is applied to every piece of server-provided text kept.
    pub(crate) fn from_response(status: u16, body: &str, redact: impl Fn(&str) -> String) -> Self {
        #[derive(Deserialize)]
        struct Envelope {
            error: ErrorObject,
        }
        #[derive(Deserialize)]
        struct ErrorObject {
            code: String,
            message: String,
            #[serde(default)]
            suggestion: Option<String>,
        }

        match serde_json::from_str::<Envelope>(body) {
            Ok(Envelope { error }) if !error.code.trim().is_empty() => LambdaError::Api {
                status,
                code: redact(error.code.trim()),
                message: redact(error.message.trim()),
                suggestion: error
                    .suggestion
                    .map(|s| redact(s.trim()))
                    .filter(|s| !s.is_empty()),
            },
            _ => LambdaError::UnexpectedStatus {
                status,
                body: snippet(&redact(body)),
            },
        }
    }
}

/// A short, single-line, printable excerpt of a response body.
pub(crate) fn snippet(body: &str) -> String {
    let flat: String = body
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = flat.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > BODY_SNIPPET_CHARS {
        let cut: String = collapsed.chars().take(BODY_SNIPPET_CHARS).collect();
        format!("{cut}…")
    } else {
        collapsed
    }
}

fn snippet_or_empty(body: &str) -> &str {
    if body.is_empty() {
        "(empty body)"
    } else {
        body
    }
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

struct ApiDisplay<'a> {
    status: u16,
    code: &'a str,
    message: &'a str,
    suggestion: Option<&'a str>,
}

impl fmt::Display for ApiDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = if self.message.is_empty() {
            "(no message)"
        } else {
            self.message
        };
        write!(
            f,
            "Lambda API error: {message} (HTTP {}, code {})",
            self.status, self.code
        )?;
        if let Some(suggestion) = self.suggestion {
            write!(f, ". Suggestion: {suggestion}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(status: u16, body: &str) -> LambdaError {
        LambdaError::from_response(status, body, |s| s.to_owned())
    }

    #[test]
    fn decodes_spec_error_with_suggestion() {
        let err = decode(
            401,
            r#"{"error":{"code":"global/invalid-api-key","message":"API key was invalid, expired, or deleted.","suggestion":"Check your API key or create a new one, then try again."}}"#,
        );
        assert!(err.is_invalid_key() && err.is_auth_failure());
        assert!(!err.is_retryable());
        assert_eq!(err.code(), Some(codes::INVALID_API_KEY));
        assert_eq!(
            err.to_string(),
            "Lambda API error: API key was invalid, expired, or deleted. \
             (HTTP 401, code global/invalid-api-key). \
             Suggestion: Check your API key or create a new one, then try again."
        );
    }

    #[test]
    fn decodes_error_without_suggestion_and_with_extra_fields() {
        let err = decode(
            400,
            r#"{"error":{"code":"instance-operations/launch/insufficient-capacity","message":"Not enough capacity to fulfill launch request.","extra":1},"request_id":"x"}"#,
        );
        assert!(err.is_insufficient_capacity());
        assert!(!err.is_retryable() && !err.is_invalid_key());
        assert_eq!(
            err.to_string(),
            "Lambda API error: Not enough capacity to fulfill launch request. \
             (HTTP 400, code instance-operations/launch/insufficient-capacity)"
        );
    }

    #[test]
    fn predicates_follow_codes_and_statuses() {
        let api = |status, code: &str| {
            decode(
                status,
                &format!(r#"{{"error":{{"code":"{code}","message":"m"}}}}"#),
            )
        };
        assert!(api(403, codes::ACCOUNT_INACTIVE).is_account_blocked());
        assert!(api(403, codes::INVALID_ADDRESS).is_auth_failure());
        assert!(api(404, codes::OBJECT_DOES_NOT_EXIST).is_not_found());
        assert!(api(400, codes::OBJECT_DOES_NOT_EXIST).is_not_found());
        assert!(api(400, codes::FILE_SYSTEM_IN_WRONG_REGION).is_file_system_in_wrong_region());
        let limited = api(429, "global/too-many-requests");
        assert!(limited.is_rate_limited() && limited.is_retryable());
        let unavailable = api(503, "provider/internal-unavailable");
        assert!(unavailable.is_server_error() && unavailable.is_retryable());
        assert!(!api(400, "global/invalid-parameters").is_retryable());
    }

    #[test]
    fn unreadable_bodies_still_name_the_status() {
        let html = decode(502, "<html>\n<body>Bad gateway</body>\n</html>");
        assert!(html.is_server_error() && html.is_retryable());
        assert_eq!(html.code(), None);
        assert_eq!(
            html.to_string(),
            "Lambda API returned HTTP 502 Bad Gateway: <html> <body>Bad gateway</body> </html>"
        );

        let empty = decode(401, "");
        assert!(empty.is_invalid_key());
        assert_eq!(
            empty.to_string(),
            "Lambda API returned HTTP 401 Unauthorized: (empty body)"
        );

        for malformed in [
            r#"{"error":"nope"}"#,
            r#"{"error":{"message":"no code"}}"#,
            r#"{"error":{"code":"","message":"blank code"}}"#,
            r#"{"error":{"code":"x","message":"trunc"#,
        ] {
            let err = decode(500, malformed);
            assert!(
                matches!(err, LambdaError::UnexpectedStatus { status: 500, .. }),
                "{malformed}: {err:?}"
            );
            assert!(err.to_string().starts_with("Lambda API returned HTTP 500"));
        }
    }

    #[test]
    fn long_bodies_are_truncated() {
        let body = "x".repeat(10_000);
        let err = decode(500, &body);
        let text = err.to_string();
        assert!(text.len() < 300, "{text}");
        assert!(text.ends_with('…'));
    }

    #[test]
    fn server_text_is_redacted() {
        let secret = "secret_key_123";
        let body = format!(
            r#"{{"error":{{"code":"global/invalid-api-key","message":"bad key {secret}","suggestion":"not {secret}"}}}}"#
        );
        let err = LambdaError::from_response(401, &body, |s| s.replace(secret, "***"));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("bad key ***"));

        let err = LambdaError::from_response(500, &format!("echo {secret}"), |s| {
            s.replace(secret, "***")
        });
        assert!(!format!("{err} {err:?}").contains(secret));
    }
}
