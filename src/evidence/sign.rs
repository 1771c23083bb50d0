//! OpenSSH signatures (SSHSIG, `ssh-keygen -Y sign`/`-Y verify`) over
//! rollproof's evidence, through RustCrypto's `ssh-key` crate, so that a
//! reviewer checks them with the stock `ssh-keygen` and git's
//! `allowed_signers` files rather than with rollproof (docs/KEYS.md).
//!
//! A signature is made in a namespace, which is part of what is signed, so a
//! signature made for one purpose never passes for another:
//! - [`NS_REPORT`] (`rollproof-report`): proof reports (the detached
//!   `<report>.json.sig`) and their DSSE attestation envelopes;
//! - [`NS_GRANT`] (`rollproof-grant`): owner grants (`<grant>.toml.sig`).
//!
//! Signing keys are ed25519 OpenSSH private keys as `ssh-keygen -t ed25519`
//! writes them: unencrypted (rollproof runs unattended) and readable by
//! their owner only, as `ssh` itself insists. Trust is never implied by a
//! signature: [`verify`] accepts a signature only when its key is listed in
//! an allowed-signers file ([`allowed`]) for that namespace at that time.

pub mod allowed;

use crate::util::fsutil::{InputError, limit, read_bounded};
use allowed::Entry;
use ssh_key::{HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use std::path::{Path, PathBuf};

/// Namespace of report (and report attestation) signatures.
pub const NS_REPORT: &str = "rollproof-report";
/// Namespace of grant signatures.
pub const NS_GRANT: &str = "rollproof-grant";
/// Environment variable naming the report signing key file.
pub const KEY_ENV: &str = "ROLLPROOF_SIGNING_KEY";

/// Private key files larger than this are refused unread.
pub const MAX_KEY_BYTES: u64 = 64 << 10;
/// Signature files larger than this are refused unread.
pub const MAX_SIG_BYTES: u64 = limit::SIGNATURE;
/// Allowed-signers files larger than this are refused unread.
pub const MAX_TRUST_BYTES: u64 = limit::TRUST;

const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const ARMOR_END: &str = "-----END SSH SIGNATURE-----";

/// A key or trust file that cannot be used (bad input, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read, is not a regular file, or is too large.
    #[error(transparent)]
    Read(#[from] InputError),
    /// The private key is not one rollproof signs with.
    #[error("signing key {path}: {problem}")]
    Key { path: PathBuf, problem: String },
    /// A line of an allowed-signers file is not understood.
    #[error("allowed signers {path}: line {line}: {problem}")]
    Trust {
        path: PathBuf,
        line: usize,
        problem: String,
    },
    /// Signing failed (should not happen with a valid key).
    #[error("cannot sign with {path}: {problem}")]
    Sign { path: PathBuf, problem: String },
}

/// `SHA256:…`, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// An ed25519 signing key loaded from an OpenSSH private key file.
pub struct SigningKey {
    key: PrivateKey,
    path: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        write!(
            f,
            "SigningKey({}, {})",
            self.path.display(),
            self.fingerprint()
        )
    }
}

impl SigningKey {
    /// Load a key file: regular, at most [`MAX_KEY_BYTES`], not readable by
    /// group or others, unencrypted, ed25519.
    pub fn load(path: &Path) -> Result<SigningKey, KeyError> {
        let bad = |problem: String| KeyError::Key {
            path: path.to_path_buf(),
            problem,
        };
        let bytes = read_bounded(path, MAX_KEY_BYTES, "signing key")?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .map_err(|e| bad(e.to_string()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(bad(format!(
                    "permissions {:04o} are too open: a private key must be readable by its owner only (chmod 600)",
                    mode & 0o7777
                )));
            }
        }
        let key = PrivateKey::from_openssh(&bytes).map_err(|e| {
            bad(format!(
                "not an OpenSSH private key ({e}); make one with `ssh-keygen -t ed25519 -N '' -f FILE`"
            ))
        })?;
        if key.is_encrypted() {
            return Err(bad(
                "the key is passphrase-protected; rollproof signs unattended, so give it an unencrypted key file readable only by its owner (docs/KEYS.md)".into(),
            ));
        }
        if key.algorithm() != ssh_key::Algorithm::Ed25519 {
            return Err(bad(format!(
                "key type {} is not supported: rollproof signs with ed25519 keys only",
                key.algorithm()
            )));
        }
        Ok(SigningKey {
            key,
            path: path.to_path_buf(),
        })
    }

    /// Build from a private key already in memory (tests).
    pub fn from_private(key: PrivateKey, path: PathBuf) -> SigningKey {
        SigningKey { key, path }
    }

    /// The key named by `--sign-key` or, failing that, [`KEY_ENV`].
    pub fn from_flag_or_env(flag: Option<&Path>) -> Result<Option<SigningKey>, KeyError> {
        let path = match flag {
            Some(p) => Some(p.to_path_buf()),
            None => std::env::var_os(KEY_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        };
        path.map(|p| SigningKey::load(&p)).transpose()
    }

    /// The public key.
    pub fn public(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The public key's `SHA256:…` fingerprint.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.public())
    }

    /// The public key as one `ssh-ed25519 BASE64` line (no comment).
    pub fn public_line(&self) -> String {
        let mut k = self.public().clone();
        k.set_comment("");
        k.to_openssh().unwrap_or_default()
    }

    fn sshsig(&self, namespace: &str, msg: &[u8]) -> Result<SshSig, KeyError> {
        // SHA-512, as `ssh-keygen -Y sign` does by default.
        self.key
            .sign(namespace, HashAlg::Sha512, msg)
            .map_err(|e| KeyError::Sign {
                path: self.path.clone(),
                problem: e.to_string(),
            })
    }

    /// An armored signature (`-----BEGIN SSH SIGNATURE-----`), as
    /// `ssh-keygen -Y sign -n NAMESPACE` writes it, with a final newline.
    pub fn sign(&self, namespace: &str, msg: &[u8]) -> Result<String, KeyError> {
        let pem = self
            .sshsig(namespace, msg)?
            .to_pem(LineEnding::LF)
            .map_err(|e| KeyError::Sign {
                path: self.path.clone(),
                problem: e.to_string(),
            })?;
        Ok(if pem.ends_with('\n') { pem } else { pem + "\n" })
    }

    /// The signature blob (the armor's content) as one base64 string: the
    /// `sig` of a DSSE envelope ([`armor`] turns it back into a file
    /// `ssh-keygen -Y verify` reads).
    pub fn sign_base64(&self, namespace: &str, msg: &[u8]) -> Result<String, KeyError> {
        Ok(unarmor(&self.sign(namespace, msg)?))
    }
}

/// The base64 body of an armored signature, on one line.
pub fn unarmor(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect()
}

/// An armored signature from a one-line base64 blob (70 columns, as
/// `ssh-keygen` writes).
pub fn armor(base64: &str) -> String {
    let mut out = String::from(ARMOR_BEGIN);
    out.push('\n');
    let b = base64.as_bytes();
    for chunk in b.chunks(70) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(ARMOR_END);
    out.push('\n');
    out
}

/// An allowed-signers file.
#[derive(Debug, Clone)]
pub struct Trust {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// Its signer lines.
    pub entries: Vec<Entry>,
}

impl Trust {
    /// Read and parse an allowed-signers file (fail closed on any line).
    pub fn load(path: &Path) -> Result<Trust, KeyError> {
        let bytes = read_bounded(path, MAX_TRUST_BYTES, "allowed-signers file")?;
        let text = String::from_utf8(bytes).map_err(|_| KeyError::Trust {
            path: path.to_path_buf(),
            line: 0,
            problem: "not UTF-8 text".into(),
        })?;
        Trust::parse(path, &text)
    }

    /// Parse allowed-signers text.
    pub fn parse(path: &Path, text: &str) -> Result<Trust, KeyError> {
        let entries = allowed::parse(text).map_err(|(line, problem)| KeyError::Trust {
            path: path.to_path_buf(),
            line,
            problem,
        })?;
        Ok(Trust {
            path: path.to_path_buf(),
            entries,
        })
    }
}

/// Who made a trusted signature.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signer {
    /// The principals the trust file lists for the key (in this namespace,
    /// now), in file order, without repeats.
    pub principals: Vec<String>,
    /// The key's `SHA256:…` fingerprint.
    pub key: String,
}

impl Signer {
    /// The principals joined by commas (for one-line output).
    pub fn principal(&self) -> String {
        self.principals.join(",")
    }
}

/// Why a signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejected {
    /// Not an SSH signature at all.
    Malformed(String),
    /// Made in another namespace (e.g. a grant signature on a report).
    Namespace { found: String, want: String },
    /// The signature does not match the bytes (they were changed, or the
    /// signature belongs to other bytes).
    Bad { key: String },
    /// A valid signature by a key the trust file does not list (for this
    /// namespace and time); `why` gives the lines that refused it, if any.
    Untrusted { key: String, why: Vec<String> },
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejected::Malformed(m) => write!(f, "not an SSH signature: {m}"),
            Rejected::Namespace { found, want } => {
                write!(f, "the signature was made in namespace {found}, not {want}")
            }
            Rejected::Bad { key } => write!(
                f,
                "the signature by {key} does not match the bytes: they were changed after signing"
            ),
            Rejected::Untrusted { key, why } if why.is_empty() => write!(
                f,
                "signed by {key}, a key the allowed-signers file does not list"
            ),
            Rejected::Untrusted { key, why } => {
                write!(f, "signed by {key}, not trusted here: {}", why.join("; "))
            }
        }
    }
}

/// Check an armored signature over `msg` in `namespace` at `now_ms`
/// against `trust`, in the order `ssh-keygen -Y verify` does: the
/// signature's form and namespace, the cryptographic check, then whether
/// the trust file allows the key.
pub fn verify(
    trust: &Trust,
    namespace: &str,
    msg: &[u8],
    armored: &[u8],
    now_ms: i64,
) -> Result<Signer, Rejected> {
    let sig = SshSig::from_pem(armored).map_err(|e| Rejected::Malformed(e.to_string()))?;
    if sig.namespace() != namespace {
        return Err(Rejected::Namespace {
            found: sig.namespace().to_string(),
            want: namespace.to_string(),
        });
    }
    let key = PublicKey::new(sig.public_key().clone(), "");
    let shown = fingerprint(&key);
    key.verify(namespace, msg, &sig)
        .map_err(|_| Rejected::Bad { key: shown.clone() })?;
    let mut principals: Vec<String> = Vec::new();
    let mut why = Vec::new();
    for e in trust
        .entries
        .iter()
        .filter(|e| e.key.key_data() == key.key_data())
    {
        match e.refuses(namespace, now_ms) {
            Some(w) => why.push(w),
            None => {
                for p in &e.principals {
                    if !principals.contains(p) {
                        principals.push(p.clone());
                    }
                }
            }
        }
    }
    if principals.is_empty() {
        return Err(Rejected::Untrusted { key: shown, why });
    }
    Ok(Signer {
        principals,
        key: shown,
    })
}

/// [`verify`] for a one-line base64 blob (a DSSE `sig`).
pub fn verify_base64(
    trust: &Trust,
    namespace: &str,
    msg: &[u8],
    base64: &str,
    now_ms: i64,
) -> Result<Signer, Rejected> {
    if base64.is_empty()
        || !base64
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
    {
        return Err(Rejected::Malformed("the sig is not base64".into()));
    }
    verify(trust, namespace, msg, armor(base64).as_bytes(), now_ms)
}

/// `<file>.sig`: where a file's detached signature lives.
pub fn sig_path(file: &Path) -> PathBuf {
    let mut s = file.as_os_str().to_owned();
    s.push(".sig");
    PathBuf::from(s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A deterministic test key (never used for anything but tests).
    pub(crate) fn key(seed: u8) -> SigningKey {
        let kp = ssh_key::private::Ed25519Keypair::from_seed(&[seed; 32]);
        SigningKey::from_private(PrivateKey::from(kp), PathBuf::from("test-key"))
    }

    pub(crate) fn trust_of(lines: &str) -> Trust {
        Trust::parse(Path::new("allowed_signers"), lines).unwrap()
    }

    #[test]
    fn sign_then_verify_and_every_way_to_fail() {
        let k = key(1);
        let t = trust_of(&format!("ci@example.org {}\n", k.public_line()));
        let sig = k.sign(NS_REPORT, b"report bytes").unwrap();
        assert!(sig.starts_with(ARMOR_BEGIN) && sig.ends_with(&format!("{ARMOR_END}\n")));
        let s = verify(&t, NS_REPORT, b"report bytes", sig.as_bytes(), 0).unwrap();
        assert_eq!(s.principals, vec!["ci@example.org"]);
        assert_eq!(s.key, k.fingerprint());
        assert!(matches!(
            verify(&t, NS_REPORT, b"report bytez", sig.as_bytes(), 0),
            Err(Rejected::Bad { .. })
        ));
        assert!(matches!(
            verify(&t, NS_GRANT, b"report bytes", sig.as_bytes(), 0),
            Err(Rejected::Namespace { .. })
        ));
        let other = key(2);
        let sig2 = other.sign(NS_REPORT, b"report bytes").unwrap();
        assert!(matches!(
            verify(&t, NS_REPORT, b"report bytes", sig2.as_bytes(), 0),
            Err(Rejected::Untrusted { .. })
        ));
        assert!(matches!(
            verify(&t, NS_REPORT, b"x", b"garbage", 0),
            Err(Rejected::Malformed(_))
        ));
        // A key restricted to grants does not sign reports.
        let t = trust_of(&format!(
            "owner@example.org namespaces=\"{NS_GRANT}\" {}\n",
            k.public_line()
        ));
        let e = verify(&t, NS_REPORT, b"report bytes", sig.as_bytes(), 0).unwrap_err();
        assert!(e.to_string().contains("namespace"), "{e}");
    }

    #[test]
    fn the_base64_form_round_trips() {
        let k = key(3);
        let t = trust_of(&format!("a@x {}\n", k.public_line()));
        let b = k.sign_base64(NS_REPORT, b"pae").unwrap();
        assert!(!b.contains('\n'));
        assert!(verify_base64(&t, NS_REPORT, b"pae", &b, 0).is_ok());
        assert!(verify_base64(&t, NS_REPORT, b"pae", "not base64!", 0).is_err());
    }
}
