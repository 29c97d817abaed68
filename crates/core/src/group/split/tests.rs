//! Split commits in groups of several sizes with blank nodes: every member, whether it gets
//! the whole SCommit or its PerMemberCommit, reaches the committer's epoch; tampered split
//! commits are refused with typed errors and leave the group unchanged.

use std::sync::{Arc, RwLock};

use conclave_codec::{Decode, Encode};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use crate::codepoints::{PER_MEMBER_COMMIT_WIRE_FORMAT, SCOMMIT_WIRE_FORMAT};
use crate::credential::BasicIdentityProvider;
use crate::group::{
    CommitOptions, Group, GroupConfig, GroupEnv, GroupError, JoinOptions, KeyPackageBundle,
    MemberParams, NewGroup, SigningIdentity,
};
use crate::messages::{Add, Credential, LeafIndex, MlsMessageBody, Proposal, Remove, WireFormat};
use crate::split::{
    PerMemberCommit, SCommit, SplitCommitError, SplitMessage, protect_broadcast, split_for_receiver,
};
use crate::tree::TreeError;
use crate::treekem::TreeKemError;

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn config() -> GroupConfig {
    GroupConfig {
        handshake_wire_format: WireFormat::PUBLIC_MESSAGE,
        ..GroupConfig::default()
    }
}

fn params(name: &str, rng: &mut SeededRng) -> MemberParams {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let signer = SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap();
    MemberParams {
        config: config(),
        ..MemberParams::new(env(), signer)
    }
}

fn split_group(enabled: bool, rng: &mut SeededRng) -> Group {
    let new = NewGroup::new(SUITE, b"split".to_vec());
    let new = if enabled {
        new.with_required_wire_formats(vec![SCOMMIT_WIRE_FORMAT, PER_MEMBER_COMMIT_WIRE_FORMAT])
    } else {
        new
    };
    Group::create(params("member-0", rng), new, NOW, rng).unwrap()
}

/// A group of `size` members, all added by one regular commit (so that the parents above
/// them are blank), then every fourth member but the first removed (blank leaves).
fn members(size: usize, enabled: bool, rng: &mut SeededRng) -> Vec<Group> {
    let mut creator = split_group(enabled, rng);
    let mut joiners = Vec::new();
    let mut proposals = Vec::new();
    for i in 1..size {
        let member = params(&format!("member-{i}"), rng);
        let bundle = KeyPackageBundle::generate(&member, SUITE, NOW, rng).unwrap();
        proposals.push(Proposal::Add(Add {
            key_package: bundle.key_package.clone(),
        }));
        joiners.push((member, bundle));
    }
    let mut groups = Vec::new();
    if !proposals.is_empty() {
        let options = CommitOptions {
            proposals,
            ..CommitOptions::default()
        };
        let output = creator.commit(&options, NOW, rng).unwrap();
        creator.merge_pending_commit().unwrap();
        let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
            panic!("not a welcome");
        };
        let welcome = welcome.clone();
        groups.push(creator);
        for (member, bundle) in joiners {
            groups.push(
                Group::join(member, &welcome, &bundle, &JoinOptions::default(), NOW).unwrap(),
            );
        }
    } else {
        groups.push(creator);
    }
    let removed: Vec<LeafIndex> = groups
        .iter()
        .map(Group::own_leaf)
        .filter(|leaf| leaf.0 % 4 == 3)
        .collect();
    if !removed.is_empty() {
        let options = CommitOptions {
            proposals: removed
                .iter()
                .map(|leaf| Proposal::Remove(Remove { removed: *leaf }))
                .collect(),
            // No path: the removed leaves' parents stay blank.
            force_path: false,
            ..CommitOptions::default()
        };
        let output = groups[0].commit(&options, NOW, rng).unwrap();
        groups[0].merge_pending_commit().unwrap();
        groups.retain(|g| !removed.contains(&g.own_leaf()));
        for group in groups.iter_mut().skip(1) {
            group.process_message(&output.commit, NOW).unwrap();
        }
    }
    assert_agree(&groups);
    groups
}

fn assert_agree(groups: &[Group]) {
    for group in groups {
        assert_eq!(group.epoch(), groups[0].epoch());
        assert_eq!(group.epoch_authenticator(), groups[0].epoch_authenticator());
    }
}

fn roundtrip(message: SplitMessage) -> SplitMessage {
    SplitMessage::from_bytes(&message.to_bytes().unwrap()).unwrap()
}

fn scommit_roundtrip(scommit: &SCommit) -> SCommit {
    match roundtrip(SplitMessage::SCommit(scommit.clone())) {
        SplitMessage::SCommit(s) => s,
        SplitMessage::PerMemberCommit(_) => panic!("wrong wire format"),
    }
}

fn per_member_roundtrip(commit: PerMemberCommit) -> PerMemberCommit {
    match roundtrip(SplitMessage::PerMemberCommit(commit)) {
        SplitMessage::PerMemberCommit(p) => p,
        SplitMessage::SCommit(_) => panic!("wrong wire format"),
    }
}

/// `committer` sends a split commit with `options`; members at even positions process the
/// SCommit, the others their PerMemberCommit; the committer takes its own SCommit back.
fn split_round(
    groups: &mut [Group],
    committer: usize,
    options: &CommitOptions,
    rng: &mut SeededRng,
) -> crate::group::SplitCommitOutput {
    let output = groups[committer].split_commit(options, NOW, rng).unwrap();
    let scommit = scommit_roundtrip(&output.scommit);
    let per_member: Vec<Option<PerMemberCommit>> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            (i != committer && i % 2 == 1).then(|| {
                per_member_roundtrip(
                    groups[committer]
                        .per_member_commit(&scommit, g.own_leaf())
                        .unwrap(),
                )
            })
        })
        .collect();
    let committer_leaf = groups[committer].own_leaf();
    for (i, group) in groups.iter_mut().enumerate() {
        let summary = match &per_member[i] {
            Some(commit) => group.process_per_member_commit(commit, NOW).unwrap(),
            None => group.process_scommit(&scommit, NOW).unwrap(),
        };
        assert_eq!(summary.committer_leaf, Some(committer_leaf));
    }
    output
}

#[test]
fn every_member_reaches_the_committers_epoch_from_an_scommit_or_its_per_member_commit() {
    let mut rng = SeededRng::new(1);
    for size in [2, 3, 5, 9, 17] {
        let mut groups = members(size, true, &mut rng);
        let count = groups.len();
        for committer in [0, count - 1, count / 2] {
            split_round(&mut groups, committer, &CommitOptions::default(), &mut rng);
            assert_agree(&groups);
        }
        // A regular commit after split ones: the transcripts agree too.
        let output = groups[1 % count]
            .commit(&CommitOptions::default(), NOW, &mut rng)
            .unwrap();
        for (i, group) in groups.iter_mut().enumerate() {
            if i == 1 % count {
                group.merge_pending_commit().unwrap();
            } else {
                group.process_message(&output.commit, NOW).unwrap();
            }
        }
        assert_agree(&groups);
    }
}

#[test]
fn a_split_commit_can_add_and_remove_members_and_the_joiner_agrees() {
    let mut rng = SeededRng::new(2);
    let mut groups = members(6, true, &mut rng);
    let joiner = params("joiner", &mut rng);
    let bundle = KeyPackageBundle::generate(&joiner, SUITE, NOW, &mut rng).unwrap();
    let removed = groups[2].own_leaf();
    let options = CommitOptions {
        proposals: vec![
            Proposal::Add(Add {
                key_package: bundle.key_package.clone(),
            }),
            Proposal::Remove(Remove { removed }),
        ],
        ..CommitOptions::default()
    };
    let output = groups[1].split_commit(&options, NOW, &mut rng).unwrap();
    let scommit = scommit_roundtrip(&output.scommit);
    let pending = groups[1].pending_commit.as_deref().unwrap();
    let tree = pending.staged.epoch.as_deref().unwrap().tree.clone();
    let added = pending.staged.summary.added.clone();
    assert_eq!(added.len(), 1);
    // The joiner gets the path secret in its Welcome, not a per-member commit.
    assert_eq!(
        groups[1].per_member_commit(&scommit, added[0]).unwrap_err(),
        GroupError::SplitCommit(SplitCommitError::NotAReceiver(added[0]))
    );
    let summary = groups[2].process_scommit(&scommit, NOW).unwrap();
    assert!(summary.self_removed);
    groups.remove(2);
    for (i, group) in groups.iter_mut().enumerate() {
        if i == 1 {
            group.process_scommit(&scommit, NOW).unwrap();
            continue;
        }
        // Whoever holds the new tree splits alike (the Delivery Service, the committer).
        let by_ds = split_for_receiver(&scommit, &tree, &added, group.own_leaf()).unwrap();
        assert_eq!(
            by_ds,
            groups_committer_split(&output, &scommit, &tree, &added, group.own_leaf())
        );
        group
            .process_per_member_commit(&per_member_roundtrip(by_ds), NOW)
            .unwrap();
    }
    let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
        panic!("not a welcome");
    };
    let joined = Group::join(joiner, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
    groups.push(joined);
    assert_agree(&groups);
    // The new member then takes a per-member commit like any other.
    let count = groups.len();
    split_round(&mut groups, 0, &CommitOptions::default(), &mut rng);
    split_round(&mut groups, count - 1, &CommitOptions::default(), &mut rng);
    assert_agree(&groups);
}

/// The per-member commit split from the SCommit the committer returned (not the
/// re-decoded one): splitting depends on nothing but the SCommit's content.
fn groups_committer_split(
    output: &crate::group::SplitCommitOutput,
    scommit: &SCommit,
    tree: &crate::tree::RatchetTree,
    added: &[LeafIndex],
    receiver: LeafIndex,
) -> PerMemberCommit {
    assert_eq!(&output.scommit, scommit);
    split_for_receiver(&output.scommit, tree, added, receiver).unwrap()
}

/// A fresh split commit of `groups[0]` (left pending), with the PerMemberCommit of the
/// member at position `receiver`.
fn fresh(groups: &mut [Group], receiver: usize, rng: &mut SeededRng) -> (SCommit, PerMemberCommit) {
    groups[0].clear_pending_commit();
    let output = groups[0]
        .split_commit(&CommitOptions::default(), NOW, rng)
        .unwrap();
    let leaf = groups[receiver].own_leaf();
    let per_member = groups[0].per_member_commit(&output.scommit, leaf).unwrap();
    (output.scommit, per_member)
}

/// `group` refuses both forms with `expected` and stays exactly as it was.
fn refused(
    group: &mut Group,
    scommit: Option<&SCommit>,
    per_member: Option<&PerMemberCommit>,
    expected: &GroupError,
) {
    let before = group.to_bytes().unwrap();
    if let Some(scommit) = scommit {
        assert_eq!(&group.process_scommit(scommit, NOW).unwrap_err(), expected);
        assert_eq!(group.to_bytes().unwrap(), before);
    }
    if let Some(per_member) = per_member {
        assert_eq!(
            &group
                .process_per_member_commit(per_member, NOW)
                .unwrap_err(),
            expected
        );
        assert_eq!(group.to_bytes().unwrap(), before);
    }
}

/// Re-signs (and re-tags) a broadcast message as its committer `committer` would.
fn resign(committer: &Group, broadcast: &mut crate::split::SCommitBroadcastMessage) {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    *broadcast = protect_broadcast(
        cs.as_ref(),
        committer.signer.secret_key.as_bytes(),
        committer.epoch.secrets.membership_key.as_bytes(),
        broadcast.content.clone(),
        &committer.epoch.context,
    )
    .unwrap();
}

fn split_error(error: SplitCommitError) -> GroupError {
    GroupError::SplitCommit(error)
}

#[test]
fn a_wrong_epoch_identifier_is_refused_even_when_signed_by_the_committer() {
    let mut rng = SeededRng::new(3);
    let mut groups = members(9, true, &mut rng);
    let (mut scommit, mut per_member) = fresh(&mut groups, 4, &mut rng);
    scommit.broadcast.content.broadcast.epoch_identifier[0] ^= 1;
    resign(&groups[0], &mut scommit.broadcast);
    per_member.broadcast = scommit.broadcast.clone();
    let expected = split_error(SplitCommitError::EpochIdentifierMismatch);
    refused(&mut groups[4], Some(&scommit), Some(&per_member), &expected);
    refused(&mut groups[1], Some(&scommit), None, &expected);

    // Without the committer's key, the signature gives it away first.
    let (mut scommit, _) = fresh(&mut groups, 4, &mut rng);
    scommit.broadcast.content.broadcast.epoch_identifier[0] ^= 1;
    refused(
        &mut groups[4],
        Some(&scommit),
        None,
        &split_error(SplitCommitError::InvalidMembershipTag),
    );
}

#[test]
fn a_bad_signature_or_membership_tag_is_refused() {
    let mut rng = SeededRng::new(4);
    let mut groups = members(5, true, &mut rng);
    let (scommit, per_member) = fresh(&mut groups, 2, &mut rng);

    let mut tagged = scommit.clone();
    tagged.broadcast.membership_tag[0] ^= 1;
    let mut tagged_pm = per_member.clone();
    tagged_pm.broadcast = tagged.broadcast.clone();
    refused(
        &mut groups[2],
        Some(&tagged),
        Some(&tagged_pm),
        &split_error(SplitCommitError::InvalidMembershipTag),
    );

    // A signature that does not verify, under a valid membership tag.
    let mut signed = scommit.clone();
    signed.broadcast.signature[0] ^= 1;
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    crate::split::retag(
        cs.as_ref(),
        groups[0].epoch.secrets.membership_key.as_bytes(),
        &mut signed.broadcast,
        &groups[0].epoch.context,
    );
    let mut signed_pm = per_member.clone();
    signed_pm.broadcast = signed.broadcast.clone();
    refused(
        &mut groups[2],
        Some(&signed),
        Some(&signed_pm),
        &split_error(SplitCommitError::InvalidSignature),
    );

    // Signed by another member (a valid signature under the wrong key).
    let mut other = scommit.clone();
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    other.broadcast = protect_broadcast(
        cs.as_ref(),
        groups[1].signer.secret_key.as_bytes(),
        groups[1].epoch.secrets.membership_key.as_bytes(),
        scommit.broadcast.content.clone(),
        &groups[1].epoch.context,
    )
    .unwrap();
    refused(
        &mut groups[2],
        Some(&other),
        None,
        &split_error(SplitCommitError::InvalidSignature),
    );

    // The untouched ones are accepted.
    groups[2]
        .process_per_member_commit(&per_member, NOW)
        .unwrap();
}

#[test]
fn an_altered_path_key_is_refused() {
    let mut rng = SeededRng::new(5);
    let mut groups = members(9, true, &mut rng);
    let (scommit, per_member) = fresh(&mut groups, 5, &mut rng);
    let top = scommit.path.as_ref().unwrap().nodes.len() - 1;
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let other = crate::messages::HpkePublicKey(
        conclave_crypto::hpke::generate_key_pair(cs.as_ref(), &mut rng)
            .unwrap()
            .public_key,
    );

    let mut altered = scommit.clone();
    altered.path.as_mut().unwrap().nodes[top].encryption_key = other.clone();
    let mut altered_pm = per_member.clone();
    altered_pm.partial_path.as_mut().unwrap().new_pks[top] = other.clone();
    // The committer's leaf signs the parent hash of the path it generated (RFC 9420 §7.9.2).
    let expected = GroupError::Tree(TreeError::CommitterParentHashMismatch);
    refused(&mut groups[5], Some(&altered), Some(&altered_pm), &expected);

    // A key already in the tree (RFC 9420 §12.4.2: path keys are new).
    let existing = groups[1]
        .epoch
        .tree
        .leaf(groups[1].own_leaf())
        .unwrap()
        .encryption_key
        .clone();
    let mut reused = per_member.clone();
    reused.partial_path.as_mut().unwrap().new_pks[top] = existing;
    refused(
        &mut groups[5],
        None,
        Some(&reused),
        &GroupError::DuplicatePathKey,
    );

    // One key too few.
    let mut short = per_member.clone();
    short.partial_path.as_mut().unwrap().new_pks.pop();
    let expected = GroupError::Tree(TreeError::PathLengthMismatch {
        expected: top + 1,
        actual: top,
    });
    refused(&mut groups[5], None, Some(&short), &expected);
}

#[test]
fn an_altered_or_misdelivered_ciphertext_is_refused() {
    let mut rng = SeededRng::new(6);
    let mut groups = members(9, true, &mut rng);
    let (_, per_member) = fresh(&mut groups, 3, &mut rng);
    let mut altered = per_member.clone();
    let ciphertext = &mut altered.partial_path.as_mut().unwrap().encrypted_path_secret;
    ciphertext.ciphertext[0] ^= 1;
    let before = groups[3].to_bytes().unwrap();
    assert!(matches!(
        groups[3]
            .process_per_member_commit(&altered, NOW)
            .unwrap_err(),
        GroupError::TreeKem(TreeKemError::Crypto(_))
    ));
    assert_eq!(groups[3].to_bytes().unwrap(), before);

    // Member 1 and member 3 sit in different copath subtrees of the committer (leaf 0):
    // member 3's ciphertext is for a node member 1 has no key of, or one it cannot open.
    let before = groups[1].to_bytes().unwrap();
    assert!(
        groups[1]
            .process_per_member_commit(&per_member, NOW)
            .is_err()
    );
    assert_eq!(groups[1].to_bytes().unwrap(), before);

    // The committer is no receiver of its own commit.
    let own = groups[0].own_leaf();
    assert_eq!(
        groups[0]
            .process_per_member_commit(&per_member, NOW)
            .unwrap_err(),
        split_error(SplitCommitError::NotAReceiver(own))
    );
    groups[3]
        .process_per_member_commit(&per_member, NOW)
        .unwrap();
}

#[test]
fn a_group_that_did_not_opt_in_neither_sends_nor_accepts_split_commits() {
    let mut rng = SeededRng::new(7);
    let mut groups = members(3, false, &mut rng);
    assert_eq!(
        groups[0]
            .split_commit(&CommitOptions::default(), NOW, &mut rng)
            .unwrap_err(),
        split_error(SplitCommitError::NotEnabled)
    );
    // One built anyway (by a member that ignores the group's choice) is refused.
    let built = groups[0]
        .build_own_commit(&CommitOptions::default(), NOW, true, &mut rng)
        .unwrap();
    let crate::group::commit::BuiltContent::Split(scommit) = built.content else {
        panic!("not split");
    };
    refused(
        &mut groups[1],
        Some(&scommit),
        None,
        &split_error(SplitCommitError::NotEnabled),
    );
    // A peer that knows nothing of split commits cannot even decode one as an MLSMessage.
    let bytes = SplitMessage::SCommit(scommit).to_bytes().unwrap();
    assert!(crate::messages::MlsMessage::from_bytes(&bytes).is_err());
}

#[test]
fn a_split_commit_without_a_path_needs_no_splitting() {
    let mut rng = SeededRng::new(8);
    let mut groups = members(5, true, &mut rng);
    // An Add alone needs no path (RFC 9420 §12.4).
    let joiner = params("joiner", &mut rng);
    let bundle = KeyPackageBundle::generate(&joiner, SUITE, NOW, &mut rng).unwrap();
    let options = CommitOptions {
        proposals: vec![Proposal::Add(Add {
            key_package: bundle.key_package.clone(),
        })],
        force_path: false,
        ..CommitOptions::default()
    };
    let output = groups[0].split_commit(&options, NOW, &mut rng).unwrap();
    assert!(output.scommit.path.is_none());
    assert!(
        output
            .scommit
            .broadcast
            .content
            .broadcast
            .leaf_node
            .is_none()
    );
    let per_member = groups[0]
        .per_member_commit(&output.scommit, groups[1].own_leaf())
        .unwrap();
    assert!(per_member.partial_path.is_none());
    groups[0].process_scommit(&output.scommit, NOW).unwrap();
    groups[1]
        .process_per_member_commit(&per_member, NOW)
        .unwrap();
    for group in groups.iter_mut().skip(2) {
        group.process_scommit(&output.scommit, NOW).unwrap();
    }
    let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
        panic!("not a welcome");
    };
    groups.push(Group::join(joiner, welcome, &bundle, &JoinOptions::default(), NOW).unwrap());
    assert_agree(&groups);

    // A leaf node without a path (or the reverse) is refused.
    let (scommit, _) = fresh(&mut groups, 1, &mut rng);
    let mut pathless = scommit.clone();
    pathless.path = None;
    refused(
        &mut groups[1],
        Some(&pathless),
        None,
        &split_error(SplitCommitError::PathMismatch),
    );
}

fn group_info_of(message: &crate::messages::MlsMessage) -> crate::messages::GroupInfo {
    match &message.body {
        MlsMessageBody::GroupInfo(group_info) => group_info.clone(),
        _ => panic!("not a GroupInfo"),
    }
}

/// The Delivery Service follows the group through split commits as a public view
/// (the GroupInfo the committer publishes gives it the tag), and splits each SCommit for the
/// receivers from its own tree: every member reaches the epoch from what the DS sends.
#[test]
fn a_public_view_follows_split_commits_and_splits_them_for_the_members() {
    let mut rng = SeededRng::new(9);
    let mut groups = members(9, true, &mut rng);
    let group_info = groups[0].group_info(true).unwrap();
    let mut ds = crate::public_group::PublicGroup::from_group_info(
        &RustCryptoProvider,
        Arc::new(BasicIdentityProvider),
        &group_info_of(&group_info),
        None,
        crate::public_group::PublicGroupConfig::from(groups[0].config()),
        NOW,
    )
    .unwrap();
    let joiner = params("joiner", &mut rng);
    let bundle = KeyPackageBundle::generate(&joiner, SUITE, NOW, &mut rng).unwrap();
    let rounds = [
        (2, CommitOptions::default()),
        (
            0,
            CommitOptions {
                proposals: vec![Proposal::Add(Add {
                    key_package: bundle.key_package.clone(),
                })],
                ..CommitOptions::default()
            },
        ),
        (1, CommitOptions::default()),
    ];
    for (committer, options) in rounds {
        let output = groups[committer]
            .split_commit(&options, NOW, &mut rng)
            .unwrap();
        let scommit = scommit_roundtrip(&output.scommit);
        let published = group_info_of(&output.group_info);

        // A GroupInfo of another epoch, or of another signer, is refused.
        let stale = group_info_of(&groups[committer].group_info(true).unwrap());
        assert!(matches!(
            ds.process_scommit(&scommit, &stale, NOW),
            Err(crate::public_group::PublicGroupError::GroupInfoMismatch(_))
        ));

        let crate::public_group::PublicHandshake::Commit(staged) =
            ds.process_scommit(&scommit, &published, NOW).unwrap()
        else {
            panic!("not a commit");
        };
        let new_leaves: Vec<LeafIndex> = staged
            .summary()
            .added
            .iter()
            .map(|(leaf, _)| *leaf)
            .collect();
        let per_member: Vec<Option<PerMemberCommit>> = groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                (i != committer).then(|| {
                    split_for_receiver(&scommit, staged.group().tree(), &new_leaves, g.own_leaf())
                        .unwrap()
                })
            })
            .collect();
        ds.apply(crate::public_group::PublicHandshake::Commit(staged))
            .unwrap();
        for (i, group) in groups.iter_mut().enumerate() {
            match &per_member[i] {
                Some(commit) => {
                    group.process_per_member_commit(commit, NOW).unwrap();
                }
                None => {
                    group.merge_pending_commit().unwrap();
                }
            }
        }
        if let Some(welcome) = &output.welcome {
            let MlsMessageBody::Welcome(welcome) = &welcome.body else {
                panic!("not a welcome");
            };
            groups.push(
                Group::join(
                    joiner.clone(),
                    welcome,
                    &bundle,
                    &JoinOptions::default(),
                    NOW,
                )
                .unwrap(),
            );
        }
        assert_agree(&groups);
        // The view is the members' epoch: context, tree and transcript.
        assert_eq!(ds.context(), groups[0].context());
        assert_eq!(
            ds.interim_transcript_hash(),
            groups[0].epoch.interim_transcript_hash.as_slice()
        );
        assert_eq!(ds.tree().to_nodes(), groups[0].tree().to_nodes());
    }
}
