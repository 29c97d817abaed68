//! Targeted messages (draft-ietf-mls-targeted-messages-01) between Conclave, under its
//! `openmls-0.9` codepoint profile, and OpenMLS 0.9.2 with its `targeted-messages-draft`
//! feature, in one group of three: a Conclave creator, an OpenMLS member and a second
//! Conclave member. Each implementation sends to the other and opens what it receives; the
//! third member cannot open a message that is not for it. (That a -01 message does not open
//! as the -02 editor's copy is a unit test of conclave-core and a check of the vectors.)

use conclave_codec::{Decode, Encode};
use conclave_core::codepoints::CodepointProfile;
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, GroupError, JoinOptions, KeyPackageBundle,
    MemberParams, NewGroup, SigningIdentity,
};
use conclave_core::messages::{
    Add, Credential, KeyPackage as ConclaveKeyPackage, LeafIndex, MlsMessage as ConclaveMessage,
    MlsMessageBody, Proposal as ConclaveProposal,
};
use conclave_core::targeted::TargetedError;
use conclave_crypto::{CipherSuite as ConclaveSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use openmls::prelude::tls_codec::{Deserialize as _, Serialize as _};
use openmls::prelude::*;
use openmls_basic_credential::SignatureKeyPair;
use openmls_rust_crypto::OpenMlsRustCrypto;
use std::sync::{Arc, RwLock};

const SUITE: u16 = 1;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn params(name: &str, rng: &mut SeededRng) -> MemberParams {
    let env = GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    };
    let cs = RustCryptoProvider
        .cipher_suite_provider(ConclaveSuite(SUITE))
        .unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    MemberParams {
        config: GroupConfig {
            codepoint_profile: CodepointProfile::OpenMls09,
            ..GroupConfig::default()
        },
        ..MemberParams::new(env, signer)
    }
}

fn add(
    group: &mut Group,
    key_package: ConclaveKeyPackage,
    rng: &mut SeededRng,
) -> (Vec<u8>, Vec<u8>) {
    let output = group
        .commit(
            &CommitOptions {
                proposals: vec![ConclaveProposal::Add(Add { key_package })],
                ..CommitOptions::default()
            },
            now(),
            rng,
        )
        .unwrap();
    group.merge_pending_commit().unwrap();
    (
        output.commit.to_bytes().unwrap(),
        output.welcome.unwrap().to_bytes().unwrap(),
    )
}

struct OpenMlsMember {
    provider: OpenMlsRustCrypto,
    signer: SignatureKeyPair,
    group: Option<MlsGroup>,
}

impl OpenMlsMember {
    fn new() -> (Self, Vec<u8>) {
        let suite = Ciphersuite::try_from(SUITE).unwrap();
        let provider = OpenMlsRustCrypto::default();
        let signer = SignatureKeyPair::new(suite.signature_algorithm()).unwrap();
        signer.store(provider.storage()).unwrap();
        let credential = CredentialWithKey {
            credential: BasicCredential::new(b"olivia".to_vec()).into(),
            signature_key: signer.public().into(),
        };
        let bundle = KeyPackage::builder()
            .build(suite, &provider, &signer, credential)
            .unwrap();
        let key_package = MlsMessageOut::from(bundle.key_package().clone())
            .tls_serialize_detached()
            .unwrap();
        (
            Self {
                provider,
                signer,
                group: None,
            },
            key_package,
        )
    }

    fn group(&mut self) -> &mut MlsGroup {
        self.group.as_mut().unwrap()
    }

    fn join(&mut self, welcome: &[u8]) {
        let MlsMessageBodyIn::Welcome(welcome) = MlsMessageIn::tls_deserialize_exact(welcome)
            .unwrap()
            .extract()
        else {
            panic!("not a Welcome")
        };
        let config = MlsGroupJoinConfig::builder()
            .wire_format_policy(MIXED_CIPHERTEXT_WIRE_FORMAT_POLICY)
            .use_ratchet_tree_extension(true)
            .build();
        let group = StagedWelcome::new_from_welcome(&self.provider, &config, welcome, None)
            .and_then(|staged| staged.into_group(&self.provider))
            .unwrap();
        self.group = Some(group);
    }

    fn process_commit(&mut self, commit: &[u8]) {
        let message = MlsMessageIn::tls_deserialize_exact(commit).unwrap();
        let protocol = message.try_into_protocol_message().unwrap();
        let provider = &self.provider;
        let group = self.group.as_mut().unwrap();
        let processed = group.process_message(provider, protocol).unwrap();
        let ProcessedMessageContent::StagedCommitMessage(staged) = processed.into_content() else {
            panic!("not a commit")
        };
        group.merge_staged_commit(provider, *staged).unwrap();
    }

    fn send(&mut self, to: u32, data: &[u8]) -> Vec<u8> {
        let provider = &self.provider;
        let signer = &self.signer;
        let group = self.group.as_mut().unwrap();
        group
            .create_targeted_message(provider, signer, LeafNodeIndex::new(to), data)
            .unwrap()
            .tls_serialize_detached()
            .unwrap()
    }

    fn open(&mut self, message: &[u8]) -> (u32, Vec<u8>, Vec<u8>) {
        let MlsMessageBodyIn::TargetedMessage(message) =
            MlsMessageIn::tls_deserialize_exact(message)
                .unwrap()
                .extract()
        else {
            panic!("not a targeted message")
        };
        let provider = &self.provider;
        let processed = self
            .group
            .as_ref()
            .unwrap()
            .process_targeted_message(provider, &message)
            .unwrap();
        let sender = processed.sender_leaf_index().u32();
        let (data, aad) = processed.into_data();
        (sender, data, aad)
    }
}

fn targeted(bytes: &[u8]) -> ConclaveMessage {
    let message = ConclaveMessage::from_bytes(bytes).unwrap();
    assert!(matches!(message.body, MlsMessageBody::TargetedMessage(_)));
    message
}

#[test]
fn targeted_messages_cross_both_ways_with_openmls() {
    let mut rng = SeededRng::new(7);
    let alice_params = params("alice", &mut rng);
    let mut alice = Group::create(
        alice_params,
        NewGroup::new(ConclaveSuite(SUITE), b"targeted-mixed".to_vec()),
        now(),
        &mut rng,
    )
    .unwrap();
    // Olivia (OpenMLS) joins at leaf 1, then Carol (Conclave) at leaf 2.
    let (mut olivia, olivia_kp) = OpenMlsMember::new();
    let kp = ConclaveMessage::from_bytes(&olivia_kp)
        .unwrap()
        .into_key_package()
        .unwrap();
    let (_, welcome) = add(&mut alice, kp, &mut rng);
    olivia.join(&welcome);
    let carol_params = params("carol", &mut rng);
    let carol_bundle =
        KeyPackageBundle::generate(&carol_params, ConclaveSuite(SUITE), now(), &mut rng).unwrap();
    let (commit, welcome) = add(&mut alice, carol_bundle.key_package.clone(), &mut rng);
    olivia.process_commit(&commit);
    let welcome = ConclaveMessage::from_bytes(&welcome)
        .unwrap()
        .into_welcome()
        .unwrap();
    let carol = Group::join(
        carol_params,
        &welcome,
        &carol_bundle,
        &JoinOptions::default(),
        now(),
    )
    .unwrap();
    assert_eq!(
        olivia.group().epoch_authenticator().as_slice(),
        alice.epoch_authenticator()
    );

    // Conclave → OpenMLS.
    let to_olivia = alice
        .encrypt_targeted_message(LeafIndex(1), b"from conclave", b"", 0, &mut rng)
        .unwrap();
    let (sender, data, aad) = olivia.open(&to_olivia.to_bytes().unwrap());
    assert_eq!(
        (sender, data.as_slice(), aad.as_slice()),
        (0, &b"from conclave"[..], &b""[..])
    );
    // With authenticated data and padding too.
    let padded = alice
        .encrypt_targeted_message(LeafIndex(1), b"padded", b"nonce-7", 32, &mut rng)
        .unwrap();
    let (_, data, aad) = olivia.open(&padded.to_bytes().unwrap());
    assert_eq!(
        (data.as_slice(), aad.as_slice()),
        (&b"padded"[..], &b"nonce-7"[..])
    );

    // OpenMLS → Conclave, to each Conclave member.
    let to_alice = olivia.send(0, b"from openmls");
    let opened = alice
        .process_targeted_message(&targeted(&to_alice))
        .unwrap();
    assert_eq!(opened.sender, LeafIndex(1));
    assert_eq!(opened.content.application_data, b"from openmls");
    let to_carol = olivia.send(2, b"hi carol");
    let opened = carol
        .process_targeted_message(&targeted(&to_carol))
        .unwrap();
    assert_eq!(opened.content.application_data, b"hi carol");

    // Carol cannot open Alice's message.
    let before = carol.to_bytes().unwrap();
    assert_eq!(
        carol
            .process_targeted_message(&targeted(&to_alice))
            .unwrap_err(),
        GroupError::Targeted(TargetedError::NotRecipient {
            recipient: 0,
            own: 2
        })
    );
    assert_eq!(carol.to_bytes().unwrap(), before);
}
