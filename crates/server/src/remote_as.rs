//! A remote Authentication Service, as a Delivery Service that does not serve the AS routes
//! sees it (`conclave-ds --as-url http://…`; RFC 9750 §4): the AS root, fetched once at start,
//! and a copy of the AS's revocation list (`GET /v1/as/revoked`, RFC 9420 §5.3.2) that a
//! background task refreshes every half TTL.
//!
//! **Revocation bound.** A list counts as fresh for one TTL from the moment its request was
//! sent. While the copy is fresh, a check answers from it; once it is older than the TTL
//! (the AS did not answer), checks fail closed with [`DsError::Store`] (503) instead of
//! answering from a stale list. So a client revoked at the AS is refused by every DS node
//! within one TTL ([`DEFAULT_REVOCATION_TTL`], 5 s by default) of the revocation.
//!
//! **Root.** The root is trusted as the AS serves it at the DS's start: use `https://`, or a
//! network where nobody can impersonate the AS. The same holds for the AS's UserInfo VC
//! issuer key set (`GET /v1/as/vc/jwks`, draft-barnes-mls-addl-creds-01 §3.3), fetched at
//! start too, so the DS accepts the AS's VCs as well as its certificates; an AS that issues
//! no VCs (404) leaves the DS accepting certificates only. A DS keeps its root until restarted (an AS
//! root is created once and kept; a new AS database means restarting the DS nodes).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use conclave_api::{ApiError, AsClient};
use conclave_as::userinfo_vc::AsIdentityProvider;
use conclave_core::credential::{
    IssuerKeys, RevocationList, UserInfoVcIdentityProvider, X509IdentityProvider,
};
use conclave_crypto::CryptoProvider;
use conclave_ds::{DsError, StoreError};

/// Default revocation TTL: a revoked client is refused by every DS node within this long.
pub const DEFAULT_REVOCATION_TTL: Duration = Duration::from_secs(5);

/// Why the remote AS cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteAsError {
    /// The AS did not answer, or refused (the source names the AS and its URL).
    #[error("{source}")]
    Unreachable {
        /// The AS's base URL.
        url: String,
        /// What failed.
        source: ApiError,
    },
    /// The root certificate the AS served is not usable as a trust anchor.
    #[error("the root certificate of the Authentication Service at {url} is not usable: {reason}")]
    BadRoot {
        /// The AS's base URL.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A remote AS: its root and a fresh-enough copy of its revocation list.
pub struct RemoteAs {
    client: AsClient,
    root: Vec<u8>,
    /// The AS's UserInfo VC issuer keys, if it issues VCs.
    vc_keys: Option<IssuerKeys>,
    crypto: Arc<dyn CryptoProvider>,
    /// The revoked identities (`mls://<name>`), shared with every validator handed out.
    revoked: RevocationList,
    /// When the request of the list in `revoked` was sent.
    fetched_at: Mutex<Instant>,
    ttl: Duration,
}

impl core::fmt::Debug for RemoteAs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RemoteAs")
            .field("url", &self.client.base_url())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RemoteAs {
    /// Fetches the root and the revocation list of the AS at `url`. `ttl` bounds how old the
    /// list may be when a check uses it; `crypto` verifies chains.
    pub async fn connect(
        url: &str,
        ttl: Duration,
        crypto: Arc<dyn CryptoProvider>,
    ) -> Result<Self, RemoteAsError> {
        let unreachable = |source| RemoteAsError::Unreachable {
            url: url.to_owned(),
            source,
        };
        // A fetch that takes longer than the TTL is of no use: the list would be stale.
        let http = reqwest::Client::builder()
            .timeout(ttl.max(Duration::from_secs(1)))
            .build()
            .map_err(|e| {
                unreachable(ApiError::Unreachable {
                    service: conclave_api::Service::Authentication,
                    url: url.to_owned(),
                    reason: e.to_string(),
                })
            })?;
        let client = AsClient::with_http_client(http, url);
        let root = client.root().await.map_err(unreachable)?.root_certificate;
        X509IdentityProvider::new([root.as_slice()], crypto.as_ref()).map_err(|e| {
            RemoteAsError::BadRoot {
                url: url.to_owned(),
                reason: e.to_string(),
            }
        })?;
        let vc_keys = match client.vc_jwks().await {
            Ok((issuer, jwks)) => {
                let mut keys = IssuerKeys::new();
                keys.insert_jwks_json(&issuer, &jwks)
                    .map_err(|e| RemoteAsError::BadRoot {
                        url: url.to_owned(),
                        reason: format!("its UserInfo VC issuer keys: {e}"),
                    })?;
                Some(keys)
            }
            // No VC mode (or an AS from before it): certificates only.
            Err(ApiError::Refused { status: 404, .. }) => None,
            Err(e) => return Err(unreachable(e)),
        };
        let remote = Self {
            client,
            root,
            vc_keys,
            crypto,
            revoked: RevocationList::default(),
            fetched_at: Mutex::new(Instant::now()),
            ttl,
        };
        remote.refresh().await.map_err(unreachable)?;
        Ok(remote)
    }

    /// Fetches the revocation list now and, unless a newer one arrived meanwhile, keeps it.
    pub async fn refresh(&self) -> Result<(), ApiError> {
        let sent = Instant::now();
        let revoked: HashSet<Vec<u8>> = self
            .client
            .revoked()
            .await?
            .into_iter()
            .map(String::into_bytes)
            .collect();
        let poisoned = || ApiError::Unreachable {
            service: conclave_api::Service::Authentication,
            url: self.client.base_url().to_owned(),
            reason: "the revocation list's lock is poisoned".into(),
        };
        let mut fetched_at = self.fetched_at.lock().map_err(|_| poisoned())?;
        if sent >= *fetched_at {
            *self.revoked.write().map_err(|_| poisoned())? = revoked;
            *fetched_at = sent;
        }
        Ok(())
    }

    /// Starts the task that refreshes the list every half TTL, on the current runtime. It
    /// stops when the last `Arc` of `self` is dropped.
    pub fn spawn_refresher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Self> = Arc::downgrade(self);
        let period = (self.ttl / 2).max(Duration::from_millis(100));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(remote) = weak.upgrade() else {
                    return;
                };
                if let Err(e) = remote.refresh().await {
                    tracing::warn!(
                        error = %e,
                        "cannot refresh the revocation list of the Authentication Service \
                         (past the TTL, checks fail until it answers)"
                    );
                }
            }
        })
    }

    /// The AS's base URL.
    pub fn url(&self) -> &str {
        self.client.base_url()
    }

    /// The AS root certificate (DER).
    pub fn root_certificate(&self) -> &[u8] {
        &self.root
    }

    /// How old the revocation list may be when a check uses it.
    pub fn revocation_ttl(&self) -> Duration {
        self.ttl
    }

    /// The cryptography backend that verifies chains.
    pub fn crypto(&self) -> &Arc<dyn CryptoProvider> {
        &self.crypto
    }

    /// Fails unless the copy of the revocation list is younger than the TTL.
    fn require_fresh(&self) -> Result<(), DsError> {
        let age = self
            .fetched_at
            .lock()
            .map_err(|_| DsError::Internal("the revocation list's lock is poisoned".into()))?
            .elapsed();
        if age > self.ttl {
            return Err(DsError::Store(StoreError::Backend(format!(
                "the revocation list of the Authentication Service at {} is {} ms old, more \
                 than its TTL of {} ms (the AS does not answer): try again",
                self.url(),
                age.as_millis(),
                self.ttl.as_millis()
            ))));
        }
        Ok(())
    }

    /// A validator with the AS root as trust anchor, the AS's VC issuer keys and the current
    /// revocation list.
    pub(crate) fn identity_provider(&self) -> Result<AsIdentityProvider, DsError> {
        self.require_fresh()?;
        let x509 = X509IdentityProvider::new([self.root.as_slice()], self.crypto.as_ref())
            .map_err(|e| DsError::Internal(format!("the AS root: {e}")))?
            .with_revocation_list(self.revoked.clone());
        Ok(AsIdentityProvider::new(
            x509,
            self.vc_keys.clone().map(UserInfoVcIdentityProvider::new),
            self.revoked.clone(),
        ))
    }

    /// Whether `name` is on the current revocation list.
    pub(crate) fn is_revoked(&self, name: &str) -> Result<bool, DsError> {
        self.require_fresh()?;
        let identity = conclave_as::identity_uri(name).into_bytes();
        Ok(self
            .revoked
            .read()
            .map_err(|_| DsError::Internal("the revocation list's lock is poisoned".into()))?
            .contains(&identity))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use conclave_as::http::AsHttpState;
    use conclave_as::{AuthenticationService, EnrolmentRequest, InMemoryAsStore};
    use conclave_core::messages::SignaturePublicKey;
    use conclave_crypto::{CipherSuite, CryptoProvider};
    use conclave_crypto_rustcrypto::RustCryptoProvider;
    use conclave_ds::{CredentialPolicy, DsError, Registration};
    use conclave_service::OsRandom;

    use super::RemoteAs;
    use crate::with_as::AsCredentialPolicy;

    const TTL: Duration = Duration::from_millis(600);

    /// An AS on a loopback port; stops when the sender is dropped or fires.
    async fn serve_as() -> (Arc<AsHttpState>, String, tokio::sync::oneshot::Sender<()>) {
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap();
        let now = conclave_service::now_seconds();
        let service =
            AuthenticationService::new(cs, InMemoryAsStore::new(), now, &mut OsRandom).unwrap();
        let state = Arc::new(AsHttpState::new(service, b"admin"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = conclave_as::http::router(state.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        (state, url, stop)
    }

    /// Enrols `name` at the AS; returns its registration at the DS.
    fn registration(state: &AsHttpState, name: &str) -> Registration {
        enrolled(state, name, false)
    }

    /// Enrols `name` at the AS in the UserInfo VC mode; returns its registration at the DS.
    fn vc_registration(state: &AsHttpState, name: &str) -> Registration {
        enrolled(state, name, true)
    }

    /// Enrols `name` at the AS (a certificate, or a UserInfo VC with `vc`).
    fn enrolled(state: &AsHttpState, name: &str, vc: bool) -> Registration {
        let cs = RustCryptoProvider
            .cipher_suite_provider(CipherSuite(1))
            .unwrap();
        let now = conclave_service::now_seconds();
        let (secret, public) = cs.signature_generate(&mut OsRandom).unwrap();
        let token = state
            .service()
            .issue_token(name, now, &mut OsRandom)
            .unwrap();
        let request = EnrolmentRequest::sign(
            cs.as_ref(),
            name,
            SignaturePublicKey(public.clone()),
            &secret,
            token,
        )
        .unwrap();
        let credential = if vc {
            state.service().enrol_userinfo_vc(&request, now).unwrap()
        } else {
            state.service().enrol(&request, now).unwrap()
        };
        Registration {
            client_id: name.to_owned(),
            cipher_suite: 1,
            signature_key: public,
            credential,
            now,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_remote_as_revocation_applies_within_the_ttl_and_a_silent_as_fails_checks_closed() {
        let (state, url, stop) = serve_as().await;
        let remote = Arc::new(
            RemoteAs::connect(&url, TTL, Arc::new(RustCryptoProvider))
                .await
                .unwrap(),
        );
        assert_eq!(
            remote.root_certificate(),
            state.service().root_certificate()
        );
        let _refresher = remote.spawn_refresher();
        let policy = AsCredentialPolicy::remote(remote.clone());

        // Credentials the AS issued are accepted, for their enrolled name only.
        let carol = registration(&state, "carol");
        policy.check(&carol).unwrap();
        policy.check_login(&carol).unwrap();
        assert!(!policy.is_revoked("carol").unwrap());
        let renamed = Registration {
            client_id: "mallory".into(),
            ..carol.clone()
        };
        assert!(matches!(policy.check(&renamed), Err(DsError::Forbidden(_))));

        // A client enrolled in the AS's UserInfo VC mode registers under its name too.
        let erin = vc_registration(&state, "erin");
        assert!(matches!(
            erin.credential,
            conclave_core::messages::Credential::UserInfoVc(_)
        ));
        policy.check(&erin).unwrap();
        let renamed = Registration {
            client_id: "mallory".into(),
            ..erin.clone()
        };
        assert!(matches!(policy.check(&renamed), Err(DsError::Forbidden(_))));

        // Revoked at the AS: refused once the TTL has passed, at registration, login and
        // on every request.
        state.service().revoke("carol").unwrap();
        tokio::time::sleep(TTL).await;
        assert!(policy.is_revoked("carol").unwrap());
        assert!(matches!(
            policy.check_login(&carol),
            Err(DsError::Forbidden(_))
        ));
        assert!(matches!(policy.check(&carol), Err(DsError::Forbidden(_))));
        assert!(!policy.is_revoked("dave").unwrap());
        state.service().revoke("erin").unwrap();
        tokio::time::sleep(TTL).await;
        assert!(matches!(policy.check(&erin), Err(DsError::Forbidden(_))));

        // The AS stops answering: past the TTL, checks fail (503) rather than use the old
        // list.
        drop(stop);
        tokio::time::sleep(TTL + TTL / 2).await;
        assert!(matches!(policy.is_revoked("dave"), Err(DsError::Store(_))));
        assert!(matches!(policy.check(&carol), Err(DsError::Store(_))));
    }
}
