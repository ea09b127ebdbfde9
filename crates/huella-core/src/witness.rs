//! C2SP tlog-witness `add-checkpoint`, the witness's side: reading a request and deciding,
//! against what the witness last cosigned for the log, whether to cosign or with which
//! status to refuse. No I/O: the caller keeps the state (durably, atomically with the
//! check) and signs.
//!
//! A request body is `old <size>\n`, up to 63 consistency proof lines (base64 hashes), an
//! empty line, then the signed checkpoint. The checks, in the spec's order: a body that does
//! not parse, 400; an origin the witness does not know, 404; no valid signature by a key it
//! trusts for the origin (or a bad one by such a key), 403; `old` over the checkpoint's
//! size, 400; `old` not the size it last cosigned, 409 with that size; a size-0 checkpoint
//! whose root is not the empty tree's, a proof from size 0, or a proof that does not verify,
//! 422; the same size with another root, 409 (tlog-witness v1.0.0, the version the project
//! follows; later drafts answer 422 there).

use crate::checkpoint::{Checkpoint, parse_decimal};
use crate::keys::VerifierKey;
use crate::merkle::{Hash, empty_root, verify_consistency};

/// MAX_PROOF_LINES is the most consistency proof lines a request may hold.
pub const MAX_PROOF_LINES: usize = 63;

/// MAX_REQUEST is the largest request body read: 63 proof lines, a checkpoint with its
/// signatures and some extensions.
pub const MAX_REQUEST: usize = 64 * 1024;

/// Latest is what a witness keeps per log: the size and root of the latest checkpoint it
/// cosigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Latest {
    /// Its size.
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

/// Request is a parsed `add-checkpoint` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The size the client says the witness last cosigned.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint.
    pub proof: Vec<Hash>,
    /// The signed checkpoint, byte for byte.
    pub note: Vec<u8>,
}

/// Refusal is a refused request: the status, and the body to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status: 400, 403, 404, 409 or 422.
    pub status: u16,
    /// Why, for people (a 409's body is [`Refusal::size_body`] instead).
    pub why: String,
    /// For a 409: the size the witness last cosigned.
    pub latest_size: Option<u64>,
    /// The checkpoint is signed by the log and contradicts, by itself, what the witness
    /// cosigned (another root at the same size) or the empty tree (size 0 with another
    /// root): proof of the log's misbehavior that anyone can check, which the spec says a
    /// witness MAY log. (A proof that does not verify is not: the client made the proof.)
    pub misbehavior: bool,
}

impl Refusal {
    /// new is a refusal with this status and reason.
    pub fn new(status: u16, why: impl Into<String>) -> Refusal {
        Refusal {
            status,
            why: why.into(),
            latest_size: None,
            misbehavior: false,
        }
    }

    /// misbehaving is a refusal of a checkpoint the log signed that contradicts what the
    /// witness cosigned.
    fn misbehaving(status: u16, why: impl Into<String>) -> Refusal {
        Refusal {
            misbehavior: true,
            ..Refusal::new(status, why)
        }
    }

    /// size_body is a 409's body, `text/x.tlog.size`: the size and a newline.
    pub fn size_body(&self) -> Option<String> {
        self.latest_size.map(|s| format!("{s}\n"))
    }
}

/// parse reads an `add-checkpoint` body (400 if it does not parse).
pub fn parse(body: &[u8]) -> Result<Request, Refusal> {
    let bad = |why: &str| Refusal::new(400, format!("malformed request: {why}"));
    if body.len() > MAX_REQUEST {
        return Err(bad("too large"));
    }
    let split = body
        .windows(2)
        .position(|w| w == b"\n\n")
        .ok_or_else(|| bad("no empty line before the checkpoint"))?;
    let head = std::str::from_utf8(&body[..split + 1]).map_err(|_| bad("not UTF-8"))?;
    let note = body[split + 2..].to_vec();
    let mut lines = head.strip_suffix('\n').unwrap_or(head).split('\n');
    let old = lines
        .next()
        .and_then(|l| l.strip_prefix("old "))
        .and_then(parse_decimal)
        .ok_or_else(|| bad("the first line must be `old <size>`, in decimal"))?;
    let mut proof = Vec::new();
    for line in lines {
        if proof.len() == MAX_PROOF_LINES {
            return Err(bad("more than 63 consistency proof lines"));
        }
        proof.push(Hash::from_base64(line).map_err(|_| bad("a proof line is not a base64 hash"))?);
    }
    Ok(Request { old, proof, note })
}

/// Accepted is a request to cosign: the checkpoint, its note body (what the cosignature
/// signs), and the state to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// The note's text: the checkpoint body the cosignature signs.
    pub body: String,
    /// What the witness stores for the origin, once it cosigns.
    pub latest: Latest,
}

/// origin is the first line of a note, if it has one: the log it is for.
pub fn origin(note: &[u8]) -> Option<&str> {
    let end = note.iter().position(|&b| b == b'\n')?;
    std::str::from_utf8(&note[..end]).ok()
}

/// decide checks `request` for the log with these trusted keys (all named after its
/// origin), against `latest`, what the witness last cosigned for it (`None`: never).
pub fn decide(
    request: &Request,
    keys: &[VerifierKey],
    latest: Option<&Latest>,
) -> Result<Accepted, Refusal> {
    let origin = origin(&request.note)
        .ok_or_else(|| Refusal::new(400, "malformed request: the checkpoint has no origin line"))?;
    let trusted: Vec<VerifierKey> = keys
        .iter()
        .filter(|k| k.name().as_str() == origin)
        .cloned()
        .collect();
    if trusted.is_empty() {
        return Err(Refusal::new(404, "unknown log origin"));
    }
    // v1.0.0: "If none of the signatures verify against any of the trusted public keys, the
    // witness MUST respond with a 403": so also a note with no signature line at all, or
    // with a second line by the log's key; only a note that is not one is a 400.
    let unsigned = request.note.ends_with(b"\n\n");
    let note = crate::note::open(&request.note, &trusted).map_err(|e| match e {
        crate::note::NoteError::Malformed(why) if !unsigned && why != crate::note::DUPLICATE => {
            Refusal::new(400, format!("malformed checkpoint: {e}"))
        }
        e => Refusal::new(403, format!("the checkpoint is not signed by the log: {e}")),
    })?;
    let checkpoint = Checkpoint::parse_text(&note.text)
        .map_err(|e| Refusal::new(400, format!("malformed checkpoint: {e}")))?;
    if request.old > checkpoint.size {
        return Err(Refusal::new(400, "old size is over the checkpoint's size"));
    }
    let known = latest.map_or(0, |l| l.size);
    if request.old != known {
        return Err(Refusal {
            latest_size: Some(known),
            ..Refusal::new(409, format!("the latest cosigned size is {known}"))
        });
    }
    if checkpoint.size == 0 && checkpoint.root != empty_root() {
        return Err(Refusal::misbehaving(
            422,
            "a size-0 checkpoint must have the empty tree's root",
        ));
    }
    let old_root = latest.map_or_else(empty_root, |l| l.root);
    if request.old == 0 {
        if !request.proof.is_empty() {
            return Err(Refusal::new(422, "a proof from size 0 must be empty"));
        }
    } else if request.old == checkpoint.size {
        // v1.0.0: "If they don't match, the witness MUST respond with a 409 Conflict".
        if checkpoint.root != old_root {
            return Err(Refusal {
                latest_size: Some(known),
                ..Refusal::misbehaving(
                    409,
                    format!(
                        "it cosigned another tree of size {known}: the roots differ (a split view)"
                    ),
                )
            });
        }
        if !request.proof.is_empty() {
            return Err(Refusal::new(
                422,
                "a proof from a size to itself must be empty",
            ));
        }
    } else {
        verify_consistency(
            request.old,
            checkpoint.size,
            &old_root,
            &checkpoint.root,
            &request.proof,
        )
        .map_err(|e| Refusal::new(422, format!("the consistency proof does not verify: {e}")))?;
    }
    Ok(Accepted {
        latest: Latest {
            size: checkpoint.size,
            root: checkpoint.root,
        },
        body: note.text,
        checkpoint,
    })
}

/// request_body writes an `add-checkpoint` body (the log's side).
pub fn request_body(old: u64, proof: &[Hash], note: &str) -> String {
    let mut body = format!("old {old}\n");
    for hash in proof {
        body.push_str(&hash.to_base64());
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyName, SignerKey};
    use crate::merkle::{Frontier, record_hash};

    fn log() -> SignerKey {
        SignerKey::from_seed(KeyName::new("log.example/a").unwrap(), &[1; 32])
    }

    /// A tree of `n` leaves `leaf-0`…: its frontier.
    fn tree(n: u64) -> Frontier {
        let mut f = Frontier::new();
        for i in 0..n {
            f.append(record_hash(format!("leaf-{i}").as_bytes()));
        }
        f
    }

    fn note(size: u64, root: Hash, key: &SignerKey) -> String {
        Checkpoint::new("log.example/a", size, root)
            .sign(key)
            .unwrap()
    }

    #[test]
    fn each_case_gets_the_spec_status() {
        let key = log();
        let keys = [key.verifier()];
        let t5 = tree(5);
        let n5 = note(5, t5.root(), &key);
        // First time: old 0, no proof.
        let first = decide(
            &parse(request_body(0, &[], &n5).as_bytes()).unwrap(),
            &keys,
            None,
        )
        .unwrap();
        assert_eq!(
            first.latest,
            Latest {
                size: 5,
                root: t5.root()
            }
        );
        let latest = first.latest;
        // Stale client: 409 with the size.
        let stale = decide(
            &parse(request_body(0, &[], &n5).as_bytes()).unwrap(),
            &keys,
            Some(&latest),
        )
        .unwrap_err();
        assert_eq!((stale.status, stale.size_body()), (409, Some("5\n".into())));
        // The same checkpoint again: old 5, size 5, same root: cosigned again.
        assert!(
            decide(
                &parse(request_body(5, &[], &n5).as_bytes()).unwrap(),
                &keys,
                Some(&latest)
            )
            .is_ok()
        );
        // Same size, another root: 409 with the size (v1.0.0: "MUST respond with a 409").
        let fork = note(5, tree(4).root(), &key);
        let split = decide(
            &parse(request_body(5, &[], &fork).as_bytes()).unwrap(),
            &keys,
            Some(&latest),
        )
        .unwrap_err();
        assert_eq!((split.status, split.size_body()), (409, Some("5\n".into())));
        // The same size and root with a proof: 422.
        assert_eq!(
            decide(
                &parse(request_body(5, &[tree(4).root()], &n5).as_bytes()).unwrap(),
                &keys,
                Some(&latest)
            )
            .unwrap_err()
            .status,
            422
        );
        // No signature line, or a second line by the log's key: none verifies as the one
        // signature of a trusted key, 403 (v1.0.0).
        let unsigned = format!("{}\n", &n5[..n5.find("\n\n").unwrap() + 1]);
        let twice = format!("{n5}{}", &n5[n5.find("\n\n").unwrap() + 2..]);
        for bad in [unsigned, twice] {
            assert_eq!(
                decide(
                    &parse(request_body(5, &[], &bad).as_bytes()).unwrap(),
                    &keys,
                    Some(&latest)
                )
                .unwrap_err()
                .status,
                403,
                "{bad}"
            );
        }
        // A bigger tree with a bad proof: 422; old over size: 400.
        let t8 = tree(8);
        let n8 = note(8, t8.root(), &key);
        let junk = [record_hash(b"x")];
        assert_eq!(
            decide(
                &parse(request_body(5, &junk, &n8).as_bytes()).unwrap(),
                &keys,
                Some(&latest)
            )
            .unwrap_err()
            .status,
            422
        );
        assert_eq!(
            decide(
                &parse(request_body(9, &[], &n8).as_bytes()).unwrap(),
                &keys,
                Some(&latest)
            )
            .unwrap_err()
            .status,
            400
        );
        // A proof from 0: 422. An unknown origin: 404. Another key: 403.
        assert_eq!(
            decide(
                &parse(request_body(0, &junk, &n5).as_bytes()).unwrap(),
                &keys,
                None
            )
            .unwrap_err()
            .status,
            422
        );
        let other = SignerKey::from_seed(KeyName::new("log.example/b").unwrap(), &[2; 32]);
        let nb = Checkpoint::new("log.example/b", 1, record_hash(b"leaf-0"))
            .sign(&other)
            .unwrap();
        assert_eq!(
            decide(
                &parse(request_body(0, &[], &nb).as_bytes()).unwrap(),
                &keys,
                None
            )
            .unwrap_err()
            .status,
            404
        );
        let imposter = SignerKey::from_seed(KeyName::new("log.example/a").unwrap(), &[3; 32]);
        let forged = note(5, t5.root(), &imposter);
        assert_eq!(
            decide(
                &parse(request_body(0, &[], &forged).as_bytes()).unwrap(),
                &keys,
                None
            )
            .unwrap_err()
            .status,
            403
        );
        // Size 0 with a non-empty root: 422.
        let zero = note(0, record_hash(b"x"), &key);
        assert_eq!(
            decide(
                &parse(request_body(0, &[], &zero).as_bytes()).unwrap(),
                &keys,
                None
            )
            .unwrap_err()
            .status,
            422
        );
        // Malformed bodies: 400.
        for body in [
            "",
            "old 5\n",
            "old 05\n\nx",
            "new 5\n\nx",
            &format!("old 5\nnot-base64\n\n{n5}"),
        ] {
            assert_eq!(parse(body.as_bytes()).unwrap_err().status, 400, "{body:?}");
        }
        let many = format!(
            "old 1\n{}\n{n5}",
            vec![t5.root().to_base64(); 64].join("\n")
        );
        assert_eq!(parse(many.as_bytes()).unwrap_err().status, 400);
    }
}
