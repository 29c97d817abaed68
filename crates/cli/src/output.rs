//! Human and JSON output of the CLI: readable lines by default, one JSON value per line with
//! `--json` (for scripts and the demo), progress bars on a terminal only.

use std::io::{IsTerminal as _, Write as _};

use conclave_client::{ClientError, Event, GroupSummary, HistoryEntry, SyncReport};
use indicatif::{ProgressBar, ProgressStyle};

/// Where and how results are printed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    pub(crate) fn flush(&self) {
        let _ = std::io::stdout().flush();
    }

    /// A result: `value` with `--json`, `text` otherwise.
    pub(crate) fn value(&self, value: &serde_json::Value, text: &str) {
        if self.json {
            self.line(&value.to_string());
        } else {
            self.line(text);
        }
    }

    /// A remark for humans (stderr with `--json`, so stdout stays parseable).
    pub(crate) fn note(&self, text: &str) {
        if self.json {
            eprintln!("{text}");
        } else {
            self.line(text);
        }
    }

    pub(crate) fn error(&self, error: &anyhow::Error) {
        let mut text = error.to_string();
        for cause in error.chain().skip(1) {
            let cause = cause.to_string();
            if !text.contains(&cause) {
                text.push_str(": ");
                text.push_str(&cause);
            }
        }
        let hint = error
            .chain()
            .find_map(|e| e.downcast_ref::<ClientError>())
            .and_then(command_hint);
        if self.json {
            let value = match &hint {
                Some(hint) => serde_json::json!({ "error": text, "hint": hint }),
                None => serde_json::json!({ "error": text }),
            };
            self.line(&value.to_string());
        }
        eprintln!("error: {text}");
        if let Some(hint) = hint {
            eprintln!("hint: {hint}");
        }
    }

    /// A progress bar on stderr when it is a terminal and output is for humans.
    pub(crate) fn progress_bar(&self) -> Option<ProgressBar> {
        if self.json || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new(1);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg:24} [{bar:30}] {pos}/{len} {elapsed}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        Some(bar)
    }

    /// A spinner on stderr for an operation of unknown length (a sync that may join large
    /// groups), when stderr is a terminal and output is for humans.
    pub(crate) fn spinner(&self, message: &'static str) -> Option<ProgressBar> {
        if self.json || !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new_spinner();
        bar.set_message(message);
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Some(bar)
    }

    pub(crate) fn event(&self, event: &Event) {
        if self.json {
            if let Ok(text) = serde_json::to_string(event) {
                self.line(&text);
            }
            return;
        }
        let text = match event {
            Event::Message {
                group,
                sender,
                text,
                ..
            } => format!("[{group}] {sender}: {text}"),
            Event::Joined { group, members, .. } => {
                format!("[{group}] you joined (members: {})", members.join(", "))
            }
            Event::JoinFailed { reason } => format!("could not join a group: {reason}"),
            Event::Membership {
                group, text, epoch, ..
            } => {
                format!("[{group}] {text} (epoch {epoch})")
            }
            Event::Proposal { group, text, .. } => format!("[{group}] {text}"),
            Event::Removed { group, reason } => format!("[{group}] {reason}"),
            Event::Desynchronized {
                group,
                epoch,
                reason,
            } => format!("[{group}] OUT OF SYNC at epoch {epoch}: {reason}"),
            Event::Undecryptable {
                group, seq, reason, ..
            } => format!("[{group}] message {seq} cannot be read: {reason}"),
            Event::CredentialRenewed {
                valid_until,
                groups,
            } => format!(
                "renewed the certificate (valid until {valid_until}, Unix time); told {groups} group(s)"
            ),
            Event::KeyPackagesPublished { count, last_resort } => {
                if *last_resort {
                    "published a last-resort KeyPackage".to_owned()
                } else {
                    format!("published {count} KeyPackages")
                }
            }
            _ => format!("{event:?}"),
        };
        self.line(&text);
    }

    pub(crate) fn sync_report(&self, report: &SyncReport) {
        if self.json {
            let mut value = serde_json::to_value(report).unwrap_or_default();
            if let Some(map) = value.as_object_mut() {
                map.insert("event".into(), "synced".into());
            }
            self.line(&value.to_string());
            return;
        }
        for warning in &report.warnings {
            eprintln!("warning: {warning}");
        }
        self.line(&format!(
            "synced: {} new messages, {} groups joined",
            report.messages, report.joined
        ));
    }

    pub(crate) fn groups(&self, groups: &[GroupSummary]) {
        if self.json {
            self.line(&serde_json::to_string(groups).unwrap_or_default());
            return;
        }
        if groups.is_empty() {
            self.line("no groups yet: `conclave group create <name>`");
        }
        for g in groups {
            let status = match &g.reason {
                Some(reason) => format!("{:?}: {reason}", g.status).to_lowercase(),
                None => format!("{:?}", g.status).to_lowercase(),
            };
            let topic = g
                .topic
                .as_ref()
                .map(|t| format!("  topic: {t:?}"))
                .unwrap_or_default();
            self.line(&format!(
                "{}  epoch {}  members: {}{topic}  ({status})  handshakes: {}  member proofs: {}  \
                 tree: {}",
                g.name,
                g.epoch,
                g.members.join(", "),
                g.handshakes,
                if g.member_proofs { "on" } else { "off" },
                if g.tree_on_ds {
                    "on the DS"
                } else {
                    "in Welcomes"
                }
            ));
        }
    }

    pub(crate) fn history(&self, group: &str, entries: &[HistoryEntry]) {
        if self.json {
            self.line(&serde_json::to_string(entries).unwrap_or_default());
            return;
        }
        for e in entries {
            let text = match e.kind.as_str() {
                "message" => format!("{:>5}  {}: {}", e.seq, e.sender, e.body),
                "private" => format!("{:>5}  {} (privately): {}", e.seq, e.sender, e.body),
                "undecryptable" => {
                    format!("{:>5}  (unreadable from {}: {})", e.seq, e.sender, e.body)
                }
                _ => format!("{:>5}  * {}", e.seq, e.body),
            };
            self.line(&text);
        }
        if entries.is_empty() {
            self.line(&format!("no history in {group} yet"));
        }
    }
}

/// The `conclave` command that gets the user out of a library error, if there is one: the
/// client library's errors speak of its operations, the CLI names its commands.
fn command_hint(error: &ClientError) -> Option<String> {
    Some(match error {
        ClientError::NotRegistered(_) => "run `conclave register <name>` first".into(),
        ClientError::AlreadyRegistered(_) => "use another --home for a second user".into(),
        ClientError::UnknownGroup(_) => "`conclave group list` shows your groups".into(),
        ClientError::Desynchronized { group, .. } => format!(
            "a member who is in step runs `conclave group remove {group} <you>`, then \
             `conclave group add {group} <you>`"
        ),
        ClientError::Group(conclave_client::policy::GroupError::Policy(_)) => {
            "your role in the group does not allow this: `conclave group role <group>` shows \
             the roles; someone whose role may make the change runs it"
                .into()
        }
        ClientError::UnknownRole { .. } | ClientError::NoRoomPolicy => {
            "roles come from `conclave group create <name> --policy <preset>`".into()
        }
        ClientError::TreeOnDsNeedsReadableHandshakes => {
            "`conclave group create <name> --tree-on-ds` with `--handshakes semiprivate` (the \
             default) or `--handshakes public`, or without --tree-on-ds"
                .into()
        }
        ClientError::PartialMember { .. } => {
            "a member registered without --partial runs it; to do it yourself, run \
             `conclave --home <another directory> register <name>` (a full client) and have \
             a member add that client"
                .into()
        }
        ClientError::Unreachable { .. } => {
            "`conclave devnet` starts a Delivery Service and an Authentication Service locally"
                .into()
        }
        _ => return None,
    })
}
