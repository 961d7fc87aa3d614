//! Roles, operator scopes, and the access levels methods are classified into.

/// Read-only operator access.
pub const READ: &str = "operator.read";
/// Operator access that changes state (send messages, run agents).
pub const WRITE: &str = "operator.write";
/// Full control, including config and secrets.
pub const ADMIN: &str = "operator.admin";
/// Approving exec requests.
pub const APPROVALS: &str = "operator.approvals";
/// Pairing devices and nodes.
pub const PAIRING: &str = "operator.pairing";

/// Every scope an operator connection can hold.
pub const ALL: &[&str] = &[READ, WRITE, ADMIN, APPROVALS, PAIRING];

/// Scopes granted to a shared-secret client that does not name any: enough to look and to
/// act, never admin, so that a script that forgets to ask cannot reconfigure the gateway.
pub const DEFAULT_OPERATOR: &[&str] = &[READ, WRITE];

/// The role a connection declared at `connect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Control-plane client: CLI, web UI, automation.
    Operator,
    /// Capability host (camera, canvas, system.run).
    Node,
}

impl Role {
    /// Parses the `role` field; absent means operator.
    pub fn parse(raw: Option<&str>) -> Option<Role> {
        match raw {
            None | Some("operator") => Some(Role::Operator),
            Some("node") => Some(Role::Node),
            Some(_) => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Node => "node",
        }
    }
}

/// What a method requires of the caller. Which method needs which access is the
/// gateway's method table (`openclaw_gateway::rpc::METHODS`), the one place it is decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodAccess {
    /// Anyone who completed the handshake.
    Open,
    /// `operator.read` or `operator.write` (or admin).
    Read,
    /// `operator.write` (or admin).
    Write,
    /// `operator.admin`.
    Admin,
    /// `operator.approvals` (or admin): answering exec approval requests.
    Approvals,
}

impl MethodAccess {
    /// Scopes any one of which satisfies this access (for `requiredScopes` in errors).
    pub fn satisfying_scopes(self) -> &'static [&'static str] {
        match self {
            MethodAccess::Open => &[],
            MethodAccess::Read => &[READ, WRITE, ADMIN],
            MethodAccess::Write => &[WRITE, ADMIN],
            MethodAccess::Admin => &[ADMIN],
            MethodAccess::Approvals => &[APPROVALS, ADMIN],
        }
    }

    /// The scope named in `missing scope: <scope>` messages.
    pub fn primary_scope(self) -> Option<&'static str> {
        match self {
            MethodAccess::Open => None,
            MethodAccess::Read => Some(READ),
            MethodAccess::Write => Some(WRITE),
            MethodAccess::Admin => Some(ADMIN),
            MethodAccess::Approvals => Some(APPROVALS),
        }
    }

    /// Whether a connection holding `granted` may call a method with this access.
    pub fn allows<S: AsRef<str>>(self, granted: &[S]) -> bool {
        let allowed = self.satisfying_scopes();
        self == MethodAccess::Open || granted.iter().any(|g| allowed.contains(&g.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_accepts_write_and_admin_only_admin() {
        assert!(MethodAccess::Read.allows(&["operator.write"]));
        assert!(MethodAccess::Read.allows(&["operator.admin"]));
        assert!(!MethodAccess::Read.allows(&["operator.pairing"]));
        assert!(MethodAccess::Open.allows::<&str>(&[]));
        assert!(!MethodAccess::Admin.allows(&["operator.read", "operator.write"]));
        assert!(MethodAccess::Write.allows(&["operator.admin"]));
        assert!(!MethodAccess::Write.allows(&["operator.read"]));
        assert!(MethodAccess::Approvals.allows(&["operator.approvals"]));
        assert!(MethodAccess::Approvals.allows(&["operator.admin"]));
        assert!(!MethodAccess::Approvals.allows(&["operator.write"]));
    }
}
