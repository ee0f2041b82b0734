//! The file meta of a de-identified file: the instance it names follows the data set, the
//! source's AE titles and private information go, depot's implementation is named.

use dicom_dictionary_std::tags;
use dicom_object::DefaultDicomObject;

use crate::action::{Action, Resolved};
use crate::report::{AppliedAction, Done, Report, with_step};
use crate::uids::clean_uid;
use crate::written::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};

use super::deidentifier::Deidentifier;

impl Deidentifier {
    pub(super) fn clean_meta(
        &self,
        obj: &mut DefaultDicomObject,
        new_sop: Option<&str>,
        report: &mut Report,
    ) {
        let meta_rule = self.profile.lookup(tags::MEDIA_STORAGE_SOP_INSTANCE_UID);
        let current = clean_uid(&obj.meta().media_storage_sop_instance_uid).to_string();
        // The meta must name the same instance as the data set; when the data set has no SOP
        // Instance UID the meta row's own rule applies.
        let wanted = match new_sop {
            Some(s) => s.to_string(),
            None => match meta_rule.map(|r| r.action.resolve()) {
                Some(Resolved::Uid) => self.map_uid(&current),
                _ => current.clone(),
            },
        };
        let mut removed = Vec::new();
        let meta = obj.meta();
        if meta.source_application_entity_title.is_some() {
            removed.push(tags::SOURCE_APPLICATION_ENTITY_TITLE);
        }
        if meta.sending_application_entity_title.is_some() {
            removed.push(tags::SENDING_APPLICATION_ENTITY_TITLE);
        }
        if meta.receiving_application_entity_title.is_some() {
            removed.push(tags::RECEIVING_APPLICATION_ENTITY_TITLE);
        }
        if meta.private_information_creator_uid.is_some() {
            removed.push(tags::PRIVATE_INFORMATION_CREATOR_UID);
        }
        if meta.private_information.is_some() {
            removed.push(tags::PRIVATE_INFORMATION);
        }
        let changed_uid = wanted != current;
        obj.update_meta(|m| {
            m.media_storage_sop_instance_uid = wanted;
            m.source_application_entity_title = None;
            m.sending_application_entity_title = None;
            m.receiving_application_entity_title = None;
            m.private_information_creator_uid = None;
            m.private_information = None;
            m.implementation_class_uid = IMPLEMENTATION_CLASS_UID.to_string();
            m.implementation_version_name = Some(IMPLEMENTATION_VERSION_NAME.to_string());
        });
        if changed_uid {
            report.actions.push(AppliedAction {
                path: with_step(&[], tags::MEDIA_STORAGE_SOP_INSTANCE_UID),
                action: meta_rule.map(|r| r.action),
                done: Done::UidRemapped,
            });
        }
        for tag in removed {
            report.actions.push(AppliedAction {
                path: with_step(&[], tag),
                action: Some(Action::X),
                done: Done::Removed,
            });
        }
    }
}
