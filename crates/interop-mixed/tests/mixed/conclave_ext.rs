//! A Conclave member behind [`ExtPeer`], on the `openmls-0.9` codepoint profile.
//!
//! The application side is Conclave's [`ComponentHandler`]: the same component logic as the
//! OpenMLS member's ([`crate::ext_peer::apply_update`], [`crate::ext_peer::check_ephemeral`]).
//! Everything else — codepoints, where AppDataUpdates leave the dictionary, the last-resort
//! marker, the component base label, the Safe AAD tail — comes from the profile.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_core::codepoints::{
    APP_DATA_DICTIONARY_EXTENSION, CodepointProfile, SAFE_AAD_COMPONENT,
};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, ComponentCall, ComponentHandler, ComponentRejection, Components, Group,
    GroupConfig, GroupEnv, JoinOptions, KeyPackageBundle, LeafOptions, MemberParams, NewGroup,
    ProcessedMessage, SigningIdentity,
};
use conclave_core::messages::{
    Add, AppDataDictionary, AppDataUpdate, AppDataUpdateOperation, AppEphemeral, Capabilities,
    ComponentId, Credential, CredentialType, Extension, GroupContextExtensions, MlsMessage,
    MlsMessageBody, Proposal, ProtocolVersion, SafeAad, SafeAadItem, WireFormat,
};
use conclave_crypto::{CipherSuite, CryptoProvider, Secret, SeededRng};

use crate::conclave_peer::now;
use crate::ext_peer::{
    APP_COMPONENTS, DRAFT_PROPOSALS, ExtPeer, ExtProposal, ExtReceived, RECEIPTS, apply_update,
    body_of, check_ephemeral, components_list,
};
use crate::peer::{CommitOut, Kind};

/// The profile of every Conclave member in a group with OpenMLS 0.9 members.
pub(crate) const PROFILE: CodepointProfile = CodepointProfile::OpenMls09;

/// The application's components (draft-ietf-mls-extensions-10 §4.7, §4.8).
struct TestComponents;

impl ComponentHandler for TestComponents {
    fn supported_components(&self) -> Vec<ComponentId> {
        APP_COMPONENTS.iter().copied().map(ComponentId).collect()
    }

    fn validate_ephemeral(
        &self,
        call: &ComponentCall<'_>,
        data: &[u8],
    ) -> Result<(), ComponentRejection> {
        check_ephemeral(call.component_id.0, data).map_err(ComponentRejection::Invalid)
    }

    fn apply_update(
        &self,
        call: &ComponentCall<'_>,
        current: Option<&[u8]>,
        update: &[u8],
    ) -> Result<Vec<u8>, ComponentRejection> {
        apply_update(call.component_id.0, current, update).map_err(ComponentRejection::Invalid)
    }
}

pub(crate) struct ConclaveExt {
    name: String,
    suite: CipherSuite,
    env: GroupEnv,
    signer: SigningIdentity,
    rng: SeededRng,
    pending_kp: Option<KeyPackageBundle>,
    group: Option<Group>,
}

fn parse(bytes: &[u8]) -> MlsMessage {
    MlsMessage::from_bytes(bytes).unwrap()
}

fn bytes(message: &MlsMessage) -> Vec<u8> {
    message.to_bytes().unwrap()
}

impl ConclaveExt {
    pub(crate) fn new(name: &str, suite: u16, seed: u64) -> Self {
        let crypto: Arc<dyn CryptoProvider> = Arc::new(conclave_crypto_awslc::AwsLcProvider);
        let psks: HashMap<Vec<u8>, Secret> = HashMap::new();
        let env = GroupEnv {
            crypto,
            identity: Arc::new(BasicIdentityProvider),
            psks: Arc::new(RwLock::new(psks)),
        };
        let suite = CipherSuite(suite);
        let mut rng = SeededRng::new(seed);
        let cs = env.suite(suite).unwrap();
        let signer = SigningIdentity::generate(
            cs.as_ref(),
            Credential::Basic {
                identity: name.as_bytes().to_vec(),
            },
            &mut rng,
        )
        .unwrap();
        Self {
            name: name.to_string(),
            suite,
            env,
            signer,
            rng,
            pending_kp: None,
            group: None,
        }
    }

    /// Our member parameters: the profile, PublicMessage handshakes (a SelfRemove is one,
    /// §6.3), the three draft proposal types and the dictionary in our capabilities, our
    /// components, and the Safe AAD components we understand in our leaves (§5).
    fn params(&self) -> MemberParams {
        let mut leaf_app_data = AppDataDictionary::default();
        leaf_app_data.insert(SAFE_AAD_COMPONENT, components_list(&[RECEIPTS]));
        MemberParams {
            config: GroupConfig {
                handshake_wire_format: WireFormat::PUBLIC_MESSAGE,
                codepoint_profile: PROFILE,
                ..GroupConfig::default()
            },
            leaf: LeafOptions {
                capabilities: Some(Capabilities {
                    versions: vec![ProtocolVersion::MLS10],
                    cipher_suites: vec![self.suite],
                    extensions: vec![APP_DATA_DICTIONARY_EXTENSION],
                    proposals: DRAFT_PROPOSALS
                        .into_iter()
                        .map(|kind| PROFILE.proposal_type(kind))
                        .collect(),
                    credentials: vec![CredentialType::BASIC],
                }),
                leaf_app_data,
                ..LeafOptions::default()
            },
            components: Components::new(TestComponents),
            ..MemberParams::new(self.env.clone(), self.signer.clone())
        }
    }

    fn group(&self) -> &Group {
        self.group.as_ref().unwrap()
    }

    fn group_mut(&mut self) -> &mut Group {
        self.group.as_mut().unwrap()
    }

    fn proposal(&self, p: &ExtProposal) -> Proposal {
        let group = self.group();
        match p {
            ExtProposal::Update { component, update } => {
                group.app_data_update_proposal(AppDataUpdate {
                    component_id: ComponentId(*component),
                    op: AppDataUpdateOperation::Update(update.clone()),
                })
            }
            ExtProposal::Remove { component } => group.app_data_update_proposal(AppDataUpdate {
                component_id: ComponentId(*component),
                op: AppDataUpdateOperation::Remove,
            }),
            ExtProposal::Ephemeral { component, data } => {
                group.app_ephemeral_proposal(AppEphemeral {
                    component_id: ComponentId(*component),
                    data: data.clone(),
                })
            }
            ExtProposal::Context(extensions) => {
                Proposal::GroupContextExtensions(GroupContextExtensions {
                    extensions: Vec::<Extension>::from_bytes(extensions).unwrap(),
                })
            }
        }
    }
}

impl ExtPeer for ConclaveExt {
    fn kind(&self) -> Kind {
        Kind::Conclave
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn key_package(&mut self, last_resort: bool) -> Vec<u8> {
        // A last-resort KeyPackage carries the profile's marker (§6.4).
        let generate = if last_resort {
            KeyPackageBundle::generate_last_resort
        } else {
            KeyPackageBundle::generate
        };
        let bundle = generate(&self.params(), self.suite, now(), &mut self.rng).unwrap();
        let message = MlsMessage {
            version: ProtocolVersion::MLS10,
            body: MlsMessageBody::KeyPackage(bundle.key_package.clone()),
        };
        self.pending_kp = Some(bundle);
        bytes(&message)
    }

    fn create(&mut self, group_id: &[u8], context_extensions: &[u8]) {
        let group = Group::create(
            self.params(),
            NewGroup {
                extensions: Vec::<Extension>::from_bytes(context_extensions).unwrap(),
                ..NewGroup::new(self.suite, group_id.to_vec())
            },
            now(),
            &mut self.rng,
        )
        .unwrap_or_else(|e| panic!("{}: create failed: {e:?}", self.name));
        self.group = Some(group);
    }

    fn is_last_resort(&self, key_package: &[u8]) -> bool {
        let MlsMessageBody::KeyPackage(key_package) = parse(key_package).body else {
            panic!("not a KeyPackage")
        };
        key_package.is_last_resort()
    }

    fn join(&mut self, welcome: &[u8]) {
        let MlsMessageBody::Welcome(welcome) = parse(welcome).body else {
            panic!("not a Welcome")
        };
        let bundle = self.pending_kp.take().unwrap();
        let group = Group::join(
            self.params(),
            &welcome,
            &bundle,
            &JoinOptions::default(),
            now(),
        )
        .unwrap_or_else(|e| panic!("{}: join failed: {e:?}", self.name));
        self.group = Some(group);
    }

    fn adds_to_external_commits(&self) -> bool {
        true
    }

    fn join_external(
        &mut self,
        group_info: &[u8],
        self_removes: &[Vec<u8>],
        inline: &[ExtProposal],
    ) -> Vec<u8> {
        let MlsMessageBody::GroupInfo(info) = parse(group_info).body else {
            panic!("not a GroupInfo")
        };
        let options = JoinOptions {
            self_removes: self_removes.iter().map(|m| parse(m)).collect(),
            app_proposals: inline.iter().map(body_of).collect(),
            ..JoinOptions::default()
        };
        let (group, output) =
            Group::join_external(self.params(), &info, &options, now(), &mut self.rng)
                .unwrap_or_else(|e| panic!("{}: external join failed: {e:?}", self.name));
        self.group = Some(group);
        bytes(&output.commit)
    }

    fn group_info(&mut self) -> Vec<u8> {
        bytes(&self.group().group_info(true).unwrap())
    }

    fn commit(&mut self, adds: &[Vec<u8>], inline: &[ExtProposal], path: bool) -> CommitOut {
        let mut proposals: Vec<Proposal> = adds
            .iter()
            .map(|kp| {
                let MlsMessageBody::KeyPackage(key_package) = parse(kp).body else {
                    panic!("not a KeyPackage")
                };
                Proposal::Add(Add { key_package })
            })
            .collect();
        proposals.extend(inline.iter().map(|p| self.proposal(p)));
        let options = CommitOptions {
            proposals,
            force_path: path,
            ..CommitOptions::default()
        };
        let now = now();
        let name = self.name.clone();
        let group = self.group.as_mut().unwrap();
        let output = group
            .commit(&options, now, &mut self.rng)
            .unwrap_or_else(|e| panic!("{name}: commit failed: {e:?}"));
        CommitOut {
            commit: bytes(&output.commit),
            welcome: output.welcome.as_ref().map(bytes),
        }
    }

    fn merge(&mut self) {
        self.group_mut().merge_pending_commit().unwrap();
    }

    fn propose(&mut self, proposal: &ExtProposal) -> Vec<u8> {
        let name = self.name.clone();
        let group = self.group.as_mut().unwrap();
        let message = match proposal {
            ExtProposal::Update { component, update } => group.propose_app_data_update(
                AppDataUpdate {
                    component_id: ComponentId(*component),
                    op: AppDataUpdateOperation::Update(update.clone()),
                },
                &mut self.rng,
            ),
            ExtProposal::Remove { component } => group.propose_app_data_update(
                AppDataUpdate {
                    component_id: ComponentId(*component),
                    op: AppDataUpdateOperation::Remove,
                },
                &mut self.rng,
            ),
            ExtProposal::Ephemeral { component, data } => group.propose_app_ephemeral(
                AppEphemeral {
                    component_id: ComponentId(*component),
                    data: data.clone(),
                },
                &mut self.rng,
            ),
            ExtProposal::Context(_) => panic!("{name}: GroupContextExtensions by value only"),
        }
        .unwrap_or_else(|e| panic!("{name}: proposal failed: {e:?}"));
        bytes(&message)
    }

    fn self_remove(&mut self) -> Vec<u8> {
        let group = self.group.as_mut().unwrap();
        bytes(&group.self_remove(&[], &mut self.rng).unwrap())
    }

    fn try_process(&mut self, message: &[u8]) -> Result<ExtReceived, String> {
        let message = MlsMessage::from_bytes(message).map_err(|e| e.to_string())?;
        let now = now();
        let processed = self
            .group_mut()
            .process_message(&message, now)
            .map_err(|e| format!("{e:?}"))?;
        Ok(match processed {
            ProcessedMessage::Application {
                data,
                authenticated_data,
                safe_aad,
                ..
            } => ExtReceived::Application {
                data,
                aad: authenticated_data,
                safe_aad: safe_aad.map(|aad| {
                    aad.aad_items
                        .into_iter()
                        .map(|item| (item.component_id.0, item.aad_item_data))
                        .collect()
                }),
            },
            ProcessedMessage::Proposal { .. } => ExtReceived::Proposal,
            ProcessedMessage::Commit(summary) => ExtReceived::Commit {
                removed: summary.self_removed,
                ephemeral: summary
                    .app_data
                    .ephemeral
                    .iter()
                    .map(|e| (e.component_id.0, e.data.clone()))
                    .collect(),
            },
            other => return Err(format!("unexpected {other:?}")),
        })
    }

    fn protect(&mut self, data: &[u8], safe_aad: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let group = self.group.as_mut().unwrap();
        let message = if group.safe_aad_required().unwrap() {
            let aad = SafeAad {
                aad_items: safe_aad
                    .iter()
                    .map(|(id, item)| SafeAadItem {
                        component_id: ComponentId(*id),
                        aad_item_data: item.clone(),
                    })
                    .collect(),
            };
            group.encrypt_application_message_with_safe_aad(data, &aad, &mut self.rng)
        } else {
            assert!(
                safe_aad.is_empty(),
                "Safe AAD items in a group without Safe AAD"
            );
            group.encrypt_application_message(data, &[], &mut self.rng)
        };
        bytes(&message.unwrap())
    }

    fn epoch(&self) -> u64 {
        self.group().epoch()
    }

    fn authenticator(&self) -> Vec<u8> {
        self.group().epoch_authenticator().to_vec()
    }

    fn safe_export(&mut self, component: u16) -> Vec<u8> {
        self.group_mut()
            .safe_export_secret(ComponentId(component))
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    fn context_extensions(&self) -> Vec<u8> {
        self.group().context().extensions.to_bytes().unwrap()
    }

    fn roster(&self) -> Vec<Vec<u8>> {
        self.group()
            .members()
            .map(|(_, leaf)| match &leaf.credential {
                Credential::Basic { identity } => identity.clone(),
                other => panic!("unexpected credential {other:?}"),
            })
            .collect()
    }
}
