//! The partial-member vectors of draft-ietf-mls-partial-02 §15 (`partial/`): annotated
//! Welcome, annotated commit and passive partial client scenarios, each run through
//! [`conclave_core::partial::member::PartialMember`] — the code a partial client runs.
//!
//! One check per case and provider that supports the case's suite (MLSpp's provisional
//! post-quantum suites 8–10 included: our providers decode those numbers). A suite no
//! provider supports is a failure, never a pass.
//!
//! * **Annotated Welcome**: [`PartialMember::join`] with the case's KeyPackage, private keys
//!   and external PSKs; the joined leaf must be `joiner_leaf_index` and the epoch
//!   authenticator `epoch_authenticator`. Negative control: the same Welcome with the
//!   joiner proof's leaf index changed must be refused.
//! * **Annotated Commit**: from `state_before`,
//!   [`PartialMember::verify_annotated_commit`] (framing, membership tag, the pre-commit
//!   sender proof against `state_before.tree_hash` and the signature under the proven key,
//!   the post-commit proofs against `tree_hash_after`, which must equal the expected
//!   `tree_hash_after`), then [`PartialMember::finish_commit`] (key schedule, confirmation
//!   tag, transcript hashes) and every field of `state_after`: epoch, tree hash, confirmed
//!   and interim transcript hashes, `init_secret`, `sender_data_secret`,
//!   `encryption_secret`, `membership_key`, `receiver_leaf_index`, and each
//!   `direct_path_secrets` entry (its key pair derived from `path_secret`, the private key
//!   equal to `encryption_priv`, the public key equal to the receiver proof's node, and
//!   the `DeriveSecret(., "path")` chain from entry to entry ending in `commit_secret`).
//!
//!   **Gap.** `state_before` holds neither the receiver leaf's HPKE private key nor any
//!   `direct_path_secrets` (every case of both files has an empty list), so the path secret
//!   cannot be decrypted and the `resolution_index` selection is not exercised by these
//!   files. The `commit_secret` is checked instead through `state_after`: the chain above
//!   must end in it, and the key schedule run with it must reproduce the commit's
//!   confirmation tag and `epoch_authenticator_after`. Decryption is exercised by the
//!   passive-client scenarios (where the joiner holds its keys) and by the tree-operations
//!   vectors. The state format also carries no GroupContext extensions (taken as empty —
//!   the commit signature and membership tag, computed over the GroupContext, confirm it),
//!   no LeafNode of the receiver (the receiver proof's leaf is taken as ours, so the
//!   "proves our leaf" check reduces to the leaf index) and no `exporter_secret`,
//!   `external_secret` or `epoch_authenticator` of the epoch before (unused by a member
//!   commit). These cases count as passed only when everything above holds.
//! * **Passive client**: join as above (`initial_epoch_authenticator`), then per epoch
//!   the proposals are cached, the annotated commit is processed in full (the path secret
//!   decrypted with the member's own keys), each application message is decrypted and
//!   authenticated by its sender proof, and the epoch authenticator must match. The files
//!   carry no expected plaintexts, so a message counts when it decrypts and authenticates.
//!   Their application messages are `SenderAuthenticatedMessage<MLSMessage>` on the wire (an
//!   `mls10` PrivateMessage inside), not the `<PrivateMessage>` the format names; both are
//!   read. After each epoch the member is stored and reloaded
//!   ([`PartialMember::to_bytes`], [`PartialMember::from_bytes`]) and continues from the
//!   reloaded state.

use std::collections::HashMap;
use std::sync::RwLock;

use conclave_codec::Decode;
use conclave_core::group::KeyPackageBundle;
use conclave_core::messages::{
    GroupContext, LeafIndex, MlsMessage, MlsMessageBody, PrivateMessage, ProtocolVersion,
};
use conclave_core::partial::member::{PartialMember, PartialParts, PartialPsks, ProvenMember};
use conclave_core::partial::{AnnotatedCommit, AnnotatedWelcome, SenderAuthenticatedMessage};
use conclave_core::secret_tree::SecretTreeConfig;
use conclave_core::tree_math::{NodeIndex, TreeSize};
use conclave_core::treekem::NodeKey;
use conclave_crypto::labels::{derive_secret, node_key_pair_from_path_secret};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider, Secret};
use serde_json::Value;

use crate::{Report, cases, expect_bytes, field_hex, field_u64};

/// The annotated-Welcome file.
pub const WELCOME_FILE: &str = "test-vector-partial-annotated-welcome.json";
/// Its `-spec` subset.
pub const WELCOME_SPEC_FILE: &str = "test-vector-partial-annotated-welcome-spec.json";
/// The annotated-commit file.
pub const COMMIT_FILE: &str = "test-vector-partial-annotated-commit.json";
/// Its `-spec` subset.
pub const COMMIT_SPEC_FILE: &str = "test-vector-partial-annotated-commit-spec.json";
/// The passive-client file.
pub const PASSIVE_FILE: &str = "test-vector-partial-passive-client-scenarios.json";
/// Its `-spec` subset.
pub const PASSIVE_SPEC_FILE: &str = "test-vector-partial-passive-client-scenarios-spec.json";

type CaseCheck = fn(&dyn CryptoProvider, &dyn CipherSuiteProvider, &Value) -> Result<(), String>;

/// Runs `check` per case and provider supporting the case's suite.
fn run(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report, check: CaseCheck) {
    for (i, case) in cases(json) {
        let suite = match field_u64(case, "cipher_suite")
            .and_then(|s| u16::try_from(s).map_err(|_| format!("suite {s} out of range")))
        {
            Ok(suite) => CipherSuite(suite),
            Err(e) => {
                report.record(|| format!("case {i}"), Err(e));
                continue;
            }
        };
        let mut ran = false;
        for provider in providers {
            if let Some(cs) = provider.cipher_suite_provider(suite) {
                ran = true;
                let outcome = check(provider.as_ref(), cs.as_ref(), case);
                report.record(
                    || format!("case {i} suite {} [{}]", suite.0, provider.name()),
                    outcome,
                );
            }
        }
        if !ran {
            report.record(
                || format!("case {i} suite {}", suite.0),
                Err("no provider supports this cipher suite".into()),
            );
        }
    }
}

/// The annotated-Welcome files.
pub fn check_welcome(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    run(json, providers, report, welcome_case);
}

/// The annotated-commit files.
pub fn check_commit(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    run(json, providers, report, commit_case);
    // The part of each case the file cannot exercise (module docs, "Gap"), listed.
    for (i, case) in cases(json) {
        let suite = field_u64(case, "cipher_suite").unwrap_or_default();
        report.skipped.push(format!(
            "case {i} suite {suite}: path-secret decryption (resolution_index) not checked: \
             state_before has no receiver private keys; commit_secret checked through \
             state_after and the confirmation tag"
        ));
    }
}

/// The passive-client files.
pub fn check_passive(json: &Value, providers: &[Box<dyn CryptoProvider>], report: &mut Report) {
    run(json, providers, report, passive_case);
}

fn decode<T: Decode>(case: &Value, field: &str) -> Result<T, String> {
    T::from_bytes(&field_hex(case, field)?).map_err(|e| format!("{field}: {e}"))
}

fn psk_store(case: &Value) -> Result<RwLock<HashMap<Vec<u8>, Secret>>, String> {
    let mut psks = HashMap::new();
    for psk in case
        .get("external_psks")
        .and_then(Value::as_array)
        .ok_or("missing external_psks")?
    {
        psks.insert(
            field_hex(psk, "psk_id")?,
            Secret::new(field_hex(psk, "psk")?),
        );
    }
    Ok(RwLock::new(psks))
}

/// Joins from the case's AnnotatedWelcome with its KeyPackage and private keys.
fn join(
    crypto: &dyn CryptoProvider,
    cs: &dyn CipherSuiteProvider,
    case: &Value,
    welcome: &AnnotatedWelcome,
) -> Result<PartialMember, String> {
    let key_package = match decode::<MlsMessage>(case, "key_package")?.body {
        MlsMessageBody::KeyPackage(kp) => kp,
        _ => return Err("key_package is not an MLSMessage(KeyPackage)".into()),
    };
    let bundle = KeyPackageBundle {
        key_package,
        init_private_key: crate::hpke_secret_key(cs, field_hex(case, "init_priv")?),
        encryption_private_key: crate::hpke_secret_key(cs, field_hex(case, "encryption_priv")?),
    };
    let signature_key = crate::signature_secret_key(cs, field_hex(case, "signature_priv")?)?;
    let store = psk_store(case)?;
    PartialMember::join(
        crypto,
        welcome,
        &bundle,
        signature_key,
        &PartialPsks {
            store: &store,
            linked: &[],
        },
        SecretTreeConfig::default(),
    )
    .map_err(|e| format!("join: {e}"))
}

fn welcome_case(
    crypto: &dyn CryptoProvider,
    cs: &dyn CipherSuiteProvider,
    case: &Value,
) -> Result<(), String> {
    let welcome: AnnotatedWelcome = decode(case, "annotated_welcome")?;
    let member = join(crypto, cs, case, &welcome)?;
    let want_leaf = field_u64(case, "joiner_leaf_index")?;
    if u64::from(member.own_leaf().0) != want_leaf {
        return Err(format!(
            "joined at leaf {}, expected {want_leaf}",
            member.own_leaf().0
        ));
    }
    expect_bytes(
        "epoch_authenticator",
        member.epoch_authenticator(),
        &field_hex(case, "epoch_authenticator")?,
    )?;
    // Negative control (§8): a joiner proof for another leaf index must be refused.
    let mut forged = welcome.clone();
    forged.joiner_membership_proof.leaf_index =
        LeafIndex(forged.joiner_membership_proof.leaf_index.0 ^ 1);
    if join(crypto, cs, case, &forged).is_ok() {
        return Err("a joiner proof with a changed leaf index was accepted".into());
    }
    Ok(())
}

fn passive_case(
    crypto: &dyn CryptoProvider,
    cs: &dyn CipherSuiteProvider,
    case: &Value,
) -> Result<(), String> {
    let welcome: AnnotatedWelcome = decode(case, "annotated_welcome")?;
    let mut member = join(crypto, cs, case, &welcome)?;
    expect_bytes(
        "initial_epoch_authenticator",
        member.epoch_authenticator(),
        &field_hex(case, "initial_epoch_authenticator")?,
    )?;
    let store = psk_store(case)?;
    let psks = PartialPsks {
        store: &store,
        linked: &[],
    };
    let epochs = case
        .get("epochs")
        .and_then(Value::as_array)
        .ok_or("missing epochs")?;
    for (n, epoch) in epochs.iter().enumerate() {
        for (p, proposal) in epoch
            .get("proposals")
            .and_then(Value::as_array)
            .ok_or("missing proposals")?
            .iter()
            .enumerate()
        {
            let bytes = hex::decode(proposal.as_str().ok_or("proposal is not a string")?)
                .map_err(|e| e.to_string())?;
            let message = MlsMessage::from_bytes(&bytes).map_err(|e| format!("proposal: {e}"))?;
            member
                .receive_proposal(&message)
                .map_err(|e| format!("epoch {n} proposal {p}: {e}"))?;
        }
        let commit: AnnotatedCommit = decode(epoch, "annotated_commit")?;
        member
            .process_annotated_commit(&commit, &psks)
            .map_err(|e| format!("epoch {n} commit: {e}"))?;
        for (m, message) in epoch
            .get("application_messages")
            .and_then(Value::as_array)
            .ok_or("missing application_messages")?
            .iter()
            .enumerate()
        {
            let bytes = hex::decode(message.as_str().ok_or("message is not a string")?)
                .map_err(|e| e.to_string())?;
            let message = application_message(&bytes)?;
            // Negative control: the same message under another leaf's claimed proof index
            // must be refused (and leave the member able to read the real one).
            let mut forged = message.clone();
            forged.sender_membership_proof.leaf_index =
                LeafIndex(forged.sender_membership_proof.leaf_index.0 ^ 1);
            if member.decrypt_application_message(&forged).is_ok() {
                return Err(format!(
                    "epoch {n} application message {m}: a forged sender proof was accepted"
                ));
            }
            member
                .decrypt_application_message(&message)
                .map_err(|e| format!("epoch {n} application message {m}: {e}"))?;
        }
        expect_bytes(
            &format!("epoch {n} epoch_authenticator"),
            member.epoch_authenticator(),
            &field_hex(epoch, "epoch_authenticator")?,
        )?;
        // The stored state reloads to the same bytes and carries on from there.
        let bytes = member.to_bytes().map_err(|e| e.to_string())?;
        member = PartialMember::from_bytes(&bytes, crypto).map_err(|e| e.to_string())?;
        if member.to_bytes().map_err(|e| e.to_string())? != bytes {
            return Err(format!("epoch {n}: the reloaded state encodes differently"));
        }
    }
    Ok(())
}

/// An entry of `application_messages`. The format calls it a
/// `SenderAuthenticatedMessage<PrivateMessage>`, but the files frame the message as an
/// MLSMessage (`mls10`, `mls_private_message`) inside the SenderAuthenticatedMessage, unlike
/// the message-syntax file's bare PrivateMessage: both encodings are accepted, and the framed
/// one must be a PrivateMessage.
fn application_message(bytes: &[u8]) -> Result<SenderAuthenticatedMessage<PrivateMessage>, String> {
    if let Ok(framed) = SenderAuthenticatedMessage::<MlsMessage>::from_bytes(bytes) {
        let MlsMessageBody::PrivateMessage(message) = framed.message.body else {
            return Err("an application message is not a PrivateMessage".into());
        };
        return Ok(SenderAuthenticatedMessage {
            message,
            sender_membership_proof: framed.sender_membership_proof,
        });
    }
    SenderAuthenticatedMessage::from_bytes(bytes).map_err(|e| format!("application message: {e}"))
}

fn commit_case(
    crypto: &dyn CryptoProvider,
    cs: &dyn CipherSuiteProvider,
    case: &Value,
) -> Result<(), String> {
    let suite =
        CipherSuite(u16::try_from(field_u64(case, "cipher_suite")?).map_err(|e| e.to_string())?);
    let before = case.get("state_before").ok_or("missing state_before")?;
    let after = case.get("state_after").ok_or("missing state_after")?;
    let annotated: AnnotatedCommit = decode(case, "annotated_commit")?;
    let receiver_index = LeafIndex(
        u32::try_from(field_u64(before, "receiver_leaf_index")?).map_err(|e| e.to_string())?,
    );
    // What the state format does not carry (module docs, "Gap").
    let n_leaves = annotated
        .sender_membership_proof
        .as_ref()
        .unwrap_or(&annotated.sender_membership_proof_after)
        .n_leaves;
    let receiver_leaf = match annotated
        .receiver_membership_proof_after
        .direct_path_nodes
        .first()
    {
        Some(Some(conclave_core::messages::Node::Leaf(leaf))) => leaf.clone(),
        _ => return Err("the receiver proof proves no leaf".into()),
    };
    let mut keys = vec![(
        receiver_index.node(),
        NodeKey {
            secret_key: Secret::new(Vec::new()),
            public_key: receiver_leaf.encryption_key.clone(),
        },
    )];
    keys.extend(path_keys(cs, before)?.into_iter().map(|(n, k, _)| (n, k)));
    let zero = || Secret::zero(cs.hash_len());
    let parts = PartialParts {
        context: GroupContext {
            version: ProtocolVersion::MLS10,
            cipher_suite: suite,
            group_id: field_hex(before, "group_id")?,
            epoch: field_u64(before, "epoch")?,
            tree_hash: field_hex(before, "tree_hash")?,
            confirmed_transcript_hash: field_hex(before, "confirmed_transcript_hash")?,
            extensions: Vec::new(),
        },
        interim_transcript_hash: field_hex(before, "interim_transcript_hash")?,
        n_leaves,
        own_leaf: receiver_index,
        own_leaf_node: *receiver_leaf,
        signature_key: Secret::new(Vec::new()),
        keys,
        init_secret: Secret::new(field_hex(before, "init_secret")?),
        sender_data_secret: Secret::new(field_hex(before, "sender_data_secret")?),
        encryption_secret: Secret::new(field_hex(before, "encryption_secret")?),
        membership_key: Secret::new(field_hex(before, "membership_key")?),
        exporter_secret: zero(),
        external_secret: zero(),
        resumption_psk: zero(),
        epoch_authenticator: zero(),
    };
    let member = PartialMember::from_parts(crypto, parts, SecretTreeConfig::default())
        .map_err(|e| e.to_string())?;
    let verified = member
        .verify_annotated_commit(&annotated)
        .map_err(|e| format!("verify: {e}"))?;
    expect_bytes(
        "tree_hash_after",
        verified.tree_hash_after(),
        &field_hex(case, "tree_hash_after")?,
    )?;
    let commit_secret = Secret::new(field_hex(case, "commit_secret")?);

    // The receiver's new direct-path secrets (module docs): each key pair, the chain, and
    // its end, the commit secret.
    let after_keys = path_keys(cs, after)?;
    let receiver = ProvenMember::verify(
        cs,
        &annotated.receiver_membership_proof_after,
        verified.tree_hash_after(),
        "receiver (after)",
    )
    .map_err(|e| e.to_string())?;
    match verified.path() {
        None => {
            if commit_secret != Secret::zero(cs.hash_len()) || !after_keys.is_empty() {
                return Err("a commit without a path must have a zero commit secret".into());
            }
        }
        Some(_) => {
            // Only the nodes at and above the common ancestor take the commit's secrets.
            let size = TreeSize::new(receiver.n_leaves).ok_or("empty tree")?;
            let ancestor = size
                .common_ancestor(receiver_index.node(), verified.committer().node())
                .ok_or("no common ancestor")?;
            let after_keys: Vec<_> = after_keys
                .into_iter()
                .filter(|(node, _, _)| ancestor.is_in_subtree_of(*node))
                .collect();
            let (_, _, last_secret) = after_keys
                .last()
                .ok_or("a commit with a path left the receiver no path secret")?;
            for (node, key, _) in &after_keys {
                let on_path = receiver
                    .path
                    .iter()
                    .find(|(n, _)| n == node)
                    .and_then(|(_, k)| k.clone())
                    .ok_or(format!(
                        "node {} is not on the receiver's proven path",
                        node.0
                    ))?;
                if on_path != key.public_key {
                    return Err(format!("path secret of node {} gives another key", node.0));
                }
            }
            for pair in after_keys.windows(2) {
                if let [(_, _, lower), (upper_node, _, upper)] = pair {
                    let next =
                        derive_secret(cs, lower.as_bytes(), "path").map_err(|e| e.to_string())?;
                    if next != *upper {
                        return Err(format!(
                            "the path secret of node {} does not follow from the one below",
                            upper_node.0
                        ));
                    }
                }
            }
            let end =
                derive_secret(cs, last_secret.as_bytes(), "path").map_err(|e| e.to_string())?;
            expect_bytes("commit_secret", end.as_bytes(), commit_secret.as_bytes())?;
        }
    }
    let keys = conclave_core::treekem::PrivateTree::new(
        receiver_index,
        NodeKey {
            secret_key: Secret::new(Vec::new()),
            public_key: receiver.leaf_node.encryption_key.clone(),
        },
    );
    // Negative control: another commit secret must fail the confirmation tag.
    let mut wrong = commit_secret.as_bytes().to_vec();
    if let Some(first) = wrong.first_mut() {
        *first ^= 1;
    }
    if member
        .finish_commit(
            verified.clone(),
            &Secret::new(wrong),
            keys.clone(),
            &PartialPsks::NONE,
        )
        .is_ok()
    {
        return Err("a wrong commit secret passed the confirmation tag".into());
    }
    let next = member
        .finish_commit(verified, &commit_secret, keys, &PartialPsks::NONE)
        .map_err(|e| format!("finish: {e}"))?;
    expect_bytes(
        "epoch_authenticator_after",
        next.epoch_authenticator(),
        &field_hex(case, "epoch_authenticator_after")?,
    )?;
    let context = next.context();
    if context.epoch != field_u64(after, "epoch")? {
        return Err("state_after.epoch differs".into());
    }
    expect_bytes(
        "state_after.group_id",
        &context.group_id,
        &field_hex(after, "group_id")?,
    )?;
    expect_bytes(
        "state_after.tree_hash",
        &context.tree_hash,
        &field_hex(after, "tree_hash")?,
    )?;
    expect_bytes(
        "state_after.confirmed_transcript_hash",
        &context.confirmed_transcript_hash,
        &field_hex(after, "confirmed_transcript_hash")?,
    )?;
    expect_bytes(
        "state_after.interim_transcript_hash",
        next.interim_transcript_hash(),
        &field_hex(after, "interim_transcript_hash")?,
    )?;
    let (init, sender_data, membership) = next.secrets();
    expect_bytes(
        "state_after.init_secret",
        init.as_bytes(),
        &field_hex(after, "init_secret")?,
    )?;
    expect_bytes(
        "state_after.sender_data_secret",
        sender_data.as_bytes(),
        &field_hex(after, "sender_data_secret")?,
    )?;
    expect_bytes(
        "state_after.membership_key",
        membership.as_bytes(),
        &field_hex(after, "membership_key")?,
    )?;
    let encryption = next.encryption_secret().ok_or("no encryption secret")?;
    expect_bytes(
        "state_after.encryption_secret",
        encryption.as_bytes(),
        &field_hex(after, "encryption_secret")?,
    )?;
    if field_u64(after, "receiver_leaf_index")? != u64::from(receiver.leaf.0) {
        return Err("state_after.receiver_leaf_index is not the proven receiver".into());
    }
    Ok(())
}

/// The `direct_path_secrets` of a partial client state, in node order from the leaf up:
/// each key pair derived from `path_secret` (RFC 9420 §7.4), whose private key must be
/// `encryption_priv`.
fn path_keys(
    cs: &dyn CipherSuiteProvider,
    state: &Value,
) -> Result<Vec<(NodeIndex, NodeKey, Secret)>, String> {
    let mut out = Vec::new();
    for entry in state
        .get("direct_path_secrets")
        .and_then(Value::as_array)
        .ok_or("missing direct_path_secrets")?
    {
        let node = NodeIndex(field_u64(entry, "node")?);
        let path_secret = Secret::new(field_hex(entry, "path_secret")?);
        let pair = node_key_pair_from_path_secret(cs, path_secret.as_bytes())
            .map_err(|e| e.to_string())?;
        expect_bytes(
            &format!("node {} encryption_priv", node.0),
            crate::hpke_secret_key(cs, pair.secret_key.as_bytes().to_vec()).as_bytes(),
            crate::hpke_secret_key(cs, field_hex(entry, "encryption_priv")?).as_bytes(),
        )?;
        out.push((
            node,
            NodeKey {
                secret_key: pair.secret_key,
                public_key: conclave_core::messages::HpkePublicKey(pair.public_key),
            },
            path_secret,
        ));
    }
    out.sort_by_key(|(n, _, _)| n.level());
    Ok(out)
}
