//! The OpenClaw gateway server: one port multiplexing the WebSocket control plane and the
//! HTTP API.
//!
//! [`run::prepare`] performs every check that can fail because of configuration (exit 78)
//! without side effects; [`run::run`] takes the state-dir lock, binds the port, serves until
//! SIGTERM/SIGINT, and drains. The CLI crate owns argument parsing and logging set-up.

pub mod agents;
pub mod auth;
pub mod channels;
pub mod error;
pub mod http;
pub mod listener;
pub mod lock;
pub mod presence;
pub mod reload;
pub mod rpc;
pub mod run;
pub mod settings;
pub mod state;
pub mod ws;

pub use error::{EXIT_CONFIG, GatewayError};
pub use http::tools::DEFAULT_DENY as DEFAULT_TOOL_DENY;
pub use run::{Prepared, prepare, run};
pub use settings::{RunOptions, Settings};
pub use state::{AppState, VERSION};
