//! KeyPackage context (draft-mahy-mls-kp-context-00) in groups: a KeyPackage bound to one
//! group is added there, and refused for another group by the adder and by a member that
//! commits a received Add proposal; the refusals leave the states byte-identical.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{NOW, create_group, env, identity, snapshot, welcome_of};
use conclave_core::group::{
    CommitOptions, Group, GroupConfig, GroupError, JoinOptions, KeyPackageBundle, LeafOptions,
    MemberParams,
};
use conclave_core::kp_context::{ContextPair, KpContextError};
use conclave_core::messages::{Add, Proposal};
use conclave_core::validation::ValidationError;
use conclave_crypto::{CipherSuite, SeededRng};

const SUITE: CipherSuite = CipherSuite(1);

/// Bob's member parameters, his KeyPackages bound to `group_id`.
fn bound_to(group_id: &[u8], rng: &mut SeededRng) -> MemberParams {
    MemberParams {
        leaf: LeafOptions {
            key_package_extensions: vec![
                ContextPair::group(group_id)
                    .to_key_package_extension()
                    .unwrap(),
            ],
            ..LeafOptions::default()
        },
        ..MemberParams::new(env(), identity("bob", SUITE, rng))
    }
}

fn add(kp: &KeyPackageBundle) -> CommitOptions {
    CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: kp.key_package.clone(),
        })],
        ..CommitOptions::default()
    }
}

fn outside(group_id: &[u8]) -> GroupError {
    GroupError::Validation(ValidationError::KpContext(KpContextError::OutsideContext(
        format!(
            "group id {}",
            group_id
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ),
    )))
}

#[test]
fn a_bound_key_package_is_added_in_its_group_only() {
    let mut rng = SeededRng::new(1);
    let bob = bound_to(b"invited-here", &mut rng);
    let kp = KeyPackageBundle::generate(&bob, SUITE, NOW, &mut rng).unwrap();

    // Another group: the adder refuses, its state unchanged.
    let mut other = create_group(
        SUITE,
        b"elsewhere",
        identity("alice", SUITE, &mut rng),
        GroupConfig::default(),
        &mut rng,
    );
    let before = snapshot(&other);
    assert_eq!(
        other.commit(&add(&kp), NOW, &mut rng).unwrap_err(),
        outside(b"invited-here")
    );
    assert_eq!(snapshot(&other), before);

    // Its group: added, and bob joins.
    let mut here = create_group(
        SUITE,
        b"invited-here",
        identity("alice", SUITE, &mut rng),
        GroupConfig::default(),
        &mut rng,
    );
    let output = here.commit(&add(&kp), NOW, &mut rng).unwrap();
    here.merge_pending_commit().unwrap();
    let welcome = welcome_of(output.welcome.as_ref().unwrap());
    let bob = Group::join(bob, &welcome, &kp, &JoinOptions::default(), NOW).unwrap();
    assert_eq!(bob.epoch_authenticator(), here.epoch_authenticator());
}

#[test]
fn a_member_receiving_the_add_and_the_joiner_refuse_another_group() {
    let mut rng = SeededRng::new(2);
    // Carol's group "elsewhere" with Dave in it.
    let mut carol = create_group(
        SUITE,
        b"elsewhere",
        identity("carol", SUITE, &mut rng),
        GroupConfig::default(),
        &mut rng,
    );
    let dave_params = MemberParams::new(env(), identity("dave", SUITE, &mut rng));
    let dave_kp = KeyPackageBundle::generate(&dave_params, SUITE, NOW, &mut rng).unwrap();
    let output = carol.commit(&add(&dave_kp), NOW, &mut rng).unwrap();
    carol.merge_pending_commit().unwrap();
    let mut dave = Group::join(
        dave_params,
        &welcome_of(output.welcome.as_ref().unwrap()),
        &dave_kp,
        &JoinOptions::default(),
        NOW,
    )
    .unwrap();

    // Bob's package is for "invited-here"; Carol proposes it anyway (a proposal by
    // reference is not checked by its sender), Dave refuses it on receipt.
    let bob = bound_to(b"invited-here", &mut rng);
    let kp = KeyPackageBundle::generate(&bob, SUITE, NOW, &mut rng).unwrap();
    let proposal = carol
        .propose(
            Proposal::Add(Add {
                key_package: kp.key_package.clone(),
            }),
            b"",
            &mut rng,
        )
        .unwrap();
    // Proposals are checked when committed (RFC 9420 §12.2): Dave caches it, and his
    // commit does not add Bob.
    dave.process_message(&proposal, NOW).unwrap();
    let before = snapshot(&dave);
    let members = dave.members().count();
    match dave.commit(&CommitOptions::default(), NOW, &mut rng) {
        Err(error) => {
            assert_eq!(error, outside(b"invited-here"));
            assert_eq!(snapshot(&dave), before);
        }
        Ok(_) => {
            dave.merge_pending_commit().unwrap();
            assert_eq!(dave.members().count(), members, "Bob was added");
        }
    }
}
