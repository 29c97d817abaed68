//! Content media types (draft-ietf-mls-extensions-10 §6.2): when the group context's
//! `app_data_dictionary` has the `content_media_types` component, every `application_data`
//! of the group is an `ApplicationFraming` naming the media type of its content; an empty
//! type means the first type of the group's list.
//!
//! Sending checks the type: one the group requires, or one every member accepts (each
//! member's LeafNode lists the types it accepts). Reading never changes the group:
//! malformed framing is an error and nothing else. Which clients may be added to such a
//! group is negotiation ([`crate::validation::negotiation`]).

use conclave_codec::{Decode, Encode};
use conclave_crypto::CryptoRandom;

use super::AppDataError;
use crate::group::{Group, GroupError};
use crate::messages::{ApplicationFraming, GroupContext, MediaType, MediaTypeList, MlsMessage};
use crate::validation::ValidationError;
use crate::validation::negotiation::{
    DictionaryLocation, check_dictionary, media_type_list, same_media_type,
};

/// Application content read from an `ApplicationFraming` (§6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramedApplicationData {
    /// The content's media type; when the framing left it empty, the first media type of
    /// the group's `content_media_types`.
    pub media_type: MediaType,
    /// Whether the framing named the type (rather than leaving it empty).
    pub explicit_type: bool,
    /// `inner_application_content`.
    pub content: Vec<u8>,
}

/// The `content_media_types` of a group context, if it has them (§6.2).
pub fn context_media_types(context: &GroupContext) -> Result<Option<MediaTypeList>, GroupError> {
    let location = DictionaryLocation::GroupContext;
    let dictionary =
        check_dictionary(&context.extensions, location).map_err(ValidationError::from)?;
    Ok(match dictionary {
        Some(dictionary) => {
            media_type_list(&dictionary, location).map_err(ValidationError::from)?
        }
        None => None,
    })
}

/// Reads `application_data` of a group whose context is `context` as an
/// `ApplicationFraming` (§6.2).
pub fn read_application_framing(
    context: &GroupContext,
    data: &[u8],
) -> Result<FramedApplicationData, GroupError> {
    let list = context_media_types(context)?.ok_or(AppDataError::NotFramed)?;
    let framing = ApplicationFraming::from_bytes(data).map_err(AppDataError::MalformedFraming)?;
    let explicit_type = !framing.media_type.media_type.is_empty();
    let media_type = if explicit_type {
        framing.media_type
    } else {
        list.media_type_list
            .into_iter()
            .next()
            .ok_or(AppDataError::NotFramed)?
    };
    Ok(FramedApplicationData {
        media_type,
        explicit_type,
        content: framing.inner_application_content,
    })
}

/// Checks outgoing `application_data` (§6.2): in a group with `content_media_types` it must
/// be an `ApplicationFraming`.
pub(crate) fn check_outgoing(context: &GroupContext, data: &[u8]) -> Result<(), GroupError> {
    if context_media_types(context)?.is_some() {
        ApplicationFraming::from_bytes(data).map_err(AppDataError::MalformedFraming)?;
    }
    Ok(())
}

impl Group {
    /// The group context's `content_media_types` (§6.2), if any: then every application
    /// message is framed ([`Group::encrypt_framed_application_message`]).
    pub fn content_media_types(&self) -> Result<Option<MediaTypeList>, GroupError> {
        context_media_types(&self.epoch.context)
    }

    /// Frames `content` as `media_type` and encrypts it as an application message (§6.2).
    /// An empty `media_type.media_type` means the group's first media type; any other type
    /// must be in the group's `content_media_types` or accepted by every member.
    pub fn encrypt_framed_application_message(
        &mut self,
        media_type: MediaType,
        content: &[u8],
        authenticated_data: &[u8],
        rng: &mut dyn CryptoRandom,
    ) -> Result<MlsMessage, GroupError> {
        let required = self.content_media_types()?.ok_or(AppDataError::NotFramed)?;
        if !media_type.media_type.is_empty()
            && !required
                .media_type_list
                .iter()
                .any(|r| same_media_type(r, &media_type))
            && !self.every_member_accepts(&media_type)?
        {
            return Err(AppDataError::MediaTypeNotSupported(
                String::from_utf8_lossy(&media_type.media_type).into_owned(),
            )
            .into());
        }
        let framed = ApplicationFraming {
            media_type,
            inner_application_content: content.to_vec(),
        }
        .to_bytes()?;
        self.encrypt_application_message(&framed, authenticated_data, rng)
    }

    /// Reads the `application_data` of an application message of `epoch` (the current one
    /// or a kept past one, as [`crate::group::ProcessedMessage::Application`] reports it) as
    /// an `ApplicationFraming` (§6.2). Changes nothing.
    pub fn read_framed_application_data(
        &self,
        epoch: u64,
        data: &[u8],
    ) -> Result<FramedApplicationData, GroupError> {
        let context = if epoch == self.epoch() {
            &self.epoch.context
        } else {
            self.past_epochs
                .iter()
                .find(|p| p.context.epoch == epoch)
                .map(|p| &p.context)
                .ok_or(GroupError::WrongEpoch {
                    message: epoch,
                    current: self.epoch(),
                })?
        };
        read_application_framing(context, data)
    }

    /// Whether every member's LeafNode lists `media_type` among the types it accepts.
    fn every_member_accepts(&self, media_type: &MediaType) -> Result<bool, GroupError> {
        for (_, leaf) in self.epoch.tree.members() {
            let accepted = check_dictionary(&leaf.extensions, DictionaryLocation::LeafNode)
                .map_err(ValidationError::from)?
                .map(|dictionary| media_type_list(&dictionary, DictionaryLocation::LeafNode))
                .transpose()
                .map_err(ValidationError::from)?
                .flatten();
            let accepts = accepted.is_some_and(|list| {
                list.media_type_list
                    .iter()
                    .any(|a| same_media_type(a, media_type))
            });
            if !accepts {
                return Ok(false);
            }
        }
        Ok(true)
    }
}
