//! Enrolment and credential life cycle (RFC 9750 §4 Authentication Service; RFC 9420 §5.3
//! credentials): registering a new client (a signature key pair, an AS certificate obtained
//! with a one-time token and proof of possession, DS registration, first KeyPackages),
//! renewing the certificate before it expires (RFC 9420 §7.3: an UpdatePath leaf carries the
//! successor credential), and keeping the AS's revocation list (RFC 9420 §5.3.2).

use std::path::Path;

use conclave_api::authentication::{EnrolmentRequest, RenewalRequest, certificate_validity};
use conclave_api::{AsClient, DsClient};
use conclave_codec::{Decode as _, Encode as _};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuite, Secret};

use super::{Client, ClientOptions, CredentialKind, SyncReport, VC_JWKS, build_env};
use crate::OsRandom;
use crate::driver::commit::{Op, crypto_suite};
use crate::error::ClientError;
use crate::event::Event;
use crate::names::check_name;
use crate::store::{GroupStatus, Profile, Store};

/// The store's metadata key of a renewed certificate the DS has not taken yet.
const PENDING_CREDENTIAL: &str = "pending_credential";

/// A client identity obtained outside this library's enrolment (another AS, an enterprise
/// CA), for [`Client::register_enrolled`].
#[derive(Debug, Clone)]
pub struct EnrolledIdentity {
    /// The client name (the DS client id; the credential should present `mls://<name>`).
    pub name: String,
    /// The cipher suite of the signature key.
    pub suite: CipherSuite,
    /// The signature private key.
    pub signature_secret: Secret,
    /// The signature public key.
    pub signature_public: Vec<u8>,
    /// The credential (RFC 9420 §5.3) binding the name to the key.
    pub credential: Credential,
    /// The trust anchor this client validates other members' credentials against.
    pub root_certificate: Vec<u8>,
}

impl Client {
    /// Registers a new client named `name` in `home`: fetches the AS root, makes a signature
    /// key pair, enrols with the one-time `token` (proof of possession, RFC 9750 §4) for the
    /// kind of credential [`ClientOptions::credential`] names, registers with the DS and
    /// publishes KeyPackages.
    pub async fn register(
        home: &Path,
        ds_url: &str,
        as_url: &str,
        name: &str,
        token: &str,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        check_name(name)?;
        {
            let store = Store::open(home)?;
            if let Some(p) = store.profile()? {
                return Err(ClientError::AlreadyRegistered(p.name));
            }
        }
        let as_api = AsClient::with_limits(as_url, options.http)?;
        let root = as_api.root().await?;
        let suite = root.cipher_suite;
        let cs = crypto_suite(options.crypto.as_ref(), suite)?;
        let (secret, public) = cs.signature_generate(&mut OsRandom)?;
        let request = EnrolmentRequest::sign(
            cs.as_ref(),
            name,
            SignaturePublicKey(public.clone()),
            &secret,
            token.as_bytes().to_vec(),
        )?;
        let credential = match options.credential {
            CredentialKind::Certificate => as_api.enrol(&request).await?,
            CredentialKind::UserInfoVc => as_api.enrol_userinfo_vc(&request).await?,
        };
        Self::register_enrolled(
            home,
            ds_url,
            as_url,
            EnrolledIdentity {
                name: name.to_owned(),
                suite,
                signature_secret: secret,
                signature_public: public,
                credential,
                root_certificate: root.root_certificate,
            },
            options,
        )
        .await
    }

    /// Registers a client whose credential was obtained elsewhere (another AS, an
    /// enterprise CA): registers with the DS, stores the profile and publishes KeyPackages.
    /// The identity's `root_certificate` becomes this client's trust anchor, and the AS's
    /// UserInfo VC issuer key set, if it has one, the trusted VC issuer.
    pub async fn register_enrolled(
        home: &Path,
        ds_url: &str,
        as_url: &str,
        identity: EnrolledIdentity,
        options: ClientOptions,
    ) -> Result<Self, ClientError> {
        let EnrolledIdentity {
            name,
            suite,
            signature_secret,
            signature_public,
            credential,
            root_certificate,
        } = identity;
        let name = name.as_str();
        check_name(name)?;
        let store = Store::open(home)?;
        if let Some(p) = store.profile()? {
            return Err(ClientError::AlreadyRegistered(p.name));
        }
        let profile = Profile {
            name: name.to_owned(),
            cipher_suite: suite.0,
            signature_secret,
            signature_public,
            credential: credential.to_bytes()?,
            root_certificate,
            ds_url: ds_url.trim_end_matches('/').to_owned(),
            as_url: as_url.trim_end_matches('/').to_owned(),
        };
        let ds = DsClient::with_limits(
            &profile.ds_url,
            name,
            crypto_suite(options.crypto.as_ref(), suite)?,
            profile.signature_secret.clone(),
            options.http,
        )?;
        let vc_jwks =
            vc_issuer_keys(&AsClient::with_limits(&profile.as_url, options.http)?).await?;
        if options.partial {
            // draft-ietf-mls-partial-02: the DS annotates Welcomes, commits and messages for us.
            ds.register_partial(&profile.signature_public, &profile.credential)
                .await?;
            store.set_meta(super::partial::PARTIAL_META, &[1])?;
        } else {
            ds.register(&profile.signature_public, &profile.credential)
                .await?;
        }
        store.save_profile(&profile)?;
        if let Some(jwks) = &vc_jwks {
            store.set_meta(VC_JWKS, jwks)?;
        }
        let mut client = Self::from_parts(store, profile, None, None, options)?;
        client.top_up_key_packages().await?;
        Ok(client)
    }

    /// Renews our certificate once less than half of its validity (or
    /// [`ClientOptions::renewal_margin`]) is left: the AS issues a
    /// new one for the same key (proof by that key), the DS is told, and every active group
    /// gets a commit whose UpdatePath leaf carries it (RFC 9420 §7.3: the others check it is
    /// a valid successor). Without this a member idle past its certificate's expiry would
    /// block every join, since a joiner validates every leaf (RFC 9420 §12.4.3.1).
    /// Credentials that are not this AS's X.509 certificates are left alone.
    pub(super) async fn renew_credential_if_due(
        &mut self,
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        self.renew(report, false).await
    }

    /// Renews our certificate now, however long it is still valid (as
    /// [`Client::sync`] does once it is due). Returns the warnings of groups that could
    /// not take the new certificate; an error if the AS or the DS refused it or could not be
    /// reached (a certificate the AS issued but the DS did not take is kept, and the next
    /// renewal resumes with it).
    pub async fn renew_credential(&mut self) -> Result<Vec<String>, ClientError> {
        let _lock = self.lock()?;
        self.refuse_if_partial("renew the credential (it commits a new leaf)")?;
        let mut report = SyncReport::default();
        self.renew(&mut report, true).await?;
        Ok(report.warnings)
    }

    /// A certificate the AS issued to us that the DS has not taken yet (it failed or could
    /// not be reached after the AS renewed): another certificate than the current one, valid
    /// at least as long, and still valid at `now`.
    /// The AS renews only from its latest certificate, so without it the client could never
    /// renew again.
    fn pending_renewal(
        &self,
        current_not_after: u64,
        now: u64,
    ) -> Result<Option<(Credential, Vec<u8>)>, ClientError> {
        let Some(encoded) = self.store.meta(PENDING_CREDENTIAL)? else {
            return Ok(None);
        };
        let Ok(pending) = Credential::from_bytes(&encoded) else {
            return Ok(None);
        };
        if encoded == self.profile.credential {
            return Ok(None);
        }
        // Issued after the current one, so valid at least as long (same second: equal).
        Ok(match certificate_validity(&pending) {
            Ok((_, until)) if until >= current_not_after && now < until => Some((pending, encoded)),
            _ => None,
        })
    }

    async fn renew(&mut self, report: &mut SyncReport, force: bool) -> Result<(), ClientError> {
        let current = Credential::from_bytes(&self.profile.credential)?;
        let Ok((not_before, not_after)) = certificate_validity(&current) else {
            if force {
                let kind = match current {
                    Credential::UserInfoVc(_) => "UserInfo VC".to_owned(),
                    other => format!("{:?}", other.credential_type()),
                };
                return Err(ClientError::NotRenewable(kind));
            }
            return Ok(());
        };
        let now = self.now();
        let margin = self
            .options
            .renewal_margin
            .unwrap_or(not_after.saturating_sub(not_before) / 2);
        if !force && now.saturating_add(margin) < not_after {
            return Ok(());
        }
        let (renewed, encoded) = match self.pending_renewal(not_after, now)? {
            Some(pending) => pending,
            None => {
                let cs = crypto_suite(self.options.crypto.as_ref(), self.suite())?;
                let request = RenewalRequest::sign(
                    cs.as_ref(),
                    current,
                    &SignaturePublicKey(self.profile.signature_public.clone()),
                    &self.profile.signature_secret,
                    None,
                    now,
                )?;
                let renewed = self.as_api.renew(&request).await?;
                let encoded = renewed.to_bytes()?;
                // Kept before the DS hears of it: the AS now renews only from this one.
                self.store.set_meta(PENDING_CREDENTIAL, &encoded)?;
                (renewed, encoded)
            }
        };
        self.ds
            .change_credential(&self.profile.signature_public, &encoded)
            .await?;
        self.profile.credential = encoded;
        self.store.save_profile(&self.profile)?;
        self.store.delete_meta(PENDING_CREDENTIAL)?;
        let valid_until = certificate_validity(&renewed)
            .map(|(_, until)| until)
            .unwrap_or(not_after);
        let mut groups = 0;
        for row in self.store.groups()? {
            if row.status != GroupStatus::Active {
                continue;
            }
            let mut driver = self.driver();
            let mut group = driver.load(&row)?;
            let result = match group.set_credential(renewed.clone(), now) {
                Ok(()) => match driver.save(&row.group_id, &mut group) {
                    Ok(()) => driver
                        .run_commit(&row.group_id, &Op::Update)
                        .await
                        .map(|_| ()),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e.into()),
            };
            match result {
                Ok(()) => groups += 1,
                Err(e) => report.warnings.push(format!(
                    "group {:?}: could not commit the renewed certificate: {e}",
                    row.name
                )),
            }
        }
        self.emit(&Event::CredentialRenewed {
            valid_until,
            groups,
        });
        Ok(())
    }

    /// Fetches the AS's revocation list (RFC 9420 §5.3.2) and keeps a copy for offline use;
    /// also the AS's UserInfo VC issuer key set, so that a rotated issuer key is picked up.
    pub async fn refresh_revocations(&mut self) -> Result<(), ClientError> {
        self.as_api.refresh_revocation_list(&self.revoked).await?;
        let list: Vec<String> = self
            .revoked
            .read()
            .map(|set| {
                set.iter()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let json = serde_json::to_vec(&list)
            .map_err(|e| ClientError::CorruptState(format!("revocation list: {e}")))?;
        self.store.set_meta("revoked", &json)?;
        if let Some(jwks) = vc_issuer_keys(&self.as_api).await?
            && self.store.meta(VC_JWKS)?.as_deref() != Some(jwks.as_slice())
        {
            self.env = build_env(
                &self.profile,
                Some(&jwks),
                &self.revoked,
                &self.options.crypto,
            )?;
            self.store.set_meta(VC_JWKS, &jwks)?;
        }
        Ok(())
    }
}

/// The AS's UserInfo VC issuer key set (`GET /v1/as/vc/jwks`), or `None` for an AS that
/// issues no VCs (it answers 404).
async fn vc_issuer_keys(as_api: &AsClient) -> Result<Option<Vec<u8>>, ClientError> {
    match as_api.vc_jwks().await {
        Ok((_, jwks)) => Ok(Some(jwks)),
        Err(conclave_api::ApiError::Refused { status: 404, .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
