//! `depot send` to DCMTK's storescp: what is sent is what the export wrote; a leak sends nothing.

use super::*;

#[test]
fn storescp_receives_what_send_sends() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    synth_dump(&t, "dump");
    t.depot()
        .args(["--archive", "archive", "import", "dump", "--quiet"])
        .run()
        .ok();
    let stored: BTreeMap<String, Vec<u8>> = query(&t, "archive", "instances")
        .iter()
        .map(|i| {
            let bytes = std::fs::read(i["path"].as_str().unwrap()).unwrap();
            let (_, data) = split_file(&bytes);
            let mut data = data.to_vec();
            if data.len() % 2 == 1 {
                data.push(0);
            }
            (i["sop_uid"].as_str().unwrap().to_string(), data)
        })
        .collect();

    let original = StoreScp::start(&t.join("rx-original"), &["+xa"]);
    let port = original.port.to_string();
    let run = t
        .depot()
        .args([
            "--archive",
            "archive",
            "send",
            "--to",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--aet",
            "STORESCP",
            "--level",
            "original",
            "--timeout",
            "20",
        ])
        .run()
        .ok();
    assert!(
        run.stderr.contains("sent 26 of 26 instances"),
        "{}",
        run.stderr
    );
    drop(original);
    let received = data_sets(&t.join("rx-original"));
    assert_eq!(
        received, stored,
        "storescp received the archived data sets byte for byte"
    );

    // De-identified on the way out, exactly as an export: no original UID or name arrives.
    let deid = StoreScp::start(&t.join("rx-basic"), &["+xa"]);
    let port = deid.port.to_string();
    let run = t
        .depot()
        .args([
            "--archive",
            "archive",
            "send",
            "--to",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--aet", "STORESCP", "--level", "basic", "--timeout", "20"])
        .run()
        .ok();
    assert!(
        run.stderr.contains("sent 24 of 24 instances"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("left out for possible burned-in text"),
        "{}",
        run.stderr
    );
    drop(deid);
    let received = data_sets(&t.join("rx-basic"));
    assert_eq!(received.len(), 24);
    assert!(received.keys().all(|uid| !stored.contains_key(uid)));
    let names: Vec<String> = query(&t, "archive", "subjects")
        .iter()
        .filter_map(|s| {
            s["patient_name"]
                .as_str()
                .map(|n| n.split('^').next().unwrap().to_string())
        })
        .collect();
    for data in received.values() {
        for n in &names {
            assert!(
                !data.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n} was sent"
            );
        }
    }

    // A peer that takes only uncompressed syntaxes refuses the JPEG files: each is named, the
    // rest are sent, exit code 1.
    let plain = StoreScp::start(&t.join("rx-plain"), &[]);
    let port = plain.port.to_string();
    let run = t
        .depot()
        .args([
            "--archive",
            "archive",
            "send",
            "--to",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--aet",
            "STORESCP",
            "--level",
            "original",
            "--timeout",
            "20",
        ])
        .run()
        .expect_code(1);
    assert!(
        run.stderr
            .contains("the peer accepts no presentation context for"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("(4 refused"), "{}", run.stderr);
}

#[test]
fn a_send_whose_audit_finds_a_leak_sends_nothing_and_keeps_no_quarantine_entry() {
    // The export that prepares a send is audited like any export; a blocking finding would
    // send its package to the quarantine. Nothing may leave, and since a package made for a
    // send has no destination to be released to, no quarantine entry stays behind. (No peer
    // is needed: the refusal comes before any association; the port is closed.)
    use crate::export::{edited, import_specs, put_text};
    let t = TestDir::new();
    let spec = synth::fixture::instance("MRN-8801", "2.25.8801", "2.25.8802", "2.25.8803");
    let leak = edited(&spec, |o| {
        put_text(
            o,
            dicom_dictionary_std::tags::SEQUENCE_NAME,
            dicom_core::VR::SH,
            "HALVORSEN 3T",
        )
    });
    import_specs(&t, &t.archive(), "in", "p", &[("a.dcm", leak)]);
    let port = free_port();
    let run = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["send", "--to", &format!("127.0.0.1:{port}")])
        .args(["--aet", "NOBODY", "--level", "basic", "--timeout", "5"])
        .run()
        .expect_code(1);
    assert!(
        run.stderr.contains("nothing was sent")
            && run.stderr.contains("audit (blocking)")
            && run.stderr.contains("PatientName value found"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("HALVORSEN"), "{}", run.stderr);
    let listed = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["review", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(listed, serde_json::json!([]), "no quarantine entry left");
}
