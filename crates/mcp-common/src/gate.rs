//! Which tools are offered and what a call needs before it runs: the read-only mode, allow and
//! deny globs on tool names, and which tools need the user's consent.
//!
//! Consent follows a tool's effect, read from its MCP annotations: reads never ask; writes that
//! only add to the server's own store, idempotently (an agent's memory, a document index), do not
//! ask by default; writes that change a system of record or reach people, and destructive tools,
//! do. The operator moves that line with `MCP_CONFIRM` and per-tool globs.

use rmcp::model::Tool;

/// What a tool does to the world, from its MCP annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolKind {
    /// Reads only (`readOnlyHint: true`).
    ReadOnly,
    /// Adds to the server's own store and repeating it changes nothing more: an agent's memory,
    /// a document index (`readOnlyHint: false, destructiveHint: false, idempotentHint: true,
    /// openWorldHint: false`).
    LocalWrite,
    /// Changes data but destroys nothing, beyond what [`ToolKind::LocalWrite`] covers: writes
    /// to an external system of record, sends, or writes that are not idempotent
    /// (`readOnlyHint: false, destructiveHint: false`).
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
            (false, Some(false))
                if annotations.idempotent_hint == Some(true)
                    && annotations.open_world_hint == Some(false) =>
            {
                Some(ToolKind::LocalWrite)
            }
            (false, Some(false)) => Some(ToolKind::Write),
            (false, Some(true)) => Some(ToolKind::Destructive),
            (false, None) => None,
        }
    }

    /// `read-only`, `local write`, `write` or `destructive`.
    pub fn label(self) -> &'static str {
        match self {
            ToolKind::ReadOnly => "read-only",
            ToolKind::LocalWrite => "local write",
            ToolKind::Write => "write",
            ToolKind::Destructive => "destructive",
        }
    }
}

/// Matches `name` against a glob of `*` (any run of characters) and `?` (one character).
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    // Names and patterns are nearly always ASCII: match their bytes without collecting them
    // (this runs for every field of every record some servers read).
    if pattern.is_ascii() && name.is_ascii() {
        return glob_matches_units(pattern.as_bytes(), name.as_bytes(), b'*', b'?');
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    glob_matches_units(&pattern, &name, '*', '?')
}

/// [`glob_matches`] over characters or bytes.
fn glob_matches_units<T: PartialEq + Copy>(pattern: &[T], name: &[T], star: T, one: T) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(&c) if c == star => {
                backtrack = Some((p, n));
                p += 1;
            }
            Some(&c) if c == one || c == name[n] => {
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
    pattern[p..].iter().all(|&c| c == star)
}

/// Which kinds of tools need the user's consent (`MCP_CONFIRM`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmLevel {
    /// Every tool that is not read-only, local writes included (`all`).
    All,
    /// Writes beyond the server's own additive store, and destructive tools (`external`, the
    /// default).
    External,
    /// Destructive tools only (`destructive`).
    Destructive,
    /// Nothing asks (`none`): for trusted automation.
    None,
}

impl ConfirmLevel {
    /// The values `MCP_CONFIRM` accepts, as the error message lists them.
    pub const EXPECTED: &'static str = "one of all, external, destructive, none";

    /// Parses `MCP_CONFIRM`'s value.
    pub fn parse(raw: &str) -> Option<ConfirmLevel> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "all" => Some(ConfirmLevel::All),
            "external" => Some(ConfirmLevel::External),
            "destructive" => Some(ConfirmLevel::Destructive),
            "none" => Some(ConfirmLevel::None),
            _ => None,
        }
    }

    /// Whether a tool of `kind` needs consent at this level.
    pub fn covers(self, kind: ToolKind) -> bool {
        match (self, kind) {
            (_, ToolKind::ReadOnly) | (ConfirmLevel::None, _) => false,
            (ConfirmLevel::All, _) => true,
            (ConfirmLevel::External, kind) => kind != ToolKind::LocalWrite,
            (ConfirmLevel::Destructive, kind) => kind == ToolKind::Destructive,
        }
    }
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
    /// Which kinds of tools need consent.
    pub confirm: ConfirmLevel,
    /// Tools matching one of these globs need consent whatever their kind (read-only tools
    /// excepted); this wins over `no_confirm_tools`.
    pub confirm_tools: Vec<String>,
    /// Tools matching one of these globs never need consent.
    pub no_confirm_tools: Vec<String>,
}

impl Default for ToolPolicy {
    /// Every tool offered, consent at the default level.
    fn default() -> ToolPolicy {
        ToolPolicy {
            read_only: false,
            allow: Vec::new(),
            deny: Vec::new(),
            confirm: ConfirmLevel::External,
            confirm_tools: Vec::new(),
            no_confirm_tools: Vec::new(),
        }
    }
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

    /// Whether a call of `tool`, of `kind`, needs consent.
    pub fn needs_consent(&self, tool: &str, kind: ToolKind) -> bool {
        if kind == ToolKind::ReadOnly {
            return false;
        }
        if self.confirm_tools.iter().any(|p| glob_matches(p, tool)) {
            return true;
        }
        if self.no_confirm_tools.iter().any(|p| glob_matches(p, tool)) {
            return false;
        }
        self.confirm.covers(kind)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

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
            // Not ASCII: `?` is one character, not one byte.
            ("caf?", "café", true),
            ("caf??", "café", false),
            ("*ñ*", "compañía", true),
            ("compa?ía", "compañía", true),
            ("a?c", "añc", true),
            ("ñ", "n", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob_matches(pattern, name), expected, "{pattern} vs {name}");
        }
    }

    #[test]
    fn policy_explains_how_to_allow() {
        let policy = ToolPolicy {
            read_only: true,
            deny: vec!["delete_*".into()],
            ..ToolPolicy::default()
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
        assert!(policy.needs_consent("create_company", ToolKind::Write));
        assert!(!policy.needs_consent("list_companies", ToolKind::ReadOnly));
    }

    #[test]
    fn kinds_come_from_all_four_annotations() {
        use rmcp::model::ToolAnnotations;
        let kind = |read_only, destructive, idempotent, open_world| {
            let mut annotations = ToolAnnotations::new().read_only(read_only);
            annotations.destructive_hint = destructive;
            annotations.idempotent_hint = idempotent;
            annotations.open_world_hint = open_world;
            let tool = Tool::new("t", "t", Arc::new(Default::default())).annotate(annotations);
            ToolKind::of(&tool)
        };
        let cases = [
            (true, None, None, None, Some(ToolKind::ReadOnly)),
            (
                false,
                Some(false),
                Some(true),
                Some(false),
                Some(ToolKind::LocalWrite),
            ),
            // Unstated idempotence or world: assume the wider effect.
            (false, Some(false), None, Some(false), Some(ToolKind::Write)),
            (false, Some(false), Some(true), None, Some(ToolKind::Write)),
            (
                false,
                Some(false),
                Some(true),
                Some(true),
                Some(ToolKind::Write),
            ),
            (
                false,
                Some(false),
                Some(false),
                Some(false),
                Some(ToolKind::Write),
            ),
            (
                false,
                Some(true),
                Some(true),
                Some(false),
                Some(ToolKind::Destructive),
            ),
            (false, None, None, None, None),
        ];
        for (read_only, destructive, idempotent, open_world, expected) in cases {
            assert_eq!(
                kind(read_only, destructive, idempotent, open_world),
                expected,
                "{read_only} {destructive:?} {idempotent:?} {open_world:?}"
            );
        }
    }

    #[test]
    fn confirmation_levels_and_globs() {
        use ToolKind::*;
        let table = [
            (ConfirmLevel::All, [false, true, true, true]),
            (ConfirmLevel::External, [false, false, true, true]),
            (ConfirmLevel::Destructive, [false, false, false, true]),
            (ConfirmLevel::None, [false, false, false, false]),
        ];
        for (level, expected) in table {
            let policy = ToolPolicy {
                confirm: level,
                ..ToolPolicy::default()
            };
            let got =
                [ReadOnly, LocalWrite, Write, Destructive].map(|k| policy.needs_consent("x", k));
            assert_eq!(got, expected, "{level:?}");
        }
        let policy = ToolPolicy {
            confirm_tools: vec!["store".into(), "send_*".into()],
            no_confirm_tools: vec!["send_*".into(), "update_*".into()],
            ..ToolPolicy::default()
        };
        assert!(
            policy.needs_consent("store", LocalWrite),
            "MCP_CONFIRM_TOOLS adds"
        );
        assert!(
            policy.needs_consent("send_sms", Write),
            "MCP_CONFIRM_TOOLS wins over MCP_NO_CONFIRM_TOOLS"
        );
        assert!(
            !policy.needs_consent("update_company", Destructive),
            "MCP_NO_CONFIRM_TOOLS lifts"
        );
        assert!(!policy.needs_consent("store", ReadOnly), "reads never ask");
        assert_eq!(
            ConfirmLevel::parse(" External "),
            Some(ConfirmLevel::External)
        );
        assert_eq!(ConfirmLevel::parse("sometimes"), None);
    }
}
