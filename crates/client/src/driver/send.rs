//! Application messages (RFC 9420 §6.3: PrivateMessages) and leaving (a SelfRemove
//! proposal, draft-ietf-mls-extensions-10 §6.3, else a Remove proposal of our own leaf,
//! RFC 9420 §12.1.3).
//!
//! A message is encrypted, and the ratchet step is stored together with the text in the
//! outbox (keyed by the message's digest) before it is posted: a generation is never reused
//! (RFC 9420 §9.2), and if the DS's answer is lost the echo in the log is still shown as
//! ours, once. Pending proposals of others are committed before sending (RFC 9420 §12.4).

use conclave_core::messages::{Proposal, Remove};

use crate::OsRandom;
use crate::applier::encoded_digest;
use crate::delivery::DeliveryService;
use crate::error::ClientError;
use crate::store::{GroupStatus, HistoryEntry, StateWrite};

use super::commit::Op;
use super::{GroupDriver, has_foreign_proposals};
use crate::LeaveMechanism;

impl<D: DeliveryService> GroupDriver<'_, D> {
    /// Sends `text` to the group; returns its log position.
    pub(crate) async fn send(&mut self, group_id: &[u8], text: &str) -> Result<u64, ClientError> {
        let name = self.require_active_by_id(group_id)?.name;
        for _ in 0..self.options.max_attempts {
            self.settle_pending_commit(group_id).await?;
            let row = self.require_active_by_id(group_id)?;
            let mut state = self.load(&row)?;
            if has_foreign_proposals(&state) {
                self.run_commit(group_id, &Op::CommitPending).await?;
                continue;
            }
            let message = state.encrypt_application_message(text.as_bytes(), &[], &mut OsRandom)?;
            let sent = encoded_digest(&message)?;
            // The ratchet moved: save before sending so a generation is never reused.
            let write = StateWrite::of(&mut state, self.options.state_writes)?;
            self.store
                .save_state_and_outbox(group_id, &write, &sent, text)?;
            match self
                .ds
                .post_message(group_id, &message)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    self.store.record_sent(
                        group_id,
                        &HistoryEntry {
                            seq: accepted.seq,
                            epoch: state.epoch(),
                            sender: self.profile.name.clone(),
                            kind: "message".into(),
                            body: text.to_owned(),
                            at: self.now(),
                        },
                        &sent,
                    )?;
                    return Ok(accepted.seq);
                }
                Err(ClientError::WrongEpoch { .. }) => {
                    self.sync_group_log(group_id).await?;
                }
                // 404: the DS answers alike for a group it does not know and one the client
                // is not a member of (403 from older DS versions).
                Err(ClientError::Refused {
                    status: 403 | 404, ..
                }) => {
                    self.sync_group_log(group_id).await?;
                    self.require_active_by_id(group_id)?;
                    return Err(ClientError::GroupInactive {
                        group: name,
                        reason: "the Delivery Service refused the message: you are not a member"
                            .into(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }

    /// Sends `text` to the one member `user` as a targeted message
    /// (draft-ietf-mls-targeted-messages, in the group's profile's version), which the DS
    /// routes to that member only; returns its log position. A targeted message changes no
    /// state and uses no ratchet, so nothing is saved before it is posted; it is kept in our
    /// history as `private` once the DS took it.
    pub(crate) async fn send_to(
        &mut self,
        group_id: &[u8],
        user: &str,
        text: &str,
    ) -> Result<u64, ClientError> {
        for _ in 0..self.options.max_attempts {
            self.settle_pending_commit(group_id).await?;
            let row = self.require_active_by_id(group_id)?;
            let state = self.load(&row)?;
            let identity = self.env.identity.clone();
            let recipient = state
                .members()
                .find(|(_, leaf)| crate::names::leaf_name(identity.as_ref(), leaf) == user)
                .map(|(index, _)| index)
                .ok_or_else(|| ClientError::NotAMember {
                    group: row.name.clone(),
                    user: user.to_owned(),
                })?;
            let message = state.encrypt_targeted_message(
                recipient,
                text.as_bytes(),
                &[],
                0,
                &mut OsRandom,
            )?;
            match self
                .ds
                .post_targeted_message(group_id, &message, user)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    self.store.add_history(
                        group_id,
                        &HistoryEntry {
                            seq: accepted.seq,
                            epoch: state.epoch(),
                            sender: self.profile.name.clone(),
                            kind: crate::applier::PRIVATE_KIND.into(),
                            body: format!("(to {user}) {text}"),
                            at: self.now(),
                        },
                    )?;
                    return Ok(accepted.seq);
                }
                Err(ClientError::WrongEpoch { .. }) => {
                    self.sync_group_log(group_id).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }

    /// Leaves the group (a member cannot commit its own removal, RFC 9420 §12.4): with a
    /// SelfRemove proposal when the group is self-remove-capable and
    /// [`crate::ClientOptions::self_remove`] is on (draft-ietf-mls-extensions-10 §6.3: any
    /// later commit, an external joiner's too, removes us), else with a Remove proposal of
    /// our own leaf (RFC 9420 §12.1.3), which the next member to sync commits.
    pub(crate) async fn leave(&mut self, group_id: &[u8]) -> Result<LeaveMechanism, ClientError> {
        for _ in 0..self.options.max_attempts {
            self.settle_pending_commit(group_id).await?;
            let row = self.require_active_by_id(group_id)?;
            let mut state = self.load(&row)?;
            if state.members().count() <= 1 {
                let mechanism = LeaveMechanism::LastMember;
                self.store
                    .set_status(group_id, GroupStatus::Left, Some(mechanism.reason()))?;
                return Ok(mechanism);
            }
            let (mechanism, message) = if self.options.self_remove && state.is_self_remove_capable()
            {
                let message = state.self_remove(&[], &mut OsRandom)?;
                (LeaveMechanism::SelfRemove, message)
            } else {
                let own = state.own_leaf();
                let message = state.propose(
                    Proposal::Remove(Remove { removed: own }),
                    &[],
                    &mut OsRandom,
                )?;
                (LeaveMechanism::RemoveProposal, message)
            };
            self.save(group_id, &mut state)?;
            match self
                .ds
                .post_message(group_id, &message)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    let reason = mechanism.reason();
                    self.store.add_history(
                        group_id,
                        &HistoryEntry {
                            seq: accepted.seq,
                            epoch: state.epoch(),
                            sender: self.profile.name.clone(),
                            kind: "event".into(),
                            body: format!("{} asked to leave", self.profile.name),
                            at: self.now(),
                        },
                    )?;
                    self.store
                        .set_status(group_id, GroupStatus::Left, Some(reason))?;
                    return Ok(mechanism);
                }
                Err(ClientError::WrongEpoch { .. }) => {
                    self.sync_group_log(group_id).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }
}
