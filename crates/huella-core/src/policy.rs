//! C2SP tlog-policy: a file that names the logs a reader accepts, the witnesses it knows,
//! groups of them with thresholds, and the quorum a checkpoint's cosignatures must meet.
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Lines are separated by newlines, items by spaces and tabs; blank lines and `#` comments
//! are ignored; a group or the quorum names only witnesses and groups defined above it;
//! each name is a member of a group at most once; exactly one quorum. Log keys are signed-note
//! Ed25519 keys (type 0x01), witness keys `cosignature/v1` keys (type 0x04).

use crate::cosignature::{CosignatureError, CosignerKey};
use crate::keys::VerifierKey;

/// MAX_ITEMS bounds the logs, the witnesses and the groups a policy may define (each). The
/// spec recommends supporting at least 32.
pub const MAX_ITEMS: usize = 256;

/// Member is what a group or the quorum names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// `none`: no cosignature needed (the quorum only).
    None,
    /// A witness, by position.
    Witness(usize),
    /// A group, by position.
    Group(usize),
}

/// PolicyLog is a log the policy accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// Its key; the key's name is the log's origin.
    pub key: VerifierKey,
    /// Its URL, if given.
    pub url: Option<String>,
}

/// PolicyWitness is a witness the policy knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// Its name in the policy, for people (non-UTF-8 octets shown as U+FFFD).
    pub name: String,
    /// Its name as the policy's octets, which name it (tlog-policy: names are opaque octet
    /// strings, compared as such).
    pub name_octets: Vec<u8>,
    /// Its cosigner key.
    pub key: CosignerKey,
    /// Its submission prefix URL, if given.
    pub url: Option<String>,
}

/// Group is a threshold of members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    /// Its name, for people.
    pub name: String,
    /// Its name as the policy's octets.
    pub name_octets: Vec<u8>,
    /// How many members must have witnessed.
    pub threshold: usize,
    /// Its members.
    pub members: Vec<Member>,
}

/// Policy is a parsed policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The logs.
    pub logs: Vec<PolicyLog>,
    /// The witnesses.
    pub witnesses: Vec<PolicyWitness>,
    /// The groups.
    pub groups: Vec<Group>,
    /// The quorum.
    pub quorum: Member,
}

/// PolicyError says which line of a policy is wrong, and how.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A line breaks the syntax or the rules.
    #[error("policy line {line}: {why}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        why: String,
    },
    /// The file has no quorum line.
    #[error("the policy has no quorum line")]
    NoQuorum,
}

/// is_url_or_name_byte is what the spec allows: tab, newline, 0x20-0x7E and 0x80-0xFF.
fn allowed(b: u8) -> bool {
    b == b'\t' || b == b'\n' || (0x20..=0x7e).contains(&b) || b >= 0x80
}

impl Policy {
    /// parse reads a policy file.
    pub fn parse(text: &[u8]) -> Result<Policy, PolicyError> {
        let mut policy = Policy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: Member::None,
        };
        let mut quorum = false;
        for (n, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = n + 1;
            let fail = |why: String| PolicyError::Line { line, why };
            if let Some(b) = raw.iter().find(|&&b| !allowed(b)) {
                return Err(fail(format!("byte 0x{b:02x} is not allowed")));
            }
            // Octets over 0x7F are opaque: names compare as bytes, and only keys and URLs
            // need to be text (vkeys are ASCII; a URL is kept as the UTF-8 it should be).
            let words: Vec<&[u8]> = raw
                .split(|&b| b == b' ' || b == b'\t')
                .filter(|w| !w.is_empty())
                .collect();
            let Some((keyword, rest)) = words.split_first() else {
                continue;
            };
            if keyword.starts_with(b"#") {
                continue;
            }
            let text = |w: &[u8]| String::from_utf8_lossy(w).into_owned();
            let url = |w: Option<&&[u8]>| w.map(|w| text(w));
            match *keyword {
                b"log" => {
                    if rest.is_empty() || rest.len() > 2 {
                        return Err(fail("want: log <vkey> [<url>]".into()));
                    }
                    let key = VerifierKey::parse(&text(rest[0]))
                        .map_err(|e| fail(format!("log key: {e}")))?;
                    if policy
                        .logs
                        .iter()
                        .any(|l| l.key.public_key() == key.public_key())
                    {
                        return Err(fail("a log with this key is already listed".into()));
                    }
                    policy.logs.push(PolicyLog {
                        key,
                        url: url(rest.get(1)),
                    });
                    if policy.logs.len() > MAX_ITEMS {
                        return Err(fail(format!("more than {MAX_ITEMS} logs")));
                    }
                }
                b"witness" => {
                    if rest.len() < 2 || rest.len() > 3 {
                        return Err(fail("want: witness <name> <vkey> [<url>]".into()));
                    }
                    let name = text(rest[0]);
                    policy.check_new_name(rest[0]).map_err(fail)?;
                    let key = CosignerKey::parse(&text(rest[1]))
                        .map_err(|e| fail(format!("witness key: {e}")))?;
                    if policy
                        .witnesses
                        .iter()
                        .any(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(fail("a witness with this key is already listed".into()));
                    }
                    policy.witnesses.push(PolicyWitness {
                        name,
                        name_octets: rest[0].to_vec(),
                        key,
                        url: url(rest.get(2)),
                    });
                    if policy.witnesses.len() > MAX_ITEMS {
                        return Err(fail(format!("more than {MAX_ITEMS} witnesses")));
                    }
                }
                b"group" => {
                    if rest.len() < 3 {
                        return Err(fail("want: group <name> all|any|<k> <name>...".into()));
                    }
                    policy.check_new_name(rest[0]).map_err(fail)?;
                    let mut members: Vec<Member> = Vec::new();
                    for name in &rest[2..] {
                        let member = policy.member(name).map_err(fail)?;
                        if member == Member::None {
                            return Err(fail("none cannot be a group member".into()));
                        }
                        if members.contains(&member) {
                            return Err(fail(format!(
                                "{} is listed twice in the group",
                                text(name)
                            )));
                        }
                        members.push(member);
                    }
                    let n = members.len();
                    let threshold = match rest[1] {
                        b"all" => n,
                        b"any" => 1,
                        k => {
                            let k = std::str::from_utf8(k)
                                .ok()
                                .filter(|k| {
                                    k.bytes().all(|b| b.is_ascii_digit()) && !k.starts_with('0')
                                })
                                .and_then(|k| k.parse::<usize>().ok())
                                .ok_or_else(|| {
                                    fail("the threshold must be all, any or a decimal".into())
                                })?;
                            if !(1..=n).contains(&k) {
                                return Err(fail(format!(
                                    "threshold {k} is not between 1 and the {n} members"
                                )));
                            }
                            k
                        }
                    };
                    policy.groups.push(Group {
                        name: text(rest[0]),
                        name_octets: rest[0].to_vec(),
                        threshold,
                        members,
                    });
                    if policy.groups.len() > MAX_ITEMS {
                        return Err(fail(format!("more than {MAX_ITEMS} groups")));
                    }
                }
                b"quorum" => {
                    if rest.len() != 1 {
                        return Err(fail("want: quorum <name>".into()));
                    }
                    if quorum {
                        return Err(fail("a second quorum line".into()));
                    }
                    policy.quorum = policy.member(rest[0]).map_err(fail)?;
                    quorum = true;
                }
                other => {
                    return Err(fail(format!(
                        "unknown keyword {:?}; want log, witness, group or quorum",
                        String::from_utf8_lossy(&other[..other.len().min(20)])
                    )));
                }
            }
        }
        if !quorum {
            return Err(PolicyError::NoQuorum);
        }
        Ok(policy)
    }

    /// check_new_name refuses a name already defined, or `none`.
    fn check_new_name(&self, name: &[u8]) -> Result<(), String> {
        if name == b"none" {
            return Err("none is a reserved name".into());
        }
        if self.witnesses.iter().any(|w| w.name_octets == name)
            || self.groups.iter().any(|g| g.name_octets == name)
        {
            return Err(format!(
                "{} is already defined",
                String::from_utf8_lossy(name)
            ));
        }
        Ok(())
    }

    /// member finds a name defined above.
    fn member(&self, name: &[u8]) -> Result<Member, String> {
        if name == b"none" {
            return Ok(Member::None);
        }
        if let Some(i) = self.witnesses.iter().position(|w| w.name_octets == name) {
            return Ok(Member::Witness(i));
        }
        if let Some(i) = self.groups.iter().position(|g| g.name_octets == name) {
            return Ok(Member::Group(i));
        }
        Err(format!(
            "{} is not a witness or group defined above",
            String::from_utf8_lossy(name)
        ))
    }

    /// witnessed says whether `member` has witnessed, given which witnesses cosigned.
    fn witnessed(&self, member: Member, cosigned: &[bool]) -> bool {
        match member {
            Member::None => true,
            Member::Witness(i) => cosigned.get(i).copied().unwrap_or(false),
            Member::Group(g) => {
                let group = &self.groups[g];
                group
                    .members
                    .iter()
                    .filter(|m| self.witnessed(**m, cosigned))
                    .count()
                    >= group.threshold
            }
        }
    }

    /// met says whether the quorum is met when the witnesses marked in `cosigned` (by
    /// position) have cosigned.
    pub fn met(&self, cosigned: &[bool]) -> bool {
        self.witnessed(self.quorum, cosigned)
    }

    /// check verifies a checkpoint note's cosignatures by the policy's witnesses and says
    /// which cosigned (by position, with the time) and whether the quorum is met. The log's
    /// own signature is checked elsewhere ([`crate::checkpoint::open`]).
    pub fn check(&self, note: &[u8]) -> Result<QuorumCheck, CosignatureError> {
        let keys: Vec<CosignerKey> = self.witnesses.iter().map(|w| w.key.clone()).collect();
        let found = crate::cosignature::verify_note(note, &keys).map_err(|e| match e {
            CosignatureError::Witness { key, name, why } => CosignatureError::Witness {
                name: format!("{} ({name})", self.witnesses[key].name),
                key,
                why,
            },
            other => other,
        })?;
        let mut cosigned = vec![false; self.witnesses.len()];
        for c in &found {
            cosigned[c.key] = true;
        }
        // Lines shaped as cosignatures (a timestamp and a signature after the key id) by keys
        // the policy does not name: ignored, as the spec says, but named in the report.
        let (_, lines) = crate::note::parse(note)?;
        let ignored = lines
            .iter()
            .filter(|l| l.signature.len() == 8 + 64 && !keys.iter().any(|k| k.signs(l)))
            .map(|l| format!("{}+{:08x}", l.name, l.id))
            .collect();
        Ok(QuorumCheck {
            met: self.met(&cosigned),
            cosigned: found
                .iter()
                .map(|c| (self.witnesses[c.key].name.clone(), c.time))
                .collect(),
            ignored,
        })
    }
}

/// QuorumCheck is what [`Policy::check`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumCheck {
    /// Whether the quorum is met.
    pub met: bool,
    /// The witnesses that cosigned, by policy name, with their cosignatures' times.
    pub cosigned: Vec<(String, u64)>,
    /// Cosignature lines by keys the policy does not name (`name+hexid`), ignored.
    pub ignored: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cosignature::CosignerSigner;
    use crate::keys::{KeyName, SignerKey};

    fn witness(name: &str, seed: u8) -> CosignerSigner {
        CosignerSigner::from_seed(KeyName::new(name).unwrap(), &[seed; 32])
    }

    /// The example policy of C2SP tlog-policy, with keys filled in: two of the three X
    /// witnesses and one of the three Y witnesses.
    fn example() -> (String, Vec<CosignerSigner>) {
        let log = SignerKey::from_seed(KeyName::new("log.example/a").unwrap(), &[1; 32]);
        let signers: Vec<CosignerSigner> = (0..6)
            .map(|i| witness(&format!("w{i}.example"), 10 + i as u8))
            .collect();
        let v = |i: usize| signers[i].verifier().to_string();
        let text = format!(
            "# example\nlog {}\n\nwitness X1 {}\nwitness X2 {}\nwitness X3 {} https://x3.example/\n\
             group X-witnesses 2 X1 X2 X3\n\n\twitness Y1 {}\nwitness Y2 {}\nwitness Y3 {}\n\
             group Y-witnesses any Y1 Y2 Y3\n\ngroup X-and-Y all X-witnesses Y-witnesses\nquorum X-and-Y\n",
            log.verifier(),
            v(0),
            v(1),
            v(2),
            v(3),
            v(4),
            v(5)
        );
        (text, signers)
    }

    #[test]
    fn the_spec_example_quorum_needs_two_x_and_one_y() {
        let (text, _) = example();
        let policy = Policy::parse(text.as_bytes()).unwrap();
        assert_eq!(policy.witnesses.len(), 6);
        assert_eq!(
            policy.witnesses[2].url.as_deref(),
            Some("https://x3.example/")
        );
        let met = |on: &[usize]| {
            let mut cosigned = vec![false; 6];
            for &i in on {
                cosigned[i] = true;
            }
            policy.met(&cosigned)
        };
        assert!(met(&[0, 1, 3]));
        assert!(met(&[0, 2, 5]));
        assert!(met(&[0, 1, 2, 3, 4, 5]));
        assert!(!met(&[0, 3]));
        assert!(!met(&[0, 1, 2]));
        assert!(!met(&[3, 4, 5]));
        assert!(!met(&[]));
    }

    /// tlog-policy: "names must be handled as opaque octet strings": 0x4B ("K") and
    /// 0xE2 0x84 0xAA (a Kelvin sign) are two names, and names need not be UTF-8.
    #[test]
    fn names_are_opaque_octet_strings() {
        let v = |i: u8| {
            witness(&format!("w{i}.example"), 40 + i)
                .verifier()
                .to_string()
        };
        let mut text =
            format!("witness K {}\nwitness \u{212a} {}\nwitness ", v(0), v(1)).into_bytes();
        text.push(0xfe);
        text.extend_from_slice(format!(" {}\nwitness ", v(2)).as_bytes());
        text.push(0xff);
        text.extend_from_slice(format!(" {}\ngroup g all K \u{212a} ", v(3)).as_bytes());
        text.extend_from_slice(&[0xfe, b' ', 0xff, b'\n']);
        text.extend_from_slice(b"quorum g\n");
        let policy = Policy::parse(&text).unwrap();
        assert_eq!(policy.witnesses.len(), 4);
        assert_eq!(policy.witnesses[0].name_octets, b"K");
        assert_eq!(policy.witnesses[1].name_octets, "\u{212a}".as_bytes());
        assert_eq!(policy.witnesses[2].name_octets, [0xfe]);
        assert_eq!(policy.witnesses[3].name_octets, [0xff]);
        assert_eq!(policy.groups[0].members.len(), 4);
        // A name defined twice, as octets, is refused; as text, two invalid octets are not
        // the same name.
        let mut twice = format!("witness a {}\nwitness ", v(0)).into_bytes();
        twice.push(0xfe);
        twice.extend_from_slice(format!(" {}\nwitness ", v(1)).as_bytes());
        twice.push(0xfe);
        twice.extend_from_slice(format!(" {}\nquorum a\n", v(2)).as_bytes());
        assert!(Policy::parse(&twice).is_err());
    }

    #[test]
    fn a_checkpoint_meets_the_quorum_with_verified_cosignatures_only() {
        let (text, signers) = example();
        let policy = Policy::parse(text.as_bytes()).unwrap();
        let body = "log.example/a\n7\nKgOSCcyxUOoNHhv95Udc9EeVmw8enUcXzpvOpbyeL9c=\n";
        let lines: String = [0, 1, 4]
            .iter()
            .map(|&i| signers[i].cosign(body, 1_800_000_000 + i as u64))
            .collect();
        let note = format!("{body}\n{lines}");
        let check = policy.check(note.as_bytes()).unwrap();
        assert!(check.met);
        assert_eq!(
            check.cosigned,
            vec![
                ("X1".to_string(), 1_800_000_000),
                ("X2".to_string(), 1_800_000_001),
                ("Y2".to_string(), 1_800_000_004)
            ]
        );
        // Without Y2's line, not met; with a stranger's line instead, still not.
        let stranger = witness("w4.example", 99).cosign(body, 1);
        let short = format!(
            "{body}\n{}{}{stranger}",
            signers[0].cosign(body, 1),
            signers[1].cosign(body, 1)
        );
        assert!(!policy.check(short.as_bytes()).unwrap().met);
    }

    /// Readers refuse, naming the witness: a cosignature over another checkpoint, a bad
    /// timestamp encoding, a timestamp over 2^63 - 1; one by an unknown key is ignored, and
    /// then the quorum is short.
    #[test]
    fn bad_cosignatures_are_refused_naming_the_witness() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let (text, signers) = example();
        let policy = Policy::parse(text.as_bytes()).unwrap();
        let body = "log.example/a\n7\nKgOSCcyxUOoNHhv95Udc9EeVmw8enUcXzpvOpbyeL9c=\n";
        let other = "log.example/a\n8\nKgOSCcyxUOoNHhv95Udc9EeVmw8enUcXzpvOpbyeL9c=\n";
        let good: String = [0, 1, 3]
            .iter()
            .map(|&i| signers[i].cosign(body, 5))
            .collect();
        let refused = |extra: String| -> String {
            let note = format!("{body}\n{good}{extra}");
            policy.check(note.as_bytes()).unwrap_err().to_string()
        };
        // Y2 (signers[4]) over another checkpoint.
        let message = refused(signers[4].cosign(other, 5));
        assert!(message.starts_with("witness Y2 (w4.example+"), "{message}");
        assert!(message.contains("does not verify"), "{message}");
        // Y2's line with a 4-byte timestamp (a bad encoding), and with one over 2^63 - 1.
        let line = signers[4].cosign(body, 5);
        let (head, payload) = line.trim_end().rsplit_once(' ').unwrap();
        let raw = b64.decode(payload).unwrap();
        let mut short = raw[..8].to_vec();
        short.extend_from_slice(&raw[12..]);
        let message = refused(format!("{head} {}\n", b64.encode(&short)));
        assert!(
            message.starts_with("witness Y2") && message.contains("76 bytes"),
            "{message}"
        );
        let mut huge = raw.clone();
        huge[4] = 0x80;
        let message = refused(format!("{head} {}\n", b64.encode(&huge)));
        assert!(
            message.starts_with("witness Y2") && message.contains("2^63"),
            "{message}"
        );
        // An unknown witness key: ignored; without Y1 the quorum is short.
        let stranger = witness("w9.example", 99).cosign(body, 5);
        let note = format!(
            "{body}\n{}{}{stranger}",
            signers[0].cosign(body, 5),
            signers[1].cosign(body, 5)
        );
        let check = policy.check(note.as_bytes()).unwrap();
        assert!(!check.met);
        assert_eq!(check.cosigned.len(), 2);
        // Named in the report by its key name and id, as a key the policy does not name.
        let stranger_key = witness("w9.example", 99).verifier().to_string();
        let id = stranger_key.split('+').nth(1).unwrap();
        assert_eq!(check.ignored, vec![format!("w9.example+{id}")]);
    }

    #[test]
    fn bad_policies_name_their_line() {
        let (text, signers) = example();
        let x1 = signers[0].verifier().to_string();
        let cases: Vec<(String, usize)> = vec![
            (format!("witness A {x1}\nquorum B\n"), 2),
            (format!("witness A {x1}\ngroup G 2 A\nquorum G\n"), 2),
            (format!("witness A {x1}\ngroup G any A A\nquorum G\n"), 2),
            (format!("witness A {x1}\ngroup G 0 A\nquorum G\n"), 2),
            (format!("witness A {x1}\ngroup G 01 A\nquorum G\n"), 2),
            (format!("witness A {x1}\ngroup G any none\nquorum G\n"), 2),
            (format!("witness A {x1}\nwitness B {x1}\nquorum A\n"), 2),
            (
                format!(
                    "witness A {x1}\nwitness A {}\nquorum A\n",
                    signers[1].verifier()
                ),
                2,
            ),
            (format!("witness none {x1}\nquorum none\n"), 1),
            (format!("witness A {x1}\nquorum A\nquorum A\n"), 3),
            (format!("group G any A\nwitness A {x1}\nquorum G\n"), 1),
            (format!("witness A {x1}\nquorum A\nwatcher B\n"), 3),
            (format!("log {x1}\nquorum none\n"), 1),
            (format!("witness A {x1}\x0b\nquorum A\n"), 1),
        ];
        for (policy, line) in cases {
            match Policy::parse(policy.as_bytes()) {
                Err(PolicyError::Line { line: got, .. }) => assert_eq!(got, line, "{policy}"),
                other => panic!("{policy}: {other:?}"),
            }
        }
        assert_eq!(
            Policy::parse(format!("witness A {x1}\n").as_bytes()),
            Err(PolicyError::NoQuorum)
        );
        let none = Policy::parse(b"# no witnesses\nquorum none\n").unwrap();
        assert!(none.met(&[]));
        // Names are opaque octets: a Kelvin sign is not a K.
        let kelvin = format!("witness K {x1}\nquorum \u{212a}\n");
        assert!(Policy::parse(kelvin.as_bytes()).is_err());
        assert!(Policy::parse(text.as_bytes()).is_ok());
    }
}
