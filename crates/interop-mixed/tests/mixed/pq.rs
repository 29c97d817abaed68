//! Groups of a Conclave member and an OpenMLS 0.9.2 member on the post-quantum suites of
//! draft-ietf-mls-pq-ciphersuites §3 that OpenMLS carries (feature
//! `draft-ietf-mls-pq-ciphersuites`) with `openmls_rust_crypto`, the OpenMLS provider that
//! lists all of them (`openmls_libcrux_crypto` 0.4 lists, of the post-quantum suites, only
//! OpenMLS's own X-Wing suite 0x004D, and signs with Ed25519 only), under OpenMLS's suite
//! values, which Conclave's `openmls-0.9` profile sends.
//!
//! | Draft suite | Conclave (`draft`) | OpenMLS 0.9.2 | HPKE KEM id |
//! |---|---|---|---|
//! | TBD1 MLKEM768X25519 AES128GCM SHA256 Ed25519 | 0xF0A0 | 0x004F | 0x647a |
//! | TBD2 MLKEM768X25519 AES256GCM SHA384 Ed25519 | 0xF0A1 | 0x004E | 0x647a |
//! | TBD6 MLKEM768 AES256GCM SHA384 Ed25519 | 0xF0A5 | 0xF042 | 0x0041 |
//! | TBD7 MLKEM768 AES256GCM SHA384 P256 | 0xF0A6 | 0x0050 | 0x0041 |
//! | TBD8 MLKEM1024 AES256GCM SHA384 P384 | 0xF0A7 | 0x0042 | 0x0042 |
//! | TBD9 MLKEM768X25519 CHACHA20POLY1305 SHA384 MLDSA44 | 0xF0A8 | 0x0052 | 0x647a |
//! | TBD10 MLKEM768 AES256GCM SHA384 MLDSA65 | 0xF0A9 | 0x0051 | 0x0041 |
//! | TBD11 MLKEM1024 AES256GCM SHA384 MLDSA87 | 0xF0AA | 0x0907 | 0x0042 |
//!
//! OpenMLS derives HPKE key pairs as `SHAKE256(ikm, Nsk)` (no `LabeledDerive`,
//! draft-ietf-hpke-pq §3); its `HpkeKemType` names X-Wing 0x004D, but
//! `openmls_rust_crypto` maps that to hpke-rs's `XWingDraft06`, KEM id 0x647a, which is
//! what enters HPKE's `suite_id` (with 0x004D there, the X-Wing Welcomes below fail to
//! decrypt on both sides). Conclave decodes OpenMLS's values with that derivation (`conclave_crypto::PqHpke::OpenMls09`), which
//! [`derive_key_pair_matches_openmls`] checks against OpenMLS's own `derive_hpke_keypair`.
//! TBD3–TBD5 (the P-256 and P-384 hybrids) have no OpenMLS value and are not mixed.
//!
//! Each test: one creator, the other implementation added by Welcome (HPKE to the joiner's
//! init key, path secrets to its leaf key), application messages both ways, an update
//! commit from each member (UpdatePath encrypted to the other's tree key), Update
//! proposals by reference, an external join from the other implementation's GroupInfo
//! (HPKE export to `external_pub`, RFC 9420 §8.3), a removal, and agreement on the epoch,
//! epoch authenticator (§8.7), an exporter output (§8.5) and the roster after every step.

use conclave_crypto::{CipherSuite, PqHpke, hpke};
use openmls::prelude::{Ciphersuite, HpkeConfig, OpenMlsCrypto as _, OpenMlsProvider as _};

use crate::peer::{CommitOp, Handshake, Kind, ProposalOp};
use crate::{GROUP_ID, Mixed, make};

/// OpenMLS 0.9.2's values of the draft suites, as Conclave's crypto crate lists them.
fn openmls_values() -> Vec<u16> {
    CipherSuite::OPENMLS_09_PQ
        .iter()
        .map(|(openmls, _)| openmls.0)
        .collect()
}

/// The life cycle of the module documentation on one suite.
fn run_pq(creator: Kind, suite: u16, handshake: Handshake) {
    let other = match creator {
        Kind::Conclave => Kind::OpenMls,
        _ => Kind::Conclave,
    };
    let mut g = Mixed {
        members: Vec::new(),
        suite,
        handshake,
        seed: u64::from(suite) * 1000 + 17,
    };
    let mut first = make(
        creator,
        &format!("{}-a", creator.label()),
        suite,
        handshake,
        1,
    );
    first.create(GROUP_ID);
    g.members.push(first);
    g.assert_agree("create");

    g.add(0, &[other], "a");
    g.exchange("after Welcome");
    for i in 0..2 {
        g.commit(i, CommitOp::Update);
        g.exchange("after update commit");
    }
    for i in 0..2 {
        g.propose(i, ProposalOp::Update);
        g.commit_checked((i + 1) % 2, CommitOp::Pending, 1, &[]);
    }
    g.exchange("after update proposals");

    // A member of each implementation joins by external commit from the other
    // implementation's GroupInfo, commits, and is removed by the other implementation.
    for kind in [Kind::Conclave, Kind::OpenMls] {
        let exporter = g.members.iter().position(|m| m.kind() != kind).unwrap();
        g.external_join(kind, exporter, "ext", false);
        g.exchange("after external join");
        let joined = g.members.len() - 1;
        g.commit(joined, CommitOp::Update);
        let target = g.members[joined].name().as_bytes().to_vec();
        let committer = g.members.iter().position(|m| m.kind() != kind).unwrap();
        g.commit(committer, CommitOp::Remove(vec![target]));
        g.exchange("after remove");
    }
}

/// OpenMLS's `derive_hpke_keypair` and Conclave's `DeriveKeyPair` give the same key pair
/// under every OpenMLS value, on both Conclave backends; under Conclave's own value of the
/// same suite (draft-ietf-hpke-pq §3's labelled derivation) the key pair differs.
#[test]
fn derive_key_pair_matches_openmls() {
    use conclave_crypto::CryptoProvider;
    let openmls = openmls_rust_crypto::OpenMlsRustCrypto::default();
    let backends: [&dyn CryptoProvider; 2] = [
        &conclave_crypto_awslc::AwsLcProvider,
        &conclave_crypto_rustcrypto::RustCryptoProvider,
    ];
    for (value, draft) in CipherSuite::OPENMLS_09_PQ {
        let suite = Ciphersuite::try_from(value.0).unwrap();
        let config = || {
            HpkeConfig(
                suite.hpke_kem_algorithm(),
                suite.hpke_kdf_algorithm(),
                suite.hpke_aead_algorithm(),
            )
        };
        for ikm in [[0u8; 32], [0x5a; 32]] {
            let theirs = openmls
                .crypto()
                .derive_hpke_keypair(config(), &ikm)
                .unwrap();
            for backend in backends {
                let cs = backend.cipher_suite_provider(value).unwrap();
                assert_eq!(cs.kem().pq_hpke(), Some(PqHpke::OpenMls09));
                let ours = hpke::derive_key_pair(cs.as_ref(), &ikm).unwrap();
                assert_eq!(
                    ours.public_key,
                    theirs.public,
                    "{value:?} {}",
                    backend.name()
                );
                assert_eq!(
                    ours.secret_key.as_bytes(),
                    &theirs.private[..],
                    "{value:?} {}",
                    backend.name()
                );
                let cs = backend.cipher_suite_provider(draft).unwrap();
                let labelled = hpke::derive_key_pair(cs.as_ref(), &ikm).unwrap();
                assert_ne!(labelled.public_key, theirs.public, "{draft:?}");
            }
        }
    }
}

/// OpenMLS 0.9.2 carries every draft suite Conclave decodes under an OpenMLS value, with the
/// same KDF, AEAD and signature scheme; it has no value for TBD3–TBD5.
#[test]
fn openmls_carries_the_listed_suites_with_the_same_algorithms() {
    use openmls::prelude::{HpkeAeadType, HpkeKdfType, SignatureScheme};
    let provider = openmls_rust_crypto::OpenMlsRustCrypto::default();
    let supported = provider.crypto().supported_ciphersuites();
    for (value, _) in CipherSuite::OPENMLS_09_PQ {
        let suite = Ciphersuite::try_from(value.0).unwrap();
        assert!(supported.contains(&suite), "{value:?}");
        let (kem, kdf, aead, sig) = value.algorithms().unwrap();
        // OpenMLS's enum value; its provider runs X-Wing (0x004D here) as HPKE KEM 0x647a.
        let kem_id = match suite.hpke_kem_algorithm() as u16 {
            0x004D => 0x647a,
            id => id,
        };
        assert_eq!(kem_id, kem.id(), "{value:?}");
        let kdf_id = match suite.hpke_kdf_algorithm() {
            HpkeKdfType::HkdfSha256 => 1,
            HpkeKdfType::HkdfSha384 => 2,
            HpkeKdfType::HkdfSha512 => 3,
        };
        assert_eq!(kdf_id, kdf.id(), "{value:?}");
        let aead_id = match suite.hpke_aead_algorithm() {
            HpkeAeadType::AesGcm128 => 1,
            HpkeAeadType::AesGcm256 => 2,
            HpkeAeadType::ChaCha20Poly1305 => 3,
            HpkeAeadType::Export => 0xffff,
        };
        assert_eq!(aead_id, aead.id(), "{value:?}");
        let scheme = match suite.signature_algorithm() {
            SignatureScheme::ED25519 => 0x0807,
            SignatureScheme::ECDSA_SECP256R1_SHA256 => 0x0403,
            SignatureScheme::ECDSA_SECP384R1_SHA384 => 0x0503,
            SignatureScheme::MLDSA44 => 0x0904,
            SignatureScheme::MLDSA65 => 0x0905,
            SignatureScheme::MLDSA87 => 0x0906,
            other => panic!("{value:?}: {other:?}"),
        };
        assert_eq!(scheme, sig.id(), "{value:?}");
    }
    assert_eq!(openmls_values().len(), 8);
}

macro_rules! pq_tests {
    ($($name:ident: $creator:expr, $suite:expr, $hs:expr;)*) => {
        $(
            #[test]
            fn $name() {
                assert!(openmls_values().contains(&$suite));
                run_pq($creator, $suite, $hs);
            }
        )*
    };
}

// Conclave runs on aws-lc-rs for public handshakes and on RustCrypto for private ones
// (see `make`), so both backends meet OpenMLS on every suite.
pq_tests! {
    conclave_creates_0x004f_public: Kind::Conclave, 0x004F, Handshake::Public;
    openmls_creates_0x004f_private: Kind::OpenMls, 0x004F, Handshake::Private;
    conclave_creates_0x004e_private: Kind::Conclave, 0x004E, Handshake::Private;
    openmls_creates_0x004e_public: Kind::OpenMls, 0x004E, Handshake::Public;
    conclave_creates_0xf042_public: Kind::Conclave, 0xF042, Handshake::Public;
    openmls_creates_0xf042_private: Kind::OpenMls, 0xF042, Handshake::Private;
    conclave_creates_0x0050_private: Kind::Conclave, 0x0050, Handshake::Private;
    openmls_creates_0x0050_public: Kind::OpenMls, 0x0050, Handshake::Public;
    conclave_creates_0x0042_public: Kind::Conclave, 0x0042, Handshake::Public;
    openmls_creates_0x0042_private: Kind::OpenMls, 0x0042, Handshake::Private;
    conclave_creates_0x0052_private: Kind::Conclave, 0x0052, Handshake::Private;
    openmls_creates_0x0052_public: Kind::OpenMls, 0x0052, Handshake::Public;
    conclave_creates_0x0051_public: Kind::Conclave, 0x0051, Handshake::Public;
    openmls_creates_0x0051_private: Kind::OpenMls, 0x0051, Handshake::Private;
    conclave_creates_0x0907_private: Kind::Conclave, 0x0907, Handshake::Private;
    openmls_creates_0x0907_public: Kind::OpenMls, 0x0907, Handshake::Public;
}
