//! Talking to an instance: SSH (argv, our known-hosts file, the key), the first
//! start's phases read over SSH, the one SGLang client, and the gateway's view of a
//! replica group.

pub(crate) mod first_start;
pub(crate) mod gateway_view;
pub(crate) mod sglang;
pub(crate) mod ssh;
pub(crate) mod ssh_target;
