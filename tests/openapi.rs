//! Issue #16: the API's contract. `GET /openapi.json` is a valid OpenAPI 3.1 document
//! (checked by openapi-spec-validator, an implementation we did not write) that lists every
//! endpoint the router serves and docs/api.md names; the JSON Schemas in docs/schemas/
//! accept every submission the log accepts and refuse malformed ones (checked by the Python
//! `jsonschema` package); and the example client in docs/examples/, written from the docs
//! alone, gets an event logged.
//!
//! Needs `python3` with the `jsonschema`, `openapi-spec-validator` and `cryptography`
//! packages; `.ci/run` installs them.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::demo::DemoProcess;
use huella_core::entry::Leaf;

fn python(args: &[&str]) -> std::process::Output {
    Command::new("python3")
        .args(args)
        .output()
        .expect("python3 runs (the tests of the contract need it)")
}

/// The (method, path) pairs docs/api.md's endpoint table lists.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string("docs/api.md").unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`').map(|(endpoint, _)| endpoint))
        .filter_map(|endpoint| endpoint.split_once(' '))
        .filter(|(method, _)| ["GET", "POST"].contains(method))
        .map(|(method, path)| {
            let path = path.split('?').next().unwrap();
            (method.to_lowercase(), path.to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_is_valid_and_lists_every_route() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let demo = DemoProcess::start(&dir.path().join("demo"), 5);
    let response = reqwest::get(format!("{}/openapi.json", demo.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, document.to_string()).unwrap();
    let out = python(&["-m", "openapi_spec_validator", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "openapi-spec-validator refuses the document (is it installed? pip install \
         openapi-spec-validator): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The document's operations and docs/api.md's table are the same set.
    let mut described = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            described.insert((method.clone(), path.clone()));
        }
    }
    let listed = documented();
    assert!(listed.len() >= 17, "docs/api.md lists {listed:?}");
    assert_eq!(
        described, listed,
        "the OpenAPI document and docs/api.md's endpoint table differ"
    );
    // The router serves each of them (an unknown path gets the fallback's answer).
    let client = reqwest::Client::new();
    for (method, path) in &described {
        let url = format!("{}{}", demo.base, path.replace("{index}", "0"));
        let request = match method.as_str() {
            "get" => client.get(&url),
            "post" => client
                .post(&url)
                .header("content-type", "application/json")
                .body("{}"),
            other => panic!("unexpected method {other}"),
        };
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("no such endpoint"),
            "{method} {path}: not served ({status})"
        );
    }
    let unknown = reqwest::get(format!("{}/v1/nothing", demo.base))
        .await
        .unwrap();
    assert!(unknown.text().await.unwrap().contains("no such endpoint"));
    // The submission's schema is in it, and the request body of POST /v1/entries refers
    // to it.
    assert_eq!(
        document["paths"]["/v1/entries"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/Submission"
    );
    assert_eq!(
        document["components"]["schemas"]["Submission"]["properties"]["event"]["required"]
            .as_array()
            .unwrap()
            .len(),
        17
    );
}

/// Runs docs/schemas' schemas over `instances` with the Python `jsonschema` package and
/// returns, per instance, whether it validates against the submission schema, and whether
/// its event validates against the event schema.
fn validate(dir: &std::path::Path, instances: &[serde_json::Value]) -> Vec<(bool, bool)> {
    let file = dir.join("instances.json");
    std::fs::write(&file, serde_json::to_vec(instances).unwrap()).unwrap();
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
submission = json.load(open("docs/schemas/submission.schema.json"))
event = json.load(open("docs/schemas/event.schema.json"))
Draft202012Validator.check_schema(submission)
Draft202012Validator.check_schema(event)
s, e = Draft202012Validator(submission), Draft202012Validator(event)
out = [[s.is_valid(i), e.is_valid(i.get("event"))] for i in json.load(open(sys.argv[1]))]
print(json.dumps(out))
"#;
    let out = python(&["-c", script, file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "jsonschema failed (is it installed? pip install jsonschema): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Change breaks a submission in one way.
type Change = Box<dyn Fn(&mut serde_json::Value)>;

#[test]
fn the_json_schemas_accept_what_the_log_accepts_and_refuse_the_malformed() {
    let dir = tempfile::tempdir().unwrap();
    // The submission's event is the event schema, word for word.
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(format!("docs/schemas/{name}")).unwrap())
            .unwrap()
    };
    let mut event = read("event.schema.json");
    event.as_object_mut().unwrap().remove("$schema");
    event.as_object_mut().unwrap().remove("$id");
    assert_eq!(read("submission.schema.json")["properties"]["event"], event);

    let (agencies, _) = common::agencies();
    let good: Vec<serde_json::Value> = (0..40)
        .map(|n| serde_json::to_value(common::sealed(&agencies, n)).unwrap())
        .collect();
    for (n, (submission, event)) in validate(dir.path(), &good).into_iter().enumerate() {
        assert!(
            submission && event,
            "submission {n} is refused by the schemas"
        );
    }
    // Each change breaks a rule the log enforces too.
    let base = good
        .iter()
        .find(|s| s["event"]["outcome"] == "hit")
        .unwrap()
        .clone();
    let changes: Vec<(&str, Change)> = vec![
        (
            "hit with no records",
            Box::new(|s| s["event"]["records_returned"] = 0.into()),
        ),
        (
            "an unknown field",
            Box::new(|s| s["event"]["nationality"] = "CO".into()),
        ),
        (
            "no openings",
            Box::new(|s| {
                s.as_object_mut().unwrap().remove("openings");
            }),
        ),
        (
            "a short signature",
            Box::new(|s| s["signature"] = "AAAA".into()),
        ),
        (
            "non-canonical base64 (unused bits set)",
            Box::new(|s| {
                let c = s["event"]["subject"].as_str().unwrap().to_string();
                s["event"]["subject"] = format!("{}B=", &c[..42]).into();
            }),
        ),
        (
            "a space in request_id",
            Box::new(|s| s["event"]["request_id"] = "A B".into()),
        ),
        (
            "a lower-case country",
            Box::new(|s| s["event"]["holder_country"] = "co".into()),
        ),
        (
            "an offset timestamp",
            Box::new(|s| s["event"]["accessed_at"] = "2026-11-23T19:13:00+00:00".into()),
        ),
        (
            "hour 24",
            Box::new(|s| s["event"]["accessed_at"] = "2026-11-23T24:00:00Z".into()),
        ),
        (
            "an unknown category",
            Box::new(|s| s["event"]["category"] = "dna".into()),
        ),
        (
            "a control in legal_basis",
            Box::new(|s| s["event"]["legal_basis"] = "art.\u{0007} 3".into()),
        ),
        (
            "a negative count",
            Box::new(|s| s["event"]["records_returned"] = (-1).into()),
        ),
        (
            "an opening without salt",
            Box::new(|s| {
                s["openings"]["subject"]
                    .as_object_mut()
                    .unwrap()
                    .remove("salt");
            }),
        ),
    ];
    let bad: Vec<serde_json::Value> = changes
        .iter()
        .map(|(_, change)| {
            let mut s = base.clone();
            change(&mut s);
            s
        })
        .collect();
    for ((why, _), (submission, _)) in changes.iter().zip(validate(dir.path(), &bad)) {
        assert!(!submission, "the submission schema accepts {why}");
        // And the log refuses the same body.
    }
    for ((why, _), body) in changes.iter().zip(&bad) {
        let parsed = huella_core::canonical::parse::<huella_core::event::Submission>(
            &serde_json::to_vec(body).unwrap(),
        );
        let refused = match parsed {
            Err(_) => true,
            Ok(s) => s.event.check().is_err(),
        };
        assert!(refused, "the log's parser accepts {why}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_example_client_gets_an_event_logged() {
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = DemoProcess::start(&data, 3);
    let key = data.join("agencies/US-DHS-CBP.key");
    let submit = || {
        tokio::task::block_in_place(|| {
            python(&[
                "docs/examples/submit.py",
                "--url",
                &demo.base,
                "--key",
                key.to_str().unwrap(),
                "--event",
                "docs/examples/event.json",
                "--request-id",
                "PY-CLIENT-TEST-1",
            ])
        })
    };
    let out = submit();
    assert!(
        out.status.success(),
        "the example client failed (is `cryptography` installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let receipt: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let index = receipt["index"].as_u64().unwrap();
    let leaf = reqwest::get(format!("{}/v1/entries/{index}", demo.base))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let Leaf::Access(entry) = Leaf::parse(&leaf).unwrap() else {
        panic!("entry {index} is not an access");
    };
    assert_eq!(entry.event.request_id.as_str(), "PY-CLIENT-TEST-1");
    assert_eq!(entry.event.requesting_agency.as_str(), "US-DHS-CBP");
    // The same event again, re-signed with fresh salts, is another body under the same
    // request id: refused, exit 1, the log's JSON error on stderr.
    let again = submit();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("conflict"));
}
