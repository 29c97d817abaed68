//! An mls-rs member (with `mls-rs-crypto-rustcrypto`) behind the [`Peer`] interface.

use mls_rs::client_builder::{MlsConfig, PaddingMode};
use mls_rs::group::{CommitEffect, ReceivedMessage};
use mls_rs::identity::SigningIdentity;
use mls_rs::identity::basic::{BasicCredential, BasicIdentityProvider};
use mls_rs::mls_rules::{CommitOptions, DefaultMlsRules, EncryptionOptions};
use mls_rs::psk::{ExternalPskId, PreSharedKey};
use mls_rs::{CipherSuite, CipherSuiteProvider, Client, CryptoProvider, ExtensionList, Group};
use mls_rs::{MlsMessage, group::CommitOutput};
use mls_rs_crypto_rustcrypto::RustCryptoProvider;

use crate::peer::{
    CommitOp, CommitOut, Handshake, Kind, PSK_ID, PSK_SECRET, Peer, ProposalOp, Received,
};

pub(crate) struct MlsRsPeer<C: MlsConfig> {
    name: String,
    client: Client<C>,
    group: Option<Group<C>>,
}

/// Builds an mls-rs client for `name` in `suite`.
pub(crate) fn new(name: &str, suite: u16, handshake: Handshake) -> Box<dyn Peer> {
    let suite = CipherSuite::from(suite);
    let crypto = RustCryptoProvider::default();
    let cs = crypto.cipher_suite_provider(suite).unwrap();
    let (secret, public) = cs.signature_key_generate().unwrap();
    let credential = BasicCredential::new(name.as_bytes().to_vec()).into_credential();
    let identity = SigningIdentity::new(credential, public);
    let rules = DefaultMlsRules::new()
        .with_commit_options(
            CommitOptions::new()
                .with_ratchet_tree_extension(true)
                .with_allow_external_commit(true),
        )
        .with_encryption_options(EncryptionOptions::new(
            handshake == Handshake::Private,
            PaddingMode::StepFunction,
        ));
    let client = Client::builder()
        .crypto_provider(crypto)
        .identity_provider(BasicIdentityProvider::new())
        .mls_rules(rules)
        .psk(
            ExternalPskId::new(PSK_ID.to_vec()),
            PreSharedKey::new(PSK_SECRET.to_vec()),
        )
        .signing_identity(identity, secret, suite)
        .build();
    Box::new(MlsRsPeer {
        name: name.to_string(),
        client,
        group: None,
    })
}

fn parse(bytes: &[u8]) -> MlsMessage {
    MlsMessage::from_bytes(bytes).unwrap()
}

impl<C: MlsConfig> MlsRsPeer<C> {
    fn group(&self) -> &Group<C> {
        self.group.as_ref().unwrap()
    }

    fn group_mut(&mut self) -> &mut Group<C> {
        self.group.as_mut().unwrap()
    }

    fn index_of(&self, identity: &[u8]) -> u32 {
        self.group()
            .roster()
            .members()
            .into_iter()
            .find(|m| {
                m.signing_identity
                    .credential
                    .as_basic()
                    .is_some_and(|b| b.identifier() == identity)
            })
            .map(|m| m.index)
            .unwrap_or_else(|| panic!("{}: no member {:?}", self.name, identity))
    }
}

fn commit_out(output: CommitOutput) -> CommitOut {
    CommitOut {
        commit: output.commit_message().to_bytes().unwrap(),
        welcome: output
            .welcome_messages()
            .first()
            .map(|w| w.to_bytes().unwrap()),
    }
}

impl<C: MlsConfig> Peer for MlsRsPeer<C> {
    fn kind(&self) -> Kind {
        Kind::MlsRs
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn key_package(&mut self) -> Vec<u8> {
        self.client
            .generate_key_package_message(ExtensionList::new(), ExtensionList::new(), None)
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn create(&mut self, group_id: &[u8]) {
        let group = self
            .client
            .create_group_with_id(
                group_id.to_vec(),
                ExtensionList::new(),
                ExtensionList::new(),
                None,
            )
            .unwrap();
        self.group = Some(group);
    }

    fn join(&mut self, welcome: &[u8]) {
        let (group, _) = self
            .client
            .join_group(None, &parse(welcome), None)
            .unwrap_or_else(|e| panic!("{}: join failed: {e:?}", self.name));
        self.group = Some(group);
    }

    fn join_external(&mut self, group_info: &[u8], with_psk: bool) -> Vec<u8> {
        let mut builder = self.client.external_commit_builder().unwrap();
        if with_psk {
            builder = builder.with_external_psk(ExternalPskId::new(PSK_ID.to_vec()));
        }
        let (group, commit) = builder
            .build(parse(group_info))
            .unwrap_or_else(|e| panic!("{}: external join failed: {e:?}", self.name));
        self.group = Some(group);
        commit.to_bytes().unwrap()
    }

    fn rejoin_external(&mut self, group_info: &[u8]) -> Vec<u8> {
        let own = self.group().current_member_index();
        let (group, commit) = self
            .client
            .external_commit_builder()
            .unwrap()
            .with_removal(own)
            .build(parse(group_info))
            .unwrap_or_else(|e| panic!("{}: external rejoin failed: {e:?}", self.name));
        self.group = Some(group);
        commit.to_bytes().unwrap()
    }

    fn commit(&mut self, op: &CommitOp) -> CommitOut {
        let ids = match op {
            CommitOp::Remove(ids) => ids.iter().map(|id| self.index_of(id)).collect(),
            _ => Vec::new(),
        };
        let name = self.name.clone();
        let group = self.group_mut();
        let mut builder = group.commit_builder();
        match op {
            CommitOp::Add(kps) => {
                for kp in kps {
                    builder = builder.add_member(parse(kp)).unwrap();
                }
            }
            CommitOp::Update | CommitOp::Pending => {}
            CommitOp::Remove(_) => {
                for index in ids {
                    builder = builder.remove_member(index).unwrap();
                }
            }
            CommitOp::ExternalPsk => {
                builder = builder
                    .add_external_psk(ExternalPskId::new(PSK_ID.to_vec()))
                    .unwrap();
            }
            CommitOp::ResumptionPsk(epoch) => {
                builder = builder.add_resumption_psk(*epoch).unwrap();
            }
            CommitOp::ForeignResumptionPsk { .. } => {
                panic!("mls-rs's commit builder names only the group's own resumption PSKs")
            }
        }
        let output = builder
            .build()
            .unwrap_or_else(|e| panic!("{name}: commit {op:?} failed: {e:?}"));
        commit_out(output)
    }

    fn merge(&mut self) {
        self.group_mut().apply_pending_commit().unwrap();
    }

    fn propose(&mut self, op: &ProposalOp) -> Vec<u8> {
        let message = match op {
            ProposalOp::Update => self.group_mut().propose_update(Vec::new()).unwrap(),
            ProposalOp::Remove(id) => {
                let index = self.index_of(id);
                self.group_mut().propose_remove(index, Vec::new()).unwrap()
            }
            ProposalOp::ExternalPsk => self
                .group_mut()
                .propose_external_psk(ExternalPskId::new(PSK_ID.to_vec()), Vec::new())
                .unwrap(),
        };
        message.to_bytes().unwrap()
    }

    fn try_process(&mut self, message: &[u8]) -> Result<Received, String> {
        let name = self.name.clone();
        let received = self
            .group_mut()
            .process_incoming_message(parse(message))
            .map_err(|e| format!("{name}: {e:?}"))?;
        Ok(match received {
            ReceivedMessage::ApplicationMessage(app) => Received::Application {
                data: app.data().to_vec(),
                aad: app.authenticated_data.clone(),
            },
            ReceivedMessage::Proposal(_) => Received::Proposal,
            ReceivedMessage::Commit(commit) => Received::Commit {
                removed: matches!(commit.effect, CommitEffect::Removed { .. }),
            },
            other => panic!("{name}: unexpected {other:?}"),
        })
    }

    fn protect(&mut self, data: &[u8], aad: &[u8]) -> Vec<u8> {
        self.group_mut()
            .encrypt_application_message(data, aad.to_vec())
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn epoch(&self) -> u64 {
        self.group().current_epoch()
    }

    fn authenticator(&self) -> Vec<u8> {
        self.group()
            .epoch_authenticator()
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    fn export(&self, label: &str, context: &[u8], length: usize) -> Vec<u8> {
        self.group()
            .export_secret(label.as_bytes(), context, length)
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    fn group_info(&mut self) -> Vec<u8> {
        self.group()
            .group_info_message_allowing_ext_commit(true)
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn roster(&self) -> Vec<Vec<u8>> {
        let mut members = self.group().roster().members();
        members.sort_by_key(|m| m.index);
        members
            .into_iter()
            .map(|m| {
                m.signing_identity
                    .credential
                    .as_basic()
                    .unwrap()
                    .identifier()
                    .to_vec()
            })
            .collect()
    }
}
