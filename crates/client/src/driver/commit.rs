//! Our own commits (RFC 9420 §12.4) through a Delivery Service that takes one commit per
//! epoch (RFC 9750 §5.2): the commit is created pending and saved before it is posted, so
//! that its echo in the log is recognised as ours even if we die before the DS answers. It is
//! merged when it comes back in the log. A `wrong_epoch` answer means another commit won:
//! we drop ours, catch up, recompute the operation (skipping members already added or
//! removed) and try again, a bounded number of times. When the answer is lost (the DS may or
//! may not have taken it), the commit stays pending and the log settles it.
//!
//! Added members' KeyPackages are claimed and checked first (RFC 9420 §5.3.1, §10).

use std::collections::HashMap;

use conclave_api::authentication::name_of_identity;
use conclave_api::delivery::{Accepted, CommitBundle};
use conclave_core::codepoints::CONCLAVE_TOPIC_COMPONENT;
use conclave_core::credential::{CredentialCheck, CredentialRole};
use conclave_core::group::CommitOptions;
use conclave_core::messages::{
    Add, AppDataUpdate, AppDataUpdateOperation, KeyPackage, MlsMessage, MlsMessageBody, Proposal,
    RatchetTreeNodes, Remove, find_payload,
};
use conclave_core::tree::RatchetTree;
use conclave_crypto::CipherSuite;

use crate::OsRandom;
use crate::delivery::DeliveryService;
use crate::error::{BadResponse, ClientError};
use crate::names::{leaf_name, member_names};

use super::{GroupDriver, leaving_members};

const DS: &str = "the Delivery Service";

/// A group operation carried by one commit.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Add these users (those not yet members).
    Add(Vec<String>),
    /// Remove these users (those still members).
    Remove(Vec<String>),
    /// Commit the proposals other members left pending (nothing if there are none).
    CommitPending,
    /// An empty commit with an UpdatePath (RFC 9420 §12.4: fresh keys).
    Update,
    /// Set the group topic (`Some`) or clear it (`None`) with an AppDataUpdate by value
    /// (draft-ietf-mls-extensions-10 §4.7, [`crate::topic`]); nothing if it is so already.
    SetTopic(Option<String>),
    /// Give a user a role (draft-ietf-mimi-room-policy-04 §8.1.3, [`crate::policy`]);
    /// nothing if it has it already.
    SetRole {
        /// The user.
        user: String,
        /// The role's name.
        role: String,
    },
    /// Add `user` with the KeyPackage they handed us out of band (an invitation, bound to
    /// this group with `kp_context`, draft-mahy-mls-kp-context-00).
    AddInvited {
        /// The user the KeyPackage must present.
        user: String,
        /// Their KeyPackage.
        key_package: Box<KeyPackage>,
    },
}

/// The provider of `suite` in the client's crypto backend ([`crate::ClientOptions::crypto`]).
pub(crate) fn crypto_suite(
    crypto: &dyn conclave_crypto::CryptoProvider,
    suite: CipherSuite,
) -> Result<Box<dyn conclave_crypto::CipherSuiteProvider>, ClientError> {
    crypto
        .cipher_suite_provider(suite)
        .ok_or(ClientError::Group(
            conclave_core::group::GroupError::UnsupportedCipherSuite(suite),
        ))
}

impl<D: DeliveryService> GroupDriver<'_, D> {
    /// A commit of ours left pending by an interrupted run: the log tells whether the DS
    /// took it (then it is merged as its echo); if not, it is dropped.
    pub(crate) async fn settle_pending_commit(
        &mut self,
        group_id: &[u8],
    ) -> Result<(), ClientError> {
        let row = self.require_active_by_id(group_id)?;
        if !self.load(&row)?.has_pending_commit() {
            return Ok(());
        }
        self.sync_group_log(group_id).await?;
        let row = self.require_active_by_id(group_id)?;
        let mut group = self.load(&row)?;
        if group.has_pending_commit() {
            group.clear_pending_commit();
            self.save(group_id, &mut group)?;
        }
        Ok(())
    }

    /// Claims a KeyPackage of `user` and checks it: the KeyPackage is of the group's suite,
    /// presents `mls://<user>` (the DS must not substitute someone else), and its credential
    /// is valid now under our trust anchor and not revoked (RFC 9420 §5.3.1, §5.3.2).
    async fn claim_checked(
        &mut self,
        user: &str,
        suite: CipherSuite,
        group_id: &[u8],
    ) -> Result<KeyPackage, ClientError> {
        let claimed = self
            .ds
            .claim_key_package(user, suite, group_id)
            .await
            .map_err(ClientError::from)
            .map_err(|e| match e {
                ClientError::Refused { status: 404, .. } => ClientError::CannotAdd {
                    user: user.to_owned(),
                    reason: "the Delivery Service has no KeyPackage of this user (are they \
                             registered? they publish more when they next sync)"
                        .into(),
                },
                other => other,
            })?;
        let MlsMessageBody::KeyPackage(kp) = claimed.message.body else {
            return Err(ClientError::bad(
                DS,
                BadResponse::Mls("a claimed KeyPackage is not a KeyPackage".into()),
            ));
        };
        self.check_offered(user, suite, kp)
    }

    /// Checks a KeyPackage offered for `user` (claimed from the DS or handed over out of
    /// band): the group's suite, `mls://<user>`, and a credential valid now under our trust
    /// anchor and not revoked (RFC 9420 §5.3.1, §5.3.2).
    fn check_offered(
        &self,
        user: &str,
        suite: CipherSuite,
        kp: KeyPackage,
    ) -> Result<KeyPackage, ClientError> {
        if kp.cipher_suite != suite {
            return Err(ClientError::CannotAdd {
                user: user.to_owned(),
                reason: format!(
                    "their KeyPackage is for cipher suite {}, the group uses {}",
                    kp.cipher_suite.0, suite.0
                ),
            });
        }
        let presented = self
            .env
            .identity
            .identity(&kp.leaf_node.credential)
            .map_err(|source| ClientError::CredentialRefused {
                user: user.to_owned(),
                source,
            })?;
        if name_of_identity(&presented) != Some(user) {
            return Err(ClientError::CannotAdd {
                user: user.to_owned(),
                reason: format!(
                    "the Delivery Service returned a KeyPackage of {:?}",
                    String::from_utf8_lossy(&presented)
                ),
            });
        }
        let cs = crypto_suite(self.env.crypto.as_ref(), suite)?;
        self.env
            .identity
            .validate_credential(&CredentialCheck {
                credential: &kp.leaf_node.credential,
                signature_key: &kp.leaf_node.signature_key,
                signature_scheme: cs.signature(),
                role: CredentialRole::NewMember,
                now: self.now(),
            })
            .map_err(|source| ClientError::CredentialRefused {
                user: user.to_owned(),
                source,
            })?;
        Ok(kp)
    }

    /// The DS client ids of the members of the epoch a GroupInfo describes: from its
    /// `ratchet_tree`, else (a group whose tree the DS holds,
    /// draft-ietf-mls-ratchet-tree-options-00 §3) from the tree of our pending commit.
    fn members_of_group_info(
        &self,
        message: &MlsMessage,
        group: &conclave_core::group::Group,
    ) -> Result<Vec<String>, ClientError> {
        let MlsMessageBody::GroupInfo(info) = &message.body else {
            return Err(ClientError::CorruptState(
                "our commit produced no GroupInfo".into(),
            ));
        };
        let names = |tree: &RatchetTree| {
            tree.members()
                .map(|(_, leaf)| leaf_name(self.env.identity.as_ref(), leaf))
                .collect()
        };
        if let Some(nodes) = find_payload::<RatchetTreeNodes>(&info.extensions)? {
            let tree = RatchetTree::from_nodes(nodes)
                .map_err(|e| ClientError::Group(conclave_core::group::GroupError::from(e)))?;
            return Ok(names(&tree));
        }
        group.pending_commit_tree().map(names).ok_or_else(|| {
            ClientError::CorruptState("our commit left no tree to name the members by".into())
        })
    }

    /// The AppDataUpdate that makes `topic` the group's topic, checked as every member will
    /// check it (draft-ietf-mls-extensions-10 §4.7); `None` when the topic is `topic`
    /// already. Refused when a member's leaf does not list the topic component (§5.1): the
    /// commit would be invalid for that member.
    fn topic_update(
        &self,
        group: &conclave_core::group::Group,
        topic: Option<&str>,
    ) -> Result<Option<AppDataUpdate>, ClientError> {
        if crate::topic::topic_of(group)?.as_deref() == topic {
            return Ok(None);
        }
        let op = match topic {
            Some(text) => {
                crate::topic::check_new_topic(text)?;
                AppDataUpdateOperation::Update(text.as_bytes().to_vec())
            }
            None => AppDataUpdateOperation::Remove,
        };
        let unsupported = crate::topic::members_without_topic(self.env.identity.as_ref(), group);
        if !unsupported.is_empty() {
            return Err(ClientError::TopicUnsupported {
                members: unsupported,
            });
        }
        let update = AppDataUpdate {
            component_id: CONCLAVE_TOPIC_COMPONENT,
            op,
        };
        group.check_app_data_update(&update)?;
        Ok(Some(update))
    }

    /// Runs a membership operation as one commit, retrying when another commit wins the
    /// epoch (RFC 9750 §5.2). `Ok(None)`: nothing left to do.
    pub(crate) async fn run_commit(
        &mut self,
        group_id: &[u8],
        op: &Op,
    ) -> Result<Option<Accepted>, ClientError> {
        let mut claimed: HashMap<String, KeyPackage> = HashMap::new();
        for _ in 0..self.options.max_attempts {
            self.settle_pending_commit(group_id).await?;
            let row = self.require_active_by_id(group_id)?;
            let mut group = self.load(&row)?;
            let members = member_names(self.env.identity.as_ref(), &group);
            let is_member = |user: &str| members.iter().any(|(_, n)| n == user);
            let proposals = match op {
                Op::Add(users) => {
                    let todo: Vec<String> =
                        users.iter().filter(|u| !is_member(u)).cloned().collect();
                    if todo.is_empty() {
                        return Ok(None);
                    }
                    let total = todo.len() as u64;
                    let mut proposals = Vec::with_capacity(todo.len());
                    for (i, user) in todo.iter().enumerate() {
                        let kp = match claimed.get(user) {
                            Some(kp) => kp.clone(),
                            None => {
                                let kp = self
                                    .claim_checked(user, group.cipher_suite(), group.group_id())
                                    .await?;
                                claimed.insert(user.clone(), kp.clone());
                                kp
                            }
                        };
                        self.report_progress("claiming KeyPackages", i as u64 + 1, total);
                        proposals.push(Proposal::Add(Add { key_package: kp }));
                    }
                    let added: Vec<KeyPackage> = todo
                        .iter()
                        .filter_map(|u| claimed.get(u).cloned())
                        .collect();
                    proposals.extend(crate::policy::for_adds(
                        self.env.identity.as_ref(),
                        &group,
                        &added,
                    )?);
                    proposals
                }
                Op::AddInvited { user, key_package } => {
                    if is_member(user) {
                        return Ok(None);
                    }
                    let kp =
                        self.check_offered(user, group.cipher_suite(), (**key_package).clone())?;
                    vec![Proposal::Add(Add { key_package: kp })]
                }
                Op::Remove(users) => {
                    // A member that asked to leave with a SelfRemove goes with its pending
                    // proposal, committed by reference: a Remove of it would be invalid
                    // (draft-ietf-mls-extensions-10 §6.3).
                    let leaving = leaving_members(&group);
                    let targets: Vec<_> = members
                        .iter()
                        .filter(|(leaf, n)| users.contains(n) && *leaf != group.own_leaf())
                        .map(|(leaf, _)| *leaf)
                        .collect();
                    if targets.is_empty() {
                        return Ok(None);
                    }
                    let list_update =
                        crate::policy::for_removes(self.env.identity.as_ref(), &group, &targets)?;
                    targets
                        .into_iter()
                        .filter(|leaf| !leaving.contains(leaf))
                        .map(|removed| Proposal::Remove(Remove { removed }))
                        .chain(list_update)
                        .collect()
                }
                Op::CommitPending => {
                    if !super::has_work_to_commit(
                        &group,
                        self.options.replace_late_updates,
                        self.now(),
                    ) {
                        return Ok(None);
                    }
                    Vec::new()
                }
                Op::Update => Vec::new(),
                Op::SetTopic(topic) => match self.topic_update(&group, topic.as_deref())? {
                    Some(update) => vec![group.app_data_update_proposal(update)],
                    None => return Ok(None),
                },
                Op::SetRole { user, role } => {
                    match crate::policy::for_role(self.env.identity.as_ref(), &group, user, role)? {
                        Some(proposals) => proposals,
                        None => return Ok(None),
                    }
                }
            };
            self.report_progress("building the commit", 0, 1);
            let output = group.commit(
                &CommitOptions {
                    proposals,
                    // Joiners by this commit's Welcome name the group as we do; the DS sees
                    // only the random group id (the Welcome's GroupInfo is encrypted).
                    welcome_group_info_extensions: vec![crate::names::group_name_extension(
                        &row.name,
                    )],
                    // Late Updates we kept go in as Replaces (draft-barnes-mls-replace-00),
                    // if that is our policy.
                    replace_late_updates: self.options.replace_late_updates,
                    ..CommitOptions::default()
                },
                self.now(),
                &mut OsRandom,
            )?;
            let members_after = self.members_of_group_info(&output.group_info, &group)?;
            // Saved with the pending commit before posting: if we die after the DS took it,
            // the echo is still recognised as ours.
            self.save(group_id, &mut group)?;
            let bundle = CommitBundle {
                commit: output.commit,
                welcome: output.welcome,
                group_info: output.group_info,
                ratchet_tree: None,
                members: members_after.into_iter().map(String::into_bytes).collect(),
                allow_external_join: None,
            };
            self.report_progress("uploading the commit", 0, 1);
            match self
                .ds
                .post_commit(group_id, &bundle)
                .await
                .map_err(ClientError::from)
            {
                Ok(accepted) => {
                    self.report_progress("uploading the commit", 1, 1);
                    self.sync_group_log(group_id).await?;
                    return Ok(Some(accepted));
                }
                Err(ClientError::WrongEpoch { .. }) => {
                    tracing::info!("our commit lost the race for the epoch: catching up");
                    group.clear_pending_commit();
                    self.save(group_id, &mut group)?;
                    self.sync_group_log(group_id).await?;
                }
                // We cannot know whether the DS took it: keep it pending; the next
                // operation settles it from the log.
                Err(e @ ClientError::Unreachable { .. }) => return Err(e),
                Err(e) => {
                    group.clear_pending_commit();
                    self.save(group_id, &mut group)?;
                    return Err(e);
                }
            }
        }
        Err(ClientError::TooManyRetries {
            attempts: self.options.max_attempts,
        })
    }
}
