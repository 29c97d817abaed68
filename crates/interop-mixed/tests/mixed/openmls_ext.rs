//! An OpenMLS 0.9.2 member with its `extensions-draft` feature behind [`ExtPeer`].
//!
//! OpenMLS leaves the application side of draft-ietf-mls-extensions-10 to its user, so it
//! is written here: the `app_components` of its leaves (§5), the component logic that turns
//! AppDataUpdate proposals into the new `app_data_dictionary` entries (§4.7: OpenMLS hands
//! a commit carrying them back as `UnresolvedAppDataCommit` and stages it only with the
//! entries the application computed) and the check of AppEphemeral data (§4.8, read from
//! the staged commit).

use openmls::component::{ComponentData, ComponentsList as OpenMlsComponentsList};
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;

use crate::ext_peer::{
    APP_COMPONENTS, APP_COMPONENTS_ID, ExtPeer, ExtProposal, ExtReceived, RECEIPTS, SAFE_AAD_ID,
    apply_update, check_ephemeral,
};
use crate::peer::{CommitOut, Kind};

pub(crate) struct OpenMlsExt {
    name: String,
    suite: Ciphersuite,
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    group: Option<MlsGroup>,
}

fn parse(bytes: &[u8]) -> MlsMessageBodyIn {
    MlsMessageIn::tls_deserialize_exact(bytes)
        .unwrap()
        .extract()
}

fn out(message: &MlsMessageOut) -> Vec<u8> {
    message.tls_serialize_detached().unwrap()
}

/// Handshakes are PublicMessages: SelfRemove must be one (§6.3), and OpenMLS sends it only
/// under a plaintext outgoing policy.
const POLICY: WireFormatPolicy = PURE_PLAINTEXT_WIRE_FORMAT_POLICY;

/// The capabilities of our leaves: the dictionary, the last-resort extension, and the three
/// draft proposal types, which OpenMLS requires every member to list before a commit may
/// carry them.
fn capabilities(suite: Ciphersuite) -> Capabilities {
    Capabilities::new(
        None,
        Some(&[suite]),
        Some(&[ExtensionType::AppDataDictionary, ExtensionType::LastResort]),
        Some(&[
            ProposalType::AppDataUpdate,
            ProposalType::AppEphemeral,
            ProposalType::SelfRemove,
        ]),
        None,
    )
}

/// Our leaves' dictionary: the components we implement (`app_components`) and the Safe AAD
/// components we understand (`safe_aad`), §4.6, §5.
fn leaf_extensions() -> Extensions<LeafNode> {
    let mut dictionary = AppDataDictionary::new();
    let list = |ids: &[u16]| {
        OpenMlsComponentsList::new(ids.to_vec())
            .tls_serialize_detached()
            .unwrap()
    };
    dictionary.insert(APP_COMPONENTS_ID, list(&APP_COMPONENTS));
    dictionary.insert(SAFE_AAD_ID, list(&[RECEIPTS]));
    Extensions::single(Extension::AppDataDictionary(
        AppDataDictionaryExtension::new(dictionary),
    ))
    .unwrap()
}

/// The dictionary changes of a list of AppDataUpdates, sorted by component with each
/// component's proposals in commit order (as OpenMLS hands them over), computed by the
/// component logic from the dictionary of `updater` (§4.7).
fn compute_updates<'a>(
    mut updater: AppDataDictionaryUpdater<'_>,
    proposals: impl Iterator<Item = &'a AppDataUpdateProposal>,
) -> Result<Option<AppDataUpdates>, String> {
    let mut current: Option<(u16, Option<Vec<u8>>)> = None;
    let flush = |updater: &mut AppDataDictionaryUpdater<'_>,
                 entry: Option<(u16, Option<Vec<u8>>)>| {
        match entry {
            Some((id, Some(data))) => {
                updater.set(ComponentData::from_parts(id, data.into()));
            }
            Some((id, None)) => updater.remove(&id),
            None => {}
        }
    };
    for proposal in proposals {
        let id = proposal.component_id();
        if current.as_ref().is_none_or(|(c, _)| *c != id) {
            flush(&mut updater, current.take());
            current = Some((id, updater.old_value(id).map(<[u8]>::to_vec)));
        }
        let Some((_, data)) = current.as_mut() else {
            unreachable!()
        };
        match proposal.operation() {
            AppDataUpdateOperation::Update(update) => {
                *data = Some(apply_update(id, data.as_deref(), update.as_slice())?);
            }
            AppDataUpdateOperation::Remove => {
                if data.is_none() {
                    return Err(format!("remove of component {id:#06x} without an entry"));
                }
                *data = None;
            }
        }
    }
    flush(&mut updater, current.take());
    Ok(updater.changes())
}

fn ephemeral_of(staged: &StagedCommit) -> Result<Vec<(u16, Vec<u8>)>, String> {
    staged
        .queued_app_ephemeral_proposals()
        .map(|queued| {
            let p = queued.app_ephemeral_proposal();
            check_ephemeral(p.component_id(), p.data())?;
            Ok((p.component_id(), p.data().to_vec()))
        })
        .collect()
}

impl OpenMlsExt {
    pub(crate) fn new(name: &str, suite: u16) -> Self {
        let suite = Ciphersuite::try_from(suite).unwrap();
        let provider = OpenMlsRustCrypto::default();
        let signer = SignatureKeyPair::new(suite.signature_algorithm()).unwrap();
        signer.store(provider.storage()).unwrap();
        let credential = CredentialWithKey {
            credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
            signature_key: signer.public().into(),
        };
        Self {
            name: name.to_string(),
            suite,
            provider,
            signer,
            credential,
            group: None,
        }
    }

    fn group(&self) -> &MlsGroup {
        self.group.as_ref().unwrap()
    }

    fn join_config() -> MlsGroupJoinConfig {
        MlsGroupJoinConfig::builder()
            .wire_format_policy(POLICY)
            .use_ratchet_tree_extension(true)
            .build()
    }

    fn proposal(p: &ExtProposal) -> Proposal {
        match p {
            ExtProposal::Update { component, update } => Proposal::AppDataUpdate(Box::new(
                AppDataUpdateProposal::update(*component, update.clone()),
            )),
            ExtProposal::Remove { component } => {
                Proposal::AppDataUpdate(Box::new(AppDataUpdateProposal::remove(*component)))
            }
            ExtProposal::Ephemeral { component, data } => Proposal::AppEphemeral(Box::new(
                AppEphemeralProposal::new(*component, data.clone()),
            )),
            ExtProposal::Context(_) => unreachable!("committed through the builder"),
        }
    }
}

impl ExtPeer for OpenMlsExt {
    fn kind(&self) -> Kind {
        Kind::OpenMls
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn key_package(&mut self, last_resort: bool) -> Vec<u8> {
        let mut builder = KeyPackage::builder()
            .leaf_node_capabilities(capabilities(self.suite))
            .leaf_node_extensions(leaf_extensions());
        if last_resort {
            // The KeyPackage extension 0x000A (the -04 design), not the -10 component.
            builder = builder.mark_as_last_resort();
        }
        let bundle = builder
            .build(
                self.suite,
                &self.provider,
                &self.signer,
                self.credential.clone(),
            )
            .unwrap();
        out(&MlsMessageOut::from(bundle.key_package().clone()))
    }

    fn is_last_resort(&self, key_package: &[u8]) -> bool {
        let MlsMessageBodyIn::KeyPackage(kp) = parse(key_package) else {
            panic!("not a KeyPackage")
        };
        kp.validate(self.provider.crypto(), ProtocolVersion::Mls10)
            .unwrap_or_else(|e| panic!("{}: KeyPackage refused: {e:?}", self.name))
            .last_resort()
    }

    fn create(&mut self, group_id: &[u8], context_extensions: &[u8]) {
        let extensions = Extensions::<GroupContext>::tls_deserialize_exact(context_extensions)
            .unwrap_or_else(|e| panic!("{}: group context extensions: {e:?}", self.name));
        let group = MlsGroup::builder()
            .with_group_id(GroupId::from_slice(group_id))
            .ciphersuite(self.suite)
            .with_wire_format_policy(POLICY)
            .use_ratchet_tree_extension(true)
            .with_capabilities(capabilities(self.suite))
            .with_leaf_node_extensions(leaf_extensions())
            .unwrap()
            .with_group_context_extensions(extensions)
            .build(&self.provider, &self.signer, self.credential.clone())
            .unwrap_or_else(|e| panic!("{}: create failed: {e:?}", self.name));
        self.group = Some(group);
    }

    fn join(&mut self, welcome: &[u8]) {
        let MlsMessageBodyIn::Welcome(welcome) = parse(welcome) else {
            panic!("not a Welcome")
        };
        let group =
            StagedWelcome::new_from_welcome(&self.provider, &Self::join_config(), welcome, None)
                .and_then(|staged| staged.into_group(&self.provider))
                .unwrap_or_else(|e| panic!("{}: join failed: {e:?}", self.name));
        self.group = Some(group);
    }

    fn adds_to_external_commits(&self) -> bool {
        // The external commit builder takes SelfRemoves and PSKs only (OpenMLS still accepts
        // an AppDataUpdate by value in an external commit it receives).
        false
    }

    fn join_external(
        &mut self,
        group_info: &[u8],
        self_removes: &[Vec<u8>],
        inline: &[ExtProposal],
    ) -> Vec<u8> {
        assert!(inline.is_empty(), "{}: no proposals by value", self.name);
        let MlsMessageBodyIn::GroupInfo(info) = parse(group_info) else {
            panic!("not a GroupInfo")
        };
        let proposals = self_removes
            .iter()
            .map(|m| match parse(m) {
                MlsMessageBodyIn::PublicMessage(p) => p,
                _ => panic!("not a PublicMessage"),
            })
            .collect();
        let leaf = LeafNodeParameters::builder()
            .with_capabilities(capabilities(self.suite))
            .with_extensions(leaf_extensions())
            .build();
        let name = self.name.clone();
        let (group, bundle) = MlsGroup::external_commit_builder()
            .with_config(Self::join_config())
            .with_proposals(proposals)
            .build_group(&self.provider, info, self.credential.clone())
            .unwrap_or_else(|e| panic!("{name}: external join failed: {e:?}"))
            .leaf_node_parameters(leaf)
            .load_psks(self.provider.storage())
            .unwrap()
            .build(
                self.provider.rand(),
                self.provider.crypto(),
                &self.signer,
                |_| true,
            )
            .unwrap_or_else(|e| panic!("{name}: external commit failed: {e:?}"))
            .finalize(&self.provider)
            .unwrap();
        self.group = Some(group);
        out(bundle.commit())
    }

    fn group_info(&mut self) -> Vec<u8> {
        out(&self
            .group()
            .export_group_info(self.provider.crypto(), &self.signer, true)
            .unwrap())
    }

    fn commit(&mut self, adds: &[Vec<u8>], inline: &[ExtProposal], path: bool) -> CommitOut {
        let name = self.name.clone();
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        let key_packages: Vec<KeyPackage> = adds
            .iter()
            .map(|kp| {
                let MlsMessageBodyIn::KeyPackage(kp) = parse(kp) else {
                    panic!("not a KeyPackage")
                };
                kp.validate(provider.crypto(), ProtocolVersion::Mls10)
                    .unwrap_or_else(|e| panic!("{name}: KeyPackage refused: {e:?}"))
            })
            .collect();
        let mut builder = group
            .commit_builder()
            .propose_adds(key_packages)
            .force_self_update(path);
        // OpenMLS refuses (also when building) a commit that lists an AppDataUpdate before a
        // GroupContextExtensions, so its application puts the latter first.
        let mut inline: Vec<&ExtProposal> = inline.iter().collect();
        inline.sort_by_key(|p| !matches!(p, ExtProposal::Context(_)));
        for proposal in inline {
            builder = match proposal {
                ExtProposal::Context(extensions) => builder
                    .propose_group_context_extensions(
                        Extensions::<GroupContext>::tls_deserialize_exact(extensions).unwrap(),
                    )
                    .unwrap(),
                other => builder.add_proposal(Self::proposal(other)),
            };
        }
        let mut builder = builder.load_psks(provider.storage()).unwrap();
        // The committer computes the dictionary its AppDataUpdates lead to (§4.7).
        let updates = compute_updates(
            builder.app_data_dictionary_updater(),
            builder.app_data_update_proposals(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        builder.with_app_data_dictionary_updates(updates);
        let bundle = builder
            .build(provider.rand(), provider.crypto(), &self.signer, |_| true)
            .unwrap_or_else(|e| panic!("{name}: commit failed: {e:?}"))
            .stage_commit(provider)
            .unwrap();
        let (commit, welcome, _) = bundle.into_messages();
        CommitOut {
            commit: out(&commit),
            welcome: welcome.as_ref().map(out),
        }
    }

    fn merge(&mut self) {
        let provider = &self.provider;
        self.group
            .as_mut()
            .unwrap()
            .merge_pending_commit(provider)
            .unwrap();
    }

    fn propose(&mut self, proposal: &ExtProposal) -> Vec<u8> {
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        let (message, _) = match proposal {
            ExtProposal::Update { component, update } => group.propose_app_data_update(
                provider,
                &self.signer,
                *component,
                AppDataUpdateOperation::Update(update.clone().into()),
            ),
            ExtProposal::Remove { component } => group.propose_app_data_update(
                provider,
                &self.signer,
                *component,
                AppDataUpdateOperation::Remove,
            ),
            // OpenMLS has no API for an AppEphemeral by reference.
            ExtProposal::Ephemeral { .. } => panic!("{}: no AppEphemeral by reference", self.name),
            ExtProposal::Context(_) => {
                panic!("{}: GroupContextExtensions by value only", self.name)
            }
        }
        .unwrap_or_else(|e| panic!("{}: proposal failed: {e:?}", self.name));
        out(&message)
    }

    fn self_remove(&mut self) -> Vec<u8> {
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        out(&group
            .leave_group_via_self_remove(provider, &self.signer)
            .unwrap())
    }

    fn try_process(&mut self, message: &[u8]) -> Result<ExtReceived, String> {
        let message = MlsMessageIn::tls_deserialize_exact(message).map_err(|e| e.to_string())?;
        let protocol = message
            .try_into_protocol_message()
            .map_err(|e| format!("{e:?}"))?;
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        let processed = group
            .process_message(provider, protocol)
            .map_err(|e| format!("{e:?}"))?;
        let aad = processed.aad().to_vec();
        let safe_aad = processed.safe_aad().map(|safe| {
            safe.items()
                .iter()
                .map(|item| (item.component_id(), item.data().to_vec()))
                .collect()
        });
        let staged = match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(app) => {
                return Ok(ExtReceived::Application {
                    data: app.into_bytes(),
                    aad,
                    safe_aad,
                });
            }
            ProcessedMessageContent::ProposalMessage(proposal) => {
                group
                    .store_pending_proposal(provider.storage(), *proposal)
                    .unwrap();
                return Ok(ExtReceived::Proposal);
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => *staged,
            // The application computes the new dictionary entries and stages the commit
            // with them (§4.7).
            ProcessedMessageContent::UnresolvedAppDataCommit(unresolved) => {
                let updates = compute_updates(
                    group.app_data_dictionary_updater(),
                    unresolved.app_data_update_proposals(),
                )?;
                group
                    .stage_app_data_commit(provider, *unresolved, updates)
                    .map_err(|e| format!("staging: {e:?}"))?
            }
            other => return Err(format!("unexpected {other:?}")),
        };
        let ephemeral = ephemeral_of(&staged)?;
        let removed = staged.self_removed();
        group
            .merge_staged_commit(provider, staged)
            .map_err(|e| format!("merging: {e:?}"))?;
        Ok(ExtReceived::Commit { removed, ephemeral })
    }

    fn protect(&mut self, data: &[u8], safe_aad: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        group
            .set_safe_aad(
                safe_aad
                    .iter()
                    .map(|(id, item)| SafeAadItem::new(*id, item.clone()))
                    .collect(),
            )
            .unwrap();
        out(&group.create_message(provider, &self.signer, data).unwrap())
    }

    fn protect_with_tail(
        &mut self,
        data: &[u8],
        safe_aad: &[(u16, Vec<u8>)],
        tail: &[u8],
    ) -> Option<Vec<u8>> {
        // OpenMLS frames `authenticated_data` as SafeAAD || the plain AAD of `set_aad`.
        self.group.as_mut().unwrap().set_aad(tail.to_vec());
        Some(self.protect(data, safe_aad))
    }

    fn epoch(&self) -> u64 {
        self.group().epoch().as_u64()
    }

    fn authenticator(&self) -> Vec<u8> {
        self.group().epoch_authenticator().as_slice().to_vec()
    }

    fn safe_export(&mut self, component: u16) -> Vec<u8> {
        let provider = &self.provider;
        self.group
            .as_mut()
            .unwrap()
            .safe_export_secret(provider.crypto(), provider.storage(), component)
            .unwrap()
    }

    fn context_extensions(&self) -> Vec<u8> {
        self.group().extensions().tls_serialize_detached().unwrap()
    }

    fn roster(&self) -> Vec<Vec<u8>> {
        let mut members: Vec<Member> = self.group().members().collect();
        members.sort_by_key(|m| m.index.u32());
        members
            .into_iter()
            .map(|m| {
                BasicCredential::try_from(m.credential)
                    .unwrap()
                    .identity()
                    .to_vec()
            })
            .collect()
    }
}
