//! The Lambda side of the launcher: our instances (naming, finding, uptime and cost),
//! the local record of extended leases, a group's firewall ruleset, and the pre-flight
//! checks before anything bills.
//!
//! [`Cloud`] is the connection every cloud command opens: the resolved API key, the
//! base URL, a Lambda client and the runtime that drives it. One place, so every
//! command finds the key the same way and honours the same test hook.

pub(crate) mod firewall;
pub mod instances;
pub(crate) mod lease;
pub(crate) mod preflight;

use crate::context::Context;
use crate::test_hooks::TestHooks;
use anyhow::Context as _;
use gpu_session_lambda::{resolve_api_key, resolve_base_url, ApiKey, ClientOptions, LambdaClient};

pub struct Cloud {
    pub client: LambdaClient,
    /// Needed by `launch`, which hands it to the lease agent; never printed.
    pub key: ApiKey,
    pub base_url: String,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Cloud {
    /// Resolve the key (`LAMBDA_API_KEY`, `~/.lambda_cloud/lambda_keys`, then the config
    /// file's `lambda.api_key`); a missing key is an error that says how to configure one.
    pub fn connect(ctx: &Context) -> anyhow::Result<Cloud> {
        // A broken config file must not keep `down` or `status` from a key the
        // environment or Lambda's own key file gives: warn and go on without it.
        let config_key = match ctx.config() {
            Ok(config) => config.get("lambda.api_key"),
            Err(err) => {
                ctx.printer
                    .warn(&format!("ignoring the config file: {err:#}"));
                None
            }
        };
        let (key, source) = resolve_api_key(config_key.as_deref())
            .map_err(|err| anyhow::anyhow!("{err}; or run `gpu-session configure`"))?;
        ctx.printer
            .detail(&format!("Using the Lambda API key from {source}"));
        Cloud::with_key(key)
    }

    /// Connect with a key the caller already has (e.g. one `configure` is checking).
    pub fn with_key(key: ApiKey) -> anyhow::Result<Cloud> {
        let base_url = resolve_base_url();
        let client = LambdaClient::new(&base_url, key.clone(), client_options())?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("could not start the async runtime")?;
        Ok(Cloud {
            client,
            key,
            base_url,
            runtime,
        })
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

pub(crate) fn client_options() -> ClientOptions {
    if TestHooks::get().fast_api {
        ClientOptions::fast_for_tests()
    } else {
        ClientOptions::default()
    }
}
