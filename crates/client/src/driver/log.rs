//! Applying a group's log (RFC 9750 §5.2): pages are read after the stored cursor, each
//! entry goes through the [`LogApplier`], and each step — state changes, cursor, status,
//! history, outbox — is stored in one SQLite transaction before its event is reported, so
//! a client killed at any point resumes exactly where it stopped. Entries delivered twice
//! are ignored by sequence number.

use crate::applier::{LogApplier, LogEntry, Outcome};
use crate::delivery::DeliveryService;
use crate::error::ClientError;
use crate::event::Event;
use crate::store::GroupStatus;

use super::GroupDriver;

/// What applying a log did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LogProgress {
    /// Entries applied.
    pub(crate) applied: u64,
    /// Application messages received (ours included, once).
    pub(crate) messages: u64,
}

impl<D: DeliveryService> GroupDriver<'_, D> {
    /// Applies the group's log after our cursor, in order, one entry per transaction.
    pub(crate) async fn sync_group_log(
        &mut self,
        group_id: &[u8],
    ) -> Result<LogProgress, ClientError> {
        let mut progress = LogProgress::default();
        let Some(row) = self.store.group_by_id(group_id)? else {
            return Ok(progress);
        };
        if row.status != GroupStatus::Active {
            return Ok(progress);
        }
        let group = self.load(&row)?;
        let mut applier = LogApplier::new(group, row.cursor, self.applier_config(&row.name));
        // Pages that were all delivered before in a row: after a few, stop for now without
        // concluding anything about the end of the log.
        let mut stale_pages = 0;
        loop {
            let page = match self
                .ds
                .read_log(group_id, applier.cursor(), self.options.page_size)
                .await
                .map_err(ClientError::from)
            {
                Ok(page) => page,
                // 404: the DS answers alike for a group it does not know and one the client
                // is not a member of (403 from older DS versions).
                Err(ClientError::Refused {
                    status: 403 | 404, ..
                }) => {
                    let reason = "removed from the group: the Delivery Service no longer \
                                  counts you as a member, and you hold no key for its new \
                                  epochs";
                    self.store
                        .set_status(group_id, GroupStatus::Removed, Some(reason))?;
                    self.emit(&Event::Removed {
                        group: row.name.clone(),
                        reason: reason.into(),
                    });
                    return Ok(progress);
                }
                Err(e) => return Err(e),
            };
            // Only entries after the cursor count: a page delivered again moves nothing.
            let before = applier.cursor();
            for view in &page {
                let now = self.now();
                let Some(step) = applier.apply(&LogEntry::from_view(view), now)? else {
                    continue;
                };
                let had_outbox =
                    self.store
                        .apply_entry(group_id, &step.state, &step.applied_entry())?;
                progress.applied += 1;
                let counted = match step.outcome {
                    Outcome::OwnMessage { .. } => had_outbox,
                    _ => step.is_message(),
                };
                if counted {
                    progress.messages += 1;
                }
                if let Some(event) = &step.event {
                    self.emit(event);
                }
                if applier.is_stopped() {
                    return Ok(progress);
                }
            }
            if page.is_empty() {
                break;
            }
            if applier.cursor() == before {
                stale_pages += 1;
                if stale_pages >= 3 {
                    return Ok(progress);
                }
            } else {
                stale_pages = 0;
            }
        }
        if let Some(step) = applier.end_of_log()? {
            self.store
                .apply_entry(group_id, &step.state, &step.applied_entry())?;
            if let Some(event) = &step.event {
                self.emit(event);
            }
        }
        Ok(progress)
    }
}
