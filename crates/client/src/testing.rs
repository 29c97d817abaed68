//! Test helpers: groups built directly with the core, with basic credentials
//! (`mls://<name>`, RFC 9420 §5.3) and our group policy, for the applier, store and driver
//! tests.

use std::sync::Arc;

use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    CommitOptions, Group, GroupEnv, JoinOptions, KeyPackageBundle, MemberParams, NewGroup,
    SigningIdentity,
};
use conclave_core::messages::{Add, Credential, MlsMessage, MlsMessageBody, Proposal};
use conclave_crypto::CipherSuite;

use crate::OsRandom;
use crate::driver::{group_config, leaf_options};

pub(crate) const SUITE: CipherSuite = CipherSuite(1);
pub(crate) const NOW: u64 = 1_700_000_000;

pub(crate) fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(conclave_crypto_awslc::AwsLcProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(()),
    }
}

pub(crate) fn signer(name: &str) -> SigningIdentity {
    let cs = env().suite(SUITE).unwrap();
    SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: format!("mls://{name}").into_bytes(),
        },
        &mut OsRandom,
    )
    .unwrap()
}

/// Our group policy and leaves, which list SelfRemove if `self_remove`
/// (draft-ietf-mls-extensions-10 §6.3).
pub(crate) fn params(signer: SigningIdentity, self_remove: bool) -> MemberParams {
    MemberParams {
        config: group_config(),
        leaf: leaf_options(SUITE, &BasicIdentityProvider, self_remove),
        components: crate::topic::components(),
        ..MemberParams::new(env(), signer)
    }
}

/// A group `group_id` of `names` (the first creates it and adds the others in one commit,
/// which is not part of any log): one state per member, all at epoch 1. Every member
/// supports SelfRemove.
pub(crate) fn group_of(group_id: &[u8], names: &[&str]) -> Vec<(SigningIdentity, Group)> {
    let members: Vec<(&str, bool)> = names.iter().map(|n| (*n, true)).collect();
    group_of_members(group_id, &members)
}

/// [`group_of`] with `(name, supports SelfRemove)` per member.
pub(crate) fn group_of_members(
    group_id: &[u8],
    members: &[(&str, bool)],
) -> Vec<(SigningIdentity, Group)> {
    let signers: Vec<SigningIdentity> = members.iter().map(|(n, _)| signer(n)).collect();
    let supports: Vec<bool> = members.iter().map(|(_, s)| *s).collect();
    let mut creator = Group::create(
        params(signers[0].clone(), supports[0]),
        NewGroup::new(SUITE, group_id.to_vec()),
        NOW,
        &mut OsRandom,
    )
    .unwrap();
    let bundles: Vec<KeyPackageBundle> = signers[1..]
        .iter()
        .zip(&supports[1..])
        .map(|(s, supports)| {
            KeyPackageBundle::generate(&params(s.clone(), *supports), SUITE, NOW, &mut OsRandom)
                .unwrap()
        })
        .collect();
    let proposals = bundles
        .iter()
        .map(|b| {
            Proposal::Add(Add {
                key_package: b.key_package.clone(),
            })
        })
        .collect();
    let output = creator
        .commit(
            &CommitOptions {
                proposals,
                ..CommitOptions::default()
            },
            NOW,
            &mut OsRandom,
        )
        .unwrap();
    creator.merge_pending_commit().unwrap();
    let mut groups = vec![(signers[0].clone(), creator)];
    if let Some(MlsMessage {
        body: MlsMessageBody::Welcome(welcome),
        ..
    }) = output.welcome
    {
        for ((s, b), supports) in signers[1..].iter().zip(&bundles).zip(&supports[1..]) {
            let g = Group::join(
                params(s.clone(), *supports),
                &welcome,
                b,
                &JoinOptions::default(),
                NOW,
            )
            .unwrap();
            groups.push((s.clone(), g));
        }
    }
    groups
}
