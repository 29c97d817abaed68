//! Partial MLS (draft-ietf-mls-partial-02): the first byte picks a structure to decode
//! (CopathHash, MembershipProof, SenderAuthenticatedMessage of Welcome, GroupInfo,
//! PublicMessage and PrivateMessage, AnnotatedWelcome, AnnotatedCommit, and Conclave's
//! AnnotatedSplitCommit of draft-mularczyk-mls-splitcommit-00) under the round-trip
//! rule, or feeds a decoded MembershipProof / AnnotatedCommit / AnnotatedWelcome to the
//! verification code (root recomputation, "same tree", UpdatePath decryption with a fixed
//! key) for cipher suite 1. Nothing may panic.
#![no_main]

use conclave_codec::Decode;
use conclave_core::messages::{
    GroupInfo, HpkePublicKey, LeafIndex, MlsMessageBody, PrivateMessage, PublicMessage, Welcome,
};
use conclave_core::partial::{
    AnnotatedCommit, AnnotatedSplitCommit, AnnotatedWelcome, CopathHash, MembershipProof, PartialPath,
    SenderAuthenticatedMessage, decrypt_partial_path,
};
use conclave_core::treekem::{NodeKey, PrivateTree};
use conclave_crypto::{CipherSuite, CryptoProvider, Secret};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use libfuzzer_sys::fuzz_target;

mod common;
use common::round_trip;

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let Some(cs) = RustCryptoProvider.cipher_suite_provider(CipherSuite(1)) else {
        return;
    };
    let cs = cs.as_ref();
    match selector % 12 {
        0 => round_trip::<CopathHash>(data),
        1 => round_trip::<MembershipProof>(data),
        2 => round_trip::<SenderAuthenticatedMessage<Welcome>>(data),
        3 => round_trip::<SenderAuthenticatedMessage<GroupInfo>>(data),
        4 => round_trip::<SenderAuthenticatedMessage<PublicMessage>>(data),
        5 => round_trip::<SenderAuthenticatedMessage<PrivateMessage>>(data),
        6 => round_trip::<AnnotatedWelcome>(data),
        7 => round_trip::<AnnotatedCommit>(data),
        10 => round_trip::<AnnotatedSplitCommit>(data),
        8 => {
            if let Ok(proof) = MembershipProof::from_bytes(data) {
                if let Ok(root) = proof.root_tree_hash(cs) {
                    // A proof is valid relative to the root it implies, if it proves a leaf.
                    assert_eq!(proof.verify(cs, &root).is_ok(), proof.leaf_node().is_some());
                    assert!(proof.same_tree_as(&proof, cs, "fuzz").is_ok());
                }
                let _ = proof.direct_path();
            }
        }
        9 => {
            if let Ok(welcome) = AnnotatedWelcome::from_bytes(data) {
                let _ = welcome.welcome.sender_membership_proof.same_tree_as(
                    &welcome.joiner_membership_proof,
                    cs,
                    "fuzz",
                );
            }
        }
        _ => {
            let Ok(annotated) = AnnotatedCommit::from_bytes(data) else {
                return;
            };
            let path = match &annotated.commit.body {
                MlsMessageBody::PublicMessage(public) => match &public.content.content {
                    conclave_core::messages::Content::Commit(commit) => commit.path.clone(),
                    _ => None,
                },
                _ => None,
            };
            let Some(update_path) = path else {
                return;
            };
            let receiver = annotated.receiver_membership_proof_after.leaf_index;
            // A fixed X25519 key pair for the receiver's leaf: decryption must fail cleanly.
            let secret_key = Secret::new(vec![7; 32]);
            let Ok(public_key) = conclave_crypto::hpke::public_key(cs, secret_key.as_bytes())
            else {
                return;
            };
            let private = PrivateTree::new(
                receiver,
                NodeKey {
                    secret_key,
                    public_key: HpkePublicKey(public_key),
                },
            );
            let input = PartialPath {
                update_path: &update_path,
                committer: annotated
                    .sender_membership_proof
                    .as_ref()
                    .map_or(LeafIndex(0), |p| p.leaf_index),
                tree_hash_after: &annotated.tree_hash_after,
                resolution_index: annotated.resolution_index.unwrap_or(0),
                sender_proof_after: &annotated.sender_membership_proof_after,
                receiver_proof_after: &annotated.receiver_membership_proof_after,
            };
            let _ = decrypt_partial_path(cs, &input, &private, &annotated.tree_hash_after);
        }
    }
});
