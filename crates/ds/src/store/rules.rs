//! The decisions of the store, made once for both engines. An engine reads the facts a rule
//! needs inside the transaction that then acts on the decision (with the group row locked,
//! or on SQLite's single writer), calls the rule, and writes what it says: the rule never
//! sees a connection, the engine never decides. So the engines cannot disagree, and the
//! atomicity of each operation stays the engine's (RFC 9750 §5.2: exactly one commit per
//! epoch; gap-free sequence numbers; one-time KeyPackage claims).
//!
//! The rules:
//! - [`commit`]: who may commit to a group and at which epoch (RFC 9750 §5.2; RFC 9420
//!   §12.4.3.2 external commits);
//! - [`append`]: who may append a proposal or application message, at which epoch;
//! - [`append_proof`] and [`commit_proof`]: the member proof a message or commit of a
//!   member-proof group needs (draft-mahy-mls-member-proof-00);
//! - [`membership_change`]: who leaves and who (re)joins with a commit;
//! - [`reregistration`]: a registration of a client id that exists;
//! - [`credential_update`]: the outcome of a compare-and-swap of a client's credential;
//! - [`challenge_accepted`] and [`unexpired`]: login challenges and tokens;
//! - [`prune_cutoffs`] with [`KEY_PACKAGE_GRACE`]: what a retention pass removes;
//! - [`RETIRED_NOT_AFTER`]: how a replaced last-resort KeyPackage is retired.

use super::{Appended, ClientRecord, CommitRecord, Committed, CredentialUpdated, Registered};
use super::{MemberProofRefusal, ProofUse};
use super::{StoreError, to_i64};

/// Expired KeyPackages are kept this long (seconds) after their `not_after` before a
/// retention pass removes them, so that a Welcome naming one that was claimed just before it
/// expired is still routed to its owner (RFC 9420 §12.4.3.1).
pub const KEY_PACKAGE_GRACE: u64 = 86_400;

/// The `not_after` given to a last-resort KeyPackage replaced by a newer one (RFC 9750
/// §5.1): never served again (it is expired), still known by reference for Welcome
/// routing, and removed by the next retention pass.
pub const RETIRED_NOT_AFTER: i64 = -1;

/// What the engine read about a group and a commit's sender, in the commit's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitFacts {
    /// The group's current epoch.
    pub epoch: u64,
    /// Whether the group allows external joins.
    pub allow_external_join: bool,
    /// Whether the sender is a member now.
    pub sender_is_member: bool,
}

/// What to do with a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitDecision {
    /// Apply it: the group moves to `next_epoch`.
    Apply {
        /// The epoch after the commit.
        next_epoch: u64,
    },
    /// Refuse it with this outcome.
    Refuse(Committed),
}

/// Whether a commit is applied (RFC 9750 §5.2): the group must exist (`facts`); a member's
/// commit needs a member sender, an external commit (RFC 9420 §12.4.3.2) a group that
/// allows external joins and a member list that includes the joiner; then the commit must
/// be for the group's current epoch, so exactly one commit per epoch is applied. Checked in
/// this order, so a refused sender learns nothing of the epoch.
pub fn commit(
    facts: Option<&CommitFacts>,
    commit: &CommitRecord,
) -> Result<CommitDecision, StoreError> {
    let Some(facts) = facts else {
        return Ok(CommitDecision::Refuse(Committed::NoGroup));
    };
    if commit.external {
        if !facts.allow_external_join || !commit.members.contains(&commit.sender) {
            return Ok(CommitDecision::Refuse(Committed::ExternalRefused));
        }
    } else if !facts.sender_is_member {
        return Ok(CommitDecision::Refuse(Committed::NotMember));
    }
    if facts.epoch != commit.epoch {
        return Ok(CommitDecision::Refuse(Committed::WrongEpoch {
            current: facts.epoch,
        }));
    }
    let next_epoch = commit
        .epoch
        .checked_add(1)
        .ok_or_else(|| StoreError::Backend("epoch overflow".into()))?;
    // The engines store epochs as signed 64-bit integers.
    to_i64(next_epoch)?;
    Ok(CommitDecision::Apply { next_epoch })
}

/// What the engine read about a group and a message's sender, in the append's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendFacts {
    /// The group's current epoch.
    pub epoch: u64,
    /// Whether the sender is a member.
    pub sender_is_member: bool,
}

/// Whether a proposal or application message is appended: the group must exist, the sender
/// be a member, and the message be for the current epoch (RFC 9420 §6: handshake messages
/// of an old epoch are useless to members, RFC 9750 §5.2). `None`: append it.
pub fn append(facts: Option<AppendFacts>, message_epoch: u64) -> Option<Appended> {
    let Some(facts) = facts else {
        return Some(Appended::NoGroup);
    };
    if !facts.sender_is_member {
        return Some(Appended::NotMember);
    }
    if facts.epoch != message_epoch {
        return Some(Appended::WrongEpoch {
            current: facts.epoch,
        });
    }
    None
}

/// What the engine read of a group's member proofs in the transaction that appends or
/// commits (draft-mahy-mls-member-proof-00): present only for a group with member proofs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofFacts {
    /// The member-proof key of the group's current epoch.
    pub public_key: Vec<u8>,
    /// Whether the proof's nonce was used before in this group and epoch.
    pub nonce_seen: bool,
}

/// Whether a proposal or application message of a group with member proofs (`facts`) may be
/// appended: its proof must have verified under the current key and carry a nonce not seen
/// in this epoch (the signature binds only the clear header, so a nonce accepted once stops
/// a proof from being put on another message). Checked after [`append`], so a refused
/// sender or epoch is said first. `None`: append it (and record the nonce).
pub fn append_proof(
    facts: Option<&ProofFacts>,
    used: Option<&ProofUse>,
) -> Option<MemberProofRefusal> {
    let facts = facts?;
    match used {
        Some(used) if used.public_key == facts.public_key => {
            facts.nonce_seen.then_some(MemberProofRefusal::Replayed)
        }
        _ => Some(MemberProofRefusal::Required),
    }
}

/// Whether a commit to a group with member proofs (`facts`) may be applied
/// (draft-mahy-mls-member-proof-00 §4): a member's commit needs a proof like any message
/// ([`append_proof`]); an external commit (RFC 9420 §12.4.3.2) cannot have one, its
/// joiner not being a member yet. Either must announce the next epoch's key, which then
/// replaces the current one. Checked after [`commit`].
pub fn commit_proof(
    facts: Option<&ProofFacts>,
    commit: &CommitRecord,
) -> Option<MemberProofRefusal> {
    let facts = facts?;
    if !commit.external
        && let Some(refused) = append_proof(Some(facts), commit.member_proof.as_ref())
    {
        return Some(refused);
    }
    if commit.next_member_proof_key.is_none() {
        return Some(MemberProofRefusal::NextKeyMissing);
    }
    None
}

/// How a commit changes a group's member list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MembershipChange {
    /// Members that leave: remembered as former members, with the commit's sequence
    /// number, so that they may read the log up to their removal.
    pub removed: Vec<String>,
    /// Clients that join or rejoin: no longer former members.
    pub added: Vec<String>,
}

/// Who leaves and who (re)joins when the members `previous` become `next` (both as lists of
/// client ids, in any order, duplicates ignored). The results are sorted.
pub fn membership_change(previous: &[String], next: &[String]) -> MembershipChange {
    use std::collections::BTreeSet;
    let previous: BTreeSet<&String> = previous.iter().collect();
    let next: BTreeSet<&String> = next.iter().collect();
    MembershipChange {
        removed: previous.difference(&next).map(|m| (*m).clone()).collect(),
        added: next.difference(&previous).map(|m| (*m).clone()).collect(),
    }
}

/// The outcome of registering `client` under a client id that exists with `existing_key`
/// and `existing_credential`: the same registration again changes nothing, anything else
/// finds the id taken (a client id is bound to one key and credential; a client replaces
/// them with a credential change).
pub fn reregistration(
    existing_key: &[u8],
    existing_credential: &[u8],
    client: &ClientRecord,
) -> Registered {
    if existing_key == client.signature_key.as_slice()
        && existing_credential == client.credential.as_slice()
    {
        Registered::Unchanged
    } else {
        Registered::Taken
    }
}

/// The outcome of a credential change's compare-and-swap: `replaced` if the row still had
/// the previous key and credential and now has the new ones; otherwise a concurrent change
/// won if the client still exists.
pub fn credential_update(replaced: bool, client_exists: bool) -> CredentialUpdated {
    if replaced {
        CredentialUpdated::Replaced
    } else if client_exists {
        CredentialUpdated::Changed
    } else {
        CredentialUpdated::NoClient
    }
}

/// Whether something that expires at `expires_at` (a challenge, a token) is still valid at
/// `now`: through its expiry second, inclusive. A retention pass removes what expired before
/// `now` ([`PruneCutoffs::auth_expired_before`]), so it never removes anything still valid.
pub fn unexpired(expires_at: u64, now: u64) -> bool {
    expires_at >= now
}

/// Whether a login challenge, issued to `issued_to` and expiring at `expires_at`, may be
/// answered by `client_id` at `now` (that it is answered once is the store's
/// [`super::Store::use_challenge`]).
pub fn challenge_accepted(issued_to: &str, expires_at: u64, client_id: &str, now: u64) -> bool {
    issued_to == client_id && unexpired(expires_at, now)
}

/// What a retention pass at `now` removes: rows whose time is before each cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneCutoffs {
    /// Log entries created before this (none without a retention period).
    pub messages_before: Option<i64>,
    /// Challenges and tokens that expired before this.
    pub auth_expired_before: i64,
    /// KeyPackages whose `not_after` is before this: expired for more than
    /// [`KEY_PACKAGE_GRACE`].
    pub key_packages_expired_before: i64,
}

/// The cutoffs of a retention pass at `now`, removing log entries created before
/// `messages_before` if given.
pub fn prune_cutoffs(now: u64, messages_before: Option<u64>) -> Result<PruneCutoffs, StoreError> {
    Ok(PruneCutoffs {
        messages_before: messages_before.map(to_i64).transpose()?,
        auth_expired_before: to_i64(now)?,
        key_packages_expired_before: to_i64(now.saturating_sub(KEY_PACKAGE_GRACE))?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use super::*;

    fn record(epoch: u64, sender: &str, external: bool, members: &[&str]) -> CommitRecord {
        CommitRecord {
            epoch,
            data: b"commit".to_vec(),
            sender: sender.into(),
            external,
            group_info: b"info".to_vec(),
            ratchet_tree: None,
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            welcome: None,
            allow_external_join: None,
            public_state: None,
            member_proof: None,
            next_member_proof_key: None,
            annotations: Vec::new(),
            annotated_welcomes: Vec::new(),
        }
    }

    fn proof_facts(nonce_seen: bool) -> ProofFacts {
        ProofFacts {
            public_key: b"key".to_vec(),
            nonce_seen,
        }
    }

    fn used(key: &[u8]) -> ProofUse {
        ProofUse {
            public_key: key.to_vec(),
            nonce: b"nonce".to_vec(),
        }
    }

    #[test]
    fn a_member_proof_group_takes_only_fresh_proofs_under_its_current_key() {
        assert_eq!(append_proof(None, None), None, "no member proofs: no rule");
        let fresh = proof_facts(false);
        assert_eq!(append_proof(Some(&fresh), Some(&used(b"key"))), None);
        assert_eq!(
            append_proof(Some(&fresh), None),
            Some(MemberProofRefusal::Required)
        );
        assert_eq!(
            append_proof(Some(&fresh), Some(&used(b"old key"))),
            Some(MemberProofRefusal::Required)
        );
        assert_eq!(
            append_proof(Some(&proof_facts(true)), Some(&used(b"key"))),
            Some(MemberProofRefusal::Replayed)
        );
    }

    #[test]
    fn a_commit_to_a_member_proof_group_announces_the_next_key_and_members_prove() {
        let fresh = proof_facts(false);
        let mut member = record(3, "a", false, &["a"]);
        assert_eq!(commit_proof(None, &member), None);
        member.member_proof = Some(used(b"key"));
        assert_eq!(
            commit_proof(Some(&fresh), &member),
            Some(MemberProofRefusal::NextKeyMissing)
        );
        member.next_member_proof_key = Some(b"next".to_vec());
        assert_eq!(commit_proof(Some(&fresh), &member), None);
        member.member_proof = None;
        assert_eq!(
            commit_proof(Some(&fresh), &member),
            Some(MemberProofRefusal::Required)
        );
        let mut external = record(3, "j", true, &["a", "j"]);
        assert_eq!(
            commit_proof(Some(&fresh), &external),
            Some(MemberProofRefusal::NextKeyMissing)
        );
        external.next_member_proof_key = Some(b"next".to_vec());
        assert_eq!(commit_proof(Some(&fresh), &external), None);
    }

    fn facts(epoch: u64, allow_external_join: bool, sender_is_member: bool) -> CommitFacts {
        CommitFacts {
            epoch,
            allow_external_join,
            sender_is_member,
        }
    }

    #[test]
    fn a_member_commits_once_per_epoch() {
        let c = record(4, "alice", false, &["alice", "bob"]);
        assert_eq!(
            commit(Some(&facts(4, false, true)), &c).unwrap(),
            CommitDecision::Apply { next_epoch: 5 }
        );
        assert_eq!(
            commit(Some(&facts(5, false, true)), &c).unwrap(),
            CommitDecision::Refuse(Committed::WrongEpoch { current: 5 })
        );
        assert_eq!(
            commit(None, &c).unwrap(),
            CommitDecision::Refuse(Committed::NoGroup)
        );
    }

    #[test]
    fn a_non_member_is_refused_before_the_epoch_is_looked_at() {
        let c = record(4, "mallory", false, &["alice", "mallory"]);
        assert_eq!(
            commit(Some(&facts(9, true, false)), &c).unwrap(),
            CommitDecision::Refuse(Committed::NotMember)
        );
    }

    #[test]
    fn an_external_commit_needs_the_groups_consent_and_the_joiner_in_the_member_list() {
        let joins = record(2, "dave", true, &["alice", "dave"]);
        assert_eq!(
            commit(Some(&facts(2, true, false)), &joins).unwrap(),
            CommitDecision::Apply { next_epoch: 3 }
        );
        assert_eq!(
            commit(Some(&facts(2, false, false)), &joins).unwrap(),
            CommitDecision::Refuse(Committed::ExternalRefused)
        );
        let not_listed = record(2, "dave", true, &["alice"]);
        assert_eq!(
            commit(Some(&facts(2, true, false)), &not_listed).unwrap(),
            CommitDecision::Refuse(Committed::ExternalRefused)
        );
        // Consent and listing come first; then the epoch.
        assert_eq!(
            commit(Some(&facts(3, true, false)), &joins).unwrap(),
            CommitDecision::Refuse(Committed::WrongEpoch { current: 3 })
        );
    }

    #[test]
    fn an_epoch_the_stores_cannot_hold_is_an_error() {
        let c = record(u64::MAX, "alice", false, &["alice"]);
        assert!(commit(Some(&facts(u64::MAX, false, true)), &c).is_err());
        let c = record(i64::MAX as u64, "alice", false, &["alice"]);
        assert!(commit(Some(&facts(i64::MAX as u64, false, true)), &c).is_err());
    }

    #[test]
    fn appends_need_the_group_a_member_and_the_current_epoch() {
        let member = AppendFacts {
            epoch: 3,
            sender_is_member: true,
        };
        assert_eq!(append(Some(member), 3), None);
        assert_eq!(
            append(Some(member), 2),
            Some(Appended::WrongEpoch { current: 3 })
        );
        assert_eq!(append(None, 3), Some(Appended::NoGroup));
        let stranger = AppendFacts {
            epoch: 3,
            sender_is_member: false,
        };
        assert_eq!(append(Some(stranger), 2), Some(Appended::NotMember));
    }

    #[test]
    fn the_membership_change_lists_who_leaves_and_who_joins() {
        let ids = |v: &[&str]| v.iter().map(|m| (*m).to_owned()).collect::<Vec<_>>();
        let change = membership_change(
            &ids(&["carol", "alice", "bob"]),
            &ids(&["dave", "alice", "dave", "erin"]),
        );
        assert_eq!(change.removed, ids(&["bob", "carol"]));
        assert_eq!(change.added, ids(&["dave", "erin"]));
        assert_eq!(
            membership_change(&ids(&["a", "b"]), &ids(&["b", "a"])),
            MembershipChange::default()
        );
    }

    #[test]
    fn a_client_id_is_bound_to_one_key_and_credential() {
        let client = ClientRecord {
            client_id: "alice".into(),
            cipher_suite: 1,
            signature_key: b"key".to_vec(),
            credential: b"cred".to_vec(),
            created_at: 0,
            token_generation: 0,
            partial: false,
        };
        assert_eq!(
            reregistration(b"key", b"cred", &client),
            Registered::Unchanged
        );
        assert_eq!(
            reregistration(b"other", b"cred", &client),
            Registered::Taken
        );
        assert_eq!(reregistration(b"key", b"other", &client), Registered::Taken);
    }

    #[test]
    fn a_credential_swap_that_missed_tells_a_concurrent_change_from_a_missing_client() {
        assert_eq!(credential_update(true, true), CredentialUpdated::Replaced);
        assert_eq!(credential_update(false, true), CredentialUpdated::Changed);
        assert_eq!(credential_update(false, false), CredentialUpdated::NoClient);
    }

    #[test]
    fn challenges_are_for_their_client_and_valid_through_their_expiry_second() {
        assert!(challenge_accepted("alice", 100, "alice", 100));
        assert!(!challenge_accepted("alice", 100, "alice", 101));
        assert!(!challenge_accepted("alice", 100, "bob", 50));
        assert!(unexpired(100, 99) && unexpired(100, 100) && !unexpired(100, 101));
    }

    #[test]
    fn a_retention_pass_keeps_expired_key_packages_for_a_grace_period() {
        let cutoffs = prune_cutoffs(1_000_000, Some(500)).unwrap();
        assert_eq!(
            cutoffs,
            PruneCutoffs {
                messages_before: Some(500),
                auth_expired_before: 1_000_000,
                key_packages_expired_before: 1_000_000 - 86_400,
            }
        );
        // Early clocks do not underflow.
        assert_eq!(
            prune_cutoffs(10, None).unwrap().key_packages_expired_before,
            0
        );
        // What a pass removes is never still valid.
        assert!(!unexpired(
            u64::try_from(cutoffs.auth_expired_before - 1).unwrap(),
            1_000_000
        ));
    }
}
