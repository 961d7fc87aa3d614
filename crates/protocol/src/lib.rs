//! Wire types of the OpenClaw gateway protocol (version 4).
//!
//! This crate holds only serde types and constants: frames, the error shape and its codes,
//! method and event names, the `connect` parameters, the `hello-ok` payload and the scope
//! model. The server and the CLI both depend on it so that the two sides of the socket can
//! never disagree about a field name. Nothing here performs I/O.

pub mod error;
pub mod frames;
pub mod handshake;
pub mod methods;
pub mod scopes;

pub use error::{ErrorCode, ErrorShape};
pub use frames::{EventFrame, Frame, FrameError, RequestFrame, ResponseFrame};
pub use handshake::{
    ClientInfo, ConnectAuth, ConnectParams, HelloAuth, HelloFeatures, HelloOk, HelloPolicy,
    HelloServer,
};
pub use scopes::{MethodAccess, Role};

/// The protocol version this implementation speaks. A client whose
/// `[minProtocol, maxProtocol]` range does not contain it is refused.
pub const PROTOCOL_VERSION: u32 = 4;

/// Largest frame accepted before a connection has authenticated. Small on purpose:
/// an unauthenticated peer should not be able to make the gateway buffer much.
pub const MAX_PREAUTH_PAYLOAD_BYTES: usize = 64 * 1024;

/// Largest frame accepted after `hello-ok` (advertised as `policy.maxPayload`).
pub const MAX_PAYLOAD_BYTES: usize = 25 * 1024 * 1024;

/// Outbound bytes a connection may have queued before it is disconnected as a slow
/// consumer (advertised as `policy.maxBufferedBytes`).
pub const MAX_BUFFERED_BYTES: usize = 50 * 1024 * 1024;

/// Interval of `tick` events (advertised as `policy.tickIntervalMs`).
pub const TICK_INTERVAL_MS: u64 = 30_000;

/// Default time a client has to send `connect` after the socket opens.
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

/// WebSocket close codes the gateway uses, named for what they mean to a client.
pub mod close {
    /// Normal closure.
    pub const NORMAL: u16 = 1000;
    /// Protocol error: a protocol version mismatch, or a frame that breaks RFC 6455
    /// (reserved bits or opcodes, an unmasked client frame, a bad fragment sequence).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A text frame that is not valid UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy violation: bad handshake, bad frame, failed auth.
    pub const POLICY: u16 = 1008;
    /// A frame larger than allowed.
    pub const TOO_BIG: u16 = 1009;
    /// The gateway is stopping or restarting; reconnect later.
    pub const SERVICE_RESTART: u16 = 1012;
    /// Transient overload; used for slow consumers.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}
