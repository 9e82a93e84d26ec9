pub use gpu_session_core;
