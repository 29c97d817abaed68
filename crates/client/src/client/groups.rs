//! The user's group operations (RFC 9420 §11-§12): creating a group and registering it with
//! the DS, listing groups and their history, and adding, removing, updating, setting the topic
//! (draft-ietf-mls-extensions-10 §4.7), leaving and sending — each under the profile lock, run
//! by the [`crate::driver::GroupDriver`].

use std::collections::HashSet;

use conclave_codec::{Decode as _, Encode as _};
use conclave_core::group::{Group, GroupConfig, MemberParams, NewGroup, ProcessedMessage};
use conclave_core::messages::MlsMessage;
use conclave_core::ratchet_tree_options::RatchetTreeLocation;

use super::{Client, GroupSummary, NewGroupOptions};
use crate::LeaveMechanism;
use crate::OsRandom;
use crate::driver::commit::Op;
use crate::driver::{group_config, inactive_error, leaf_options, load_group};
use crate::error::{BadResponse, ClientError};
use crate::names::{check_name, member_names};
use crate::store::{GroupRow, GroupStatus, HistoryEntry, StateWrite};

/// Length of the random group ids we create, bytes.
const GROUP_ID_LEN: usize = 16;

impl Client {
    pub(super) fn load_group(&self, row: &GroupRow) -> Result<Group, ClientError> {
        load_group(&self.store, &self.env, row)
    }

    fn member_list(&self, group: &Group) -> Vec<String> {
        member_names(self.env.identity.as_ref(), group)
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    }

    pub(super) fn group_row(&self, name: &str) -> Result<GroupRow, ClientError> {
        self.store
            .group_by_name(name)?
            .ok_or_else(|| ClientError::UnknownGroup(name.to_owned()))
    }

    pub(super) fn require_active(&self, name: &str) -> Result<GroupRow, ClientError> {
        let row = self.group_row(name)?;
        if row.status == GroupStatus::Active {
            Ok(row)
        } else {
            let epoch = if self.options.partial {
                self.load_partial(&row).map(|m| m.epoch()).unwrap_or(0)
            } else {
                self.load_group(&row).map(|g| g.epoch()).unwrap_or(0)
            };
            Err(inactive_error(&row, epoch))
        }
    }

    fn summary(&self, row: &GroupRow) -> GroupSummary {
        if self.options.partial {
            return self.partial_summary(row);
        }
        let group = self.load_group(row).ok();
        GroupSummary {
            name: row.name.clone(),
            group_id: hex::encode(&row.group_id),
            epoch: group.as_ref().map_or(0, Group::epoch),
            members: group
                .as_ref()
                .map(|g| self.member_list(g))
                .unwrap_or_default(),
            topic: group
                .as_ref()
                .and_then(|g| crate::topic::topic_of(g).ok().flatten()),
            status: row.status,
            reason: row.reason.clone(),
            cursor: row.cursor,
            handshakes: group
                .as_ref()
                .map_or_else(Default::default, crate::handshakes::mode_of_group),
            member_proofs: group
                .as_ref()
                .is_some_and(|g| g.member_proofs_enabled().unwrap_or(false)),
            tree_on_ds: group.as_ref().is_some_and(|g| {
                g.config().ratchet_tree_location == RatchetTreeLocation::DeliveryService
            }),
        }
    }

    /// Creates a group named `name` with us as its only member (RFC 9420 §11), in the
    /// handshake mode of [`crate::ClientOptions::handshakes`], and registers it with the DS.
    pub async fn create_group(&mut self, name: &str) -> Result<GroupSummary, ClientError> {
        let mode = self.options.handshakes;
        self.create_group_with(name, mode).await
    }

    /// Creates a group named `name` whose handshakes travel in `mode`
    /// ([`crate::handshakes`]): for `semiprivate` the DS's external receiver for our suite
    /// is fetched and listed in the group (draft-mahy-mls-semiprivatemessage-07 §3).
    pub async fn create_group_with(
        &mut self,
        name: &str,
        mode: crate::HandshakeMode,
    ) -> Result<GroupSummary, ClientError> {
        self.create_group_with_policy(name, mode, None).await
    }

    /// Creates a group as [`Client::create_group_with`] does, with the roles of `policy`
    /// (draft-ietf-mimi-room-policy-04, [`crate::policy`]) and us in the preset's creator
    /// role; `None`: no room policy (every member may add and remove).
    pub async fn create_group_with_policy(
        &mut self,
        name: &str,
        mode: crate::HandshakeMode,
        policy: Option<conclave_core::group::policy::Preset>,
    ) -> Result<GroupSummary, ClientError> {
        self.create_group_with_options(
            name,
            &NewGroupOptions {
                handshakes: mode,
                policy,
                tree_on_ds: false,
                allow_external_joins: false,
            },
        )
        .await
    }

    /// Creates a group as [`Client::create_group_with_policy`] does, and with
    /// [`NewGroupOptions::tree_on_ds`] one whose ratchet tree the DS holds
    /// (draft-ietf-mls-ratchet-tree-options-00 §3 `distributionService`): Welcomes and
    /// GroupInfos leave the tree out and joiners fetch it from the DS. Refused for private
    /// handshakes, which the DS cannot follow.
    pub async fn create_group_with_options(
        &mut self,
        name: &str,
        options: &NewGroupOptions,
    ) -> Result<GroupSummary, ClientError> {
        let mode = options.handshakes;
        let policy = options.policy;
        if options.tree_on_ds && mode == crate::HandshakeMode::Private {
            return Err(ClientError::TreeOnDsNeedsReadableHandshakes);
        }
        let _lock = self.lock()?;
        self.refuse_if_partial("create a group")?;
        check_name(name)?;
        if self.store.group_by_name(name)?.is_some() {
            return Err(ClientError::GroupNameTaken(name.to_owned()));
        }
        let receiver = match mode {
            crate::HandshakeMode::SemiPrivate => {
                Some(self.ds.external_receiver(self.suite()).await?)
            }
            crate::HandshakeMode::Public | crate::HandshakeMode::Private => None,
        };
        // An opaque random id (RFC 9420 §8.1 leaves group ids to the application): the name
        // stays in our store, and reaches joiners only inside Welcomes.
        let mut group_id = vec![0u8; GROUP_ID_LEN];
        conclave_crypto::CryptoRandom::fill(&mut OsRandom, &mut group_id)?;
        let mut new_group = NewGroup::new(self.suite(), group_id.clone());
        if self.options.member_proofs {
            new_group = new_group.with_member_proofs()?;
        }
        let signer = self.driver().signer()?;
        let creator = self
            .env
            .identity
            .identity(&signer.credential)
            .map_err(|e| ClientError::Group(e.into()))?;
        let mut group = Group::create(
            MemberParams {
                config: GroupConfig {
                    handshake_wire_format: mode.wire_format(),
                    ratchet_tree_location: if options.tree_on_ds {
                        RatchetTreeLocation::DeliveryService
                    } else {
                        RatchetTreeLocation::GroupInfo
                    },
                    ..group_config()
                },
                leaf: leaf_options(
                    self.suite(),
                    self.env.identity.as_ref(),
                    self.options.self_remove,
                ),
                components: crate::topic::components(),
                ..MemberParams::new(self.env.clone(), self.driver().signer()?)
            },
            crate::policy::new_group(
                crate::handshakes::new_group(new_group, mode, receiver)?,
                policy,
                &creator,
            )?,
            self.now(),
            &mut OsRandom,
        )?;
        // Public and semi-private handshakes can be verified by the DS: it gets the first
        // GroupInfo and keeps the member list from the handshakes (RFC 9750 §5).
        let verified = match mode {
            crate::HandshakeMode::Public | crate::HandshakeMode::SemiPrivate => {
                Some(group.group_info(true)?.to_bytes()?)
            }
            crate::HandshakeMode::Private => None,
        };
        // draft-mahy-mls-member-proof-00: the DS learns the epoch-0 key here, later keys from
        // our members' commits.
        let registration = group.member_proof_public_key().map(|key| {
            conclave_api::delivery::MemberProofRegistration::new(self.suite().0, key.as_ref())
        });
        // draft-ietf-mls-ratchet-tree-options-00 §3: the GroupInfo says `distributionService`,
        // so the DS gets the first tree beside it.
        let tree_on_ds = options
            .tree_on_ds
            .then(|| group.tree().nodes_to_bytes())
            .transpose()?;
        self.ds
            .create_group_registered(
                &group_id,
                verified.as_deref(),
                tree_on_ds.as_deref(),
                registration,
                options.allow_external_joins,
            )
            .await?;
        let row = GroupRow {
            group_id,
            name: name.to_owned(),
            cursor: 0,
            status: GroupStatus::Active,
            reason: None,
        };
        let state = StateWrite::of(&mut group, self.options.state_writes)?;
        self.store.insert_group(&row, &state)?;
        Ok(self.summary(&row))
    }

    /// Joins the group `group_id` by an external commit (RFC 9420 §12.4.3.2), under the local
    /// name `name`: the DS serves the group's GroupInfo to us when the group allows external
    /// joins. The tree comes with it; in a group whose tree the DS holds
    /// (draft-ietf-mls-ratchet-tree-options-00 §3 `distributionService`) it is the DS's, and
    /// either way `conclave-core` checks it against the GroupInfo's tree hash. Pending
    /// SelfRemove proposals the DS attached are committed too (draft-ietf-mls-extensions-10
    /// §6.3). If another commit wins the epoch, the DS refuses ours: try again.
    pub async fn join_external(
        &mut self,
        group_id: &[u8],
        name: &str,
    ) -> Result<GroupSummary, ClientError> {
        let _lock = self.lock()?;
        self.refuse_if_partial("join by external commit")?;
        check_name(name)?;
        if self.store.group_by_name(name)?.is_some() {
            return Err(ClientError::GroupNameTaken(name.to_owned()));
        }
        let bundle = self.ds.external_join(group_id).await?;
        let conclave_core::messages::MlsMessageBody::GroupInfo(info) = &bundle.group_info.body
        else {
            return Err(ClientError::bad(
                "the Delivery Service",
                BadResponse::Mls("the external-join bundle holds no GroupInfo".into()),
            ));
        };
        let mut ratchet_tree = bundle
            .ratchet_tree
            .as_deref()
            .map(conclave_core::messages::RatchetTreeNodes::from_bytes)
            .transpose()?;
        if ratchet_tree.is_none()
            && RatchetTreeLocation::of_group_info(&info.extensions)
                .map_err(|e| ClientError::Group(e.into()))?
                == RatchetTreeLocation::DeliveryService
        {
            ratchet_tree = Some(self.ds.ratchet_tree(group_id).await?);
        }
        let (mut group, output) = Group::join_external(
            MemberParams {
                config: group_config(),
                leaf: leaf_options(
                    self.suite(),
                    self.env.identity.as_ref(),
                    self.options.self_remove,
                ),
                components: crate::topic::components(),
                ..MemberParams::new(self.env.clone(), self.driver().signer()?)
            },
            info,
            &conclave_core::group::JoinOptions {
                ratchet_tree,
                self_removes: bundle.self_removes.clone(),
                ..conclave_core::group::JoinOptions::default()
            },
            self.now(),
            &mut OsRandom,
        )?;
        crate::handshakes::follow(&mut group)?;
        let members = self.member_list(&group);
        let accepted = self
            .ds
            .post_commit(
                group_id,
                &conclave_api::delivery::CommitBundle {
                    commit: output.commit,
                    welcome: None,
                    group_info: output.group_info,
                    ratchet_tree: None,
                    members: members.into_iter().map(String::into_bytes).collect(),
                    allow_external_join: None,
                },
            )
            .await?;
        let row = GroupRow {
            group_id: group_id.to_vec(),
            name: name.to_owned(),
            // Our commit is in the log at `seq`; we are in the epoch it made.
            cursor: accepted.seq,
            status: GroupStatus::Active,
            reason: None,
        };
        let state = StateWrite::of(&mut group, self.options.state_writes)?;
        self.store.insert_group(&row, &state)?;
        Ok(self.summary(&row))
    }

    /// Every group we know, by name.
    pub fn groups(&self) -> Result<Vec<GroupSummary>, ClientError> {
        Ok(self
            .store
            .groups()?
            .iter()
            .map(|row| self.summary(row))
            .collect())
    }

    /// One group.
    pub fn group(&self, name: &str) -> Result<GroupSummary, ClientError> {
        Ok(self.summary(&self.group_row(name)?))
    }

    /// The history of a group, in log order.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, ClientError> {
        let row = self.group_row(name)?;
        self.store.history(&row.group_id)
    }

    /// Adds `users` to the group in one commit (claiming one KeyPackage each, checking their
    /// credentials first; RFC 9420 §12.1.1). Users already in the group are skipped. Returns
    /// the users added.
    pub async fn add_members(
        &mut self,
        group: &str,
        users: &[String],
    ) -> Result<Vec<String>, ClientError> {
        let _lock = self.lock()?;
        self.refuse_if_partial("add members")?;
        for user in users {
            check_name(user)?;
        }
        let row = self.require_active(group)?;
        // Fail closed: a revoked client must not be added because the list was stale.
        self.refresh_revocations().await?;
        let before: HashSet<String> = self
            .member_list(&self.load_group(&row)?)
            .into_iter()
            .collect();
        self.driver()
            .run_commit(&row.group_id, &Op::Add(users.to_vec()))
            .await?;
        let row = self.group_row(group)?;
        let after = self.member_list(&self.load_group(&row)?);
        Ok(after
            .into_iter()
            .filter(|n| !before.contains(n) && users.contains(n))
            .collect())
    }

    /// Removes `users` from the group in one commit (RFC 9420 §12.1.3).
    pub async fn remove_members(
        &mut self,
        group: &str,
        users: &[String],
    ) -> Result<Vec<String>, ClientError> {
        let _lock = self.lock()?;
        self.refuse_if_partial("remove members")?;
        let row = self.require_active(group)?;
        let members = self.member_list(&self.load_group(&row)?);
        for user in users {
            if user == &self.profile.name {
                return Err(ClientError::CannotAdd {
                    user: user.clone(),
                    reason: "a member cannot commit its own removal (RFC 9420 §12.4): use \
                             `conclave group leave`"
                        .into(),
                });
            }
            if !members.contains(user) {
                return Err(ClientError::NotAMember {
                    user: user.clone(),
                    group: group.to_owned(),
                });
            }
        }
        self.driver()
            .run_commit(&row.group_id, &Op::Remove(users.to_vec()))
            .await?;
        let row = self.group_row(group)?;
        let after: HashSet<String> = self
            .member_list(&self.load_group(&row)?)
            .into_iter()
            .collect();
        Ok(users
            .iter()
            .filter(|u| !after.contains(*u))
            .cloned()
            .collect())
    }

    /// Refreshes our keys in the group with an empty commit carrying an UpdatePath
    /// (RFC 9420 §12.4: post-compromise security); commits pending proposals too. Returns
    /// the new epoch.
    pub async fn update_keys(&mut self, group: &str) -> Result<u64, ClientError> {
        let _lock = self.lock()?;
        self.refuse_if_partial("update keys (a commit)")?;
        let row = self.require_active(group)?;
        self.driver().run_commit(&row.group_id, &Op::Update).await?;
        self.epoch(group)
    }

    /// Sets the group topic (`Some`) or clears it (`None`) with a commit carrying an
    /// AppDataUpdate of the topic component by value (draft-ietf-mls-extensions-10 §4.7,
    /// [`crate::topic`]), retried like every commit when another one wins the epoch; pending
    /// proposals are committed with it (RFC 9420 §12.4). A topic longer than
    /// [`crate::topic::CONCLAVE_TOPIC_MAX_BYTES`] bytes is refused before anything is sent,
    /// and so is a change when a member's client does not support topics. The group's log is
    /// applied first, so that the change is decided on the latest topic. Returns whether a
    /// commit was made (`false`: the topic was `topic` already).
    pub async fn set_topic(
        &mut self,
        group: &str,
        topic: Option<&str>,
    ) -> Result<bool, ClientError> {
        if let Some(text) = topic {
            crate::topic::check_new_topic(text)?;
        }
        let _lock = self.lock()?;
        self.refuse_if_partial("set the topic (a commit)")?;
        let row = self.require_active(group)?;
        // Whether there is anything to change depends on the latest topic: catch up first.
        self.driver().sync_group_log(&row.group_id).await?;
        let committed = self
            .driver()
            .run_commit(&row.group_id, &Op::SetTopic(topic.map(str::to_owned)))
            .await?;
        Ok(committed.is_some())
    }

    /// The group's topic ([`crate::topic`]), if it has one.
    pub fn topic(&self, group: &str) -> Result<Option<String>, ClientError> {
        let row = self.group_row(group)?;
        if self.options.partial {
            return crate::topic::topic_in_context(&self.load_partial(&row)?.context().extensions);
        }
        crate::topic::topic_of(&self.load_group(&row)?)
    }

    /// Leaves the group, and says how: with a SelfRemove proposal when every member's leaf
    /// lists it (draft-ietf-mls-extensions-10 §6.3: the next commit by any member, or an
    /// external joiner, removes us), else with a Remove proposal of our own leaf, which the
    /// next member to sync commits (RFC 9420 §12.1.3, §12.4: a member cannot commit its own
    /// removal); or at once if we were the last member. The group is marked left either way.
    pub async fn leave(&mut self, group: &str) -> Result<LeaveMechanism, ClientError> {
        let _lock = self.lock()?;
        let row = self.require_active(group)?;
        if self.options.partial {
            return self.leave_partial(&row).await;
        }
        self.driver().leave(&row.group_id).await
    }

    /// Sends `text` to the group as an application message (a PrivateMessage, RFC 9420
    /// §6.3). Pending proposals are committed first (RFC 9420 §12.4). Returns the log
    /// position.
    pub async fn send(&mut self, group: &str, text: &str) -> Result<u64, ClientError> {
        let _lock = self.lock()?;
        let row = self.require_active(group)?;
        if self.options.partial {
            return self.send_partial(&row, text).await;
        }
        self.driver().send(&row.group_id, text).await
    }

    /// Sends `text` to the one member `user` of the group as a private aside: a targeted
    /// message (draft-ietf-mls-targeted-messages) that only `user` can read and that the
    /// DS shows to `user` only. Returns the log position.
    pub async fn send_to(
        &mut self,
        group: &str,
        user: &str,
        text: &str,
    ) -> Result<u64, ClientError> {
        let _lock = self.lock()?;
        self.refuse_if_partial("send a private aside (a targeted message)")?;
        check_name(user)?;
        let row = self.require_active(group)?;
        self.driver().send_to(&row.group_id, user, text).await
    }

    /// Tries to decrypt `message` (an `MLSMessage`) with our state of the group, without
    /// keeping any change. Shows what a member — or a former member — can read.
    pub fn try_decrypt(&self, group: &str, message: &[u8]) -> Result<String, ClientError> {
        self.refuse_if_partial("decrypt a bare MLSMessage (it needs its sender's proof)")?;
        let row = self.group_row(group)?;
        let mut state = self.load_group(&row)?;
        let message = MlsMessage::from_bytes(message)?;
        match state.process_message(&message, self.now())? {
            ProcessedMessage::Application { data, .. } => {
                Ok(String::from_utf8_lossy(&data).into_owned())
            }
            _ => Err(ClientError::bad(
                "the Delivery Service",
                BadResponse::Mls("not an application message".into()),
            )),
        }
    }

    /// Our epoch in a group.
    pub fn epoch(&self, group: &str) -> Result<u64, ClientError> {
        let row = self.group_row(group)?;
        if self.options.partial {
            return Ok(self.load_partial(&row)?.epoch());
        }
        Ok(self.load_group(&row)?.epoch())
    }

    /// `MLS-Exporter(label, context, length)` of the group's current epoch (RFC 9420 §8.5):
    /// members in the same epoch, full or partial, get the same bytes.
    pub fn export_secret(
        &self,
        group: &str,
        label: &str,
        context: &[u8],
        length: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let row = self.group_row(group)?;
        if self.options.partial {
            return self.partial_export(&row, label, context, length);
        }
        Ok(self
            .load_group(&row)?
            .export_secret(label, context, length)?
            .as_bytes()
            .to_vec())
    }

    /// The group's `epoch_authenticator` of the current epoch (RFC 9420 §8.7): members in the
    /// same epoch have the same one, so comparing it out of band shows that they share the
    /// group's state.
    pub fn epoch_authenticator(&self, group: &str) -> Result<Vec<u8>, ClientError> {
        let row = self.group_row(group)?;
        if self.options.partial {
            return Ok(self.load_partial(&row)?.epoch_authenticator().to_vec());
        }
        Ok(self.load_group(&row)?.epoch_authenticator().to_vec())
    }
}
