//! An OpenMLS member (with `openmls_rust_crypto`) behind the [`Peer`] interface.

use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls::schedule::psk::{PreSharedKeyId, ResumptionPskUsage};
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;

use crate::peer::{
    CommitOp, CommitOut, Handshake, Kind, PSK_ID, PSK_SECRET, Peer, ProposalOp, Received,
};

/// PrivateMessage padding (RFC 9420 §6.3.1).
const PADDING: usize = 16;

pub(crate) struct OpenMlsPeer {
    name: String,
    suite: Ciphersuite,
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    credential: CredentialWithKey,
    policy: WireFormatPolicy,
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

impl OpenMlsPeer {
    pub(crate) fn new(name: &str, suite: u16, handshake: Handshake) -> Self {
        let suite = Ciphersuite::try_from(suite).unwrap();
        let provider = OpenMlsRustCrypto::default();
        let signer = SignatureKeyPair::new(suite.signature_algorithm()).unwrap();
        signer.store(provider.storage()).unwrap();
        let credential = CredentialWithKey {
            credential: BasicCredential::new(name.as_bytes().to_vec()).into(),
            signature_key: signer.public().into(),
        };
        // The external PSK, known to every peer (RFC 9420 §8.4).
        PreSharedKeyId::external(PSK_ID.to_vec(), Vec::new())
            .store(&provider, &PSK_SECRET)
            .unwrap();
        let policy = match handshake {
            Handshake::Public => PURE_PLAINTEXT_WIRE_FORMAT_POLICY,
            Handshake::Private => PURE_CIPHERTEXT_WIRE_FORMAT_POLICY,
        };
        Self {
            name: name.to_string(),
            suite,
            provider,
            signer,
            credential,
            policy,
            group: None,
        }
    }

    fn group(&self) -> &MlsGroup {
        self.group.as_ref().unwrap()
    }

    fn join_config(&self) -> MlsGroupJoinConfig {
        MlsGroupJoinConfig::builder()
            .wire_format_policy(self.policy)
            .padding_size(PADDING)
            .use_ratchet_tree_extension(true)
            .number_of_resumption_psks(8)
            .build()
    }

    fn index_of(&self, identity: &[u8]) -> LeafNodeIndex {
        self.group()
            .members()
            .find(|m| {
                BasicCredential::try_from(m.credential.clone())
                    .is_ok_and(|b| b.identity() == identity)
            })
            .map(|m| m.index)
            .unwrap_or_else(|| panic!("{}: no member {:?}", self.name, identity))
    }

    fn nonce(&self) -> Vec<u8> {
        self.provider
            .rand()
            .random_vec(self.suite.hash_length())
            .unwrap()
    }

    fn psk_proposal(&self, op: &CommitOp) -> Proposal {
        let id = match op {
            CommitOp::ResumptionPsk(epoch) => PreSharedKeyId::resumption(
                ResumptionPskUsage::Application,
                self.group().group_id().clone(),
                GroupEpoch::from(*epoch),
                self.nonce(),
            ),
            CommitOp::ForeignResumptionPsk { group_id, epoch } => PreSharedKeyId::resumption(
                ResumptionPskUsage::Application,
                GroupId::from_slice(group_id),
                GroupEpoch::from(*epoch),
                self.nonce(),
            ),
            _ => PreSharedKeyId::external(PSK_ID.to_vec(), self.nonce()),
        };
        Proposal::PreSharedKey(Box::new(PreSharedKeyProposal::new(id)))
    }
}

impl Peer for OpenMlsPeer {
    fn kind(&self) -> Kind {
        Kind::OpenMls
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn key_package(&mut self) -> Vec<u8> {
        let bundle = KeyPackage::builder()
            .build(
                self.suite,
                &self.provider,
                &self.signer,
                self.credential.clone(),
            )
            .unwrap();
        out(&MlsMessageOut::from(bundle.key_package().clone()))
    }

    fn create(&mut self, group_id: &[u8]) {
        let group = MlsGroup::builder()
            .with_group_id(GroupId::from_slice(group_id))
            .ciphersuite(self.suite)
            .with_wire_format_policy(self.policy)
            .padding_size(PADDING)
            .use_ratchet_tree_extension(true)
            .number_of_resumption_psks(8)
            .build(&self.provider, &self.signer, self.credential.clone())
            .unwrap();
        self.group = Some(group);
    }

    fn join(&mut self, welcome: &[u8]) {
        let MlsMessageBodyIn::Welcome(welcome) = parse(welcome) else {
            panic!("not a Welcome")
        };
        let group =
            StagedWelcome::new_from_welcome(&self.provider, &self.join_config(), welcome, None)
                .and_then(|staged| staged.into_group(&self.provider))
                .unwrap_or_else(|e| panic!("{}: join failed: {e:?}", self.name));
        self.group = Some(group);
    }

    fn join_external(&mut self, group_info: &[u8], with_psk: bool) -> Vec<u8> {
        let MlsMessageBodyIn::GroupInfo(info) = parse(group_info) else {
            panic!("not a GroupInfo")
        };
        let psk = with_psk.then(|| {
            PreSharedKeyProposal::new(PreSharedKeyId::external(PSK_ID.to_vec(), self.nonce()))
        });
        let name = self.name.clone();
        let (group, bundle) = MlsGroup::external_commit_builder()
            .with_config(self.join_config())
            .build_group(&self.provider, info, self.credential.clone())
            .unwrap_or_else(|e| panic!("{name}: external join failed: {e:?}"))
            .add_psk_proposals(psk)
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

    fn rejoin_external(&mut self, group_info: &[u8]) -> Vec<u8> {
        // OpenMLS removes the leaf with our signature key by itself.
        self.join_external(group_info, false)
    }

    fn commit(&mut self, op: &CommitOp) -> CommitOut {
        let removals: Vec<LeafNodeIndex> = match op {
            CommitOp::Remove(ids) => ids.iter().map(|id| self.index_of(id)).collect(),
            _ => Vec::new(),
        };
        let psk = match op {
            CommitOp::ExternalPsk
            | CommitOp::ResumptionPsk(_)
            | CommitOp::ForeignResumptionPsk { .. } => Some(self.psk_proposal(op)),
            _ => None,
        };
        let name = self.name.clone();
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        let mut builder = group.commit_builder();
        match op {
            CommitOp::Add(kps) => {
                let kps = kps.iter().map(|kp| {
                    let MlsMessageBodyIn::KeyPackage(kp) = parse(kp) else {
                        panic!("not a KeyPackage")
                    };
                    kp.validate(provider.crypto(), ProtocolVersion::Mls10)
                        .unwrap_or_else(|e| panic!("{name}: KeyPackage refused: {e:?}"))
                });
                builder = builder.propose_adds(kps.collect::<Vec<_>>());
            }
            CommitOp::Update => builder = builder.force_self_update(true),
            CommitOp::Pending => {}
            CommitOp::Remove(_) => builder = builder.propose_removals(removals),
            CommitOp::ExternalPsk
            | CommitOp::ResumptionPsk(_)
            | CommitOp::ForeignResumptionPsk { .. } => {
                builder = builder.add_proposal(psk.unwrap());
            }
        }
        let bundle = builder
            .load_psks(provider.storage())
            .unwrap_or_else(|e| panic!("{name}: PSKs for {op:?}: {e:?}"))
            .build(provider.rand(), provider.crypto(), &self.signer, |_| true)
            .unwrap_or_else(|e| panic!("{name}: commit {op:?} failed: {e:?}"))
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

    fn propose(&mut self, op: &ProposalOp) -> Vec<u8> {
        let target = match op {
            ProposalOp::Remove(id) => Some(self.index_of(id)),
            _ => None,
        };
        let nonce = self.nonce();
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        let (message, _) = match op {
            ProposalOp::Update => group
                .propose_self_update(provider, &self.signer, LeafNodeParameters::default())
                .unwrap(),
            ProposalOp::Remove(_) => group
                .propose_remove_member(provider, &self.signer, target.unwrap())
                .unwrap(),
            ProposalOp::ExternalPsk => group
                .propose_pre_shared_key(
                    provider,
                    &self.signer,
                    PreSharedKeyId::external(PSK_ID.to_vec(), nonce),
                )
                .unwrap(),
        };
        out(&message)
    }

    fn try_process(&mut self, message: &[u8]) -> Result<Received, String> {
        let message = MlsMessageIn::tls_deserialize_exact(message).unwrap();
        let protocol = message
            .try_into_protocol_message()
            .map_err(|e| format!("{e:?}"))?;
        let name = self.name.clone();
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        let processed = group
            .process_message(provider, protocol)
            .map_err(|e| format!("{name}: {e:?}"))?;
        let aad = processed.aad().to_vec();
        Ok(match processed.into_content() {
            ProcessedMessageContent::ApplicationMessage(app) => Received::Application {
                data: app.into_bytes(),
                aad,
            },
            ProcessedMessageContent::ProposalMessage(proposal) => {
                group
                    .store_pending_proposal(provider.storage(), *proposal)
                    .unwrap();
                Received::Proposal
            }
            ProcessedMessageContent::StagedCommitMessage(staged) => {
                let removed = staged.self_removed();
                group
                    .merge_staged_commit(provider, *staged)
                    .map_err(|e| format!("{name}: merging: {e:?}"))?;
                Received::Commit { removed }
            }
            _ => panic!("{name}: unexpected message"),
        })
    }

    fn protect(&mut self, data: &[u8], aad: &[u8]) -> Vec<u8> {
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        group.set_aad(aad.to_vec());
        out(&group.create_message(provider, &self.signer, data).unwrap())
    }

    fn epoch(&self) -> u64 {
        self.group().epoch().as_u64()
    }

    fn authenticator(&self) -> Vec<u8> {
        self.group().epoch_authenticator().as_slice().to_vec()
    }

    fn export(&self, label: &str, context: &[u8], length: usize) -> Vec<u8> {
        self.group()
            .export_secret(self.provider.crypto(), label, context, length)
            .unwrap()
    }

    fn group_info(&mut self) -> Vec<u8> {
        out(&self
            .group()
            .export_group_info(self.provider.crypto(), &self.signer, true)
            .unwrap())
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
