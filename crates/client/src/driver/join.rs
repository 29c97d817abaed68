//! Joining groups from the Welcome inbox (RFC 9420 §12.4.3.1, RFC 9750 §5.1): the Welcome
//! names the KeyPackage it was made for by reference; its private keys are in the store.
//! The group, the event, the deletion of a one-time KeyPackage (RFC 9420 §16.8) and the inbox
//! cursor are stored in one transaction. A Welcome for an epoch we already have is ignored.

use conclave_api::delivery::WelcomeView;
use conclave_codec::Decode as _;
use conclave_core::group::{Group, GroupError, JoinOptions, KeyPackageBundle, MemberParams};
use conclave_core::messages::{KeyPackage, MlsMessage, MlsMessageBody, RatchetTreeNodes};

use crate::delivery::DeliveryService;
use crate::error::{BadResponse, ClientError};
use crate::event::Event;
use crate::names::{joined_name, member_names};
use crate::store::{GroupRow, GroupStatus, HistoryEntry, StateWrite};

use super::{GroupDriver, group_config};

const DS: &str = "the Delivery Service";

impl<D: DeliveryService> GroupDriver<'_, D> {
    /// A local name for a group: `base`, or `base-2`, `base-3`, … if taken.
    pub(crate) fn unique_name(&self, base: &str) -> Result<String, ClientError> {
        if self.store.group_by_name(base)?.is_none() {
            return Ok(base.to_owned());
        }
        for i in 2..10_000u32 {
            let candidate = format!("{base}-{i}");
            if self.store.group_by_name(&candidate)?.is_none() {
                return Ok(candidate);
            }
        }
        Err(ClientError::GroupNameTaken(base.to_owned()))
    }

    /// Joins groups from the Welcome inbox; returns how many were joined.
    pub(crate) async fn process_welcomes(&mut self) -> Result<u64, ClientError> {
        let mut cursor = self.store.welcome_cursor()?;
        let start = cursor;
        let mut joined = 0;
        loop {
            let page = self.ds.welcomes(cursor).await?;
            let page: Vec<&WelcomeView> = page.iter().filter(|w| w.id > cursor).collect();
            if page.is_empty() {
                break;
            }
            for welcome in page {
                // draft-ietf-mls-partial-02 §8: a partial client joins from AnnotatedWelcomes.
                let outcome = if self.options.partial {
                    self.join_partial(welcome)
                } else {
                    self.join_fetching_tree(welcome).await
                };
                match outcome {
                    Ok(Some(event)) => {
                        joined += 1;
                        self.emit(&event);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        self.store.set_welcome_cursor(welcome.id)?;
                        self.emit(&Event::JoinFailed {
                            reason: e.to_string(),
                        });
                    }
                }
                cursor = welcome.id;
            }
        }
        if cursor > start {
            // Best effort: the cursor already protects us from using a Welcome twice.
            if let Err(e) = self.ds.ack_welcomes(cursor).await {
                tracing::debug!(error = %e, "could not acknowledge Welcomes");
            }
        }
        Ok(joined)
    }

    /// [`Self::join_from_welcome`]; when the Welcome's GroupInfo says the DS holds the tree
    /// (draft-ietf-mls-ratchet-tree-options-00 §3 `distributionService`), fetches the
    /// group's tree from the DS and joins with it (the core checks it against the tree hash,
    /// RFC 9420 §12.4.3.1). The DS serves its current tree: if the group moved on since
    /// the Welcome's epoch, the hashes differ and the join fails.
    async fn join_fetching_tree(
        &mut self,
        view: &WelcomeView,
    ) -> Result<Option<Event>, ClientError> {
        match self.join_from_welcome(view, None) {
            Err(ClientError::Group(GroupError::RatchetTreeOnDeliveryService {
                group_id, ..
            })) => {
                let tree = self.ds.ratchet_tree(&group_id).await?;
                self.join_from_welcome(view, Some(tree))
            }
            other => other,
        }
    }

    fn join_from_welcome(
        &mut self,
        view: &WelcomeView,
        ratchet_tree: Option<RatchetTreeNodes>,
    ) -> Result<Option<Event>, ClientError> {
        let kp_ref = hex::decode(&view.key_package_ref)
            .map_err(|e| ClientError::bad(DS, BadResponse::Encoding(e.to_string())))?;
        let Some(stored) = self.store.key_package(&kp_ref)? else {
            return Err(ClientError::CorruptState(format!(
                "a Welcome names KeyPackage {} whose private key this client does not have \
                 (used already, or published by another installation)",
                view.key_package_ref
            )));
        };
        let bytes = conclave_api::b64_decode(conclave_api::Service::Delivery, &view.message)?;
        let message = MlsMessage::from_bytes(&bytes)
            .map_err(|e| ClientError::bad(DS, BadResponse::Mls(e.to_string())))?;
        // RFC 9420 §6: the envelope's version is the protocol's; only mls10 exists.
        if message.version != conclave_core::messages::ProtocolVersion::MLS10 {
            return Err(ClientError::bad(
                DS,
                BadResponse::Mls(format!(
                    "an inbox Welcome has protocol version {}, not mls10 (RFC 9420 §6)",
                    message.version.0
                )),
            ));
        }
        let MlsMessageBody::Welcome(welcome) = message.body else {
            return Err(ClientError::bad(
                DS,
                BadResponse::Mls("an inbox entry is not a Welcome".into()),
            ));
        };
        let bundle = KeyPackageBundle {
            key_package: KeyPackage::from_bytes(&stored.key_package)?,
            init_private_key: stored.init_private.clone(),
            encryption_private_key: stored.encryption_private.clone(),
        };
        let (mut group, welcome_extensions) = Group::join_with_extensions(
            MemberParams {
                config: group_config(),
                components: crate::topic::components(),
                ..MemberParams::new(self.env.clone(), self.signer()?)
            },
            &welcome,
            &bundle,
            &JoinOptions {
                ratchet_tree,
                ..JoinOptions::default()
            },
            self.now(),
        )?;
        // Our handshakes follow the mode the creator recorded in the group context.
        crate::handshakes::follow(&mut group)?;
        let group_id = group.group_id().to_vec();
        let existing = self.store.group_by_id(&group_id)?;
        if let Some(row) = &existing
            && row.status == GroupStatus::Active
            && self.load(row).map(|g| g.epoch()).unwrap_or(0) >= group.epoch()
        {
            self.store.set_welcome_cursor(view.id)?;
            return Ok(None);
        }
        let name = match existing {
            Some(row) => row.name,
            None => {
                let topic = crate::topic::topic_of(&group).ok().flatten();
                self.unique_name(&joined_name(&welcome_extensions, topic.as_deref()))?
            }
        };
        let members: Vec<String> = member_names(self.env.identity.as_ref(), &group)
            .into_iter()
            .map(|(_, n)| n)
            .collect();
        let row = GroupRow {
            group_id: group_id.clone(),
            name: name.clone(),
            cursor: 0,
            status: GroupStatus::Active,
            reason: None,
        };
        let event = HistoryEntry {
            seq: 0,
            epoch: group.epoch(),
            sender: String::new(),
            kind: "event".into(),
            body: format!("you joined; members: {}", members.join(", ")),
            at: self.now(),
        };
        let used = (!stored.last_resort).then_some(kp_ref.as_slice());
        let state = StateWrite::of(&mut group, self.options.state_writes)?;
        self.store.join_group(&row, &state, &event, used, view.id)?;
        Ok(Some(Event::Joined {
            group: name,
            epoch: group.epoch(),
            members,
        }))
    }
}
