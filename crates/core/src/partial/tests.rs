//! Tests of Partial MLS (draft-ietf-mls-partial-02).

use conclave_codec::{Decode, Encode};

use super::*;
use crate::messages::LeafIndex;

fn sample_proof() -> MembershipProof {
    MembershipProof {
        leaf_index: LeafIndex(2),
        n_leaves: 4,
        direct_path_nodes: vec![None, None, None],
        copath_hashes: vec![
            CopathHash {
                hash_value: vec![1; 32],
            },
            CopathHash {
                hash_value: vec![2; 32],
            },
        ],
    }
}

#[test]
fn a_membership_proof_re_encodes_to_the_same_bytes() {
    let proof = sample_proof();
    let bytes = proof.to_bytes().unwrap();
    // uint32, uint32, a 3-byte vector of blanks, two 33-byte CopathHashes (66 bytes: a
    // two-byte varint length).
    assert_eq!(bytes.len(), 4 + 4 + 1 + 3 + 2 + 2 * 33);
    let decoded = MembershipProof::from_bytes(&bytes).unwrap();
    assert_eq!(decoded, proof);
    assert_eq!(decoded.to_bytes().unwrap(), bytes);
}

#[test]
fn a_truncated_membership_proof_is_refused() {
    let bytes = sample_proof().to_bytes().unwrap();
    for len in 0..bytes.len() {
        assert!(
            MembershipProof::from_bytes(&bytes[..len]).is_err(),
            "length {len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(MembershipProof::from_bytes(&longer).is_err());
}
