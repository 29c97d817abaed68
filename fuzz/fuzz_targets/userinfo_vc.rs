//! UserInfo VC credentials (draft-barnes-mls-addl-creds-01 §3): arbitrary bytes, or a valid
//! token edited by a script of xor/truncate/insert operations, as the `jwt` of a
//! `userinfo-vc` credential validated by `UserInfoVcIdentityProvider` against a fixed issuer.
//! Validation must never panic; an edited token may validate only if it decodes to the same
//! JWS as the valid one (base64url's spare bits). The first byte also picks the codec side:
//! the credential decoded from `0xFE00 ‖ data` (and under the draft's 0x0003) must re-encode
//! to its input.
#![no_main]

use std::sync::OnceLock;

use conclave_codec::{Decode, Encode};
use conclave_core::codepoints::UserInfoVcCodepoint;
use conclave_core::credential::{
    CredentialCheck, CredentialRole, IdentityProvider, IssuerKeys, UserInfoVcIdentityProvider,
    UserInfoVcIssuer,
};
use conclave_core::messages::{Credential, SignaturePublicKey, UserInfoVc};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng, SignatureAlgorithm};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use libfuzzer_sys::fuzz_target;

mod common;
use common::round_trip;

const NOW: u64 = 1_750_000_000;

struct Fixture {
    provider: UserInfoVcIdentityProvider,
    leaf: SignaturePublicKey,
    token: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .expect("suite 1");
        let rng = &mut SeededRng::new(1);
        let (issuer_secret, issuer_public) = cs.signature_generate(rng).expect("issuer key");
        let (_, leaf) = cs.signature_generate(rng).expect("leaf key");
        let issuer = UserInfoVcIssuer::new(
            "https://op.example",
            "k1",
            SignatureAlgorithm::Ed25519,
            issuer_secret.as_bytes(),
            &issuer_public,
        )
        .expect("issuer");
        let mut keys = IssuerKeys::new();
        keys.insert_jwks_json(issuer.issuer(), issuer.jwks().to_string().as_bytes())
            .expect("jwks");
        let mut userinfo = serde_json::Map::new();
        userinfo.insert("sub".into(), "alice".into());
        let Credential::UserInfoVc(vc) = issuer
            .issue(
                SignatureAlgorithm::Ed25519,
                &leaf,
                &userinfo,
                NOW,
                NOW + 3600,
            )
            .expect("issue")
        else {
            unreachable!("issue makes a userinfo-vc credential")
        };
        Fixture {
            provider: UserInfoVcIdentityProvider::new(keys),
            leaf: SignaturePublicKey(leaf),
            token: vc.jwt,
        }
    })
}

fn validate(jwt: Vec<u8>) -> bool {
    let f = fixture();
    let credential = Credential::UserInfoVc(UserInfoVc { jwt });
    let _ = f.provider.identity(&credential);
    f.provider
        .validate_credential(&CredentialCheck {
            credential: &credential,
            signature_key: &f.leaf,
            signature_scheme: SignatureAlgorithm::Ed25519,
            role: CredentialRole::NewMember,
            now: NOW + 60,
        })
        .is_ok()
}

/// The dot-separated parts, base64url-decoded (`None` where a part does not decode).
fn parts(token: &[u8]) -> Vec<Option<Vec<u8>>> {
    use base64::Engine as _;
    token
        .split(|b| *b == b'.')
        .map(|part| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
        })
        .collect()
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            let _ = validate(data.to_vec());
        }
        1 => {
            let original = &fixture().token;
            let mut token = original.clone();
            for op in data.chunks_exact(3) {
                let [kind, at, byte] = [op[0], op[1], op[2]];
                if token.is_empty() {
                    break;
                }
                let at = (usize::from(at) * 97) % token.len();
                match kind % 3 {
                    0 => token[at] ^= byte | 1,
                    1 => token.truncate(at),
                    _ => token.insert(at, byte),
                }
            }
            if validate(token.clone()) {
                assert_eq!(
                    parts(&token),
                    parts(original),
                    "an edited token validated: {:?}",
                    String::from_utf8_lossy(&token)
                );
            }
        }
        _ => {
            let mut bytes = 0xFE00_u16.to_be_bytes().to_vec();
            bytes.extend_from_slice(data);
            round_trip::<Credential>(&bytes);
            let mut draft = 0x0003_u16.to_be_bytes().to_vec();
            draft.extend_from_slice(data);
            if let Ok(credential) =
                Credential::from_bytes_with(&draft, UserInfoVcCodepoint::AddlCreds)
            {
                let encoded = credential
                    .to_bytes_with(UserInfoVcCodepoint::AddlCreds)
                    .expect("re-encodes");
                assert_eq!(encoded, draft);
            }
            let _ = Credential::from_bytes(&draft).map(|c| c.to_bytes());
        }
    }
});
