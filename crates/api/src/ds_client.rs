//! HTTP client of the Delivery Service (RFC 9750 §5-§6; the routes are documented in the
//! `conclave-ds` crate's README): registration with proof of possession, challenge/token
//! login (renewed on 401), KeyPackage publication and claims, groups, commit bundles,
//! messages, Welcomes, GroupInfo, and the URL of the WebSocket of wake-ups.

use std::sync::Mutex;

use crate::delivery::{
    self as wire, Accepted, ChallengeRequest, ChallengeResponse, ClaimRequest, CommitBundle,
    CreateGroupRequest, CredentialChangeRequest, ErrorBody, GroupView, KeyPackageStock,
    LogEntryView, LogPage, RegisterRequest, RegistrationTbs, TokenRequest, TokenResponse,
    WelcomePage, WelcomeView,
};
use conclave_codec::{Decode, Encode};
use conclave_core::messages::MlsMessage;
use conclave_crypto::{CipherSuite, CipherSuiteProvider, Secret};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::http::{self, HttpLimits};
use crate::{ApiError, BadResponse, Service, b64_decode, b64_encode};

const SERVICE: Service = Service::Delivery;

/// `wire::sign_registration` or `wire::sign_credential_change`.
type SignRegistration = fn(
    &dyn conclave_crypto::CipherSuiteProvider,
    &[u8],
    &RegistrationTbs,
) -> Result<Vec<u8>, conclave_crypto::CryptoError>;

/// The WebSocket of wake-ups: open `url` with `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct WebSocketTarget {
    /// `ws://…/v1/ws` or `wss://…/v1/ws`.
    pub url: String,
    /// The bearer token.
    pub token: String,
}

impl core::fmt::Debug for WebSocketTarget {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocketTarget")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A claimed KeyPackage.
#[derive(Debug, Clone)]
pub struct ClaimedKeyPackage {
    /// The `MLSMessage` carrying it.
    pub message: MlsMessage,
    /// Whether it is its owner's last-resort package.
    pub last_resort: bool,
}

/// A Delivery Service client logged in as one client id.
pub struct DsClient {
    http: reqwest::Client,
    limits: HttpLimits,
    base: String,
    client_id: String,
    /// The suite of our signature key: signs the registration and the login challenges.
    cs: Box<dyn CipherSuiteProvider>,
    secret: Secret,
    token: Mutex<Option<String>>,
}

impl core::fmt::Debug for DsClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DsClient")
            .field("base", &self.base)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Turns a non-success answer into an [`ApiError`].
pub(crate) async fn refusal(service: Service, what: &str, response: Response) -> ApiError {
    let status = response.status();
    let bytes = http::body(service, response, http::MAX_ERROR_BODY)
        .await
        .unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(b) if b.error == "wrong_epoch" => ApiError::WrongEpoch {
            current: b.current_epoch.unwrap_or(0),
        },
        Ok(b) => ApiError::Refused {
            service,
            what: what.to_owned(),
            status: status.as_u16(),
            code: b.error,
            message: b.message,
        },
        Err(_) => ApiError::Refused {
            service,
            what: what.to_owned(),
            status: status.as_u16(),
            code: "http_error".into(),
            message: if bytes.is_empty() {
                status
                    .canonical_reason()
                    .unwrap_or("unexpected answer")
                    .to_owned()
            } else {
                String::from_utf8_lossy(&bytes).chars().take(500).collect()
            },
        },
    }
}

pub(crate) use http::unreachable;

/// A JSON answer body of at most `limit` bytes.
pub(crate) async fn json_body<T: DeserializeOwned>(
    service: Service,
    response: Response,
    limit: usize,
) -> Result<T, ApiError> {
    let bytes = http::body(service, response, limit).await?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::BadResponse {
        service,
        source: BadResponse::Json(e.to_string()),
    })
}

fn bad_mls(e: impl core::fmt::Display) -> ApiError {
    ApiError::BadResponse {
        service: SERVICE,
        source: BadResponse::Mls(e.to_string()),
    }
}

impl DsClient {
    /// A client of the DS at `base` (e.g. `http://127.0.0.1:8080`) for `client_id`, which
    /// signs logins with `secret` under the signature scheme of `cs` (the suite of its key),
    /// under the default [`HttpLimits`].
    pub fn new(
        base: &str,
        client_id: &str,
        cs: Box<dyn CipherSuiteProvider>,
        secret: Secret,
    ) -> Result<Self, ApiError> {
        Self::with_limits(base, client_id, cs, secret, HttpLimits::DEFAULT)
    }

    /// [`DsClient::new`] under `limits`.
    pub fn with_limits(
        base: &str,
        client_id: &str,
        cs: Box<dyn CipherSuiteProvider>,
        secret: Secret,
        limits: HttpLimits,
    ) -> Result<Self, ApiError> {
        let http = limits
            .client()
            .map_err(|e| unreachable(SERVICE, base, &e))?;
        Ok(Self {
            http,
            limits,
            base: base.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            cs,
            secret,
            token: Mutex::new(None),
        })
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn send(&self, request: RequestBuilder) -> Result<Response, ApiError> {
        request
            .send()
            .await
            .map_err(|e| unreachable(SERVICE, &self.base, &e))
    }

    /// Signs the `RegistrationTbs` of this client with our key, with `sign` choosing the
    /// label (registration or credential change): the proof of possession of both requests.
    fn sign_registration_tbs(
        &self,
        signature_key: &[u8],
        credential: &[u8],
        sign: SignRegistration,
    ) -> Result<Vec<u8>, ApiError> {
        let tbs = RegistrationTbs {
            client_id: self.client_id.as_bytes().to_vec(),
            cipher_suite: self.cs.cipher_suite().0,
            signature_key: signature_key.to_vec(),
            credential: credential.to_vec(),
        };
        Ok(sign(self.cs.as_ref(), self.secret.as_bytes(), &tbs)?)
    }

    /// Registers the client (proof of possession of the signature key).
    pub async fn register(&self, signature_key: &[u8], credential: &[u8]) -> Result<(), ApiError> {
        self.register_as(signature_key, credential, false).await
    }

    /// Registers the client as a partial client (draft-ietf-mls-partial-02,
    /// [`RegisterRequest::partial`]): the DS annotates its Welcomes (§8) and the commits it
    /// reads (§10).
    pub async fn register_partial(
        &self,
        signature_key: &[u8],
        credential: &[u8],
    ) -> Result<(), ApiError> {
        self.register_as(signature_key, credential, true).await
    }

    async fn register_as(
        &self,
        signature_key: &[u8],
        credential: &[u8],
        partial: bool,
    ) -> Result<(), ApiError> {
        let signature =
            self.sign_registration_tbs(signature_key, credential, wire::sign_registration)?;
        let body = RegisterRequest {
            client_id: self.client_id.clone(),
            cipher_suite: self.cs.cipher_suite().0,
            signature_key: b64_encode(signature_key),
            credential: b64_encode(credential),
            signature: b64_encode(&signature),
            partial,
        };
        let response = self
            .send(self.http.post(self.url("/v1/clients")).json(&body))
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refusal(SERVICE, "the registration", response).await)
        }
    }

    /// Replaces our credential at the DS (same key), e.g. with a renewed certificate: the
    /// KeyPackages we upload from now on must carry it. Our key signs the change twice, as
    /// the new key and as the registered one ([`wire::CredentialChangeTbs`], bound to the
    /// bearer token of the request). The change revokes every token issued before it, ours
    /// too: the next request logs in again.
    pub async fn change_credential(
        &self,
        signature_key: &[u8],
        credential: &[u8],
    ) -> Result<(), ApiError> {
        let url = self.url(&format!("/v1/clients/{}/credential", self.client_id));
        let mut token = self.token().await?;
        let mut retried = false;
        loop {
            let tbs = wire::CredentialChangeTbs {
                client_id: self.client_id.as_bytes().to_vec(),
                cipher_suite: self.cs.cipher_suite().0,
                signature_key: signature_key.to_vec(),
                credential: credential.to_vec(),
                previous_signature_key: signature_key.to_vec(),
                token_id: wire::token_id(&token),
            };
            let secret = self.secret.as_bytes();
            let body = CredentialChangeRequest {
                cipher_suite: self.cs.cipher_suite().0,
                signature_key: b64_encode(signature_key),
                credential: b64_encode(credential),
                signature: b64_encode(&wire::sign_credential_change(
                    self.cs.as_ref(),
                    secret,
                    &tbs,
                )?),
                previous_key_signature: b64_encode(&wire::sign_credential_change_previous(
                    self.cs.as_ref(),
                    secret,
                    &tbs,
                )?),
            };
            let response = self
                .send(self.http.put(&url).bearer_auth(&token).json(&body))
                .await?;
            if response.status() == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                token = self.login().await?;
                continue;
            }
            let outcome = self.expect_ok("the credential change", response).await;
            if outcome.is_ok()
                && let Ok(mut slot) = self.token.lock()
            {
                *slot = None;
            }
            return outcome.map(|_| ());
        }
    }

    /// Logs in: answers a challenge with the signature key and keeps the bearer token.
    pub async fn login(&self) -> Result<String, ApiError> {
        let response = self
            .send(
                self.http
                    .post(self.url("/v1/auth/challenge"))
                    .json(&ChallengeRequest {
                        client_id: self.client_id.clone(),
                    }),
            )
            .await?;
        if !response.status().is_success() {
            return Err(refusal(SERVICE, "the login challenge", response).await);
        }
        let challenge: ChallengeResponse =
            json_body(SERVICE, response, self.limits.max_response).await?;
        let raw = b64_decode(SERVICE, &challenge.challenge)?;
        let signature = wire::sign_challenge(
            self.cs.as_ref(),
            self.secret.as_bytes(),
            &self.client_id,
            &raw,
        )?;
        let response = self
            .send(
                self.http
                    .post(self.url("/v1/auth/token"))
                    .json(&TokenRequest {
                        client_id: self.client_id.clone(),
                        challenge: challenge.challenge,
                        signature: b64_encode(&signature),
                    }),
            )
            .await?;
        if !response.status().is_success() {
            return Err(refusal(SERVICE, "the login", response).await);
        }
        let token: TokenResponse = json_body(SERVICE, response, self.limits.max_response).await?;
        if let Ok(mut slot) = self.token.lock() {
            *slot = Some(token.token.clone());
        }
        Ok(token.token)
    }

    async fn token(&self) -> Result<String, ApiError> {
        let cached = self.token.lock().ok().and_then(|t| t.clone());
        match cached {
            Some(t) => Ok(t),
            None => self.login().await,
        }
    }

    /// Sends an authenticated request built by `build`; logs in again once on 401.
    async fn authed(
        &self,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, ApiError> {
        let token = self.token().await?;
        let response = self.send(build(&self.http).bearer_auth(&token)).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let token = self.login().await?;
        self.send(build(&self.http).bearer_auth(&token)).await
    }

    async fn expect_ok(&self, what: &str, response: Response) -> Result<Response, ApiError> {
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(refusal(SERVICE, what, response).await)
        }
    }

    /// Publishes KeyPackages (a batch). The DS stores a package as a last-resort one when
    /// the package itself is marked so (`KeyPackage::is_last_resort`: the
    /// `last_resort_key_package` component of draft-ietf-mls-extensions-10 §6.4, or extension
    /// 0x000A); at most one per cipher suite in a batch.
    pub async fn publish_key_packages(&self, packages: &[MlsMessage]) -> Result<(), ApiError> {
        let body = packages.to_vec().to_bytes()?;
        let url = self.url("/v1/key-packages");
        let response = self
            .authed(|h| {
                h.post(&url)
                    .header(reqwest::header::CONTENT_TYPE, wire::KEY_PACKAGES_MEDIA_TYPE)
                    .body(body.clone())
            })
            .await?;
        self.expect_ok("the KeyPackages", response)
            .await
            .map(|_| ())
    }

    /// Our KeyPackage stock per suite.
    pub async fn key_package_stock(&self) -> Result<Vec<KeyPackageStock>, ApiError> {
        let url = self.url("/v1/key-packages");
        let response = self.authed(|h| h.get(&url)).await?;
        json_body(
            SERVICE,
            self.expect_ok("the KeyPackage stock", response).await?,
            self.limits.max_response,
        )
        .await
    }

    /// Claims one KeyPackage of `client_id` for `suite` (RFC 9750 §5.1), usable in any group.
    pub async fn claim_key_package(
        &self,
        client_id: &str,
        suite: CipherSuite,
    ) -> Result<ClaimedKeyPackage, ApiError> {
        self.claim_key_package_for(client_id, suite, None).await
    }

    /// Claims one KeyPackage of `client_id` for `suite` to add them to `group_id`: a package
    /// bound to that group by its `kp_context` (draft-mahy-mls-kp-context-00) comes first,
    /// one bound to another group never.
    pub async fn claim_key_package_for(
        &self,
        client_id: &str,
        suite: CipherSuite,
        group_id: Option<&[u8]>,
    ) -> Result<ClaimedKeyPackage, ApiError> {
        let url = self.url("/v1/key-packages/claim");
        let body = ClaimRequest {
            client_id: client_id.to_owned(),
            cipher_suite: suite.0,
            group_id: group_id.map(hex::encode),
        };
        let response = self.authed(|h| h.post(&url).json(&body)).await?;
        let response = self
            .expect_ok(&format!("a KeyPackage claim for {client_id}"), response)
            .await?;
        let last_resort = response
            .headers()
            .get(wire::LAST_RESORT_HEADER)
            .is_some_and(|v| v.as_bytes() == b"true");
        let bytes = http::body(SERVICE, response, self.limits.max_response).await?;
        let message = MlsMessage::from_bytes(&bytes).map_err(bad_mls)?;
        Ok(ClaimedKeyPackage {
            message,
            last_resort,
        })
    }

    /// Creates a group on the DS (we are its only member).
    pub async fn create_group(&self, group_id: &[u8]) -> Result<(), ApiError> {
        self.create_group_registered(group_id, None, None, None, false)
            .await
    }

    /// Registers a new group with us as its only member.
    ///
    /// - With `group_info` (the encoded GroupInfo `MLSMessage` of its first epoch, with its
    ///   `ratchet_tree` extension) a verified group, whose handshakes the DS checks and whose
    ///   member list it keeps from them.
    /// - With `member_proof`, the member-proof key of its epoch 0
    ///   (draft-mahy-mls-member-proof-00): the DS then accepts into the group's log only
    ///   messages with a valid member proof.
    /// - With `tree_on_ds` (the encoded `RatchetTreeNodes` of epoch 0), a group whose tree
    ///   the DS holds (draft-ietf-mls-ratchet-tree-options-00 §3 `distributionService`): its
    ///   GroupInfo carries that `RatchetTreeOption` instead of the tree, which travels apart.
    ///   Needs `group_info`; the DS refuses it for a group whose handshakes are private
    ///   (`tree_needs_readable_handshakes`).
    /// - With `allow_external_join`, the DS serves the group's GroupInfo (and tree) to any
    ///   authenticated client, for external joins (RFC 9420 §12.4.3.2).
    pub async fn create_group_registered(
        &self,
        group_id: &[u8],
        group_info: Option<&[u8]>,
        tree_on_ds: Option<&[u8]>,
        member_proof: Option<crate::delivery::MemberProofRegistration>,
        allow_external_join: bool,
    ) -> Result<(), ApiError> {
        use base64::Engine as _;
        let url = self.url("/v1/groups");
        let body = CreateGroupRequest {
            group_id: hex::encode(group_id),
            epoch: 0,
            allow_external_join,
            group_info: group_info
                .map(|info| base64::engine::general_purpose::STANDARD.encode(info)),
            ratchet_tree: tree_on_ds
                .map(|tree| base64::engine::general_purpose::STANDARD.encode(tree)),
            member_proof,
            tree_on_ds: tree_on_ds.is_some(),
        };
        let response = self.authed(|h| h.post(&url).json(&body)).await?;
        self.expect_ok("the new group", response).await.map(|_| ())
    }

    /// The group as the DS sees it.
    pub async fn group(&self, group_id: &[u8]) -> Result<GroupView, ApiError> {
        let url = self.url(&format!("/v1/groups/{}", hex::encode(group_id)));
        let response = self.authed(|h| h.get(&url)).await?;
        json_body(
            SERVICE,
            self.expect_ok("the group", response).await?,
            self.limits.max_response,
        )
        .await
    }

    /// Posts a commit bundle; `Err(WrongEpoch)` when another commit won the epoch.
    pub async fn post_commit(
        &self,
        group_id: &[u8],
        bundle: &CommitBundle,
    ) -> Result<Accepted, ApiError> {
        let url = self.url(&format!("/v1/groups/{}/commits", hex::encode(group_id)));
        let body = bundle.to_bytes()?;
        let response = self
            .authed(|h| {
                h.post(&url)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        wire::COMMIT_BUNDLE_MEDIA_TYPE,
                    )
                    .body(body.clone())
            })
            .await?;
        json_body(
            SERVICE,
            self.expect_ok("the commit", response).await?,
            self.limits.max_response,
        )
        .await
    }

    /// Posts an application message or proposal.
    pub async fn post_message(
        &self,
        group_id: &[u8],
        message: &MlsMessage,
    ) -> Result<Accepted, ApiError> {
        let url = self.url(&format!("/v1/groups/{}/messages", hex::encode(group_id)));
        let body = message.to_bytes()?;
        let response = self
            .authed(|h| {
                h.post(&url)
                    .header(reqwest::header::CONTENT_TYPE, wire::MLS_MEDIA_TYPE)
                    .body(body.clone())
            })
            .await?;
        json_body(
            SERVICE,
            self.expect_ok("the message", response).await?,
            self.limits.max_response,
        )
        .await
    }

    /// Posts a targeted message (draft-ietf-mls-targeted-messages) for the member
    /// `recipient` (its client id): the DS shows it to that member (and to us) only.
    pub async fn post_targeted_message(
        &self,
        group_id: &[u8],
        message: &MlsMessage,
        recipient: &str,
    ) -> Result<Accepted, ApiError> {
        let url = self.url(&format!("/v1/groups/{}/messages", hex::encode(group_id)));
        let body = message.to_bytes()?;
        let response = self
            .authed(|h| {
                h.post(&url)
                    .query(&[("to", recipient)])
                    .header(reqwest::header::CONTENT_TYPE, wire::MLS_MEDIA_TYPE)
                    .body(body.clone())
            })
            .await?;
        json_body(
            SERVICE,
            self.expect_ok("the targeted message", response).await?,
            self.limits.max_response,
        )
        .await
    }

    /// Log entries after `after`, at most `limit`. A page larger than
    /// [`HttpLimits::max_response`] is asked for again with half the entries, down to one
    /// (a page of large messages still arrives, one message at a time).
    pub async fn read_log(
        &self,
        group_id: &[u8],
        after: u64,
        limit: u32,
    ) -> Result<Vec<LogEntryView>, ApiError> {
        let mut limit = limit.max(1);
        loop {
            let url = self.url(&format!(
                "/v1/groups/{}/messages?after={after}&limit={limit}",
                hex::encode(group_id)
            ));
            let response = self.authed(|h| h.get(&url)).await?;
            let response = self.expect_ok("the group log", response).await?;
            match json_body::<LogPage>(SERVICE, response, self.limits.max_response).await {
                Ok(page) => return Ok(page.entries),
                Err(ApiError::BadResponse {
                    source: BadResponse::TooLarge { .. },
                    ..
                }) if limit > 1 => limit /= 2,
                Err(e) => return Err(e),
            }
        }
    }

    /// Welcomes after `after`.
    pub async fn welcomes(&self, after: u64) -> Result<Vec<WelcomeView>, ApiError> {
        let url = self.url(&format!("/v1/welcomes?after={after}&limit=100"));
        let response = self.authed(|h| h.get(&url)).await?;
        let page: WelcomePage = json_body(
            SERVICE,
            self.expect_ok("the Welcome inbox", response).await?,
            self.limits.max_response,
        )
        .await?;
        Ok(page.welcomes)
    }

    /// Deletes Welcomes up to `up_to` from the inbox.
    pub async fn ack_welcomes(&self, up_to: u64) -> Result<(), ApiError> {
        let url = self.url(&format!("/v1/welcomes?up_to={up_to}"));
        let response = self.authed(|h| h.delete(&url)).await?;
        self.expect_ok("the Welcome acknowledgement", response)
            .await
            .map(|_| ())
    }

    /// The Delivery Service's `ExternalReceiver` for `suite`: its HPKE public key for
    /// semi-private handshakes and its credential (draft-mahy-mls-semiprivatemessage-07 §3),
    /// for a new group's `external_receivers`. Needs no login.
    pub async fn external_receiver(
        &self,
        suite: CipherSuite,
    ) -> Result<conclave_core::messages::ExternalReceiver, ApiError> {
        let url = self.url(&format!(
            "/v1/ds/external-receiver?cipher_suite={}",
            suite.0
        ));
        let response = self.send(self.http.get(&url)).await?;
        let bytes = self
            .expect_ok("the external receiver", response)
            .await?
            .bytes()
            .await
            .map_err(|e| unreachable(SERVICE, &self.base, &e))?;
        conclave_core::messages::ExternalReceiver::from_bytes(&bytes).map_err(bad_mls)
    }

    /// The latest GroupInfo of a group (members, or anyone if external joins are allowed).
    pub async fn group_info(&self, group_id: &[u8]) -> Result<MlsMessage, ApiError> {
        let url = self.url(&format!("/v1/groups/{}/group-info", hex::encode(group_id)));
        let response = self.authed(|h| h.get(&url)).await?;
        let response = self.expect_ok("the GroupInfo", response).await?;
        let bytes = http::body(SERVICE, response, self.limits.max_response).await?;
        MlsMessage::from_bytes(&bytes).map_err(bad_mls)
    }

    /// What an external joiner needs ([`wire::ExternalJoinBundle`]): the latest GroupInfo
    /// with the pending SelfRemove proposals of its epoch (draft-ietf-mls-extensions-10
    /// §6.5), for members, or anyone if external joins are allowed.
    pub async fn external_join(
        &self,
        group_id: &[u8],
    ) -> Result<wire::ExternalJoinBundle, ApiError> {
        let url = self.url(&format!(
            "/v1/groups/{}/external-join",
            hex::encode(group_id)
        ));
        let response = self.authed(|h| h.get(&url)).await?;
        let response = self.expect_ok("the external-join bundle", response).await?;
        let bytes = http::body(SERVICE, response, self.limits.max_response).await?;
        wire::ExternalJoinBundle::from_bytes(&bytes).map_err(bad_mls)
    }

    /// The latest ratchet tree of a group (RFC 9420 §12.4.3.3): in a group whose tree the DS
    /// holds (draft-ietf-mls-ratchet-tree-options-00 §3 `distributionService`), the one a
    /// joiner joins with. For members — a client added by a commit is one once the DS took
    /// the commit — and anyone if external joins are allowed. Not checked here: the joiner
    /// checks it against the GroupInfo's tree hash (RFC 9420 §12.4.3.1).
    pub async fn ratchet_tree(
        &self,
        group_id: &[u8],
    ) -> Result<conclave_core::messages::RatchetTreeNodes, ApiError> {
        let url = self.url(&format!(
            "/v1/groups/{}/ratchet-tree",
            hex::encode(group_id)
        ));
        let response = self.authed(|h| h.get(&url)).await?;
        let response = self.expect_ok("the ratchet tree", response).await?;
        let bytes = http::body(SERVICE, response, self.limits.max_response).await?;
        conclave_core::messages::RatchetTreeNodes::from_bytes(&bytes).map_err(bad_mls)
    }

    /// Our own MembershipProof in the group's current epoch (draft-ietf-mls-partial-02 §7),
    /// built by the DS from the tree it follows (`GET /v1/groups/{id}/membership-proof`;
    /// members of groups whose handshakes the DS reads). Not checked here: a partial member
    /// checks it against its GroupContext's tree hash before using it.
    pub async fn membership_proof(
        &self,
        group_id: &[u8],
    ) -> Result<conclave_core::partial::MembershipProof, ApiError> {
        let url = self.url(&format!(
            "/v1/groups/{}/membership-proof",
            hex::encode(group_id)
        ));
        let response = self.authed(|h| h.get(&url)).await?;
        let response = self.expect_ok("the membership proof", response).await?;
        let bytes = http::body(SERVICE, response, self.limits.max_response).await?;
        conclave_core::partial::MembershipProof::from_bytes(&bytes).map_err(bad_mls)
    }

    /// Where and how to open the WebSocket of wake-ups: its URL (which never carries the
    /// token: URLs end up in logs) and a fresh bearer token, to send in the upgrade's
    /// `Authorization: Bearer` header.
    pub async fn websocket_target(&self) -> Result<WebSocketTarget, ApiError> {
        let token = self.login().await?;
        let ws_base = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        Ok(WebSocketTarget {
            url: format!("{ws_base}/v1/ws"),
            token,
        })
    }

    /// A raw request for diagnostics (`GET` only).
    pub async fn get_raw(&self, path: &str) -> Result<Vec<u8>, ApiError> {
        let url = self.url(path);
        let response = self.authed(|h| h.request(Method::GET, &url)).await?;
        let response = self.expect_ok(path, response).await?;
        http::body(SERVICE, response, self.limits.max_response).await
    }
}
