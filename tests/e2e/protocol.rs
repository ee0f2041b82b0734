//! End-to-end tests of `depot serve` against what no well-behaved program sends, driven by hand
//! through dicom-ul's PDU codec: bad data sets, conflicts, unknown SOP classes, truncated PDUs,
//! peers that vanish or abort mid-transfer, and instances too big to hold in memory.

use std::io::Write;
use std::net::TcpStream;
use std::path::PathBuf;

use dicom_ul::Pdu;
use dicom_ul::pdu::{
    AssociationRQ, PDataValueType, PresentationContextProposed, PresentationContextResultReason,
    UserVariableItem,
};
use net::dimse::{self, Command as Dimse};
use net::pdu::{self, PduReader};

use crate::network::{DEADLINE, EXPLICIT_LE, MR, Serve, query, split_file};
use crate::support::*;

/// A hand-driven association, for what no well-behaved program sends.
struct Raw {
    stream: TcpStream,
    reader: PduReader,
}

impl Raw {
    /// Proposes `contexts` (id, abstract syntax) in Explicit VR Little Endian.
    fn associate(
        addr: &str,
        contexts: &[(u8, &str)],
    ) -> (Raw, Vec<(u8, PresentationContextResultReason)>) {
        let with_ts: Vec<(u8, &str, &str)> = contexts
            .iter()
            .map(|(id, a)| (*id, *a, EXPLICIT_LE))
            .collect();
        Raw::associate_in(addr, &with_ts)
    }

    /// Proposes `contexts` (id, abstract syntax, transfer syntax).
    fn associate_in(
        addr: &str,
        contexts: &[(u8, &str, &str)],
    ) -> (Raw, Vec<(u8, PresentationContextResultReason)>) {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let rq = AssociationRQ {
            protocol_version: 1,
            calling_ae_title: "RAW".into(),
            called_ae_title: "DEPOT".into(),
            application_context_name: "1.2.840.10008.3.1.1.1".into(),
            presentation_contexts: contexts
                .iter()
                .map(|(id, a, ts)| PresentationContextProposed {
                    id: *id,
                    abstract_syntax: (*a).into(),
                    transfer_syntaxes: vec![(*ts).into()],
                })
                .collect(),
            user_variables: vec![UserVariableItem::MaxLength(16384)],
        };
        pdu::write(&mut stream, &Pdu::AssociationRQ(rq)).unwrap();
        let mut reader = PduReader::new(1 << 20);
        match reader.read(&mut stream).unwrap() {
            Pdu::AssociationAC(ac) => {
                let results = ac
                    .presentation_contexts
                    .into_iter()
                    .map(|r| (r.id, r.reason))
                    .collect();
                (Raw { stream, reader }, results)
            }
            other => panic!("association not accepted: {other:?}"),
        }
    }

    fn send_command(&mut self, context: u8, command: &Dimse) {
        pdu::send_pdata(
            &mut self.stream,
            context,
            PDataValueType::Command,
            &command.encode(),
            16384,
        )
        .unwrap();
    }

    /// Sends a C-STORE and returns the response.
    fn store(&mut self, context: u8, sop: &str, data: &[u8]) -> Dimse {
        self.send_command(context, &Dimse::store_rq(1, MR, sop));
        pdu::send_pdata(&mut self.stream, context, PDataValueType::Data, data, 16384).unwrap();
        match self.reader.read(&mut self.stream).unwrap() {
            Pdu::PData { data } => Dimse::parse(&data[0].data).unwrap(),
            other => panic!("no response: {other:?}"),
        }
    }
}

/// The data set of a synth MR instance (its file without the meta group).
fn mr_data_set(patient: &str, sop: &str) -> Vec<u8> {
    let bytes = synth::fixture::instance(patient, "1.2.3", "1.2.3.4", sop)
        .to_bytes()
        .unwrap();
    split_file(&bytes).1.to_vec()
}

/// No instance, conflict, spool or other temporary file of the archive holds data.
fn assert_nothing_half_written(t: &TestDir) {
    for area in ["store", "conflicts"] {
        assert!(
            files_below(&t.join("archive").join(area)).is_empty(),
            "{area} is not empty"
        );
    }
    let leftovers: Vec<PathBuf> = files_below(&t.join("archive/tmp"))
        .into_iter()
        .filter(|p| p.extension().is_none_or(|e| e != "lock"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn bad_instances_get_failure_statuses_and_are_recorded() {
    let t = TestDir::new();
    let serve = Serve::start(&t, &[]);
    let (mut raw, results) = Raw::associate(&serve.addr(), &[(1, MR)]);
    assert_eq!(results, [(1, PresentationContextResultReason::Acceptance)]);
    let good = mr_data_set("P1", "1.2.3.4.5");
    assert_eq!(
        raw.store(1, "1.2.3.4.5", &good).status,
        Some(dimse::status::SUCCESS)
    );
    assert_eq!(
        raw.store(1, "1.2.3.4.5", &good).status,
        Some(dimse::status::SUCCESS),
        "a duplicate is a success"
    );
    // The same SOP Instance UID with other content: kept apart, failure 0111H.
    let other = mr_data_set("P2", "1.2.3.4.5");
    let rsp = raw.store(1, "1.2.3.4.5", &other);
    assert_eq!(rsp.status, Some(dimse::status::DUPLICATE_SOP_INSTANCE));
    assert!(rsp.error_comment.unwrap().starts_with("conflict"));
    // Not a data set at all.
    let rsp = raw.store(1, "1.2.3.4.6", &[0x55; 64]);
    assert_eq!(rsp.status, Some(dimse::status::CANNOT_UNDERSTAND));
    assert!(!rsp.error_comment.unwrap_or_default().is_empty());
    // A data set that is not the instance the request names.
    let rsp = raw.store(1, "1.2.3.4.7", &mr_data_set("P1", "1.2.3.4.8"));
    assert_eq!(rsp.status, Some(dimse::status::CANNOT_UNDERSTAND));
    pdu::write(&mut raw.stream, &Pdu::ReleaseRQ).unwrap();
    assert!(matches!(
        raw.reader.read(&mut raw.stream).unwrap(),
        Pdu::ReleaseRP
    ));
    let (code, log) = serve.stop();
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("5 instances (1 stored, 1 duplicates, 3 failed)"),
        "{log}"
    );
    assert_eq!(query(&t, "archive", "instances").len(), 1);
    let rejects = query(&t, "archive", "rejects");
    assert_eq!(rejects.len(), 3, "{rejects:?}");
    assert!(
        rejects
            .iter()
            .all(|r| r["path"].as_str().unwrap().starts_with("RAW @ 127.0.0.1:")),
        "{rejects:?}"
    );
}

#[test]
fn unknown_sop_classes_are_refused_and_the_server_keeps_serving() {
    let t = TestDir::new();
    let serve = Serve::start(&t, &[]);
    let (mut raw, results) = Raw::associate(
        &serve.addr(),
        &[
            (1, "1.2.3.4.5.6.7"),
            (3, MR),
            (5, "1.2.840.10008.5.1.4.1.2.2.1"),
        ],
    );
    assert_eq!(
        results,
        [
            (
                1,
                PresentationContextResultReason::AbstractSyntaxNotSupported
            ),
            (3, PresentationContextResultReason::Acceptance),
            (
                5,
                PresentationContextResultReason::AbstractSyntaxNotSupported
            ),
        ]
    );
    let data = mr_data_set("P1", "1.2.3.9");
    assert_eq!(
        raw.store(3, "1.2.3.9", &data).status,
        Some(dimse::status::SUCCESS)
    );
    // Data on the refused context: the association is aborted.
    raw.send_command(1, &Dimse::store_rq(2, "1.2.3.4.5.6.7", "1.2.3.10"));
    assert!(matches!(
        raw.reader.read(&mut raw.stream),
        Ok(Pdu::AbortRQ { .. })
    ));
    // The server still serves.
    let (mut again, _) = Raw::associate(&serve.addr(), &[(1, MR)]);
    let data = mr_data_set("P1", "1.2.3.11");
    assert_eq!(
        again.store(1, "1.2.3.11", &data).status,
        Some(dimse::status::SUCCESS)
    );
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("aborted: data on presentation context 1"),
        "{log}"
    );
    assert_eq!(query(&t, "archive", "instances").len(), 2);
}

#[test]
fn truncated_pdata_and_vanished_peers_leave_nothing_behind() {
    let t = TestDir::new();
    let mut serve = Serve::start(&t, &[]);
    // A P-DATA PDU cut short, then the connection closes.
    let (mut raw, _) = Raw::associate(&serve.addr(), &[(1, MR)]);
    raw.send_command(1, &Dimse::store_rq(1, MR, "1.2.3.20"));
    let data = mr_data_set("P1", "1.2.3.20");
    let mut wire = Vec::new();
    pdu::send_pdata(&mut wire, 1, PDataValueType::Data, &data, 1 << 20).unwrap();
    raw.stream.write_all(&wire[..wire.len() / 2]).unwrap();
    drop(raw);
    serve.wait_for("connection lost: the connection ended inside a PDU");

    // A peer that vanishes after 9 MB of a large instance (spooled to disk by then).
    let (mut raw, _) = Raw::associate(&serve.addr(), &[(1, MR)]);
    raw.send_command(1, &Dimse::store_rq(1, MR, "1.2.3.21"));
    let chunk = vec![0u8; 16000];
    for _ in 0..600 {
        let mut pdu = Vec::new();
        pdu::send_pdata(&mut pdu, 1, PDataValueType::Data, &chunk, 1 << 20).unwrap();
        // Not the last fragment: clear the "last" bit of the message control header.
        pdu[11] &= !0b10;
        raw.stream.write_all(&pdu).unwrap();
    }
    drop(raw);
    serve.wait_for("connection lost: the peer closed the connection");
    assert_nothing_half_written(&t);

    // An abort in the middle of a data set.
    let (mut raw, _) = Raw::associate(&serve.addr(), &[(1, MR)]);
    raw.send_command(1, &Dimse::store_rq(1, MR, "1.2.3.22"));
    let mut pdu = Vec::new();
    pdu::send_pdata(&mut pdu, 1, PDataValueType::Data, &data[..100], 1 << 20).unwrap();
    pdu[11] &= !0b10;
    raw.stream.write_all(&pdu).unwrap();
    pdu::write(
        &mut raw.stream,
        &Pdu::AbortRQ {
            source: dicom_ul::pdu::AbortRQSource::ServiceUser,
        },
    )
    .unwrap();
    serve.wait_for("aborted by the peer");
    assert_nothing_half_written(&t);

    // Still serving, and a complete instance is filed.
    let (mut raw, _) = Raw::associate(&serve.addr(), &[(1, MR)]);
    assert_eq!(
        raw.store(1, "1.2.3.20", &data).status,
        Some(dimse::status::SUCCESS)
    );
    drop(raw);
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(query(&t, "archive", "instances").len(), 1);
    assert!(query(&t, "archive", "rejects").is_empty());
}

#[test]
fn instances_above_the_memory_limit_are_spooled_and_filed_byte_for_byte() {
    let t = TestDir::new();
    let serve = Serve::start(&t, &[]);
    let spec = synth::fixture::InstanceSpec {
        rows: 2048,
        columns: 2048,
        ..synth::fixture::instance("P9", "1.2.9", "1.2.9.1", "1.2.9.1.1")
    };
    let file = spec.to_bytes().unwrap();
    let data = split_file(&file).1.to_vec();
    assert!(data.len() as u64 > archive::import::IN_MEMORY_LIMIT);
    let (mut raw, _) = Raw::associate(&serve.addr(), &[(1, MR)]);
    assert_eq!(
        raw.store(1, "1.2.9.1.1", &data).status,
        Some(dimse::status::SUCCESS)
    );
    drop(raw);
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    let instances = query(&t, "archive", "instances");
    assert_eq!(instances.len(), 1);
    let stored = std::fs::read(instances[0]["path"].as_str().unwrap()).unwrap();
    assert!(split_file(&stored).1 == data.as_slice());
    assert!(
        files_below(&t.join("archive/tmp")).is_empty(),
        "the spool is gone"
    );
}

#[test]
fn a_project_never_mixes_originals_and_deidentified_data() {
    let t = TestDir::new();
    let file = synth::fixture::instance("P1", "1.2.3", "1.2.3.1", "1.2.3.1.1")
        .to_bytes()
        .unwrap();
    std::fs::write(t.join("one.dcm"), file).unwrap();
    t.depot()
        .args(["--archive", "archive", "import", "one.dcm", "--quiet"])
        .run()
        .ok();
    let run = t
        .depot()
        .args([
            "--archive",
            "archive",
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
        ])
        .args(["--level", "basic"])
        .run()
        .expect_code(2);
    assert!(
        run.stderr
            .contains("project \"default\" holds original data (run 1)"),
        "{}",
        run.stderr
    );
    // Another project is fine.
    let serve = Serve::start(&t, &["--level", "basic", "--project", "teaching"]);
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
}

#[test]
fn every_accepted_transfer_syntax_is_stored_as_received() {
    use synth::fixture::{InstanceSpec, Syntax};
    let t = TestDir::new();
    let serve = Serve::start(&t, &[]);
    let syntaxes: Vec<&str> = net::syntax::TRANSFER_SYNTAXES
        .iter()
        .map(|(uid, _)| *uid)
        .collect();
    let contexts: Vec<(u8, &str, &str)> = syntaxes
        .iter()
        .enumerate()
        .map(|(i, ts)| (u8::try_from(2 * i + 1).unwrap(), MR, *ts))
        .collect();
    let (mut raw, results) = Raw::associate_in(&serve.addr(), &contexts);
    assert!(
        results
            .iter()
            .all(|(_, r)| *r == PresentationContextResultReason::Acceptance),
        "{results:?}"
    );
    let mut sent = std::collections::BTreeMap::new();
    for (i, (id, _, ts)) in contexts.iter().enumerate() {
        // Encapsulated syntaxes share one encoding (explicit VR little endian, pixel data in
        // fragments that are never decoded): the JPEG fixture stands for all of them.
        let syntax = match *ts {
            "1.2.840.10008.1.2.1" => Syntax::ExplicitLittle,
            "1.2.840.10008.1.2" => Syntax::ImplicitLittle,
            "1.2.840.10008.1.2.2" => Syntax::ExplicitBig,
            "1.2.840.10008.1.2.1.99" => Syntax::DeflatedExplicitLittle,
            _ => Syntax::EncapsulatedJpegBaseline,
        };
        let sop = format!("1.2.7.1.{i}");
        let file = InstanceSpec {
            syntax,
            ..synth::fixture::instance("P7", "1.2.7", "1.2.7.1", &sop)
        }
        .to_bytes()
        .unwrap();
        let mut data = split_file(&file).1.to_vec();
        if data.len() % 2 == 1 {
            data.push(0);
        }
        let rsp = raw.store(*id, &sop, &data);
        assert_eq!(rsp.status, Some(dimse::status::SUCCESS), "{ts}: {rsp:?}");
        sent.insert(sop, (ts.to_string(), data));
    }
    drop(raw);
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    let instances = query(&t, "archive", "instances");
    assert_eq!(instances.len(), syntaxes.len());
    for i in instances {
        let (ts, data) = &sent[i["sop_uid"].as_str().unwrap()];
        assert_eq!(i["transfer_syntax"].as_str(), Some(ts.as_str()));
        let stored = std::fs::read(i["path"].as_str().unwrap()).unwrap();
        assert!(split_file(&stored).1 == data.as_slice(), "{ts}");
    }
}
