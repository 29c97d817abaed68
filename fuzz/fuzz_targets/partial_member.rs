//! Feeds arbitrary or edited inputs to a live partial member (draft-ietf-mls-partial-02
//! §8, §10, §11): `PartialMember::process_annotated_commit`, `decrypt_application_message`,
//! `receive_proposal`, `receive_authenticated_proposal` and `PartialMember::join` must never
//! panic, and a refused input must leave the member's state byte-identical (RFC 9420
//! §12.4.2 "stage, then apply"; `docs/style.md` §3).
//!
//! Built once per process with a seeded RNG: alice (full) creates the group and adds bob
//! (full) and carol (partial, from an AnnotatedWelcome); then, for carol's current epoch,
//! valid inputs are prepared: AnnotatedCommits of alice's and bob's commits (update, add,
//! remove of bob), sender-authenticated application messages from alice and bob, a
//! proposal, and an AnnotatedWelcome for a fourth joiner (dave, partial). Each input starts
//! from carol's serialized state (`PartialMember::from_bytes`), so runs are independent.
//!
//! Input: the first byte picks the entry point (mod 5) and whether the rest is raw bytes
//! (even `>> 3`) or an edit script applied to a valid input of that kind (second byte picks
//! it; then 4 bytes per edit: `op, offset (u16), value`, with `op` one of xor, truncate,
//! insert, delete, overwrite). `CONCLAVE_FUZZ_VERBOSE=1` prints each outcome.
#![no_main]

use std::sync::{Arc, OnceLock};

use conclave_codec::{Decode, Encode};
use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams, NewGroup,
    SigningIdentity,
};
use conclave_core::messages::{
    Add, Credential, LeafIndex, MlsMessage, MlsMessageBody, PrivateMessage, Proposal,
    PublicMessage, Remove, Welcome,
};
use conclave_core::partial::member::{PartialMember, PartialPsks};
use conclave_core::partial::{
    AnnotatedCommit, AnnotatedWelcome, CommitAnnotator, CommitFacts, MembershipProof,
    SenderAuthenticatedMessage, annotate_welcome,
};
use conclave_core::secret_tree::SecretTreeConfig;
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use libfuzzer_sys::fuzz_target;

mod edits;
use edits::{edit, verbose};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

struct Fixture {
    /// Carol's serialized partial state.
    state: Vec<u8>,
    /// Valid inputs per entry point: AnnotatedCommits, SenderAuthenticatedMessage
    /// <PrivateMessage>s, proposal MLSMessages, SenderAuthenticatedMessage<PublicMessage>
    /// proposals, AnnotatedWelcomes (for dave).
    valid: [Vec<Vec<u8>>; 5],
    /// Dave's KeyPackage and signature key, for the join entry point.
    dave: (SigningIdentity, KeyPackageBundle),
}

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(()),
    }
}

fn cs() -> Box<dyn conclave_crypto::CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(SUITE)
        .expect("suite 1")
}

fn member(name: &str, rng: &mut SeededRng) -> (SigningIdentity, KeyPackageBundle) {
    let signer = SigningIdentity::generate(
        cs().as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .expect("signature key");
    let bundle =
        KeyPackageBundle::generate(&MemberParams::new(env(), signer.clone()), SUITE, NOW, rng)
            .expect("KeyPackage");
    (signer, bundle)
}

fn welcome_of(message: &MlsMessage) -> Welcome {
    match &message.body {
        MlsMessageBody::Welcome(w) => w.clone(),
        _ => panic!("not a Welcome"),
    }
}

fn proof(group: &Group, leaf: LeafIndex) -> MembershipProof {
    MembershipProof::for_leaf(group.tree(), cs().as_ref(), leaf).expect("proof")
}

/// A commit of `committer` with `options`, annotated for `receiver`; the full members other
/// than the committer process it (so they can keep sending in the same epoch as carol, who
/// does not).
fn annotated_commit(
    groups: &[Group],
    committer: usize,
    options: &CommitOptions,
    receiver: LeafIndex,
    rng: &mut SeededRng,
) -> Vec<u8> {
    let mut committer = Group::from_bytes(env(), &groups[committer].to_bytes().expect("state"))
        .expect("state loads");
    let before = committer.tree().clone();
    let output = committer.commit(options, NOW, rng).expect("commit");
    let summary = committer.merge_pending_commit().expect("merge");
    let cs = cs();
    let annotator = CommitAnnotator::new(
        cs.as_ref(),
        &before,
        committer.tree(),
        CommitFacts {
            commit: &output.commit,
            committer: committer.own_leaf(),
            new_member_commit: false,
            has_path: true,
            new_leaves: &summary.added,
        },
    )
    .expect("annotator");
    let annotated = if annotator.removes(receiver) {
        annotator.annotate_removal_for(receiver)
    } else {
        annotator.annotate_for(cs.as_ref(), receiver)
    }
    .expect("annotate");
    annotated.to_bytes().expect("encode")
}

fn build() -> Fixture {
    let mut rng = SeededRng::new(0x9a57);
    let (alice_id, _) = member("alice", &mut rng);
    let mut alice = Group::create(
        MemberParams::new(env(), alice_id),
        NewGroup::new(SUITE, b"fuzzed partial group".to_vec()),
        NOW,
        &mut rng,
    )
    .expect("create");
    let (bob_id, bob_kp) = member("bob", &mut rng);
    let (carol_id, carol_kp) = member("carol", &mut rng);
    let output = alice
        .commit(
            &CommitOptions {
                proposals: vec![
                    Proposal::Add(Add {
                        key_package: bob_kp.key_package.clone(),
                    }),
                    Proposal::Add(Add {
                        key_package: carol_kp.key_package.clone(),
                    }),
                ],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .expect("add");
    alice.merge_pending_commit().expect("merge");
    let welcome = welcome_of(output.welcome.as_ref().expect("welcome"));
    let bob = Group::join(
        MemberParams::new(env(), bob_id),
        &welcome,
        &bob_kp,
        &JoinOptions::default(),
        NOW,
    )
    .expect("bob joins");
    let carol_leaf = alice
        .tree()
        .find_leaf(&carol_kp.key_package.leaf_node)
        .expect("carol");
    let cs = cs();
    let carol_welcome = annotate_welcome(
        cs.as_ref(),
        alice.tree(),
        welcome,
        alice.own_leaf(),
        carol_leaf,
    )
    .expect("annotate welcome");
    let carol = PartialMember::join(
        &RustCryptoProvider,
        &carol_welcome,
        &carol_kp,
        carol_id.secret_key.clone(),
        &PartialPsks::NONE,
        SecretTreeConfig::default(),
    )
    .expect("carol joins");
    let mut groups = vec![alice, bob];

    // Annotated commits for carol's epoch.
    let bob_leaf = groups[1].own_leaf();
    let (_, extra) = member("extra", &mut rng);
    let commits = vec![
        annotated_commit(&groups, 0, &CommitOptions::default(), carol_leaf, &mut rng),
        annotated_commit(&groups, 1, &CommitOptions::default(), carol_leaf, &mut rng),
        annotated_commit(
            &groups,
            0,
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: extra.key_package,
                })],
                ..CommitOptions::default()
            },
            carol_leaf,
            &mut rng,
        ),
        annotated_commit(
            &groups,
            0,
            &CommitOptions {
                proposals: vec![Proposal::Remove(Remove { removed: bob_leaf })],
                ..CommitOptions::default()
            },
            carol_leaf,
            &mut rng,
        ),
        annotated_commit(
            &groups,
            1,
            &CommitOptions {
                proposals: vec![Proposal::Remove(Remove {
                    removed: carol_leaf,
                })],
                ..CommitOptions::default()
            },
            carol_leaf,
            &mut rng,
        ),
    ];

    // Application messages from alice and bob, with their proofs.
    let mut apps = Vec::new();
    for i in 0..2 {
        let leaf = groups[i].own_leaf();
        let message = groups[i]
            .encrypt_application_message(b"fuzz", b"aad", &mut rng)
            .expect("encrypt");
        let MlsMessageBody::PrivateMessage(private) = message.body else {
            panic!("not a PrivateMessage");
        };
        let wrapped: SenderAuthenticatedMessage<PrivateMessage> = SenderAuthenticatedMessage {
            message: private,
            sender_membership_proof: proof(&groups[i], leaf),
        };
        apps.push(wrapped.to_bytes().expect("encode"));
    }

    // A proposal from bob (a PSK-free GroupContextExtensions is a tree-neutral proposal).
    let extensions = groups[1].context().extensions.clone();
    let proposal = groups[1]
        .propose(
            Proposal::GroupContextExtensions(conclave_core::messages::GroupContextExtensions {
                extensions,
            }),
            b"",
            &mut rng,
        )
        .expect("propose");
    let proposal_bytes = proposal.to_bytes().expect("encode");
    let authenticated = match &proposal.body {
        MlsMessageBody::PublicMessage(public) => {
            let wrapped: SenderAuthenticatedMessage<PublicMessage> = SenderAuthenticatedMessage {
                message: public.clone(),
                sender_membership_proof: proof(&groups[1], bob_leaf),
            };
            vec![wrapped.to_bytes().expect("encode")]
        }
        _ => Vec::new(),
    };

    // An AnnotatedWelcome for dave (partial).
    let dave = member("dave", &mut rng);
    let output = groups[0]
        .commit(
            &CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: dave.1.key_package.clone(),
                })],
                ratchet_tree_in_group_info: false,
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .expect("add dave");
    groups[0].merge_pending_commit().expect("merge");
    let dave_leaf = groups[0]
        .tree()
        .find_leaf(&dave.1.key_package.leaf_node)
        .expect("dave");
    let dave_welcome = annotate_welcome(
        cs.as_ref(),
        groups[0].tree(),
        welcome_of(output.welcome.as_ref().expect("welcome")),
        groups[0].own_leaf(),
        dave_leaf,
    )
    .expect("annotate")
    .to_bytes()
    .expect("encode");

    Fixture {
        state: carol.to_bytes().expect("state"),
        valid: [
            commits,
            apps,
            vec![proposal_bytes],
            authenticated,
            vec![dave_welcome],
        ],
        dave,
    }
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
    let entry = usize::from(mode % 5);
    let bytes = if (mode >> 3) % 2 == 0 {
        rest.to_vec()
    } else {
        let valid = &fixture.valid[entry];
        let Some((&pick, edits)) = rest.split_first() else {
            return;
        };
        if valid.is_empty() {
            return;
        }
        edit(valid[usize::from(pick) % valid.len()].clone(), edits)
    };
    let mut carol = PartialMember::from_bytes(&fixture.state, &RustCryptoProvider).expect("state");
    let result: Result<String, String> = match entry {
        0 => {
            let Ok(annotated) = AnnotatedCommit::from_bytes(&bytes) else {
                return;
            };
            carol
                .process_annotated_commit(&annotated, &PartialPsks::NONE)
                .map(|o| format!("{o:?}"))
                .map_err(|e| e.to_string())
        }
        1 => {
            let Ok(message) = SenderAuthenticatedMessage::<PrivateMessage>::from_bytes(&bytes)
            else {
                return;
            };
            carol
                .decrypt_application_message(&message)
                .map(|m| format!("{} bytes from {:?}", m.data.len(), m.sender))
                .map_err(|e| e.to_string())
        }
        2 => {
            let Ok(message) = MlsMessage::from_bytes(&bytes) else {
                return;
            };
            carol
                .receive_proposal(&message)
                .map(|()| "proposal cached".to_owned())
                .map_err(|e| e.to_string())
        }
        3 => {
            let Ok(message) = SenderAuthenticatedMessage::<PublicMessage>::from_bytes(&bytes)
            else {
                return;
            };
            carol
                .receive_authenticated_proposal(&message)
                .map(|()| "proposal cached".to_owned())
                .map_err(|e| e.to_string())
        }
        _ => {
            let Ok(welcome) = AnnotatedWelcome::from_bytes(&bytes) else {
                return;
            };
            let (signer, bundle) = &fixture.dave;
            let joined = PartialMember::join(
                &RustCryptoProvider,
                &welcome,
                bundle,
                signer.secret_key.clone(),
                &PartialPsks::NONE,
                SecretTreeConfig::default(),
            );
            if let Ok(dave) = &joined {
                let _ = dave.to_bytes().expect("a joined member serializes");
            }
            joined
                .map(|d| format!("joined at epoch {}", d.epoch()))
                .map_err(|e| e.to_string())
        }
    };
    if verbose() {
        eprintln!("entry {entry}: {result:?}");
    }
    let after = carol.to_bytes().expect("state serializes");
    if result.is_err() && entry != 4 {
        // A refused input changes nothing.
        assert_eq!(after, fixture.state, "a refused input changed the state");
    }
});
