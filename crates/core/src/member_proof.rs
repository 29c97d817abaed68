//! Member proofs (draft-mahy-mls-member-proof-00): a per-epoch signature key pair that only
//! the members of an epoch can derive, and a signature with it in the Safe AAD of every
//! message, so that a non-member — the Delivery Service — can check that a message comes from
//! a member of the group's current epoch without reading it, even when handshakes are
//! PrivateMessages.
//!
//! The draft is a sketch (-00, security considerations "TODO") written against the -04 Safe
//! Extensions. What it leaves open is decided here; each decision names the section it
//! fills in.
//!
//! * **D1 — codepoints (§3, §7).** The draft's ExtensionTypes become private-use components
//!   of draft-ietf-mls-extensions-10 §7.5: [`MEMBER_PROOF_COMPONENT`] (key derivation, the
//!   signature's `ComponentOperationLabel`, the `MemberProofAAD` item, and the GroupContext
//!   entry that turns the feature on) and [`NEXT_EPOCH_MEMBER_PROOF_KEY_COMPONENT`] (the next
//!   epoch's key in a commit). The base label of both is always "MLS Component" (the -10
//!   label), whatever the group's codepoint profile, so that an outsider needs no profile.
//! * **D2 — enabling (§1: "required for every member … or used optionally").** Required: an
//!   entry of [`MEMBER_PROOF_COMPONENT`] (empty data) in the GroupContext's
//!   `app_data_dictionary` makes every member put a proof in every PublicMessage and
//!   PrivateMessage it sends, and refuse one from a member without it. Safe AAD must be in
//!   force too (a `safe_aad` entry, draft-ietf-mls-extensions-10 §4.9), else
//!   [`MemberProofError::RequiresSafeAad`].
//! * **D3 — the key pair (§3 step 1).** The draft derives the key pair from an
//!   "epoch-derived secret". An epoch secret cannot be used: the commit that starts epoch
//!   `n+1` must carry that epoch's public key (§4, `next_epoch_member_proof_key`), yet every
//!   epoch secret depends on the commit's `authenticated_data` through the confirmed
//!   transcript hash (RFC 9420 §8, §8.2) — and so does the forward-secure exporter of
//!   draft-ietf-mls-extensions-10 §4.4. So the secret is taken from the key schedule
//!   *before* the GroupContext enters it:
//!
//!   ```text
//!   member_proof_secret[n+1] = ExpandWithLabel(
//!       KDF.Extract(init_secret[n], commit_secret),      // as under joiner_secret, RFC 9420 §8
//!       "member_proof",
//!       MemberProofSecretContext {
//!           ComponentOperationLabel label;   // "MLS Component", member_proof, "member_proof secret"
//!           opaque group_id<V>;
//!           uint64 epoch;                    // n+1
//!       },
//!       KDF.Nh)
//!   (secret_key, public_key) = DeriveSignatureKeyPair(member_proof_secret[n+1])
//!   ```
//!
//!   with `DeriveSignatureKeyPair` of `conclave_crypto::signature_derive` (EdDSA seed, or
//!   ECDSA scalar by rejection sampling). Who can compute it: the members of epoch `n` that
//!   process the commit (they have `init_secret[n]` and the `commit_secret` from the path),
//!   the committer, and an external joiner (its `init_secret` is the external init secret,
//!   RFC 9420 §8.3). A member the commit removes cannot: a commit that removes anyone has a
//!   path (RFC 9420 §12.4), whose `commit_secret` it does not learn. A commit without a path
//!   removes no one, so every member of epoch `n` stays a member of `n+1`. Epoch 0 uses the
//!   creator's random `init_secret` and a zero `commit_secret` (RFC 9420 §11).
//! * **D4 — joiners by Welcome.** They have neither `init_secret[n]` nor the intermediate,
//!   so the committer puts `member_proof_secret[n+1]` in the GroupInfo *of the Welcome*
//!   (encrypted to the joiners, RFC 9420 §12.4.3.1) as the [`MEMBER_PROOF_COMPONENT`] entry of
//!   its `app_data_dictionary`; the published GroupInfo never carries it. The joiner cannot
//!   recompute it and trusts the signed GroupInfo, as it trusts the rest of the Welcome.
//! * **D5 — what is signed (§3 steps 2–4).** For a non-member the draft's `FramedContent`
//!   usage data is not available (PrivateMessage) and the ciphertext depends on the AAD, so
//!   the usage data is the clear header the DS sees plus the commit's next-epoch key:
//!
//!   ```text
//!   struct {
//!       opaque group_id<V>;
//!       uint64 epoch;
//!       ContentType content_type;
//!       optional<SignaturePublicKey> next_epoch_member_proof_key;
//!   } MemberProofUsage;
//!   ContentHash    = Hash(nonce || MemberProofUsage)       // nonce: KDF.Nh fresh bytes
//!   safe_signature = SafeSignWithLabel(member_proof secret key, member_proof,
//!                                      "member proof", ContentHash)
//!   ```
//!
//!   The signature does not bind the message body. A proof taken from one message could be
//!   put on another; the verifier stops that by accepting each nonce once per group and
//!   epoch (the Delivery Service records them), and the proof is only valid in its own
//!   epoch. Members need no replay state: the MLS message itself is protected.
//! * **D6 — `MemberProofAAD` (§3 step 5).** The draft's `optional opaque MemberProofPubKey`
//!   is not valid TLS-PL; it is `optional<SignaturePublicKey> member_proof_pub_key`. We
//!   always include it (the draft's SHOULD); a verifier refuses a key other than the one it
//!   expects.
//! * **D7 — `next_epoch_member_proof_key` (§4).** Its `aad_item_data` is the raw public key.
//!   A commit carries it exactly when the epoch it is sent in and the epoch it starts both
//!   have member proofs; members refuse a commit whose key is missing, unexpected, or not
//!   the key they derive for the new epoch. The draft ties it to the handshake-sharing usage;
//!   here it is part of the posting proof (signed in D5), so the DS learns each epoch's key
//!   from an accepted commit.
//! * **D8 — external commits and external senders.** A joiner by external commit is not a
//!   member of the epoch it commits in, so its commit carries no proof, only the next key
//!   (which it can derive, D3). External proposals (RFC 9420 §12.1.8) carry none either.
//!   Members check proofs from member senders only; whether a non-member's message enters
//!   the log is the Delivery Service's policy.
//!
//! Not implemented: the handshake-sharing usage (`handshake_framed_data_hash`, §4).
//!
//! This module is sans-IO and needs no group state: [`verify_for_outsider`] is what a
//! Delivery Service runs.

use conclave_codec::{CodecError, Decode, Encode};
use conclave_crypto::{CipherSuiteProvider, CryptoError, CryptoRandom, Secret};

use crate::codepoints::{
    APP_DATA_DICTIONARY_EXTENSION, CodepointProfile, MEMBER_PROOF_COMPONENT,
    MEMBER_PROOF_EXPAND_LABEL, MEMBER_PROOF_SECRET_LABEL, MEMBER_PROOF_SIGN_LABEL,
    NEXT_EPOCH_MEMBER_PROOF_KEY_COMPONENT,
};
use crate::messages::{
    AppDataDictionary, ComponentOperationLabel, ContentType, Extension, SafeAad, SafeAadItem,
    SignaturePublicKey,
};
use crate::safe::{self, SafeError};

/// A broken rule of member proofs (draft-mahy-mls-member-proof-00, as decided in
/// [`crate::member_proof`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemberProofError {
    /// The group requires member proofs and the message has none.
    #[error(
        "draft-mahy-mls-member-proof-00 §3: the group requires a member proof (Safe AAD item \
         {:#06x}) and the message has none",
        MEMBER_PROOF_COMPONENT.0
    )]
    Missing,
    /// A `MemberProofAAD` or next-epoch key item does not decode.
    #[error("draft-mahy-mls-member-proof-00 §3: malformed member-proof item: {0}")]
    Malformed(CodecError),
    /// The proof names a public key other than the epoch's.
    #[error(
        "draft-mahy-mls-member-proof-00 §3 (verifying, step 3): the proof's public key is not \
         the member-proof key of this epoch"
    )]
    WrongKey,
    /// The proof's signature does not verify under the epoch's key.
    #[error(
        "draft-mahy-mls-member-proof-00 §3 (verifying, step 5): the member proof's signature \
         does not verify under this epoch's member-proof key"
    )]
    InvalidSignature,
    /// The nonce is not `KDF.Nh` bytes.
    #[error(
        "draft-mahy-mls-member-proof-00 §3 step 2: the nonce has {len} bytes, the suite's KDF.Nh \
         is {expected}"
    )]
    NonceLength {
        /// The nonce's length.
        len: usize,
        /// `KDF.Nh`.
        expected: usize,
    },
    /// A commit between two epochs with member proofs lacks the next epoch's key.
    #[error(
        "draft-mahy-mls-member-proof-00 §4: the commit does not carry the next epoch's member-proof \
         key (next_epoch_member_proof_key)"
    )]
    NextEpochKeyMissing,
    /// The commit's next-epoch key is not the one the new epoch derives.
    #[error(
        "draft-mahy-mls-member-proof-00 §4: the commit's next_epoch_member_proof_key is not the \
         key of the epoch it starts"
    )]
    NextEpochKeyMismatch,
    /// A next-epoch key in a message that is not a commit, or in a commit that should have
    /// none (one of its two epochs has no member proofs).
    #[error(
        "draft-mahy-mls-member-proof-00 §4: next_epoch_member_proof_key is only sent in a commit \
         between two epochs with member proofs"
    )]
    NextEpochKeyUnexpected,
    /// The application put an item of a member-proof component in the Safe AAD itself.
    #[error(
        "draft-ietf-mls-extensions-10 §4.9: Safe AAD component {0:#06x} is the member proof's; \
         the group adds it"
    )]
    ComponentReserved(u16),
    /// The GroupContext turns member proofs on without Safe AAD.
    #[error(
        "draft-mahy-mls-member-proof-00 §3 step 5: member proofs travel in Safe AAD, but the \
         group context has no safe_aad entry (draft-ietf-mls-extensions-10 §4.9)"
    )]
    RequiresSafeAad,
    /// Member proofs are on, but this state has no member-proof key for the epoch (a Welcome
    /// without the secret, or a state stored before the feature).
    #[error(
        "draft-mahy-mls-member-proof-00 §3 step 1: no member-proof key for this epoch (the \
         Welcome did not carry it)"
    )]
    NoKey,
    /// A Safe AAD rule failed.
    #[error(transparent)]
    Safe(#[from] SafeError),
    /// A cryptographic primitive failed.
    #[error("member proof crypto error: {0}")]
    Crypto(#[from] CryptoError),
}

/// The member-proof key pair of one epoch, with the secret it was derived from (which a
/// committer hands to Welcome joiners, D4). Secrets are zeroized on drop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberProofKeys {
    seed: Secret,
    secret_key: Secret,
    public_key: SignaturePublicKey,
}

impl MemberProofKeys {
    /// The key pair of `member_proof_secret` (D3: `DeriveSignatureKeyPair`).
    pub fn from_secret(
        cs: &dyn CipherSuiteProvider,
        member_proof_secret: Secret,
    ) -> Result<Self, MemberProofError> {
        let (secret_key, public_key) =
            conclave_crypto::signature_derive::derive_signature_key_pair(
                cs,
                member_proof_secret.as_bytes(),
            )?;
        Ok(Self {
            seed: member_proof_secret,
            secret_key,
            public_key: SignaturePublicKey(public_key),
        })
    }

    /// `MemberProofPubKey`: what the Delivery Service verifies proofs with.
    pub fn public_key(&self) -> &SignaturePublicKey {
        &self.public_key
    }

    /// The epoch's `member_proof_secret` (secret: group state and Welcomes only).
    pub(crate) fn secret(&self) -> &Secret {
        &self.seed
    }
}

#[derive(Encode)]
struct MemberProofSecretContext {
    label: ComponentOperationLabel,
    group_id: Vec<u8>,
    epoch: u64,
}

/// `member_proof_secret` of epoch `epoch` of `group_id` (D3), from the previous epoch's
/// `init_secret` (or the external init secret, or a new group's random one) and the
/// commit's `commit_secret` (all zero without a path).
pub fn member_proof_secret(
    cs: &dyn CipherSuiteProvider,
    init_secret: &[u8],
    commit_secret: &[u8],
    group_id: &[u8],
    epoch: u64,
) -> Result<Secret, MemberProofError> {
    let prk = cs.kdf_extract(init_secret, commit_secret);
    let context = MemberProofSecretContext {
        label: operation_label(MEMBER_PROOF_SECRET_LABEL),
        group_id: group_id.to_vec(),
        epoch,
    }
    .to_bytes()
    .map_err(MemberProofError::Malformed)?;
    Ok(conclave_crypto::labels::expand_with_label(
        cs,
        prk.as_bytes(),
        MEMBER_PROOF_EXPAND_LABEL,
        &context,
        cs.hash_len(),
    )?)
}

/// The member-proof keys of the epoch whose GroupContext has `context_extensions`, if that
/// epoch has member proofs (D2, D3); `None` otherwise.
pub fn keys_for_epoch(
    cs: &dyn CipherSuiteProvider,
    context_extensions: &[Extension],
    init_secret: &[u8],
    commit_secret: &[u8],
    group_id: &[u8],
    epoch: u64,
) -> Result<Option<MemberProofKeys>, MemberProofError> {
    if !enabled(context_extensions)? {
        return Ok(None);
    }
    let secret = member_proof_secret(cs, init_secret, commit_secret, group_id, epoch)?;
    MemberProofKeys::from_secret(cs, secret).map(Some)
}

/// Whether the GroupContext with `context_extensions` requires member proofs (D2): its
/// `app_data_dictionary` has a [`MEMBER_PROOF_COMPONENT`] entry. With one but without Safe
/// AAD, [`MemberProofError::RequiresSafeAad`].
pub fn enabled(context_extensions: &[Extension]) -> Result<bool, MemberProofError> {
    let Some(dictionary) = dictionary(context_extensions)? else {
        return Ok(false);
    };
    if dictionary.get(MEMBER_PROOF_COMPONENT).is_none() {
        return Ok(false);
    }
    if !safe::safe_aad_required(context_extensions)? {
        return Err(MemberProofError::RequiresSafeAad);
    }
    Ok(true)
}

fn dictionary(extensions: &[Extension]) -> Result<Option<AppDataDictionary>, MemberProofError> {
    extensions
        .iter()
        .find(|e| e.extension_type == APP_DATA_DICTIONARY_EXTENSION)
        .map(|e| {
            AppDataDictionary::from_bytes(&e.extension_data)
                .map_err(|e| SafeError::MalformedAppDataDictionary(e).into())
        })
        .transpose()
}

/// The `member_proof_secret` a Welcome's GroupInfo carries in the `app_data_dictionary` of
/// its extensions (D4), if any.
pub(crate) fn secret_in_group_info(
    group_info_extensions: &[Extension],
) -> Result<Option<Secret>, MemberProofError> {
    Ok(dictionary(group_info_extensions)?
        .and_then(|d| d.get(MEMBER_PROOF_COMPONENT).map(Secret::from_slice)))
}

/// `group_info_extensions` with `secret` added as the [`MEMBER_PROOF_COMPONENT`] entry of
/// their `app_data_dictionary` (created if absent): the GroupInfo of a Welcome (D4).
pub(crate) fn with_secret_in_group_info(
    group_info_extensions: &[Extension],
    secret: &Secret,
) -> Result<Vec<Extension>, MemberProofError> {
    let mut extensions = group_info_extensions.to_vec();
    let mut dictionary = dictionary(&extensions)?.unwrap_or_default();
    dictionary.insert(MEMBER_PROOF_COMPONENT, secret.as_bytes().to_vec());
    let data = dictionary.to_bytes().map_err(MemberProofError::Malformed)?;
    match extensions
        .iter_mut()
        .find(|e| e.extension_type == APP_DATA_DICTIONARY_EXTENSION)
    {
        Some(extension) => extension.extension_data = data,
        None => extensions.push(Extension {
            extension_type: APP_DATA_DICTIONARY_EXTENSION,
            extension_data: data,
        }),
    }
    Ok(extensions)
}

/// `MemberProofAAD` (draft-mahy-mls-member-proof-00 §3 step 5, D6): the `aad_item_data` of
/// the [`MEMBER_PROOF_COMPONENT`] Safe AAD item.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct MemberProofAad {
    /// `opaque nonce<V>`: `KDF.Nh` fresh bytes.
    pub nonce: Vec<u8>,
    /// `opaque safe_signature<V>`: `SafeSignWithLabel` over the `ContentHash` (D5).
    pub safe_signature: Vec<u8>,
    /// `optional<SignaturePublicKey> member_proof_pub_key`: the epoch's key (always sent).
    pub member_proof_pub_key: Option<SignaturePublicKey>,
}

/// `MemberProofUsage` (D5): what a proof is about.
#[derive(Encode)]
struct MemberProofUsage {
    group_id: Vec<u8>,
    epoch: u64,
    content_type: ContentType,
    next_epoch_member_proof_key: Option<SignaturePublicKey>,
}

/// The message a proof is for: what a non-member sees of it (D5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofTarget<'a> {
    /// The group.
    pub group_id: &'a [u8],
    /// The epoch the message is sent in.
    pub epoch: u64,
    /// Its content type.
    pub content_type: ContentType,
}

fn operation_label(label: &[u8]) -> ComponentOperationLabel {
    // D1: always the -10 base label, so that outsiders need no codepoint profile.
    safe::operation_label(CodepointProfile::Draft, MEMBER_PROOF_COMPONENT, label)
}

/// `ContentHash = Hash(nonce || MemberProofUsage)` (D5).
fn content_hash(
    cs: &dyn CipherSuiteProvider,
    nonce: &[u8],
    target: ProofTarget<'_>,
    next_key: Option<&SignaturePublicKey>,
) -> Result<Vec<u8>, MemberProofError> {
    let usage = MemberProofUsage {
        group_id: target.group_id.to_vec(),
        epoch: target.epoch,
        content_type: target.content_type,
        next_epoch_member_proof_key: next_key.cloned(),
    }
    .to_bytes()
    .map_err(MemberProofError::Malformed)?;
    Ok(cs.hash_parts(&[nonce, &usage]))
}

/// Makes the proof of a message (draft-mahy-mls-member-proof-00 §3 steps 2–4, D5) with the
/// epoch's `keys`; `next_key` is the commit's next-epoch key, if it carries one.
pub fn prove(
    cs: &dyn CipherSuiteProvider,
    keys: &MemberProofKeys,
    target: ProofTarget<'_>,
    next_key: Option<&SignaturePublicKey>,
    rng: &mut dyn CryptoRandom,
) -> Result<MemberProofAad, MemberProofError> {
    let mut nonce = vec![0u8; cs.hash_len()];
    rng.fill(&mut nonce)?;
    let hash = content_hash(cs, &nonce, target, next_key)?;
    let safe_signature = safe::safe_sign_with_label(
        cs,
        keys.secret_key.as_bytes(),
        &operation_label(MEMBER_PROOF_SIGN_LABEL),
        &hash,
    )?;
    Ok(MemberProofAad {
        nonce,
        safe_signature,
        member_proof_pub_key: Some(keys.public_key.clone()),
    })
}

/// Verifies `proof` for `target` under the epoch's `public_key` (draft-mahy-mls-member-proof-00
/// §3, verifying steps 3–5): the nonce has `KDF.Nh` bytes, a key in the proof is
/// `public_key`, and the signature verifies.
pub fn verify(
    cs: &dyn CipherSuiteProvider,
    public_key: &[u8],
    target: ProofTarget<'_>,
    proof: &MemberProofAad,
    next_key: Option<&SignaturePublicKey>,
) -> Result<(), MemberProofError> {
    let expected = cs.hash_len();
    if proof.nonce.len() != expected {
        return Err(MemberProofError::NonceLength {
            len: proof.nonce.len(),
            expected,
        });
    }
    if let Some(key) = &proof.member_proof_pub_key
        && key.as_ref() != public_key
    {
        return Err(MemberProofError::WrongKey);
    }
    let hash = content_hash(cs, &proof.nonce, target, next_key)?;
    safe::safe_verify_with_label(
        cs,
        public_key,
        &operation_label(MEMBER_PROOF_SIGN_LABEL),
        &hash,
        &proof.safe_signature,
    )
    .map_err(|e| match e {
        SafeError::InvalidSignature => MemberProofError::InvalidSignature,
        other => other.into(),
    })
}

/// The member-proof items of a `SafeAAD`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberProofItems {
    /// The `MemberProofAAD`, if present.
    pub proof: Option<MemberProofAad>,
    /// The `next_epoch_member_proof_key`, if present.
    pub next_epoch_key: Option<SignaturePublicKey>,
}

/// Finds and decodes the member-proof items of `aad` (D6, D7).
pub fn items(aad: &SafeAad) -> Result<MemberProofItems, MemberProofError> {
    let mut found = MemberProofItems::default();
    for item in &aad.aad_items {
        if item.component_id == MEMBER_PROOF_COMPONENT {
            found.proof = Some(
                MemberProofAad::from_bytes(&item.aad_item_data)
                    .map_err(MemberProofError::Malformed)?,
            );
        } else if item.component_id == NEXT_EPOCH_MEMBER_PROOF_KEY_COMPONENT {
            found.next_epoch_key = Some(SignaturePublicKey(item.aad_item_data.clone()));
        }
    }
    Ok(found)
}

/// `authenticated_data` (an encoded `SafeAAD`, or empty for the empty one) with the
/// member-proof items added in component order (draft-ietf-mls-extensions-10 §4.9). The
/// application may not use the member-proof components itself.
pub fn add_items(
    authenticated_data: &[u8],
    proof: Option<&MemberProofAad>,
    next_key: Option<&SignaturePublicKey>,
) -> Result<Vec<u8>, MemberProofError> {
    let mut aad = if authenticated_data.is_empty() {
        SafeAad::default()
    } else {
        safe::parse_safe_aad(authenticated_data)?
    };
    if let Some(taken) = aad.aad_items.iter().find(|i| {
        i.component_id == MEMBER_PROOF_COMPONENT
            || i.component_id == NEXT_EPOCH_MEMBER_PROOF_KEY_COMPONENT
    }) {
        return Err(MemberProofError::ComponentReserved(taken.component_id.0));
    }
    if let Some(proof) = proof {
        aad.aad_items.push(SafeAadItem {
            component_id: MEMBER_PROOF_COMPONENT,
            aad_item_data: proof.to_bytes().map_err(MemberProofError::Malformed)?,
        });
    }
    if let Some(key) = next_key {
        aad.aad_items.push(SafeAadItem {
            component_id: NEXT_EPOCH_MEMBER_PROOF_KEY_COMPONENT,
            aad_item_data: key.as_ref().to_vec(),
        });
    }
    aad.aad_items.sort_by_key(|item| item.component_id);
    Ok(safe::encode_safe_aad(&aad)?)
}

/// What a verifier learned from a valid proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofSeen {
    /// The proof's nonce: accept it once per group and epoch (D5).
    pub nonce: Vec<u8>,
    /// A commit's `next_epoch_member_proof_key`: the key of the epoch the commit starts.
    pub next_epoch_key: Option<SignaturePublicKey>,
}

/// The check a non-member (the Delivery Service) runs on a message of a group with member
/// proofs (draft-mahy-mls-member-proof-00 §3 "Verifying", D5–D7): `authenticated_data` is
/// exactly one `SafeAAD` (draft-ietf-mls-extensions-10 §4.9) with a `MemberProofAAD` whose
/// signature verifies under `expected_public_key`, the key of `epoch`, for this group, epoch
/// and content type; a next-epoch key only in a commit. Returns the nonce (the caller
/// refuses one it saw before in this group and epoch) and the next-epoch key, if any.
pub fn verify_for_outsider(
    cs: &dyn CipherSuiteProvider,
    expected_public_key: &[u8],
    group_id: &[u8],
    epoch: u64,
    content_type: ContentType,
    authenticated_data: &[u8],
) -> Result<ProofSeen, MemberProofError> {
    let found = items(&safe::parse_safe_aad(authenticated_data)?)?;
    let proof = found.proof.ok_or(MemberProofError::Missing)?;
    if found.next_epoch_key.is_some() && content_type != ContentType::Commit {
        return Err(MemberProofError::NextEpochKeyUnexpected);
    }
    let target = ProofTarget {
        group_id,
        epoch,
        content_type,
    };
    verify(
        cs,
        expected_public_key,
        target,
        &proof,
        found.next_epoch_key.as_ref(),
    )?;
    Ok(ProofSeen {
        nonce: proof.nonce,
        next_epoch_key: found.next_epoch_key,
    })
}

/// The `next_epoch_member_proof_key` of an external commit's `authenticated_data` (D8): an
/// external joiner proves nothing about the epoch it joins from, but announces the next
/// epoch's key. `None` when the item is absent.
pub fn next_epoch_key_for_outsider(
    authenticated_data: &[u8],
) -> Result<Option<SignaturePublicKey>, MemberProofError> {
    Ok(items(&safe::parse_safe_aad(authenticated_data)?)?.next_epoch_key)
}

#[cfg(test)]
mod tests;
