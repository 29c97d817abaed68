//! A Conclave member behind the [`Peer`] interface.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::framing::PaddingPolicy;
use conclave_core::group::{
    CommitOptions, CommitOutput, Group, GroupConfig, GroupEnv, JoinOptions, KeyPackageBundle,
    MemberParams, NewGroup, ProcessedMessage, SigningIdentity,
};
use conclave_core::messages::{
    Credential, MlsMessage, MlsMessageBody, PreSharedKey, PreSharedKeyId, Proposal, Psk, Remove,
    ResumptionPskUsage, WireFormat,
};
use conclave_crypto::{CipherSuite, CryptoProvider, CryptoRandom, Secret, SeededRng};

use crate::peer::{
    CommitOp, CommitOut, Handshake, Kind, PSK_ID, PSK_SECRET, Peer, ProposalOp, Received,
};

pub(crate) struct ConclavePeer {
    name: String,
    suite: CipherSuite,
    env: GroupEnv,
    config: GroupConfig,
    signer: SigningIdentity,
    rng: SeededRng,
    pending_kp: Option<KeyPackageBundle>,
    group: Option<Group>,
}

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn parse(bytes: &[u8]) -> MlsMessage {
    MlsMessage::from_bytes(bytes).unwrap()
}

fn bytes(message: &MlsMessage) -> Vec<u8> {
    message.to_bytes().unwrap()
}

impl ConclavePeer {
    /// `aws_lc` selects Conclave's aws-lc-rs backend, else its RustCrypto backend.
    pub(crate) fn new(
        name: &str,
        suite: u16,
        handshake: Handshake,
        aws_lc: bool,
        seed: u64,
    ) -> Self {
        let crypto: Arc<dyn CryptoProvider> = if aws_lc {
            Arc::new(conclave_crypto_awslc::AwsLcProvider)
        } else {
            Arc::new(conclave_crypto_rustcrypto::RustCryptoProvider)
        };
        let psks: HashMap<Vec<u8>, Secret> =
            HashMap::from([(PSK_ID.to_vec(), Secret::new(PSK_SECRET.to_vec()))]);
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
        let config = GroupConfig {
            handshake_wire_format: match handshake {
                Handshake::Public => WireFormat::PUBLIC_MESSAGE,
                Handshake::Private => WireFormat::PRIVATE_MESSAGE,
            },
            // PrivateMessages are padded (RFC 9420 §6.3.1).
            padding: PaddingPolicy::PadToMultipleOf(NonZeroU32::new(32).unwrap()),
            ..GroupConfig::default()
        };
        Self {
            name: name.to_string(),
            suite,
            env,
            config,
            signer,
            rng,
            pending_kp: None,
            group: None,
        }
    }

    fn group(&self) -> &Group {
        self.group.as_ref().unwrap()
    }

    fn group_mut(&mut self) -> &mut Group {
        self.group.as_mut().unwrap()
    }

    fn leaf_of(&self, identity: &[u8]) -> conclave_core::messages::LeafIndex {
        self.group()
            .members()
            .find(|(_, leaf)| {
                matches!(&leaf.credential, Credential::Basic { identity: id } if id == identity)
            })
            .map(|(index, _)| index)
            .unwrap_or_else(|| panic!("{}: no member {:?}", self.name, identity))
    }

    fn nonce(&mut self) -> Vec<u8> {
        let mut nonce = vec![0u8; self.env.suite(self.suite).unwrap().hash_len()];
        // (KDF.Nh bytes, RFC 9420 §8.4)
        self.rng.fill(&mut nonce).unwrap();
        nonce
    }
}

impl ConclavePeer {
    fn external(&mut self, group_info: &[u8], options: &JoinOptions) -> Vec<u8> {
        let MlsMessageBody::GroupInfo(info) = parse(group_info).body else {
            panic!("not a GroupInfo")
        };
        let (group, output) = Group::join_external(
            MemberParams {
                config: self.config.clone(),
                ..MemberParams::new(self.env.clone(), self.signer.clone())
            },
            &info,
            options,
            now(),
            &mut self.rng,
        )
        .unwrap_or_else(|e| panic!("{}: external join failed: {e:?}", self.name));
        self.group = Some(group);
        bytes(&output.commit)
    }
}

fn commit_out(output: CommitOutput) -> CommitOut {
    CommitOut {
        commit: bytes(&output.commit),
        welcome: output.welcome.as_ref().map(bytes),
    }
}

impl Peer for ConclavePeer {
    fn kind(&self) -> Kind {
        Kind::Conclave
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn key_package(&mut self) -> Vec<u8> {
        let bundle = KeyPackageBundle::generate(
            &MemberParams::new(self.env.clone(), self.signer.clone()),
            self.suite,
            now(),
            &mut self.rng,
        )
        .unwrap();
        let message = MlsMessage {
            version: conclave_core::messages::ProtocolVersion::MLS10,
            body: MlsMessageBody::KeyPackage(bundle.key_package.clone()),
        };
        self.pending_kp = Some(bundle);
        bytes(&message)
    }

    fn create(&mut self, group_id: &[u8]) {
        let group = Group::create(
            MemberParams {
                config: self.config.clone(),
                ..MemberParams::new(self.env.clone(), self.signer.clone())
            },
            NewGroup::new(self.suite, group_id.to_vec()),
            now(),
            &mut self.rng,
        )
        .unwrap();
        self.group = Some(group);
    }

    fn join(&mut self, welcome: &[u8]) {
        let MlsMessageBody::Welcome(welcome) = parse(welcome).body else {
            panic!("not a Welcome")
        };
        let bundle = self.pending_kp.take().unwrap();
        let group = Group::join(
            MemberParams {
                config: self.config.clone(),
                ..MemberParams::new(self.env.clone(), self.signer.clone())
            },
            &welcome,
            &bundle,
            &JoinOptions::default(),
            now(),
        )
        .unwrap_or_else(|e| panic!("{}: join failed: {e:?}", self.name));
        self.group = Some(group);
    }

    fn join_external(&mut self, group_info: &[u8], with_psk: bool) -> Vec<u8> {
        let mut options = JoinOptions::default();
        if with_psk {
            let psk_nonce = self.nonce();
            options.psks.push(PreSharedKeyId {
                psk: Psk::External {
                    psk_id: PSK_ID.to_vec(),
                },
                psk_nonce,
            });
        }
        self.external(group_info, &options)
    }

    fn rejoin_external(&mut self, group_info: &[u8]) -> Vec<u8> {
        let options = JoinOptions {
            remove_prior_leaf: Some(self.group().own_leaf()),
            ..JoinOptions::default()
        };
        self.external(group_info, &options)
    }

    fn commit(&mut self, op: &CommitOp) -> CommitOut {
        let mut options = CommitOptions::default();
        match op {
            CommitOp::Add(kps) => {
                for kp in kps {
                    let MlsMessageBody::KeyPackage(key_package) = parse(kp).body else {
                        panic!("not a KeyPackage")
                    };
                    options
                        .proposals
                        .push(Proposal::Add(conclave_core::messages::Add { key_package }));
                }
                options.force_path = false;
            }
            CommitOp::Update => {}
            CommitOp::Pending => options.force_path = false,
            CommitOp::Remove(ids) => {
                for id in ids {
                    let removed = self.leaf_of(id);
                    options.proposals.push(Proposal::Remove(Remove { removed }));
                }
            }
            CommitOp::ExternalPsk => {
                let psk_nonce = self.nonce();
                options.proposals.push(Proposal::PreSharedKey(PreSharedKey {
                    psk: PreSharedKeyId {
                        psk: Psk::External {
                            psk_id: PSK_ID.to_vec(),
                        },
                        psk_nonce,
                    },
                }));
                options.force_path = false;
            }
            CommitOp::ResumptionPsk(_) | CommitOp::ForeignResumptionPsk { .. } => {
                let psk_nonce = self.nonce();
                let (psk_group_id, epoch) = match op {
                    CommitOp::ForeignResumptionPsk { group_id, epoch } => (group_id.clone(), epoch),
                    CommitOp::ResumptionPsk(epoch) => (self.group().group_id().to_vec(), epoch),
                    _ => unreachable!(),
                };
                options.proposals.push(Proposal::PreSharedKey(PreSharedKey {
                    psk: PreSharedKeyId {
                        psk: Psk::Resumption {
                            usage: ResumptionPskUsage::Application,
                            psk_group_id,
                            psk_epoch: *epoch,
                        },
                        psk_nonce,
                    },
                }));
                options.force_path = false;
            }
        }
        let now = now();
        let group = self.group.as_mut().unwrap();
        let output = group
            .commit(&options, now, &mut self.rng)
            .unwrap_or_else(|e| panic!("{}: commit {op:?} failed: {e:?}", self.name));
        commit_out(output)
    }

    fn merge(&mut self) {
        self.group_mut().merge_pending_commit().unwrap();
    }

    fn propose(&mut self, op: &ProposalOp) -> Vec<u8> {
        let message = match op {
            ProposalOp::Update => {
                let group = self.group.as_mut().unwrap();
                group.propose_update(None, &mut self.rng).unwrap()
            }
            ProposalOp::Remove(id) => {
                let removed = self.leaf_of(id);
                let group = self.group.as_mut().unwrap();
                group
                    .propose(Proposal::Remove(Remove { removed }), b"", &mut self.rng)
                    .unwrap()
            }
            ProposalOp::ExternalPsk => {
                let psk_nonce = self.nonce();
                let proposal = Proposal::PreSharedKey(PreSharedKey {
                    psk: PreSharedKeyId {
                        psk: Psk::External {
                            psk_id: PSK_ID.to_vec(),
                        },
                        psk_nonce,
                    },
                });
                let group = self.group.as_mut().unwrap();
                group.propose(proposal, b"", &mut self.rng).unwrap()
            }
        };
        bytes(&message)
    }

    fn try_process(&mut self, message: &[u8]) -> Result<Received, String> {
        let message = parse(message);
        let now = now();
        let name = self.name.clone();
        let processed = self
            .group_mut()
            .process_message(&message, now)
            .map_err(|e| format!("{name}: {e:?}"))?;
        Ok(match processed {
            ProcessedMessage::Application {
                data,
                authenticated_data,
                ..
            } => Received::Application {
                data,
                aad: authenticated_data,
            },
            ProcessedMessage::Proposal { .. } => Received::Proposal,
            ProcessedMessage::Commit(summary) => Received::Commit {
                removed: summary.self_removed,
            },
            other => panic!("{name}: unexpected {other:?}"),
        })
    }

    fn protect(&mut self, data: &[u8], aad: &[u8]) -> Vec<u8> {
        let group = self.group.as_mut().unwrap();
        bytes(
            &group
                .encrypt_application_message(data, aad, &mut self.rng)
                .unwrap(),
        )
    }

    fn epoch(&self) -> u64 {
        self.group().epoch()
    }

    fn authenticator(&self) -> Vec<u8> {
        self.group().epoch_authenticator().to_vec()
    }

    fn export(&self, label: &str, context: &[u8], length: usize) -> Vec<u8> {
        self.group()
            .export_secret(label, context, length)
            .unwrap()
            .as_bytes()
            .to_vec()
    }

    fn group_info(&mut self) -> Vec<u8> {
        bytes(&self.group().group_info(true).unwrap())
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
