//! Tests of Replace and `leaf_node_epoch` (draft-barnes-mls-replace-00): a late Update
//! committed as a Replace by another member, every MUST refused with a typed error naming
//! its section and the group left unchanged, and the public view judging alike.

use std::sync::{Arc, RwLock};

use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng, hpke};
use conclave_crypto_rustcrypto::RustCryptoProvider;

use super::super::commit::{CommitBase, build_commit};
use super::super::proposals::{CommittedProposal, Committer};
use super::super::*;
use super::*;
use crate::credential::BasicIdentityProvider;
use crate::messages::{Add, GroupInfo, ProposalOrRef, Remove};
use crate::public_group::{PublicGroup, PublicGroupConfig, PublicGroupError, PublicHandshake};

const NOW: u64 = 1_700_000_000;
const SUITE: CipherSuite = CipherSuite(1);

fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(std::collections::HashMap::new())),
    }
}

fn signer(name: &str, rng: &mut SeededRng) -> SigningIdentity {
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap()
}

/// A member's parameters: its leaves list the Replace proposal type and the
/// `leaf_node_epoch` extension if `supports`.
fn params(name: &str, supports: bool, handshake: WireFormat, rng: &mut SeededRng) -> MemberParams {
    let mut capabilities =
        default_capabilities(SUITE, &BasicIdentityProvider, CodepointProfile::Draft);
    if supports {
        capabilities
            .proposals
            .push(crate::codepoints::REPLACE_PROPOSAL);
        capabilities.extensions.push(LEAF_NODE_EPOCH_EXTENSION);
    }
    MemberParams {
        config: GroupConfig {
            handshake_wire_format: handshake,
            ..GroupConfig::default()
        },
        leaf: LeafOptions {
            capabilities: Some(capabilities),
            ..LeafOptions::default()
        },
        ..MemberParams::new(env(), signer(name, rng))
    }
}

/// A group of `members` (`(name, supports Replace)`), the first its creator.
fn group_of(members: &[(&str, bool)], handshake: WireFormat, rng: &mut SeededRng) -> Vec<Group> {
    let (first, supports) = members[0];
    let new = NewGroup::new(SUITE, b"replace".to_vec());
    let mut groups =
        vec![Group::create(params(first, supports, handshake, rng), new, NOW, rng).unwrap()];
    for (name, supports) in &members[1..] {
        let params = params(name, *supports, handshake, rng);
        let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, rng).unwrap();
        let options = CommitOptions {
            proposals: vec![Proposal::Add(Add {
                key_package: bundle.key_package.clone(),
            })],
            ..CommitOptions::default()
        };
        let output = commit_all(&mut groups, 0, &options, rng).unwrap();
        let MlsMessageBody::Welcome(welcome) = &output.welcome.unwrap().body else {
            panic!("not a Welcome")
        };
        let joined = Group::join(params, welcome, &bundle, &JoinOptions::default(), NOW).unwrap();
        groups.push(joined);
    }
    assert_agree(&groups);
    groups
}

const ALL: [(&str, bool); 3] = [("alice", true), ("bob", true), ("carol", true)];

/// `committer` commits with `options`; it merges, every other member processes.
fn commit_all(
    groups: &mut [Group],
    committer: usize,
    options: &CommitOptions,
    rng: &mut SeededRng,
) -> Option<CommitOutput> {
    let output = groups[committer].commit(options, NOW, rng).unwrap();
    for (i, g) in groups.iter_mut().enumerate() {
        if i == committer {
            g.merge_pending_commit().unwrap();
        } else {
            g.process_message(&output.commit, NOW).unwrap();
        }
    }
    Some(output)
}

fn assert_agree(groups: &[Group]) {
    for group in groups {
        assert_eq!(group.epoch(), groups[0].epoch());
        assert_eq!(group.epoch_authenticator(), groups[0].epoch_authenticator());
        assert_eq!(group.tree().to_nodes(), groups[0].tree().to_nodes());
    }
}

/// `update` (member `sender`'s Update proposal) is late: before anyone but its sender got it,
/// member `committer` ends the epoch with an empty commit that everyone processes.
fn make_late(groups: &mut [Group], committer: usize, rng: &mut SeededRng) {
    let options = CommitOptions::default();
    commit_all(groups, committer, &options, rng);
}

/// The Update's LeafNode carried by `message`.
fn update_leaf(message: &MlsMessage) -> LeafNode {
    let MlsMessageBody::PublicMessage(public) = &message.body else {
        panic!("not a PublicMessage")
    };
    let Content::Proposal(Proposal::Update(update)) = &public.content.content else {
        panic!("not an Update")
    };
    LeafNode::clone(&update.leaf_node)
}

/// A LeafNode of `group`'s member for its own leaf, with a fresh key, the source `source`
/// and `leaf_node_epoch` = `epoch` (none if `None`).
fn signed_leaf(
    group: &Group,
    source: LeafNodeSource,
    epoch: Option<u64>,
    rng: &mut SeededRng,
) -> LeafNode {
    let own = group.own_leaf();
    let current = group.tree().leaf(own).unwrap().clone();
    let mut extensions: Vec<Extension> = current
        .extensions
        .iter()
        .filter(|e| e.extension_type != LEAF_NODE_EPOCH_EXTENSION)
        .cloned()
        .collect();
    if let Some(epoch) = epoch {
        extensions.push(LeafNodeEpoch(epoch).to_extension().unwrap());
    }
    let pair = hpke::generate_key_pair(group.cs.as_ref(), rng).unwrap();
    sign_leaf_node(
        group.cs.as_ref(),
        &group.signer,
        HpkePublicKey(pair.public_key),
        current.capabilities.clone(),
        source,
        extensions,
        Some((group.group_id(), own)),
    )
    .unwrap()
}

/// A commit by `group`'s member whose proposal list is `entries`, built on the epoch of the
/// `valid` list (one the real validation accepts): what a faulty committer could send.
fn forge_commit(
    group: &mut Group,
    valid: &[CommittedProposal],
    entries: Vec<ProposalOrRef>,
    path: bool,
    rng: &mut SeededRng,
) -> MlsMessage {
    let own = group.own_leaf();
    let mut applied = group
        .validate_proposals(Committer::Member(own), valid, NOW)
        .unwrap();
    applied.path_required &= path;
    let options = CommitOptions {
        force_path: path,
        ..CommitOptions::default()
    };
    let template = group.epoch.tree.leaf(own).cloned().unwrap();
    let built = {
        let base = CommitBase {
            cs: group.cs.as_ref(),
            config: &group.config,
            signer: &group.signer,
            context: &group.epoch.context,
            interim_transcript_hash: &group.epoch.interim_transcript_hash,
            init_secret: group.epoch.secrets.init_secret.clone(),
            own_leaf: Some(own),
            leaf_template: &template,
            member_proof: group.epoch.member_proof.as_ref(),
            form: crate::group::commit::CommitForm::Regular,
        };
        build_commit(
            &base,
            applied,
            entries,
            &[],
            Some(&*group.private),
            &options,
            rng,
        )
        .unwrap()
    };
    mls_message(
        group
            .protect_signed(built.content.regular().unwrap(), rng)
            .unwrap(),
    )
}

/// `group`'s member commits `proposals` by value, unchecked (on the epoch an empty commit
/// makes).
fn forge_by_value(group: &mut Group, proposals: &[Proposal], rng: &mut SeededRng) -> MlsMessage {
    let entries = proposals
        .iter()
        .map(|p| ProposalOrRef::proposal(p.clone()))
        .collect();
    forge_commit(group, &[], entries, true, rng)
}

/// Processing `message` fails with `expected`, and leaves the group byte-identical.
fn assert_refused(group: &mut Group, message: &MlsMessage, expected: &ReplaceError) {
    let before = group.to_bytes().unwrap();
    let error = group.process_message(message, NOW).unwrap_err();
    assert_eq!(error, GroupError::Replace(expected.clone()));
    assert!(
        error
            .to_string()
            .starts_with("draft-barnes-mls-replace-00 §"),
        "{error}"
    );
    assert_eq!(group.to_bytes().unwrap(), before, "the group changed");
}

/// Our own commit of `proposals` is refused with `expected` before anything is sent.
fn assert_commit_refused(group: &mut Group, proposals: Vec<Proposal>, expected: &ReplaceError) {
    let before = group.to_bytes().unwrap();
    let options = CommitOptions {
        proposals,
        ..CommitOptions::default()
    };
    let error = group
        .commit(&options, NOW, &mut SeededRng::new(0))
        .unwrap_err();
    assert_eq!(error, GroupError::Replace(expected.clone()));
    assert_eq!(group.to_bytes().unwrap(), before, "the group changed");
}

fn replace_of(leaf: LeafIndex, leaf_node: LeafNode) -> Proposal {
    replace_proposal(CodepointProfile::Draft, leaf, leaf_node)
}

fn group_info(group: &Group) -> GroupInfo {
    let MlsMessageBody::GroupInfo(info) = group.group_info(true).unwrap().body else {
        panic!("not a GroupInfo")
    };
    info
}

// ---- the happy path ----------------------------------------------------------------------

fn late_update_is_replaced_by_another_member(handshake: WireFormat, seed: u64) {
    let mut rng = SeededRng::new(seed);
    let mut groups = group_of(&ALL, handshake, &mut rng);
    let bob = groups[1].own_leaf();

    // Epoch n: Bob sends an Update; Alice's commit ends the epoch before anyone got it.
    let epoch_n = groups[0].epoch();
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    let Proposal::Update(proposed) = &groups[1].proposals[0].proposal else {
        panic!("not an Update")
    };
    let proposed = LeafNode::clone(&proposed.leaf_node);
    make_late(&mut groups, 0, &mut rng);
    assert_eq!(groups[1].epoch(), epoch_n + 1);
    // Bob's leaf did not change and stamps leaf_node_epoch: he keeps the Update's key.
    assert_eq!(groups[1].pending_updates.len(), 1);

    // Carol gets the Update late. RFC 9420 has no use for it; Carol keeps it for a Replace.
    assert!(matches!(
        groups[2].process_message(&update, NOW),
        Err(GroupError::WrongEpoch { .. } | GroupError::Framing(_))
    ));
    assert_eq!(groups[2].receive_late_update(&update, NOW).unwrap(), bob);
    assert_eq!(groups[2].late_update_leaves(), vec![bob]);
    // Kept across a reload.
    let reloaded = Group::from_bytes(env(), &groups[2].to_bytes().unwrap()).unwrap();
    assert_eq!(reloaded.late_update_leaves(), vec![bob]);

    // Off by default: a commit without the policy leaves it out.
    assert!(!CommitOptions::default().replace_late_updates);

    // Epoch n + 1: Carol commits with the policy on: a Replace of Bob's leaf, with a path.
    let options = CommitOptions {
        replace_late_updates: true,
        ..CommitOptions::default()
    };
    let output = groups[2].commit(&options, NOW, &mut rng).unwrap();
    groups[2].merge_pending_commit().unwrap();
    for i in [0, 1] {
        let ProcessedMessage::Commit(summary) =
            groups[i].process_message(&output.commit, NOW).unwrap()
        else {
            panic!("not a commit")
        };
        assert_eq!(summary.updated, vec![bob]);
    }
    assert_agree(&groups);
    // Bob's leaf is the LeafNode of his late Update, in every member's tree.
    let replaced = groups[0].tree().leaf(bob).unwrap();
    assert_eq!(replaced, &proposed);
    assert_eq!(
        leaf_node_epoch(replaced, bob).unwrap(),
        Some(epoch_n),
        "stamped with the epoch the Update was sent in"
    );
    assert!(groups[2].late_update_leaves().is_empty());
    // Bob's retained keys are gone once his leaf changed.
    assert!(groups[1].pending_updates.is_empty());
    bob_speaks(&mut groups, &mut rng);
}

/// Bob, with the replaced leaf, commits and sends a message that the others read: he holds
/// the new leaf's key and the group works on.
fn bob_speaks(groups: &mut [Group], rng: &mut SeededRng) {
    make_late(groups, 1, rng);
    assert_agree(groups);
    let message = groups[1]
        .encrypt_application_message(b"still here", &[], rng)
        .unwrap();
    let ProcessedMessage::Application { data, .. } =
        groups[0].process_message(&message, NOW).unwrap()
    else {
        panic!("not an application message")
    };
    assert_eq!(data, b"still here");
}

#[test]
fn a_late_update_is_committed_as_a_replace_and_every_member_agrees() {
    late_update_is_replaced_by_another_member(WireFormat::PUBLIC_MESSAGE, 1);
}

#[test]
fn a_late_update_in_a_private_message_is_committed_as_a_replace_too() {
    late_update_is_replaced_by_another_member(WireFormat::PRIVATE_MESSAGE, 2);
}

#[test]
fn an_update_the_ending_commit_left_out_is_kept_and_replaced_by_a_later_commit() {
    let mut rng = SeededRng::new(7);
    let mut groups = group_of(&ALL, WireFormat::PRIVATE_MESSAGE, &mut rng);
    let bob = groups[1].own_leaf();
    // Bob's Update reaches everyone in its epoch, but Alice's commit leaves it out (she built
    // it before she read the Update: the race a Delivery Service that takes proposals only
    // for the current epoch leaves).
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    for member in [0, 2] {
        groups[member].process_message(&update, NOW).unwrap();
    }
    let options = CommitOptions {
        include_pending: false,
        ..CommitOptions::default()
    };
    commit_all(&mut groups, 0, &options, &mut rng);
    // Every other member keeps it; a committer with the policy Replaces with it.
    assert_eq!(groups[0].late_update_leaves(), vec![bob]);
    assert_eq!(groups[2].late_update_leaves(), vec![bob]);
    assert!(groups[1].late_update_leaves().is_empty());
    let replace = CommitOptions {
        replace_late_updates: true,
        ..CommitOptions::default()
    };
    commit_all(&mut groups, 2, &replace, &mut rng);
    assert_agree(&groups);
    assert!(groups[0].late_update_leaves().is_empty());
    assert!(groups[2].late_update_leaves().is_empty());
    bob_speaks(&mut groups, &mut rng);
}

#[test]
fn a_committed_update_is_not_kept_and_an_invalid_late_update_is_left_out_of_a_commit() {
    let mut rng = SeededRng::new(8);
    let mut groups = group_of(&ALL, WireFormat::PUBLIC_MESSAGE, &mut rng);
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    for member in [0, 2] {
        groups[member].process_message(&update, NOW).unwrap();
    }
    // Committed in its epoch: nothing is late.
    commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng);
    assert!(groups[2].late_update_leaves().is_empty());
    // A late Update that turned invalid (here: a forged future leaf_node_epoch slipped into
    // the kept list) is left out of the commit instead of failing it.
    let epoch = groups[0].epoch();
    let future = signed_leaf(
        &groups[1],
        LeafNodeSource::Update,
        Some(epoch + 5),
        &mut rng,
    );
    let replaces_key = groups[2]
        .tree()
        .leaf(LeafIndex(1))
        .unwrap()
        .encryption_key
        .clone();
    groups[2].late_updates.push(LateUpdate {
        leaf: LeafIndex(1),
        leaf_node: future,
        replaces_key,
    });
    let replace = CommitOptions {
        replace_late_updates: true,
        ..CommitOptions::default()
    };
    let output = commit_all(&mut groups, 2, &replace, &mut rng).unwrap();
    let MlsMessageBody::PublicMessage(public) = &output.commit.body else {
        panic!("not a PublicMessage")
    };
    let Content::Commit(commit) = &public.content.content else {
        panic!("not a commit")
    };
    assert!(commit.proposals.is_empty());
    assert_agree(&groups);
}

#[test]
fn leaves_stamp_leaf_node_epoch_only_when_their_capabilities_list_it() {
    let mut rng = SeededRng::new(3);
    let mut groups = group_of(
        &[("alice", true), ("bob", false)],
        WireFormat::PUBLIC_MESSAGE,
        &mut rng,
    );
    let epoch = groups[0].epoch();
    // An Update carries the epoch it is sent in.
    let update = groups[0].propose_update(None, &mut rng).unwrap();
    assert_eq!(
        leaf_node_epoch(&update_leaf(&update), LeafIndex(0)).unwrap(),
        Some(epoch)
    );
    let plain = groups[1].propose_update(None, &mut rng).unwrap();
    assert_eq!(
        leaf_node_epoch(&update_leaf(&plain), LeafIndex(1)).unwrap(),
        None
    );
    for g in groups.iter_mut() {
        g.proposals.clear();
        g.pending_updates.clear();
    }
    // A commit's leaf carries the epoch the commit starts.
    make_late(&mut groups, 0, &mut rng);
    let alice = groups[1].tree().leaf(LeafIndex(0)).unwrap();
    assert_eq!(
        leaf_node_epoch(alice, LeafIndex(0)).unwrap(),
        Some(epoch + 1)
    );
    make_late(&mut groups, 1, &mut rng);
    let bob = groups[0].tree().leaf(LeafIndex(1)).unwrap();
    assert_eq!(leaf_node_epoch(bob, LeafIndex(1)).unwrap(), None);
    // KeyPackage leaves carry none (created outside any epoch of the group).
    let params = params("dave", true, WireFormat::PUBLIC_MESSAGE, &mut rng);
    let bundle = KeyPackageBundle::generate(&params, SUITE, NOW, &mut rng).unwrap();
    assert_eq!(
        leaf_node_epoch(&bundle.key_package.leaf_node, LeafIndex(0)).unwrap(),
        None
    );
}

#[test]
fn update_keys_are_kept_only_while_the_leaf_is_unchanged_and_at_most_four() {
    let mut rng = SeededRng::new(4);
    let mut groups = group_of(&ALL, WireFormat::PUBLIC_MESSAGE, &mut rng);
    for _ in 0..6 {
        groups[1].propose_update(None, &mut rng).unwrap();
        make_late(&mut groups, 0, &mut rng);
    }
    assert_eq!(groups[1].pending_updates.len(), MAX_RETAINED_UPDATE_KEYS);
    // Bob's own commit changes his leaf: the older Updates can no longer be Replaced.
    make_late(&mut groups, 1, &mut rng);
    assert!(groups[1].pending_updates.is_empty());
    // Without leaf_node_epoch, an Update's key ends with its epoch as before.
    let mut plain = group_of(
        &[("alice", false), ("bob", false)],
        WireFormat::PUBLIC_MESSAGE,
        &mut rng,
    );
    plain[1].propose_update(None, &mut rng).unwrap();
    make_late(&mut plain, 0, &mut rng);
    assert!(plain[1].pending_updates.is_empty());
}

#[test]
fn a_late_update_is_dropped_when_its_senders_leaf_changes_and_a_newer_one_wins() {
    let mut rng = SeededRng::new(5);
    let mut groups = group_of(&ALL, WireFormat::PUBLIC_MESSAGE, &mut rng);
    let bob = groups[1].own_leaf();
    let first = groups[1].propose_update(None, &mut rng).unwrap();
    make_late(&mut groups, 0, &mut rng);
    let second = groups[1].propose_update(None, &mut rng).unwrap();
    make_late(&mut groups, 0, &mut rng);
    // The newer Update replaces the older one, whichever arrives first.
    groups[2].receive_late_update(&second, NOW).unwrap();
    groups[2].receive_late_update(&first, NOW).unwrap();
    assert_eq!(groups[2].late_updates.len(), 1);
    assert_eq!(groups[2].late_updates[0].leaf_node, update_leaf(&second));
    // Bob commits: his leaf changes, and the late Update would roll it back.
    make_late(&mut groups, 1, &mut rng);
    assert!(groups[2].late_update_leaves().is_empty());
    // Taking it again is refused by the rollback rule.
    let error = groups[2].receive_late_update(&second, NOW).unwrap_err();
    assert!(
        matches!(error, GroupError::Replace(ReplaceError::Rollback { leaf, .. }) if leaf == bob.0),
        "{error:?}"
    );
}

#[test]
fn what_is_not_a_late_update_of_another_member_is_refused() {
    let mut rng = SeededRng::new(6);
    let mut groups = group_of(&ALL, WireFormat::PUBLIC_MESSAGE, &mut rng);
    let current = groups[1].propose_update(None, &mut rng).unwrap();
    assert_eq!(
        groups[2].receive_late_update(&current, NOW).unwrap_err(),
        GroupError::Replace(ReplaceError::NotLateUpdate("not of an earlier epoch"))
    );
    let own = groups[2].propose_update(None, &mut rng).unwrap();
    let remove = groups[0]
        .propose(
            Proposal::Remove(Remove {
                removed: LeafIndex(2),
            }),
            &[],
            &mut rng,
        )
        .unwrap();
    make_late(&mut groups, 1, &mut rng);
    assert_eq!(
        groups[2].receive_late_update(&own, NOW).unwrap_err(),
        GroupError::Replace(ReplaceError::NotLateUpdate("our own Update"))
    );
    assert_eq!(
        groups[2].receive_late_update(&remove, NOW).unwrap_err(),
        GroupError::Replace(ReplaceError::NotLateUpdate("not an Update proposal"))
    );
    assert!(groups[2].late_update_leaves().is_empty());
}

// ---- every MUST, refused by the committer and by every receiver --------------------------

/// A group where Bob's late Update is ready to be Replaced by Carol; returns its LeafNode.
fn ready(seed: u64) -> (Vec<Group>, SeededRng, LeafNode) {
    let mut rng = SeededRng::new(seed);
    let mut groups = group_of(&ALL, WireFormat::PUBLIC_MESSAGE, &mut rng);
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    make_late(&mut groups, 0, &mut rng);
    let leaf = update_leaf(&update);
    (groups, rng, leaf)
}

#[test]
fn a_replace_with_a_leaf_node_epoch_after_the_current_epoch_is_refused() {
    let (mut groups, mut rng, _) = ready(10);
    let epoch = groups[0].epoch();
    let future = signed_leaf(
        &groups[1],
        LeafNodeSource::Update,
        Some(epoch + 1),
        &mut rng,
    );
    let proposal = replace_of(LeafIndex(1), future);
    let expected = ReplaceError::FutureEpoch {
        leaf_node_epoch: epoch + 1,
        current: epoch,
    };
    assert_commit_refused(&mut groups[2], vec![proposal.clone()], &expected);
    let forged = forge_by_value(&mut groups[2], &[proposal], &mut rng);
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn a_replace_rolling_a_leaf_back_to_an_older_epoch_is_refused() {
    let (mut groups, mut rng, old) = ready(11);
    let old_epoch = leaf_node_epoch(&old, LeafIndex(1)).unwrap().unwrap();
    // Bob commits: his leaf now carries a later epoch.
    make_late(&mut groups, 1, &mut rng);
    let current = leaf_node_epoch(groups[0].tree().leaf(LeafIndex(1)).unwrap(), LeafIndex(1))
        .unwrap()
        .unwrap();
    let proposal = replace_of(LeafIndex(1), old);
    let expected = ReplaceError::Rollback {
        leaf: 1,
        leaf_node_epoch: old_epoch,
        current_leaf_epoch: current,
    };
    assert_commit_refused(&mut groups[2], vec![proposal.clone()], &expected);
    let forged = forge_by_value(&mut groups[2], &[proposal], &mut rng);
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn an_equal_leaf_node_epoch_is_not_a_rollback() {
    let mut rng = SeededRng::new(12);
    let mut groups = group_of(&ALL, WireFormat::PUBLIC_MESSAGE, &mut rng);
    // Bob's current leaf and the new one both claim the current epoch.
    let epoch = groups[0].epoch();
    let current = groups[0].tree().leaf(LeafIndex(1)).unwrap().clone();
    let same = signed_leaf(&groups[1], LeafNodeSource::Update, Some(epoch), &mut rng);
    assert_eq!(check_replace(epoch, LeafIndex(1), &current, &same), Ok(()));
    let mut stamped = current.clone();
    stamped
        .extensions
        .push(LeafNodeEpoch(epoch).to_extension().unwrap());
    assert_eq!(check_replace(epoch, LeafIndex(1), &stamped, &same), Ok(()));
    let older = signed_leaf(
        &groups[1],
        LeafNodeSource::Update,
        Some(epoch - 1),
        &mut rng,
    );
    assert!(check_replace(epoch, LeafIndex(1), &stamped, &older).is_err());
    // A group commits it; Bob, who never made that LeafNode, cannot follow: he holds no
    // private key for it.
    let options = CommitOptions {
        proposals: vec![replace_of(LeafIndex(1), same)],
        ..CommitOptions::default()
    };
    let output = groups[2].commit(&options, NOW, &mut rng).unwrap();
    groups[2].merge_pending_commit().unwrap();
    groups[0].process_message(&output.commit, NOW).unwrap();
    assert_eq!(
        groups[0].epoch_authenticator(),
        groups[2].epoch_authenticator()
    );
    assert_refused(&mut groups[1], &output.commit, &ReplaceError::UnknownOwnKey);
}

#[test]
fn a_replace_without_leaf_node_epoch_is_refused() {
    let (mut groups, mut rng, _) = ready(13);
    let bare = signed_leaf(&groups[1], LeafNodeSource::Update, None, &mut rng);
    let proposal = replace_of(LeafIndex(1), bare);
    let expected = ReplaceError::MissingLeafNodeEpoch;
    assert_commit_refused(&mut groups[2], vec![proposal.clone()], &expected);
    let forged = forge_by_value(&mut groups[2], &[proposal], &mut rng);
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn a_replace_with_a_malformed_leaf_node_epoch_is_refused() {
    let (mut groups, mut rng, _) = ready(14);
    let mut leaf = signed_leaf(&groups[1], LeafNodeSource::Update, None, &mut rng);
    leaf.extensions.push(Extension {
        extension_type: LEAF_NODE_EPOCH_EXTENSION,
        extension_data: vec![1, 2, 3],
    });
    let proposal = replace_of(LeafIndex(1), leaf);
    let expected = ReplaceError::MalformedLeafNodeEpoch(1);
    assert_commit_refused(&mut groups[2], vec![proposal.clone()], &expected);
}

#[test]
fn a_replace_whose_leaf_node_source_is_not_update_is_refused() {
    let (mut groups, mut rng, _) = ready(15);
    let epoch = groups[0].epoch();
    let commit_leaf = signed_leaf(
        &groups[1],
        LeafNodeSource::Commit(vec![0; 32]),
        Some(epoch),
        &mut rng,
    );
    let proposal = replace_of(LeafIndex(1), commit_leaf);
    let expected = ReplaceError::WrongSource(LeafNodeSourceKind::Commit);
    assert_commit_refused(&mut groups[2], vec![proposal.clone()], &expected);
    let forged = forge_by_value(&mut groups[2], &[proposal], &mut rng);
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn a_replace_of_a_blank_leaf_is_refused() {
    let (mut groups, mut rng, leaf) = ready(16);
    let proposal = replace_of(LeafIndex(7), leaf);
    let expected = ReplaceError::BlankLeaf(7);
    assert_commit_refused(&mut groups[2], vec![proposal.clone()], &expected);
    let forged = forge_by_value(&mut groups[2], &[proposal], &mut rng);
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn a_replace_whose_leaf_node_is_not_valid_as_an_update_for_that_leaf_is_refused() {
    let (mut groups, mut rng, _) = ready(17);
    // A LeafNode of Bob's put at Alice's leaf: its signature covers Bob's leaf index (RFC 9420
    // §7.3), and Alice's credential is not its predecessor.
    let epoch = groups[0].epoch();
    let bobs = signed_leaf(&groups[1], LeafNodeSource::Update, Some(epoch), &mut rng);
    let proposal = replace_of(LeafIndex(0), bobs);
    let error = groups[2]
        .commit(
            &CommitOptions {
                proposals: vec![proposal.clone()],
                ..CommitOptions::default()
            },
            NOW,
            &mut rng,
        )
        .unwrap_err();
    assert!(
        matches!(
            &error,
            GroupError::Replace(ReplaceError::InvalidLeafNode { leaf: 0, .. })
        ),
        "{error:?}"
    );
    let forged = forge_by_value(&mut groups[2], &[proposal], &mut rng);
    let before = groups[1].to_bytes().unwrap();
    assert_eq!(groups[1].process_message(&forged, NOW).unwrap_err(), error);
    assert_eq!(groups[1].to_bytes().unwrap(), before);
}

#[test]
fn a_replace_of_the_committers_own_leaf_is_refused() {
    let (mut groups, mut rng, _) = ready(18);
    let epoch = groups[0].epoch();
    let own = signed_leaf(&groups[2], LeafNodeSource::Update, Some(epoch), &mut rng);
    let proposal = replace_of(LeafIndex(2), own);
    let expected = ReplaceError::CommittersLeaf(2);
    assert_commit_refused(&mut groups[2], vec![proposal.clone()], &expected);
    let forged = forge_by_value(&mut groups[2], &[proposal], &mut rng);
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn two_replaces_of_one_leaf_are_refused() {
    let (mut groups, mut rng, leaf) = ready(19);
    let epoch = groups[0].epoch();
    let other = signed_leaf(&groups[1], LeafNodeSource::Update, Some(epoch), &mut rng);
    let proposals = vec![
        replace_of(LeafIndex(1), leaf),
        replace_of(LeafIndex(1), other),
    ];
    let expected = ReplaceError::Duplicate(1);
    assert_commit_refused(&mut groups[2], proposals.clone(), &expected);
    let forged = forge_by_value(&mut groups[2], &proposals, &mut rng);
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn a_replace_and_an_update_of_one_leaf_are_refused() {
    let (mut groups, mut rng, leaf) = ready(20);
    // Bob's Update of the current epoch reaches everyone.
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    let mut reference = None;
    for g in [0, 2] {
        if let ProcessedMessage::Proposal { reference: r, .. } =
            groups[g].process_message(&update, NOW).unwrap()
        {
            reference = Some(r);
        }
    }
    let reference = reference.unwrap();
    let replace = replace_of(LeafIndex(1), leaf);
    let expected = ReplaceError::WithUpdate(1);
    assert_commit_refused(&mut groups[2], vec![replace.clone()], &expected);
    let forged = forge_commit(
        &mut groups[2],
        &[],
        vec![
            ProposalOrRef::Reference(reference),
            ProposalOrRef::proposal(replace),
        ],
        true,
        &mut rng,
    );
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn a_replace_and_a_remove_of_one_leaf_are_refused() {
    let (mut groups, mut rng, leaf) = ready(21);
    let proposals = vec![
        replace_of(LeafIndex(1), leaf),
        Proposal::Remove(Remove {
            removed: LeafIndex(1),
        }),
    ];
    let expected = ReplaceError::WithRemove(1);
    assert_commit_refused(&mut groups[2], proposals.clone(), &expected);
    let forged = forge_by_value(&mut groups[2], &proposals, &mut rng);
    assert_refused(&mut groups[0], &forged, &expected);
}

#[test]
fn a_commit_with_a_replace_needs_an_update_path() {
    let (mut groups, mut rng, leaf) = ready(22);
    let proposal = replace_of(LeafIndex(1), leaf);
    let valid = [CommittedProposal {
        sender: Sender::Member(LeafIndex(2)),
        proposal: proposal.clone(),
    }];
    let forged = forge_commit(
        &mut groups[2],
        &valid,
        vec![ProposalOrRef::proposal(proposal.clone())],
        false,
        &mut rng,
    );
    assert_refused(&mut groups[0], &forged, &ReplaceError::PathRequired);
    // Our own commit always carries one, even when not forced.
    let options = CommitOptions {
        proposals: vec![proposal],
        force_path: false,
        ..CommitOptions::default()
    };
    let output = groups[2].commit(&options, NOW, &mut rng).unwrap();
    let MlsMessageBody::PublicMessage(public) = &output.commit.body else {
        panic!("not a PublicMessage")
    };
    let Content::Commit(commit) = &public.content.content else {
        panic!("not a commit")
    };
    assert!(commit.path.is_some());
}

#[test]
fn replace_is_refused_in_external_commits_and_from_non_members() {
    let (_, _, leaf) = ready(23);
    let proposal = replace_of(LeafIndex(1), leaf);
    let listed = [CommittedProposal {
        sender: Sender::NewMemberCommit,
        proposal: proposal.clone(),
    }];
    let error = check_list(Committer::External, &listed).unwrap_err();
    assert_eq!(error, GroupError::Replace(ReplaceError::InExternalCommit));
    assert!(error.to_string().contains("draft-barnes-mls-replace-00 §5"));
    for sender in [
        Sender::External(0),
        Sender::NewMemberProposal,
        Sender::NewMemberCommit,
    ] {
        assert_eq!(
            super::super::proposals::check_sender_may_propose(&sender, &proposal),
            Err(GroupError::Replace(ReplaceError::NotFromMember(
                sender.sender_type()
            )))
        );
    }
    assert_eq!(
        super::super::proposals::check_sender_may_propose(&Sender::Member(LeafIndex(2)), &proposal),
        Ok(())
    );
}

#[test]
fn a_replace_needs_every_remaining_member_to_support_the_proposal_type() {
    let mut rng = SeededRng::new(24);
    let mut groups = group_of(
        &[("alice", true), ("bob", true), ("carol", false)],
        WireFormat::PUBLIC_MESSAGE,
        &mut rng,
    );
    let update = groups[1].propose_update(None, &mut rng).unwrap();
    make_late(&mut groups, 0, &mut rng);
    let error = groups[0].receive_late_update(&update, NOW).unwrap_err();
    assert_eq!(
        error,
        GroupError::ProposalTypeUnsupported {
            proposal: crate::codepoints::REPLACE_PROPOSAL,
            member: LeafIndex(2),
        }
    );
    // A Replace under another codepoint than the group's is not one.
    let other = Proposal::Extension(ExtensionProposal {
        proposal_type: crate::codepoints::SELF_REMOVE_PROPOSAL,
        body: ExtensionProposalBody::Replace(Replace {
            replaced: LeafIndex(1),
            leaf_node: Box::new(update_leaf(&update)),
        }),
    });
    assert!(
        groups[0]
            .commit(
                &CommitOptions {
                    proposals: vec![other],
                    ..CommitOptions::default()
                },
                NOW,
                &mut rng
            )
            .is_err()
    );
}

#[test]
fn a_replace_round_trips_through_the_proposal_codec() {
    let (_, _, leaf) = ready(25);
    let proposal = replace_of(LeafIndex(1), leaf);
    let bytes = proposal.to_bytes().unwrap();
    assert_eq!(&bytes[..2], &0xF0D0_u16.to_be_bytes());
    assert_eq!(Proposal::from_bytes(&bytes).unwrap(), proposal);
    // Truncated input is refused.
    assert!(Proposal::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert_eq!(LeafNodeEpoch(7).to_bytes().unwrap(), 7_u64.to_be_bytes());
}

// ---- the Delivery Service's view ---------------------------------------------------------

#[test]
fn the_public_view_accepts_a_valid_replace_commit_and_refuses_an_invalid_one() {
    let (mut groups, mut rng, leaf) = ready(26);
    let info = group_info(&groups[0]);
    let mut view = PublicGroup::from_group_info(
        &RustCryptoProvider,
        Arc::new(BasicIdentityProvider),
        &info,
        None,
        PublicGroupConfig::from(groups[0].config()),
        NOW,
    )
    .unwrap();

    // An invalid one (rollback of nothing, but no leaf_node_epoch) is refused as members do.
    let bare = signed_leaf(&groups[1], LeafNodeSource::Update, None, &mut rng);
    let forged = forge_by_value(&mut groups[2], &[replace_of(LeafIndex(1), bare)], &mut rng);
    let before = view.to_bytes().unwrap();
    assert_eq!(
        view.process_message(&forged, NOW).unwrap_err(),
        PublicGroupError::Group(GroupError::Replace(ReplaceError::MissingLeafNodeEpoch))
    );
    assert_eq!(view.to_bytes().unwrap(), before);

    // The valid one is followed: the view's tree is the members'.
    let options = CommitOptions {
        proposals: vec![replace_of(LeafIndex(1), leaf.clone())],
        ..CommitOptions::default()
    };
    let output = commit_all(&mut groups, 2, &options, &mut rng).unwrap();
    let handshake = view.process_message(&output.commit, NOW).unwrap();
    let PublicHandshake::Commit(staged) = &handshake else {
        panic!("not a commit")
    };
    assert_eq!(staged.summary().updated, vec![LeafIndex(1)]);
    view.apply(handshake).unwrap();
    assert_eq!(view.epoch(), groups[0].epoch());
    assert_eq!(view.tree().to_nodes(), groups[0].tree().to_nodes());
    assert_eq!(view.tree().leaf(LeafIndex(1)), Some(&leaf));
}

#[test]
fn a_replace_proposed_by_one_member_is_committed_by_reference_by_another() {
    let (mut groups, mut rng, leaf) = ready(27);
    let message = groups[2]
        .propose(replace_of(LeafIndex(1), leaf.clone()), &[], &mut rng)
        .unwrap();
    for member in [0, 1] {
        let ProcessedMessage::Proposal { proposal, .. } =
            groups[member].process_message(&message, NOW).unwrap()
        else {
            panic!("not a proposal")
        };
        assert!(is_replace(&proposal));
    }
    let output = commit_all(&mut groups, 0, &CommitOptions::default(), &mut rng).unwrap();
    let MlsMessageBody::PublicMessage(public) = &output.commit.body else {
        panic!("not a PublicMessage")
    };
    let Content::Commit(commit) = &public.content.content else {
        panic!("not a commit")
    };
    assert!(matches!(
        commit.proposals.as_slice(),
        [ProposalOrRef::Reference(_)]
    ));
    assert_agree(&groups);
    assert_eq!(groups[0].tree().leaf(LeafIndex(1)), Some(&leaf));
    bob_speaks(&mut groups, &mut rng);
}
