//! The calculator commands' shared parts: sizing a model and GPU from flags,
//! architecture flags, the service-level choice and the two-node layouts as tables
//! and JSON.

pub(crate) mod model_flags;
pub(crate) mod service_level;
pub(crate) mod sizing;
pub(crate) mod two_nodes;
