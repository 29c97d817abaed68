#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use ed25519_dalek::{Signer, SigningKey};

use super::*;

fn signed(count: usize, len: usize) -> Vec<([u8; 32], Vec<u8>, [u8; 64])> {
    (0..count)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            let key = SigningKey::from_bytes(&seed);
            let message = vec![i as u8; len + i % 7];
            let signature = key.sign(&message).to_bytes();
            (key.verifying_key().to_bytes(), message, signature)
        })
        .collect()
}

fn items(signed: &[([u8; 32], Vec<u8>, [u8; 64])]) -> Vec<SignatureToVerify<'_>> {
    signed
        .iter()
        .map(|(public_key, message, signature)| SignatureToVerify {
            public_key,
            message,
            signature,
        })
        .collect()
}

#[test]
fn valid_batches_of_every_size_verify() {
    for count in [0, 1, 2, 3, 5, 64, 300] {
        let signed = signed(count, 40);
        assert_eq!(verify_batch(&items(&signed)), Ok(()), "{count} signatures");
    }
}

#[test]
fn one_bad_signature_fails_the_batch() {
    let mut signed = signed(100, 40);
    // Another message under a valid signature.
    signed[37].1.push(0);
    assert_eq!(verify_batch(&items(&signed)), Err(BatchError::Invalid));
    let mut signed = self::signed(100, 40);
    // A valid signature of another key.
    signed[5].2 = signed[6].2;
    assert_eq!(verify_batch(&items(&signed)), Err(BatchError::Invalid));
}

#[test]
fn malformed_inputs_are_named() {
    let signed = signed(4, 10);
    let mut list = items(&signed);
    // s >= L: set s to L + 1 is non-canonical; all-ones bytes exceed L.
    let mut high_s = signed[2].2;
    high_s[32..].copy_from_slice(&[0xff; 32]);
    list[2].signature = &high_s;
    assert_eq!(verify_batch(&list), Err(BatchError::Malformed { index: 2 }));

    let mut list = items(&signed);
    let short = [0u8; 31];
    list[1].public_key = &short;
    assert_eq!(verify_batch(&list), Err(BatchError::Malformed { index: 1 }));

    // y = p (non-canonical encoding of y = 0) as the public key.
    let mut y_is_p = [0xffu8; 32];
    y_is_p[0] = 0xed;
    y_is_p[31] = 0x7f;
    let mut list = items(&signed);
    list[3].public_key = &y_is_p;
    assert_eq!(verify_batch(&list), Err(BatchError::Malformed { index: 3 }));
}

#[test]
fn canonical_y_boundary() {
    let mut p_minus_one = [0xffu8; 32];
    p_minus_one[0] = 0xec;
    p_minus_one[31] = 0x7f;
    assert!(y_is_canonical(&p_minus_one));
    let mut p = p_minus_one;
    p[0] = 0xed;
    assert!(!y_is_canonical(&p));
    // The sign bit does not count.
    let mut signed_zero = [0u8; 32];
    signed_zero[31] = 0x80;
    assert!(y_is_canonical(&signed_zero));
}

/// The batch uses the cofactored equation (RFC 8032 §5.1.7): a signature whose `R` carries
/// a small-order component, which only the key holder can build, passes the batch but not a
/// cofactorless single check. Documented behaviour, not a goal.
#[test]
fn the_batch_equation_is_cofactored() {
    use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT as B, EIGHT_TORSION};
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    let a = Scalar::from(0x1234_5678_9abc_u64);
    let public_key = (a * B).compress().to_bytes();
    let message = b"torsion".to_vec();
    let r_point = Scalar::from(999u64) * B + EIGHT_TORSION[1];
    let r_bytes = r_point.compress().to_bytes();
    let mut hasher = Sha512::new();
    hasher.update(r_bytes);
    hasher.update(public_key);
    hasher.update(&message);
    let k = Scalar::from_bytes_mod_order_wide(&hasher.finalize().into());
    let s = Scalar::from(999u64) + k * a;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r_bytes);
    signature[32..].copy_from_slice(s.as_bytes());

    let mut batch = signed(7, 20);
    batch.push((public_key, message.clone(), signature));
    assert_eq!(verify_batch(&items(&batch)), Ok(()));
    let key = VerifyingKey::from_bytes(&public_key).unwrap();
    assert!(
        key.verify(&message, &Signature::from_bytes(&signature))
            .is_err()
    );
}

/// `per_key` signatures by each of `keys` keys, interleaved (key 0, 1, …, 0, 1, …).
fn signed_by_few(keys: usize, per_key: usize) -> Vec<([u8; 32], Vec<u8>, [u8; 64])> {
    let signers: Vec<SigningKey> = (0..keys)
        .map(|k| SigningKey::from_bytes(&[k as u8 + 1; 32]))
        .collect();
    (0..keys * per_key)
        .map(|i| {
            let key = &signers[i % keys];
            let message = format!("message {i}").into_bytes();
            let signature = key.sign(&message).to_bytes();
            (key.verifying_key().to_bytes(), message, signature)
        })
        .collect()
}

#[test]
fn signatures_sharing_keys_verify_and_any_fault_fails() {
    for keys in [1, 3] {
        let signed = signed_by_few(keys, 40);
        assert_eq!(verify_batch(&items(&signed)), Ok(()), "{keys} keys");

        // Another message under the same key.
        let mut wrong_message = signed.clone();
        wrong_message[17].1.push(0);
        assert_eq!(
            verify_batch(&items(&wrong_message)),
            Err(BatchError::Invalid)
        );

        // Two signatures by the same key swapped between their messages.
        let mut swapped = signed.clone();
        let (first, second) = (swapped[0].2, swapped[keys].2);
        swapped[0].2 = second;
        swapped[keys].2 = first;
        assert_eq!(verify_batch(&items(&swapped)), Err(BatchError::Invalid));
    }
    // A signature attributed to another key of the batch.
    let mut other_key = signed_by_few(3, 10);
    other_key[4].0 = other_key[5].0;
    assert_eq!(verify_batch(&items(&other_key)), Err(BatchError::Invalid));
}

#[test]
fn a_malformed_shared_key_is_named_at_its_first_signature() {
    let mut signed = signed_by_few(2, 5);
    let bad = [0xff; 32]; // y >= p
    for entry in signed.iter_mut().skip(1).step_by(2) {
        entry.0 = bad;
    }
    assert_eq!(
        verify_batch(&items(&signed)),
        Err(BatchError::Malformed { index: 1 })
    );
}
