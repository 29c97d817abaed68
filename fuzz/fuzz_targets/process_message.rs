//! Feeds arbitrary bytes as an `MLSMessage` to a live group member (RFC 9420 §6, §12.4.2):
//! `Group::process_message` must never panic, whatever it is given.
//!
//! The group (alice, bob, carol; bob sends PublicMessage handshakes, carol PrivateMessage)
//! is built once per process with a seeded RNG, together with valid messages for alice's
//! current epoch: application messages, Update proposals and commits from bob and carol,
//! an external commit, and a Welcome, GroupInfo and KeyPackage. Each input starts from
//! alice's serialized state (`Group::from_bytes`), so runs are independent.
//!
//! Input: an even first byte feeds the rest as raw bytes; an odd one picks a valid message
//! (second byte) and applies edits from the rest, 4 bytes each: `op, offset (u16), value`,
//! with `op` one of xor, truncate, insert, delete, overwrite — so the fuzzer reaches the
//! checks behind decoding without needing a seed corpus. `CONCLAVE_FUZZ_VERBOSE=1` prints
//! each outcome.
#![no_main]

use std::sync::{Arc, OnceLock, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams,
    NewGroup, SigningIdentity,
};
use conclave_core::messages::{
    Credential, MlsMessage, MlsMessageBody, Proposal, Remove, WireFormat,
};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use libfuzzer_sys::fuzz_target;

mod edits;
use edits::{edit, verbose};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

struct Fixture {
    /// Alice's serialized state.
    state: Vec<u8>,
    /// Encoded valid messages for alice's current epoch.
    messages: Vec<Vec<u8>>,
}

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn identity(name: &str, rng: &mut SeededRng) -> SigningIdentity {
    let cs = RustCryptoProvider
        .cipher_suite_provider(SUITE)
        .expect("suite 1");
    SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .expect("signature key")
}

fn config(handshake: WireFormat) -> GroupConfig {
    GroupConfig {
        handshake_wire_format: handshake,
        ..GroupConfig::default()
    }
}

fn build() -> Fixture {
    let mut rng = SeededRng::new(0x5eed);
    let mut alice = Group::create(
        MemberParams {
            config: config(WireFormat::PUBLIC_MESSAGE),
            ..MemberParams::new(env(), identity("alice", &mut rng))
        },
        NewGroup::new(SUITE, b"fuzzed group".to_vec()),
        NOW,
        &mut rng,
    )
    .expect("create");
    let mut members = Vec::new();
    for (name, handshake) in [
        ("bob", WireFormat::PUBLIC_MESSAGE),
        ("carol", WireFormat::PRIVATE_MESSAGE),
    ] {
        let signer = identity(name, &mut rng);
        let bundle = KeyPackageBundle::generate(
            &MemberParams::new(env(), signer.clone()),
            SUITE,
            NOW,
            &mut rng,
        )
        .expect("key package");
        let options = CommitOptions {
            proposals: vec![Proposal::Add(conclave_core::messages::Add {
                key_package: bundle.key_package.clone(),
            })],
            ..CommitOptions::default()
        };
        let output = alice.commit(&options, NOW, &mut rng).expect("commit");
        alice.merge_pending_commit().expect("merge");
        for member in &mut members {
            let member: &mut Group = member;
            member
                .process_message(&output.commit, NOW)
                .expect("process add");
        }
        let Some(MlsMessageBody::Welcome(welcome)) = output.welcome.map(|w| w.body) else {
            panic!("no Welcome");
        };
        let joined = Group::join(
            MemberParams {
                config: config(handshake),
                ..MemberParams::new(env(), signer)
            },
            &welcome,
            &bundle,
            &JoinOptions::default(),
            NOW,
        )
        .expect("join");
        members.push(joined);
    }
    let mut messages: Vec<MlsMessage> = Vec::new();
    let alice_leaf = alice.own_leaf();
    for (i, member) in members.iter_mut().enumerate() {
        messages.push(
            member
                .encrypt_application_message(b"hello alice", b"ad", &mut rng)
                .expect("application message"),
        );
        messages.push(member.propose_update(None, &mut rng).expect("update"));
        let removed = if i == 0 {
            None
        } else {
            Some(members_leaf_other(member, alice_leaf))
        };
        let options = CommitOptions {
            proposals: removed
                .map(|removed| vec![Proposal::Remove(Remove { removed })])
                .unwrap_or_default(),
            ..CommitOptions::default()
        };
        let output = member
            .commit(&options, NOW, &mut rng)
            .expect("member commit");
        messages.push(output.commit);
        messages.push(output.group_info);
        if let Some(welcome) = output.welcome {
            messages.push(welcome);
        }
    }
    // An external commit by dave, from alice's GroupInfo.
    let group_info = match alice.group_info(true).expect("group info").body {
        MlsMessageBody::GroupInfo(info) => info,
        _ => panic!("not a GroupInfo"),
    };
    let dave = identity("dave", &mut rng);
    let bundle = KeyPackageBundle::generate(
        &MemberParams::new(env(), dave.clone()),
        SUITE,
        NOW,
        &mut rng,
    )
    .expect("key package");
    messages.push(MlsMessage::new(MlsMessageBody::KeyPackage(
        bundle.key_package,
    )));
    let (_dave, external) = Group::join_external(
        MemberParams::new(env(), dave),
        &group_info,
        &JoinOptions::default(),
        NOW,
        &mut rng,
    )
    .expect("external join");
    messages.push(external.commit);
    Fixture {
        state: alice.to_bytes().expect("state"),
        messages: messages
            .iter()
            .map(|m| m.to_bytes().expect("encode"))
            .collect(),
    }
}

/// The leaf of the member other than `member` and alice (bob, seen from carol).
fn members_leaf_other(
    member: &Group,
    alice: conclave_core::messages::LeafIndex,
) -> conclave_core::messages::LeafIndex {
    member
        .members()
        .map(|(leaf, _)| leaf)
        .find(|leaf| *leaf != alice && *leaf != member.own_leaf())
        .expect("a third member")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    let fixture = fixture();
    let bytes = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let Some((&pick, edits)) = rest.split_first() else {
            return;
        };
        let base = &fixture.messages[usize::from(pick) % fixture.messages.len()];
        edit(base.clone(), edits)
    };
    let Ok(message) = MlsMessage::from_bytes(&bytes) else {
        return;
    };
    let mut alice = Group::from_bytes(env(), &fixture.state).expect("state loads");
    let result = alice.process_message(&message, NOW);
    if verbose() {
        eprintln!("process_message: {result:?}");
    }
    // Whatever happened, the state must still serialize; an accepted message may be followed
    // by more traffic.
    let _ = alice.to_bytes().expect("state serializes");
    if result.is_ok() {
        let _ = alice.encrypt_application_message(b"after", b"", &mut SeededRng::new(1));
    }
});
