//! Helpers shared by the integration tests of the group state machine (RFC 9420 §8, §11,
//! §12): the environment, identities, KeyPackages, a deterministic random source with
//! convenience draws, a snapshot of a member's state for "rejected messages change
//! nothing" assertions, and application components (draft-ietf-mls-extensions-10 §4.7,
//! §4.8).
#![allow(dead_code, unreachable_pub, missing_docs)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use conclave_core::credential::BasicIdentityProvider;
use conclave_core::group::{
    ComponentCall, ComponentHandler, ComponentRejection, Components, Group, GroupConfig, GroupEnv,
    KeyPackageBundle, MemberParams, NewGroup, SigningIdentity,
};
use conclave_core::messages::ComponentId;
use conclave_core::messages::{Credential, GroupInfo, MlsMessage, MlsMessageBody, Welcome};
use conclave_crypto::{CipherSuite, CryptoProvider, SeededRng};
use conclave_crypto_rustcrypto::RustCryptoProvider;

/// The fixed "current time" of the tests (KeyPackage lifetimes are checked against it).
pub const NOW: u64 = 1_700_000_000;

/// RustCrypto, basic credentials, an empty PSK store.
pub fn env() -> GroupEnv {
    GroupEnv {
        crypto: Arc::new(RustCryptoProvider),
        identity: Arc::new(BasicIdentityProvider),
        psks: Arc::new(RwLock::new(HashMap::new())),
    }
}

/// A fresh signature key pair with a basic credential naming `name`.
pub fn identity(name: &str, suite: CipherSuite, rng: &mut SeededRng) -> SigningIdentity {
    let cs = RustCryptoProvider.cipher_suite_provider(suite).unwrap();
    SigningIdentity::generate(
        cs.as_ref(),
        Credential::Basic {
            identity: name.as_bytes().to_vec(),
        },
        rng,
    )
    .unwrap()
}

/// A KeyPackage of `signer` with default options.
pub fn key_package(
    signer: &SigningIdentity,
    suite: CipherSuite,
    rng: &mut SeededRng,
) -> KeyPackageBundle {
    KeyPackageBundle::generate(&MemberParams::new(env(), signer.clone()), suite, NOW, rng).unwrap()
}

/// A one-member group created by `signer`.
pub fn create_group(
    suite: CipherSuite,
    group_id: &[u8],
    signer: SigningIdentity,
    config: GroupConfig,
    rng: &mut SeededRng,
) -> Group {
    Group::create(
        MemberParams {
            config,
            ..MemberParams::new(env(), signer)
        },
        NewGroup::new(suite, group_id.to_vec()),
        NOW,
        rng,
    )
    .unwrap()
}

/// The Welcome inside an `MLSMessage`.
pub fn welcome_of(message: &MlsMessage) -> Welcome {
    match &message.body {
        MlsMessageBody::Welcome(welcome) => welcome.clone(),
        other => panic!("not a Welcome: {other:?}"),
    }
}

/// The GroupInfo inside an `MLSMessage`.
pub fn group_info_of(message: &MlsMessage) -> GroupInfo {
    match &message.body {
        MlsMessageBody::GroupInfo(info) => info.clone(),
        other => panic!("not a GroupInfo: {other:?}"),
    }
}

/// A component whose data is its last update; an update starting with `!` is invalid.
pub const TOPIC: ComponentId = ComponentId(0x8001);
/// A component whose data is the concatenation of its updates.
pub const LOG: ComponentId = ComponentId(0x8002);
/// An AppEphemeral component; empty data is invalid.
pub const REACTION: ComponentId = ComponentId(0x8003);

/// The application components of the integration tests (deterministic, stateless).
#[derive(Debug, Clone, Copy, Default)]
pub struct TestComponents;

impl ComponentHandler for TestComponents {
    fn supported_components(&self) -> Vec<ComponentId> {
        vec![TOPIC, LOG, REACTION]
    }

    fn validate_ephemeral(
        &self,
        call: &ComponentCall<'_>,
        data: &[u8],
    ) -> Result<(), ComponentRejection> {
        match call.component_id {
            REACTION if data.is_empty() => Err(ComponentRejection::Invalid("empty".into())),
            REACTION => Ok(()),
            _ => Err(ComponentRejection::Unknown),
        }
    }

    fn apply_update(
        &self,
        call: &ComponentCall<'_>,
        current: Option<&[u8]>,
        update: &[u8],
    ) -> Result<Vec<u8>, ComponentRejection> {
        match call.component_id {
            TOPIC if update.starts_with(b"!") => Err(ComponentRejection::Invalid("!".into())),
            TOPIC => Ok(update.to_vec()),
            LOG => Ok([current.unwrap_or_default(), update].concat()),
            _ => Err(ComponentRejection::Unknown),
        }
    }
}

/// [`TestComponents`], shared.
pub fn components() -> Components {
    Components::new(TestComponents)
}

/// The member's whole serialized state (secrets included): used to assert that a rejected
/// message left the group exactly as it was (staged state).
pub fn snapshot(group: &Group) -> Vec<u8> {
    group.to_bytes().expect("group state serializes")
}

/// Draws from a [`SeededRng`].
pub trait Draw {
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize;
    /// True with probability `percent`/100.
    fn chance(&mut self, percent: u64) -> bool;
    /// Shuffles `items` (Fisher–Yates).
    fn shuffle<T>(&mut self, items: &mut [T]);
    /// A uniformly chosen element.
    fn pick<T: Copy>(&mut self, items: &[T]) -> T;
}

impl Draw for SeededRng {
    fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        usize::try_from(self.next_u64() % n as u64).unwrap()
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}
