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

/// The names of the query and path parameters the document gives `method path`.
fn parameters(document: &serde_json::Value, method: &str, path: &str) -> BTreeSet<String> {
    document["paths"][path][method]["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .map(|p| p["name"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The values an enumerated parameter's schema allows (items' values, for a list).
fn allowed(document: &serde_json::Value, path: &str, name: &str) -> Vec<String> {
    let parameter = document["paths"][path]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{path}: no parameter {name}"));
    let schema = &parameter["schema"];
    let values = schema["enum"]
        .as_array()
        .or_else(|| schema["items"]["enum"].as_array())
        .unwrap_or_else(|| panic!("{path} {name}: no enum in {schema}"));
    values
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Checks, with the Python `jsonschema` package, each `(path, status, answer)` against the
/// document's schema for that path's GET or POST response, and returns each one's errors.
fn schema_errors(
    dir: &std::path::Path,
    document: &serde_json::Value,
    cases: &[(&str, &str, serde_json::Value)],
) -> Vec<Vec<String>> {
    let file = dir.join("cases.json");
    std::fs::write(
        &file,
        serde_json::to_vec(&serde_json::json!({"document": document, "cases": cases})).unwrap(),
    )
    .unwrap();
    let script = r#"
import json, sys
from jsonschema import Draft202012Validator
given = json.load(open(sys.argv[1]))
document = given["document"]
out = []
for path, status, answer in given["cases"]:
    item = document["paths"][path]
    operation = item.get("get") or item.get("post")
    schema = dict(operation["responses"][status]["content"]["application/json"]["schema"])
    schema["components"] = document["components"]
    Draft202012Validator.check_schema(schema)
    out.append([e.message for e in Draft202012Validator(schema).iter_errors(answer)])
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

/// Issue #16: the document says every parameter each handler reads, with the values it
/// allows, gives every JSON answer and body a real schema, and lists the errors the
/// middleware and the server loop can send; real answers of a running log validate against
/// the schemas.
#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_parameter_and_answer() {
    use huella_core::stats::{DIMENSION_NAMES, FIELDS, Field, TimeField};
    huella_verify::client::install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let demo = DemoProcess::start(&dir.path().join("demo"), 30);
    let get = |path: String| {
        let url = format!("{}{path}", demo.base);
        async move {
            let response = reqwest::get(&url).await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let document: serde_json::Value =
        serde_json::from_str(&get("/openapi.json".into()).await.1).unwrap();

    // (a) Every parameter, from the parsers' own lists: the fields and time, from, to that
    // huella_core::stats::Query::from_pairs reads, with group_by for statistics and the
    // paging of a search.
    let fields: Vec<&str> = FIELDS.iter().map(|f| f.name()).collect();
    let filters: BTreeSet<String> = fields
        .iter()
        .copied()
        .chain(["time", "from", "to"])
        .map(String::from)
        .collect();
    let with = |extra: &[&str]| -> BTreeSet<String> {
        filters
            .iter()
            .cloned()
            .chain(extra.iter().map(|e| e.to_string()))
            .collect()
    };
    assert_eq!(
        parameters(&document, "get", "/v1/stats"),
        with(&["group_by"])
    );
    assert_eq!(
        parameters(&document, "get", "/v1/search"),
        with(&["order", "limit", "cursor"])
    );
    let dimensions: Vec<String> = DIMENSION_NAMES.split(", ").map(String::from).collect();
    assert_eq!(dimensions.len(), 12);
    assert_eq!(allowed(&document, "/v1/stats", "group_by"), dimensions);
    for path in ["/v1/stats", "/v1/search"] {
        assert_eq!(
            allowed(&document, path, "time"),
            [TimeField::AccessedAt.name(), TimeField::IntegratedAt.name()]
        );
        assert_eq!(
            allowed(&document, path, "outcome"),
            ["hit", "no_hit", "error"]
        );
    }
    assert!(allowed(&document, "/v1/search", "kind").contains(&"key_revoke".to_string()));
    // And the server takes each parameter documented, and refuses one that is not.
    let sample = |name: &str| match name {
        "group_by" => "kind,month",
        "time" => "integrated_at",
        "from" => "2020",
        "to" => "2099-12-31",
        "order" => "oldest",
        "limit" => "5",
        "cursor" => "0",
        "outcome" => "hit",
        "kind" => "access",
        _ => "X",
    };
    for path in ["/v1/stats", "/v1/search"] {
        for name in parameters(&document, "get", path) {
            let (status, body) = get(format!("{path}?{name}={}", sample(&name))).await;
            assert_eq!(status, 200, "{path}?{name}: {body}");
        }
        let (status, body) = get(format!("{path}?nationality=CO")).await;
        assert_eq!(
            status, 400,
            "{path} takes a parameter it does not document: {body}"
        );
    }
    assert!(Field::parse("nationality").is_none());
    // The dashboard: its form's fields, its language switch and its paging link are the
    // parameters documented.
    let (status, html) = get("/?lang=en".into()).await;
    assert_eq!(status, 200);
    let form = html
        .split("<form")
        .nth(1)
        .and_then(|f| f.split("</form>").next())
        .unwrap();
    let mut used: BTreeSet<String> = form
        .split(" name=\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect();
    let older = html
        .split("rel=\"next\" href=\"/?")
        .nth(1)
        .expect("a demo log of 30 accesses has a second page")
        .split('"')
        .next()
        .unwrap();
    for pair in older.split("&amp;") {
        used.insert(pair.split('=').next().unwrap().to_string());
    }
    assert!(used.contains("cursor") && used.contains("lang") && used.contains("category"));
    assert_eq!(parameters(&document, "get", "/"), used);
    // Path parameters.
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = segment.trim_matches(|c| c == '{' || c == '}');
                assert!(
                    parameters(&document, method, path).contains(name),
                    "{method} {path}: {name} undocumented"
                );
            }
        }
    }

    // (b) No JSON answer or body without a schema; and the errors every route can get.
    let empty = |schema: &serde_json::Value| {
        schema.as_object().is_none_or(|o| {
            !(o.contains_key("$ref") || o.contains_key("type") || o.contains_key("properties"))
        })
    };
    let mut described = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let responses = operation["responses"].as_object().unwrap();
            for (status, response) in responses {
                let json = &response["content"]["application/json"]["schema"];
                if status.starts_with('2') && !json.is_null() {
                    assert!(
                        !empty(json),
                        "{method} {path} {status}: empty schema {json}"
                    );
                    described += 1;
                }
            }
            let body = &operation["requestBody"]["content"]["application/json"]["schema"];
            if !operation["requestBody"].is_null() {
                assert!(!empty(body), "{method} {path}: empty request body schema");
            }
            // The handler's own answer where it has one (readyz's 503), else ErrorBody.
            for status in ["408", "413", "429", "503"] {
                let schema = &responses
                    .get(status)
                    .unwrap_or_else(|| panic!("{method} {path}: no {status}"))["content"]["application/json"]
                    ["schema"];
                assert!(!empty(schema), "{method} {path} {status}: no schema");
            }
            let takes_input = operation["parameters"]
                .as_array()
                .is_some_and(|p| !p.is_empty())
                || !operation["requestBody"].is_null();
            if takes_input {
                assert!(
                    responses.contains_key("400") || responses.contains_key("4XX"),
                    "{method} {path}: no 400"
                );
            }
        }
    }
    assert!(described >= 18, "{described} JSON answers described");
    for (path, required) in [
        ("/v1/registry", vec!["event", "signatures"]),
        ("/v1/sealed/read", vec!["event", "signature"]),
        ("/v1/sealed/erase", vec!["event", "signature"]),
    ] {
        let reference =
            document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
                ["$ref"]
                .as_str()
                .unwrap();
        let name = reference.rsplit('/').next().unwrap();
        assert_eq!(
            document["components"]["schemas"][name]["required"],
            serde_json::json!(required),
            "{path}"
        );
        let description = document["paths"][path]["post"]["requestBody"]["description"]
            .as_str()
            .unwrap();
        assert!(
            description.contains("docs/format.md §1"),
            "{path}: {description}"
        );
    }

    // (c) Real answers validate against the documented schemas.
    let mut cases: Vec<(&str, &str, serde_json::Value)> = Vec::new();
    let json = |text: String| serde_json::from_str::<serde_json::Value>(&text).unwrap();
    for query in [
        "",
        "group_by=kind",
        "group_by=requesting_country,holder_country,month&kind=access",
        "group_by=purpose,outcome,year&time=integrated_at&from=2020&to=2099-06",
        "group_by=legal_basis,day&requesting_country=US,CO&outcome=hit",
    ] {
        let (status, body) = get(format!("/v1/stats?{query}")).await;
        assert_eq!(status, 200, "{query}");
        cases.push(("/v1/stats", "200", json(body)));
    }
    for query in [
        "limit=100",
        "order=oldest&limit=3",
        "kind=access&limit=2&cursor=20",
    ] {
        let (status, body) = get(format!("/v1/search?{query}")).await;
        assert_eq!(status, 200, "{query}");
        cases.push(("/v1/search", "200", json(body)));
    }
    for (path, url) in [
        ("/v1/keys", "/v1/keys"),
        ("/v1/trust", "/v1/trust"),
        ("/readyz", "/readyz"),
        ("/healthz", "/healthz"),
        ("/v1/proofs/inclusion", "/v1/proofs/inclusion?index=3"),
        ("/v1/proofs/consistency", "/v1/proofs/consistency?from=3"),
    ] {
        let (status, body) = get(url.into()).await;
        assert_eq!(status, 200, "{url}");
        cases.push((path, "200", json(body)));
    }
    // Every kind of leaf the demo logs.
    let size = 30 + common::demo::EXTRA_ENTRIES;
    for index in 0..size {
        let (_, body) = get(format!("/v1/entries/{index}")).await;
        cases.push(("/v1/entries/{index}", "200", json(body)));
    }
    let keys = cases
        .iter()
        .find(|(p, ..)| *p == "/v1/keys")
        .unwrap()
        .2
        .clone();
    assert!(keys["keys"].as_array().unwrap().len() >= 8);
    let answers = cases.len();
    // Controls, so that the check can fail: a field the schema does not list, and a
    // wrong type, are refused.
    let mut extra = cases[1].2.clone();
    extra["nationality"] = "CO".into();
    let mut wrong = cases[5].2.clone();
    wrong["entries"][0]["index"] = "0".into();
    let mut revoked = keys;
    revoked["keys"][0]["role"] = "admin".into();
    cases.push(("/v1/stats", "200", extra));
    cases.push(("/v1/search", "200", wrong));
    cases.push(("/v1/keys", "200", revoked));
    let errors = schema_errors(dir.path(), &document, &cases);
    for ((path, _, answer), errors) in cases.iter().zip(&errors).take(answers) {
        assert!(
            errors.is_empty(),
            "{path}: the answer does not match its schema: {errors:?}\n{answer}"
        );
    }
    for ((path, ..), errors) in cases.iter().zip(&errors).skip(answers) {
        assert!(!errors.is_empty(), "{path}: a broken answer validates");
    }
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
