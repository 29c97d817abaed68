//! The Delivery Service with its Authentication Service merged in, in process: the router of
//! `conclave-ds --with-as`, on a hand-moved clock, for the tests of `with_as.rs` and
//! `credential_change.rs`.

use std::sync::Arc;

use conclave_as::AuthenticationService;
use conclave_as::http::AsHttpState;
use conclave_as::sqlite::SqliteAsStore;
use conclave_crypto::CryptoProvider;
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_ds::store::Store;
use conclave_ds::{AppState, DsConfig};
use conclave_service::OsRandom;

use crate::common::{Api, SUITE, TestClock};

/// The administrator's bearer token of the in-process AS.
pub(crate) const ADMIN: &str = "test-admin-token";

/// A DS over `store` with the AS merged in, both on one hand-moved clock; the AS issues
/// certificates for `certificate_lifetime` seconds, renewable up to `renewal_grace` seconds
/// after they expire.
pub(crate) fn api_with_as(
    store: Arc<dyn Store>,
    certificate_lifetime: u64,
    renewal_grace: u64,
) -> Api {
    let clock = TestClock::new();
    let cs = RustCryptoProvider.cipher_suite_provider(SUITE).unwrap();
    let service = AuthenticationService::open_or_create(
        SqliteAsStore::in_memory().unwrap(),
        cs,
        clock.now(),
        &mut OsRandom,
    )
    .unwrap()
    .with_certificate_lifetime(certificate_lifetime)
    .with_renewal_grace(renewal_grace);
    let c = clock.clone();
    let as_state =
        Arc::new(AsHttpState::new(service, ADMIN.as_bytes()).with_clock(Arc::new(move || c.now())));
    let config = DsConfig {
        credential_policy: Some(conclave_server::with_as::policy(as_state.clone())),
        ..DsConfig::default()
    };
    let c = clock.clone();
    let state = AppState::with_clock(store, config, Arc::new(move || c.now()));
    let router = conclave_server::with_as::router(state.clone(), as_state);
    Api {
        router,
        clock,
        state,
    }
}
