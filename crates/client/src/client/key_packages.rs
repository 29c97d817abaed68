//! KeyPackages (RFC 9420 §10; RFC 9750 §5.1): generated with their private keys stored
//! first, then published, so that a Welcome can never arrive for a package whose keys we
//! lack; the DS is kept stocked with one-time packages, and a last-resort package is
//! published again once it was handed out.

use conclave_api::authentication::certificate_validity;
use conclave_codec::Encode as _;
use conclave_core::group::{KeyPackageBundle, LeafOptions, MemberParams};
use conclave_core::messages::{MlsMessage, MlsMessageBody, ProtocolVersion};
use conclave_crypto::labels;

use super::Client;
use crate::OsRandom;
use crate::driver::commit::Op;
use crate::driver::commit::crypto_suite;
use crate::driver::leaf_options;
use crate::error::ClientError;
use crate::event::Event;
use crate::names::check_name;
use crate::store::StoredKeyPackage;

impl Client {
    /// Generates `count` KeyPackages (RFC 9420 §10), stores their private keys, then
    /// publishes them.
    async fn publish_key_packages(
        &mut self,
        count: u64,
        last_resort: bool,
    ) -> Result<(), ClientError> {
        let suite = self.suite();
        let cs = crypto_suite(self.options.crypto.as_ref(), suite)?;
        let signer = self.driver().signer()?;
        let now = self.now();
        // A KeyPackage is good only while its certificate is: the DS stops serving it then.
        let leaf = LeafOptions {
            lifetime_seconds: certificate_validity(&signer.credential)
                .ok()
                .map(|(_, not_after)| not_after.saturating_sub(now)),
            ..leaf_options(suite, self.env.identity.as_ref(), self.options.self_remove)
        };
        // Our leaf lists the topic component in its app_components
        // (draft-ietf-mls-extensions-10 §5.1).
        let member = MemberParams {
            leaf,
            components: crate::topic::components(),
            ..MemberParams::new(self.env.clone(), signer)
        };
        let mut stored = Vec::new();
        let mut messages = Vec::new();
        // A last-resort package carries its marker (draft-ietf-mls-extensions-10 §6.4): the DS
        // and the members adding us read it from the package.
        let generate = if last_resort {
            KeyPackageBundle::generate_last_resort
        } else {
            KeyPackageBundle::generate
        };
        for _ in 0..count {
            let bundle = generate(&member, suite, now, &mut OsRandom)?;
            let encoded = bundle.key_package.to_bytes()?;
            let kp_ref = labels::make_key_package_ref(cs.as_ref(), &encoded)?;
            stored.push(StoredKeyPackage {
                kp_ref,
                cipher_suite: suite.0,
                key_package: encoded,
                init_private: bundle.init_private_key.clone(),
                encryption_private: bundle.encryption_private_key.clone(),
                last_resort,
            });
            messages.push(MlsMessage {
                version: ProtocolVersion::MLS10,
                body: MlsMessageBody::KeyPackage(bundle.key_package),
            });
        }
        // Private keys first: a Welcome may arrive as soon as the DS has the package.
        self.store.put_key_packages(&stored)?;
        self.ds.publish_key_packages(&messages).await?;
        self.emit(&Event::KeyPackagesPublished { count, last_resort });
        Ok(())
    }

    /// An invitation for the group whose id is `group_id` (hex): a KeyPackage bound to that
    /// group with `kp_context` (draft-mahy-mls-kp-context-00), as a `conclave-invite:` link
    /// to hand to a member out of band. Its private keys are stored; the DS gets it for
    /// Welcome routing, and hands it only to a claim naming that group. A member adds us
    /// with it ([`Client::add_invited`]), and any other group refuses it (the adder, every
    /// member, and our own join).
    pub async fn invitation(&mut self, group_id: &str) -> Result<String, ClientError> {
        let group_id = hex::decode(group_id.trim())
            .map_err(|_| ClientError::InvalidInvitation("the group id is not hex".into()))?;
        let suite = self.suite();
        let cs = crypto_suite(self.options.crypto.as_ref(), suite)?;
        let signer = self.driver().signer()?;
        let now = self.now();
        let context =
            conclave_core::kp_context::ContextPair::group(&group_id).to_key_package_extension()?;
        let leaf = LeafOptions {
            lifetime_seconds: certificate_validity(&signer.credential)
                .ok()
                .map(|(_, not_after)| not_after.saturating_sub(now)),
            key_package_extensions: vec![context],
            ..leaf_options(suite, self.env.identity.as_ref(), self.options.self_remove)
        };
        let member = MemberParams {
            leaf,
            components: crate::topic::components(),
            ..MemberParams::new(self.env.clone(), signer)
        };
        let bundle = KeyPackageBundle::generate(&member, suite, now, &mut OsRandom)?;
        let encoded = bundle.key_package.to_bytes()?;
        let kp_ref = labels::make_key_package_ref(cs.as_ref(), &encoded)?;
        self.store.put_key_packages(&[StoredKeyPackage {
            kp_ref,
            cipher_suite: suite.0,
            key_package: encoded,
            init_private: bundle.init_private_key.clone(),
            encryption_private: bundle.encryption_private_key.clone(),
            last_resort: false,
        }])?;
        let message = MlsMessage {
            version: ProtocolVersion::MLS10,
            body: MlsMessageBody::KeyPackage(bundle.key_package),
        };
        // The DS keeps it by reference only (it never serves a bound package to a claim),
        // so that the group's Welcome reaches us.
        self.ds
            .publish_key_packages(std::slice::from_ref(&message))
            .await?;
        Ok(format!(
            "{INVITATION_PREFIX}{}:{}",
            self.profile.name,
            hex::encode(message.to_bytes()?)
        ))
    }

    /// Adds the user of an invitation link ([`Client::invitation`]) to `group` with the
    /// KeyPackage it carries, checked as a claimed one is (suite, `mls://<user>`, a valid
    /// credential), and refused unless its `kp_context` names this group. Returns the user.
    pub async fn add_invited(&mut self, group: &str, link: &str) -> Result<String, ClientError> {
        let _lock = self.lock()?;
        self.refuse_if_partial("add members")?;
        let (user, key_package) = parse_invitation(link)?;
        check_name(&user)?;
        let row = self.require_active(group)?;
        self.refresh_revocations().await?;
        self.driver()
            .run_commit(
                &row.group_id,
                &Op::AddInvited {
                    user: user.clone(),
                    key_package: Box::new(key_package),
                },
            )
            .await?;
        Ok(user)
    }

    /// Keeps the DS stocked: publishes one-time KeyPackages when fewer than the threshold
    /// are left, and a new last-resort package when there is none or it was handed out
    /// (RFC 9750 §5.1: rotate a used last-resort package).
    pub async fn top_up_key_packages(&mut self) -> Result<(), ClientError> {
        let _lock = self.lock()?;
        self.top_up_inner().await
    }

    pub(super) async fn top_up_inner(&mut self) -> Result<(), ClientError> {
        let stock = self.ds.key_package_stock().await?;
        let mine = stock
            .iter()
            .find(|s| s.cipher_suite == self.profile.cipher_suite);
        let available = mine.map_or(0, |s| s.one_time_available);
        if available < self.options.key_package_threshold {
            let count = self.options.key_packages.saturating_sub(available).max(1);
            self.publish_key_packages(count, false).await?;
        }
        if mine.is_none_or(|s| !s.has_last_resort || s.last_resort_claimed) {
            self.publish_key_packages(1, true).await?;
        }
        Ok(())
    }
}

/// The scheme of an invitation link: `conclave-invite:<user>:<hex of the KeyPackage
/// MLSMessage>`.
pub(crate) const INVITATION_PREFIX: &str = "conclave-invite:";

/// The user and KeyPackage of an invitation link.
fn parse_invitation(
    link: &str,
) -> Result<(String, conclave_core::messages::KeyPackage), ClientError> {
    use conclave_codec::Decode as _;
    let bad = |why: &str| ClientError::InvalidInvitation(why.to_owned());
    let rest = link
        .trim()
        .strip_prefix(INVITATION_PREFIX)
        .ok_or_else(|| bad("it does not start with conclave-invite:"))?;
    let (user, hex_kp) = rest
        .split_once(':')
        .ok_or_else(|| bad("it names no user"))?;
    let bytes = hex::decode(hex_kp).map_err(|_| bad("the KeyPackage is not hex"))?;
    let message = MlsMessage::from_bytes(&bytes).map_err(|_| bad("not an MLS KeyPackage"))?;
    let key_package = message
        .into_key_package()
        .ok_or_else(|| bad("not an MLS KeyPackage"))?;
    Ok((user.to_owned(), key_package))
}
