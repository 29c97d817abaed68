//! ML-DSA signatures (FIPS 204) for the post-quantum suites that sign with them
//! (draft-ietf-mls-pq-ciphersuites §3, TBD9–TBD11, with the `mldsa44/65/87` schemes of
//! draft-ietf-tls-mldsa), on RustCrypto's `ml-dsa` crate.
//!
//! A secret key is the 32-byte seed `ξ` of `ML-DSA.KeyGen_internal` (FIPS 204 Algorithm 6),
//! a public key `pkEncode(ρ, t1)` (Algorithm 22), a signature `sigEncode` (Algorithm 26).
//! Signing is `ML-DSA.Sign` (Algorithm 2) with an empty context string, in its deterministic
//! variant (`rnd = {0}^32`, which FIPS 204 §3.4 permits): the provider reads no randomness
//! and its signatures are reproducible, as for ECDSA with RFC 6979 in this crate.
//! Verification is `ML-DSA.Verify` (Algorithm 3) with an empty context; a public key or
//! signature of the wrong length, or a signature whose hint encoding or `z` norm is out of
//! range (Algorithm 27 `sigDecode`), is refused.

use conclave_crypto::{CryptoError, CryptoRandom, ML_DSA_SEED_LEN, Secret, SignatureAlgorithm};
use ml_dsa::{
    EncodedSignature, EncodedVerifyingKey, MlDsa44, MlDsa65, MlDsa87, MlDsaParams, Seed, Signature,
    SigningKey, VerifyingKey,
};
use zeroize::Zeroizing;

/// The error for a public key of the wrong length.
const BAD_PUBLIC: CryptoError = CryptoError::InvalidKey {
    kind: "signature public",
    reason: "not an ML-DSA public key of the suite's parameter set",
};

/// Parses a seed `ξ`.
fn seed(sk: &[u8]) -> Result<Zeroizing<Seed>, CryptoError> {
    Seed::try_from(sk)
        .map(Zeroizing::new)
        .map_err(|_| CryptoError::InvalidKey {
            kind: "signature secret",
            reason: "an ML-DSA secret key is a 32-byte seed",
        })
}

fn public_key<P: MlDsaParams>(sk: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = SigningKey::<P>::from_seed(&*seed(sk)?);
    Ok(ml_dsa::Keypair::verifying_key(&key).encode().to_vec())
}

fn sign<P: MlDsaParams>(sk: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let key = SigningKey::<P>::from_seed(&*seed(sk)?);
    let sig: Signature<P> = key
        .expanded_key()
        .sign_deterministic(msg, &[])
        .map_err(|_| CryptoError::Backend("ML-DSA signing failed"))?;
    Ok(sig.encode().to_vec())
}

fn verify<P: MlDsaParams>(pk: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
    let pk = EncodedVerifyingKey::<P>::try_from(pk).map_err(|_| BAD_PUBLIC)?;
    let sig = EncodedSignature::<P>::try_from(sig).map_err(|_| CryptoError::InvalidSignature)?;
    let sig = Signature::<P>::decode(&sig).ok_or(CryptoError::InvalidSignature)?;
    if VerifyingKey::<P>::decode(&pk).verify_with_context(msg, &[], &sig) {
        Ok(())
    } else {
        Err(CryptoError::InvalidSignature)
    }
}

/// The error for a scheme that is not ML-DSA (unreachable: the suite dispatches here only
/// for ML-DSA).
const NOT_ML_DSA: CryptoError = CryptoError::Backend("not an ML-DSA signature scheme");

/// `SerializePublicKey` of the key pair `ML-DSA.KeyGen_internal(ξ)` gives.
pub(crate) fn signature_public_key(
    scheme: SignatureAlgorithm,
    sk: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    match scheme {
        SignatureAlgorithm::MlDsa44 => public_key::<MlDsa44>(sk),
        SignatureAlgorithm::MlDsa65 => public_key::<MlDsa65>(sk),
        SignatureAlgorithm::MlDsa87 => public_key::<MlDsa87>(sk),
        _ => Err(NOT_ML_DSA),
    }
}

/// `ML-DSA.KeyGen` (FIPS 204 Algorithm 1) with the seed `ξ` drawn from `rng`.
pub(crate) fn signature_generate(
    scheme: SignatureAlgorithm,
    rng: &mut dyn CryptoRandom,
) -> Result<(Secret, Vec<u8>), CryptoError> {
    let mut xi = Zeroizing::new([0u8; ML_DSA_SEED_LEN]);
    rng.fill(xi.as_mut_slice())?;
    let pk = signature_public_key(scheme, xi.as_slice())?;
    Ok((Secret::from_slice(xi.as_slice()), pk))
}

/// Deterministic `ML-DSA.Sign(sk, msg, ctx = "")`.
pub(crate) fn signature_sign(
    scheme: SignatureAlgorithm,
    sk: &[u8],
    msg: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    match scheme {
        SignatureAlgorithm::MlDsa44 => sign::<MlDsa44>(sk, msg),
        SignatureAlgorithm::MlDsa65 => sign::<MlDsa65>(sk, msg),
        SignatureAlgorithm::MlDsa87 => sign::<MlDsa87>(sk, msg),
        _ => Err(NOT_ML_DSA),
    }
}

/// `ML-DSA.Verify(pk, msg, sig, ctx = "")`.
pub(crate) fn signature_verify(
    scheme: SignatureAlgorithm,
    pk: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> Result<(), CryptoError> {
    match scheme {
        SignatureAlgorithm::MlDsa44 => verify::<MlDsa44>(pk, msg, sig),
        SignatureAlgorithm::MlDsa65 => verify::<MlDsa65>(pk, msg, sig),
        SignatureAlgorithm::MlDsa87 => verify::<MlDsa87>(pk, msg, sig),
        _ => Err(NOT_ML_DSA),
    }
}
