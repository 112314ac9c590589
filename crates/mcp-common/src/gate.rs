//! Which tools are offered and what a call needs before it runs: the read-only mode, allow and
//! deny globs on tool names, and consent for tools that change the world.

use rmcp::model::Tool;

/// What a tool does to the world, from its MCP annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// Reads only (`readOnlyHint: true`).
    ReadOnly,
    /// Changes data but destroys nothing (`readOnlyHint: false, destructiveHint: false`).
    Write,
    /// Deletes or overwrites, sends or charges (`readOnlyHint: false, destructiveHint: true`).
    Destructive,
}

impl ToolKind {
    /// The kind declared by a tool's annotations; `None` when the declaration is incomplete.
    pub fn of(tool: &Tool) -> Option<ToolKind> {
        let annotations = tool.annotations.as_ref()?;
        match (annotations.read_only_hint?, annotations.destructive_hint) {
            (true, _) => Some(ToolKind::ReadOnly),
            (false, Some(false)) => Some(ToolKind::Write),
            (false, Some(true)) => Some(ToolKind::Destructive),
            (false, None) => None,
        }
    }

    /// `read-only`, `write` or `destructive`.
    pub fn label(self) -> &'static str {
        match self {
            ToolKind::ReadOnly => "read-only",
            ToolKind::Write => "write",
            ToolKind::Destructive => "destructive",
        }
    }
}

/// Matches `name` against a glob of `*` (any run of characters) and `?` (one character).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    let (mut p, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, n));
                p += 1;
            }
            Some(c) if *c == '?' || *c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match backtrack {
                Some((star_p, star_n)) => {
                    p = star_p + 1;
                    n = star_n + 1;
                    backtrack = Some((star_p, star_n + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// The operator's policy on tools.
#[derive(Debug, Clone)]
pub struct ToolPolicy {
    /// Refuse everything that is not read-only.
    pub read_only: bool,
    /// If not empty, only tools matching one of these globs are offered.
    pub allow: Vec<String>,
    /// Tools matching one of these globs are withheld.
    pub deny: Vec<String>,
    /// Write and destructive tools need consent.
    pub require_confirmation: bool,
}

impl ToolPolicy {
    /// Why `tool` of `kind` is withheld, phrased with the setting that would allow it; `None`
    /// when it is available.
    pub fn withheld(&self, tool: &str, kind: ToolKind) -> Option<String> {
        if self.read_only && kind != ToolKind::ReadOnly {
            return Some(format!(
                "tool `{tool}` is a {} tool and this server runs read-only; an operator can set MCP_READ_ONLY=false to allow it",
                kind.label()
            ));
        }
        if let Some(pattern) = self.deny.iter().find(|p| glob_matches(p, tool)) {
            return Some(format!(
                "tool `{tool}` is disabled by MCP_TOOLS_DENY (pattern `{pattern}`); an operator can remove that pattern to allow it"
            ));
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|p| glob_matches(p, tool)) {
            return Some(format!(
                "tool `{tool}` is not in MCP_TOOLS_ALLOW ({}); an operator can add it to allow it",
                self.allow.join(", ")
            ));
        }
        None
    }

    /// Whether a call of `kind` needs consent.
    pub fn needs_consent(&self, kind: ToolKind) -> bool {
        self.require_confirmation && kind != ToolKind::ReadOnly
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_shells() {
        let cases = [
            ("*", "anything", true),
            ("delete_*", "delete_company", true),
            ("delete_*", "undelete_company", false),
            ("*_company", "create_company", true),
            ("get_?ocument", "get_document", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("exact", "exact", true),
            ("exact", "exactly", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob_matches(pattern, name), expected, "{pattern} vs {name}");
        }
    }

    #[test]
    fn policy_explains_how_to_allow() {
        let policy = ToolPolicy {
            read_only: true,
            allow: vec![],
            deny: vec!["delete_*".into()],
            require_confirmation: true,
        };
        assert!(
            policy
                .withheld("consultar_empresa", ToolKind::ReadOnly)
                .is_none()
        );
        let refused = policy.withheld("create_company", ToolKind::Write).unwrap();
        assert!(refused.contains("MCP_READ_ONLY=false"), "{refused}");
        let policy = ToolPolicy {
            read_only: false,
            ..policy
        };
        let refused = policy
            .withheld("delete_company", ToolKind::Destructive)
            .unwrap();
        assert!(
            refused.contains("MCP_TOOLS_DENY (pattern `delete_*`)"),
            "{refused}"
        );
        let policy = ToolPolicy {
            allow: vec!["consultar_*".into()],
            deny: vec![],
            ..policy
        };
        assert!(
            policy
                .withheld("list_companies", ToolKind::ReadOnly)
                .unwrap()
                .contains("MCP_TOOLS_ALLOW")
        );
        assert!(policy.needs_consent(ToolKind::Write));
        assert!(!policy.needs_consent(ToolKind::ReadOnly));
    }
}
