//! One sync (RFC 9750 §5-§6): refresh the revocation list (RFC 9420 §5.3.2), join groups
//! from Welcomes (RFC 9420 §12.4.3.1), renew the certificate if due, apply every active
//! group's log through the [`crate::applier::LogApplier`], commit proposals others left
//! pending (RFC 9420 §12.4), and top up KeyPackages (RFC 9750 §5.1).

use super::{Client, SyncReport};
use crate::driver::commit::Op;
use crate::driver::{has_work_to_commit, load_group};
use crate::error::ClientError;
use crate::store::GroupStatus;

impl Client {
    /// Catches up: joins groups from Welcomes, applies every group's log in order, commits
    /// proposals others left pending, and tops up KeyPackages.
    pub async fn sync(&mut self) -> Result<SyncReport, ClientError> {
        let _lock = self.lock()?;
        let mut report = SyncReport::default();
        if let Err(e) = self.refresh_revocations().await {
            report
                .warnings
                .push(format!("using the last known revocation list: {e}"));
        }
        if self.options.partial {
            return self.sync_partial(report).await;
        }
        report.joined = self.driver().process_welcomes().await?;
        if let Err(e) = self.renew_credential_if_due(&mut report).await {
            report.warnings.push(format!(
                "could not renew the certificate (it stays valid until it expires): {e}"
            ));
        }
        for row in self.store.groups()? {
            if row.status != GroupStatus::Active {
                continue;
            }
            let progress = self.driver().sync_group_log(&row.group_id).await?;
            report.applied += progress.applied;
            report.messages += progress.messages;
            let Some(row) = self.store.group_by_id(&row.group_id)? else {
                continue;
            };
            if row.status == GroupStatus::Desynchronized {
                report.desynchronized.push(row.name.clone());
                continue;
            }
            if row.status != GroupStatus::Active {
                continue;
            }
            let group = load_group(&self.store, &self.env, &row)?;
            if has_work_to_commit(&group, self.options.replace_late_updates, self.now())
                && let Err(e) = self
                    .driver()
                    .run_commit(&row.group_id, &Op::CommitPending)
                    .await
            {
                report.warnings.push(format!(
                    "group {:?}: could not commit pending proposals: {e}",
                    row.name
                ));
            }
        }
        self.top_up_inner().await?;
        Ok(report)
    }

    /// [`Client::sync`] of a partial client (draft-ietf-mls-partial-02): Welcomes as
    /// AnnotatedWelcomes, every group's annotated log, KeyPackages topped up. No
    /// certificate renewal (it commits a new leaf) and no committing of pending proposals.
    async fn sync_partial(&mut self, mut report: SyncReport) -> Result<SyncReport, ClientError> {
        report.joined = self.driver().process_welcomes().await?;
        for row in self.store.groups()? {
            if row.status != GroupStatus::Active {
                continue;
            }
            let (applied, messages) = self.sync_partial_log(&row.group_id).await?;
            report.applied += applied;
            report.messages += messages;
            if let Some(row) = self.store.group_by_id(&row.group_id)?
                && row.status == GroupStatus::Desynchronized
            {
                report.desynchronized.push(row.name.clone());
            }
        }
        self.top_up_inner().await?;
        Ok(report)
    }
}
