//! Member proofs on a group (draft-mahy-mls-member-proof-00; the decisions D1–D8 are in
//! [`crate::member_proof`]): when the GroupContext requires them, every message we send
//! carries a proof under the epoch's member-proof key, and every message from a member
//! must carry a valid one; a commit between two such epochs carries the next epoch's key,
//! which must be the key the new epoch derives.

use conclave_crypto::{CipherSuiteProvider, CryptoRandom};

use super::{Group, GroupError};
use crate::codepoints::CodepointProfile;
use crate::member_proof::{
    self as proof, MemberProofError, MemberProofItems, MemberProofKeys, ProofTarget,
};
use crate::messages::{ContentType, GroupContext, Sender, SignaturePublicKey};

impl Group {
    /// Whether this group's current epoch requires member proofs
    /// (draft-mahy-mls-member-proof-00, D2 of [`crate::member_proof`]).
    pub fn member_proofs_enabled(&self) -> Result<bool, GroupError> {
        Ok(proof::enabled(&self.epoch.context.extensions)?)
    }

    /// The member-proof public key of the current epoch (draft-mahy-mls-member-proof-00 §3,
    /// `MemberProofPubKey`), if the epoch has member proofs: what the Delivery Service checks
    /// proofs with. A group's creator registers the epoch-0 key with the DS; later keys
    /// reach it in commits (D7).
    pub fn member_proof_public_key(&self) -> Option<&SignaturePublicKey> {
        self.epoch
            .member_proof
            .as_ref()
            .map(MemberProofKeys::public_key)
    }

    /// The `authenticated_data` of a message of `content_type` we send in the current
    /// epoch: the caller's Safe AAD rules (draft-ietf-mls-extensions-10 §4.9), plus our
    /// member proof when the epoch requires one (draft-mahy-mls-member-proof-00 §3).
    pub(super) fn outgoing_aad(
        &self,
        authenticated_data: &[u8],
        content_type: ContentType,
        rng: &mut dyn CryptoRandom,
    ) -> Result<Vec<u8>, GroupError> {
        let base = self.outgoing_authenticated_data(authenticated_data)?;
        with_own_proof(
            self.cs.as_ref(),
            &self.epoch.context,
            self.epoch.member_proof.as_ref(),
            content_type,
            base,
            rng,
        )
    }
}

/// `base` (an `authenticated_data` with the Safe AAD rules applied) plus a member proof
/// under `keys` for a message of `content_type` when the epoch of `context` requires one
/// (draft-mahy-mls-member-proof-00 §3): for full and partial members alike.
pub(crate) fn with_own_proof(
    cs: &dyn CipherSuiteProvider,
    context: &GroupContext,
    keys: Option<&MemberProofKeys>,
    content_type: ContentType,
    base: Vec<u8>,
    rng: &mut dyn CryptoRandom,
) -> Result<Vec<u8>, GroupError> {
    if !proof::enabled(&context.extensions)? {
        return Ok(base);
    }
    let keys = keys.ok_or(MemberProofError::NoKey)?;
    let target = ProofTarget {
        group_id: &context.group_id,
        epoch: context.epoch,
        content_type,
    };
    let made = proof::prove(cs, keys, target, None, rng)?;
    Ok(proof::add_items(&base, Some(&made), None)?)
}

/// The `authenticated_data` of a commit sent in the epoch of `context`
/// (draft-mahy-mls-member-proof-00 §3, §4; D7, D8): `base` (already Safe-AAD framed), plus
/// our proof under `current` when we are a member and the epoch requires proofs, plus the
/// key of the epoch the commit starts (`next`) when both epochs have member proofs.
pub(super) fn commit_aad(
    cs: &dyn CipherSuiteProvider,
    context: &GroupContext,
    current: Option<&MemberProofKeys>,
    member: bool,
    next_key: Option<&SignaturePublicKey>,
    base: Vec<u8>,
    rng: &mut dyn CryptoRandom,
) -> Result<Vec<u8>, GroupError> {
    if !proof::enabled(&context.extensions)? {
        return Ok(base);
    }
    let made = if member {
        let keys = current.ok_or(MemberProofError::NoKey)?;
        let target = ProofTarget {
            group_id: &context.group_id,
            epoch: context.epoch,
            content_type: ContentType::Commit,
        };
        Some(proof::prove(cs, keys, target, next_key, rng)?)
    } else {
        None
    };
    Ok(proof::add_items(&base, made.as_ref(), next_key)?)
}

/// The member-proof items of a received `authenticated_data` in the epoch of `context`
/// (`None` when the epoch has no member proofs).
fn incoming_items(
    profile: CodepointProfile,
    context: &GroupContext,
    authenticated_data: &[u8],
) -> Result<Option<MemberProofItems>, GroupError> {
    if !proof::enabled(&context.extensions)? {
        return Ok(None);
    }
    let aad = crate::safe::incoming_safe_aad(profile, &context.extensions, authenticated_data)?
        .unwrap_or_default();
    Ok(Some(proof::items(&aad)?))
}

/// The check of a received message of the epoch of `context`, whose member-proof key is
/// `key` (draft-mahy-mls-member-proof-00 §3 "Verifying"): a message from a member carries a
/// proof that verifies under the epoch's key; only a commit carries a next-epoch key (its
/// value is checked once the commit is processed, [`check_next_epoch_key`]). Non-members'
/// messages (external commits and proposals) need no proof (D8). Done before decryption.
pub(crate) fn check_incoming(
    cs: &dyn CipherSuiteProvider,
    profile: CodepointProfile,
    context: &GroupContext,
    key: Option<&SignaturePublicKey>,
    sender: Option<Sender>,
    content_type: ContentType,
    authenticated_data: &[u8],
) -> Result<(), GroupError> {
    let Some(found) = incoming_items(profile, context, authenticated_data)? else {
        return Ok(());
    };
    if found.next_epoch_key.is_some() && content_type != ContentType::Commit {
        return Err(MemberProofError::NextEpochKeyUnexpected.into());
    }
    // A PrivateMessage (no clear sender) always comes from a member.
    if !matches!(sender, None | Some(Sender::Member(_))) {
        return Ok(());
    }
    let made = found.proof.ok_or(MemberProofError::Missing)?;
    let key = key.ok_or(MemberProofError::NoKey)?;
    let target = ProofTarget {
        group_id: &context.group_id,
        epoch: context.epoch,
        content_type,
    };
    proof::verify(
        cs,
        key.as_ref(),
        target,
        &made,
        found.next_epoch_key.as_ref(),
    )?;
    Ok(())
}

/// The check of a commit's `next_epoch_member_proof_key` (draft-mahy-mls-member-proof-00 §4,
/// D7): when the epoch it is sent in (`context`) and the epoch it starts (`next`) both have
/// member proofs, the key must be there and be `next`'s; otherwise it must be absent.
pub(crate) fn check_next_epoch_key(
    profile: CodepointProfile,
    context: &GroupContext,
    next: Option<&MemberProofKeys>,
    authenticated_data: &[u8],
) -> Result<(), GroupError> {
    let found = incoming_items(profile, context, authenticated_data)?;
    let announced = found.as_ref().and_then(|f| f.next_epoch_key.as_ref());
    match (found.is_some().then_some(next).flatten(), announced) {
        (Some(keys), Some(key)) if key == keys.public_key() => Ok(()),
        (Some(_), Some(_)) => Err(MemberProofError::NextEpochKeyMismatch.into()),
        (Some(_), None) => Err(MemberProofError::NextEpochKeyMissing.into()),
        (None, Some(_)) => Err(MemberProofError::NextEpochKeyUnexpected.into()),
        (None, None) => Ok(()),
    }
}

#[cfg(test)]
mod tests;
