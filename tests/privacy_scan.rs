//! Issue #15's privacy scan: fill a log with known personal values, request every public
//! path (entries, pages, proofs, receipts, keys, trust, checkpoints, metrics, health, errors,
//! unknown paths) and find none of the values, raw, base64 or hex.

mod common;

use std::sync::Arc;

use base64::Engine as _;
use common::{NOW, TestLog, agencies};
use huella::http::Limits;
use huella::store::MemoryStore;
use huella_core::values::Timestamp;

/// The personal values, one per field per event.
fn values(n: u64) -> [(&'static str, String); 4] {
    [
        ("subject", format!("PRIVSUBJ{n:04}XQ")),
        ("requesting_user", format!("PRIVUSER{n:04}XQ")),
        ("record_ref", format!("PRIVREC{n:04}XQ")),
        ("query", format!("PRIVQUERY{n:04}XQ")),
    ]
}

fn forms(value: &str) -> [String; 3] {
    [
        value.to_string(),
        base64::engine::general_purpose::STANDARD.encode(value),
        value.bytes().map(|b| format!("{b:02x}")).collect(),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn no_public_path_reveals_a_personal_value() {
    let log = TestLog::start(Arc::new(MemoryStore::new()), Limits::default()).await;
    let (all, _) = agencies();
    let now = Timestamp::from_unix_millis(NOW);
    let mut answers: Vec<(String, String)> = Vec::new();
    let events = 12u64;
    for n in 0..events {
        let (from, mut json) = huella::demo::sample_event(&all, 11, n, &now);
        for (field, value) in values(n) {
            json[field] = value.into();
        }
        let plain: huella_core::event::PlainEvent = serde_json::from_value(json).unwrap();
        let submission = plain
            .seal(&all[from].key, now.clone(), huella::keyfile::random_salt)
            .unwrap();
        let body = serde_json::to_vec(&submission).unwrap();
        // The receipt, and the 409 of the same request id with another salt.
        let response = log.post(body.clone()).await;
        answers.push((
            format!("POST /v1/entries #{n}"),
            response.text().await.unwrap(),
        ));
        let response = log.post(body).await;
        answers.push((
            format!("POST /v1/entries again #{n}"),
            response.text().await.unwrap(),
        ));
    }
    let size = log.checkpoint().await.size;
    let mut paths = vec![
        "/checkpoint".to_string(),
        format!("/v1/entries?start=0&limit={size}"),
        format!("/v1/proofs/consistency?from=1&to={size}"),
        "/v1/keys".into(),
        "/v1/trust".into(),
        "/metrics".into(),
        "/healthz".into(),
        "/readyz".into(),
        "/".into(),
        "/v1/openings/0".into(),
        "/v1/entries/99999".into(),
        "/v1/entries?start=0&limit=100000".into(),
        "/v1/proofs/inclusion?index=0&tree_size=99999".into(),
        "/v1/receipts/99999".into(),
        "/v1/sealed/read".into(),
        "/openapi.json".into(),
        "/v1/stats?group_by=requesting_agency,requesting_country,holder_agency,holder_country,category,purpose,legal_basis,outcome,kind,day".into(),
        "/v1/stats?group_by=month&time=integrated_at".into(),
        "/v1/search?limit=100&order=oldest".into(),
        "/v1/search?kind=access&limit=100".into(),
        // A personal field is not a parameter: refused without echoing the value.
        "/v1/stats?subject=CO-CC-1012345678".into(),
    ];
    for i in 0..size {
        paths.push(format!("/v1/entries/{i}"));
        paths.push(format!("/v1/proofs/inclusion?index={i}&tree_size={size}"));
        paths.push(format!("/v1/receipts/{i}"));
    }
    for path in &paths {
        let text = log.get(path).await.text().await.unwrap();
        answers.push((format!("GET {path}"), text));
    }
    // Errors of bodies that carry the values, malformed on purpose.
    for n in 0..2 {
        let body = format!("{{\"event\": {{\"subject\": \"{}\"}}}}", values(n)[0].1);
        for path in [
            "/v1/entries",
            "/v1/registry",
            "/v1/sealed/read",
            "/v1/sealed/erase",
        ] {
            let response = log
                .http
                .post(log.url(path))
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            answers.push((
                format!("POST {path} (malformed)"),
                response.text().await.unwrap(),
            ));
        }
    }
    assert!(answers.len() > 3 * size as usize);
    for n in 0..events {
        for (field, value) in values(n) {
            for form in forms(&value) {
                for (what, text) in &answers {
                    assert!(
                        !text.contains(&form),
                        "{field} {value:?} ({form}) in {what}"
                    );
                }
            }
        }
    }
    log.stop().await;
}
