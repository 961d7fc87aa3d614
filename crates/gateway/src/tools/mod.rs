//! What agents run: the tool policy (which tools a run may call), workspace confinement
//! of file paths, the sandbox backends and the exec runtime with its approval rules.
//!
//! These modules are libraries with no knowledge of turns or transports; the tool loop
//! builds a [`policy::Policy`] per config snapshot, resolves paths with
//! [`workspace::Workspace`], and runs commands with [`exec::run`] on the host or through
//! a [`sandbox::Sandbox`].

pub mod exec;
pub mod policy;
pub mod sandbox;
pub mod workspace;
