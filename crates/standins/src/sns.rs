//! An AWS SNS stand-in (protocols.md §2): an RSA key and a self-signed certificate made at start
//! (2048 bits, as AWS uses; generation takes well under a second in test builds), the PEM served
//! over HTTP on 127.0.0.1, `GET SubscribeURL` answered with the confirmation XML and recorded, and
//! correctly signed SubscriptionConfirmation / Notification / UnsubscribeConfirmation bodies
//! (SignatureVersion 1 = SHA1, 2 = SHA256).
//!
//! The URLs inside the messages use the real-looking host `sns.us-east-1.amazonaws.com`, so the
//! receiver must map them to [`SnsStandin::endpoint`] with its endpoint override
//! (`FLOWGATE_SNS_ENDPOINT`), exactly as an air-gapped install maps them to a mirror.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use base64::Engine;
use rand::Rng;
use rsa::pkcs1v15::{Signature as CertSignature, SigningKey};
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use x509_cert::builder::{Builder, CertificateBuilder, Profile};
use x509_cert::der::EncodePem;
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::SubjectPublicKeyInfoOwned;
use x509_cert::time::Validity;

/// The host the messages' URLs name.
pub const SNS_HOST: &str = "sns.us-east-1.amazonaws.com";

/// A recorded `GET SubscribeURL` (or `Unsubscribe`) call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub action: String,
    pub topic_arn: String,
    pub token: Option<String>,
}

struct Shared {
    pem: String,
    cert_path: String,
    confirmations: Mutex<Vec<Confirmation>>,
    cert_fetches: AtomicUsize,
}

pub struct SnsStandin {
    addr: SocketAddr,
    key: RsaPrivateKey,
    shared: Arc<Shared>,
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

fn self_signed(key: &RsaPrivateKey) -> String {
    let signer = SigningKey::<Sha256>::new(key.clone());
    let spki =
        SubjectPublicKeyInfoOwned::from_key(key.to_public_key()).expect("an RSA key encodes");
    let subject =
        Name::from_str("CN=sns.amazonaws.com,O=Flowgate SNS stand-in").expect("a valid name");
    let serial = SerialNumber::new(&[0x01, rand::thread_rng().gen(), rand::thread_rng().gen()])
        .expect("a valid serial");
    let validity = Validity::from_now(Duration::from_secs(365 * 86_400)).expect("a valid validity");
    let builder = CertificateBuilder::new(Profile::Root, serial, validity, subject, spki, &signer)
        .expect("a certificate builder");
    let cert = builder
        .build::<CertSignature>()
        .expect("the certificate signs");
    cert.to_pem(x509_cert::der::pem::LineEnding::LF)
        .expect("the certificate encodes")
}

async fn confirm(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<Vec<(String, String)>>,
) -> impl IntoResponse {
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let action = get("Action").unwrap_or_default();
    let topic_arn = get("TopicArn").unwrap_or_default();
    let request_id = uuid::Uuid::new_v4();
    match action.as_str() {
        "ConfirmSubscription" => {
            let Some(token) = get("Token") else {
                return (StatusCode::BAD_REQUEST, "missing Token".to_string()).into_response();
            };
            shared
                .confirmations
                .lock()
                .expect("lock")
                .push(Confirmation {
                    action: action.clone(),
                    topic_arn: topic_arn.clone(),
                    token: Some(token),
                });
            let sub_arn = format!("{topic_arn}:{}", uuid::Uuid::new_v4());
            let xml = format!(
                "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n  <ConfirmSubscriptionResult><SubscriptionArn>{sub_arn}</SubscriptionArn></ConfirmSubscriptionResult>\n  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\n</ConfirmSubscriptionResponse>\n"
            );
            ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
        }
        "Unsubscribe" => {
            let arn = get("SubscriptionArn").unwrap_or_default();
            shared
                .confirmations
                .lock()
                .expect("lock")
                .push(Confirmation {
                    action: action.clone(),
                    topic_arn: arn,
                    token: None,
                });
            let xml = format!("<UnsubscribeResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">\n  <ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>\n</UnsubscribeResponse>\n");
            ([(header::CONTENT_TYPE, "text/xml")], xml).into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            format!("unknown Action `{action}`"),
        )
            .into_response(),
    }
}

async fn pem(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.cert_fetches.fetch_add(1, Ordering::SeqCst);
    (
        [(header::CONTENT_TYPE, "application/x-x509-ca-cert")],
        shared.pem.clone(),
    )
}

/// The bytes SNS signs for a message (protocols.md §2.4), written independently of the
/// receiver's version so that each checks the other.
pub fn string_to_sign(msg: &Map<String, Value>) -> String {
    let keys: &[&str] = if msg.get("Type").and_then(Value::as_str) == Some("Notification") {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    keys.iter()
        .filter_map(|k| {
            msg.get(*k)
                .and_then(Value::as_str)
                .map(|v| format!("{k}\n{v}\n"))
        })
        .collect()
}

/// Signs `msg` in place with `key`: sets SignatureVersion and Signature.
pub fn sign_with(key: &RsaPrivateKey, msg: &mut Map<String, Value>, version: u8) {
    msg.insert("SignatureVersion".into(), json!(version.to_string()));
    let data = string_to_sign(msg);
    let sig = match version {
        1 => key.sign(Pkcs1v15Sign::new::<Sha1>(), &Sha1::digest(data.as_bytes())),
        2 => key.sign(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(data.as_bytes()),
        ),
        v => panic!("SignatureVersion {v} is not 1 or 2"),
    }
    .expect("signing works");
    msg.insert(
        "Signature".into(),
        json!(base64::engine::general_purpose::STANDARD.encode(sig)),
    );
}

impl SnsStandin {
    /// Generates the key and certificate and starts serving on 127.0.0.1 with a free port.
    pub async fn start() -> Self {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key generation");
        let shared = Arc::new(Shared {
            pem: self_signed(&key),
            cert_path: format!("/SimpleNotificationService-{}.pem", random_hex(16)),
            confirmations: Mutex::new(Vec::new()),
            cert_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/", get(confirm))
            .route(&shared.cert_path, get(pem))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a local address");
        tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the SNS stand-in serves")
        });
        Self { addr, key, shared }
    }

    /// The base URL to use as the receiver's SNS endpoint override (`FLOWGATE_SNS_ENDPOINT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The certificate as PEM.
    pub fn cert_pem(&self) -> &str {
        &self.shared.pem
    }

    /// The `SigningCertURL` the messages carry (on the real-looking SNS host).
    pub fn cert_url(&self) -> String {
        format!("https://{SNS_HOST}{}", self.shared.cert_path)
    }

    /// How many times the certificate was fetched.
    pub fn cert_fetches(&self) -> usize {
        self.shared.cert_fetches.load(Ordering::SeqCst)
    }

    /// The `GET SubscribeURL` / unsubscribe calls received so far.
    pub fn confirmations(&self) -> Vec<Confirmation> {
        self.shared.confirmations.lock().expect("lock").clone()
    }

    fn base(&self, kind: &str, topic_arn: &str, message: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Type".into(), json!(kind));
        m.insert("MessageId".into(), json!(uuid::Uuid::new_v4().to_string()));
        m.insert("TopicArn".into(), json!(topic_arn));
        m.insert("Message".into(), json!(message));
        m.insert(
            "Timestamp".into(),
            json!(chrono::Utc::now()
                .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                .to_string()),
        );
        m
    }

    fn finish(&self, mut m: Map<String, Value>, version: u8) -> Value {
        sign_with(&self.key, &mut m, version);
        m.insert("SigningCertURL".into(), json!(self.cert_url()));
        Value::Object(m)
    }

    /// A signed `SubscriptionConfirmation` for `topic_arn`.
    pub fn subscription_confirmation(&self, topic_arn: &str, version: u8) -> Value {
        let token = random_hex(64);
        let text = format!("You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message.");
        let mut m = self.base("SubscriptionConfirmation", topic_arn, &text);
        m.insert(
            "SubscribeURL".into(),
            json!(format!(
                "https://{SNS_HOST}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}"
            )),
        );
        m.insert("Token".into(), json!(token));
        self.finish(m, version)
    }

    /// A signed `UnsubscribeConfirmation` for `subscription_arn` (of `topic_arn`).
    pub fn unsubscribe_confirmation(
        &self,
        topic_arn: &str,
        subscription_arn: &str,
        version: u8,
    ) -> Value {
        let token = random_hex(64);
        let text = format!("You have chosen to deactivate subscription {subscription_arn}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.");
        let mut m = self.base("UnsubscribeConfirmation", topic_arn, &text);
        m.insert(
            "SubscribeURL".into(),
            json!(format!(
                "https://{SNS_HOST}/?Action=ConfirmSubscription&TopicArn={topic_arn}&Token={token}"
            )),
        );
        m.insert("Token".into(), json!(token));
        self.finish(m, version)
    }

    /// A signed `Notification` carrying `message` (often JSON text), with an optional subject.
    pub fn notification(
        &self,
        topic_arn: &str,
        subject: Option<&str>,
        message: &str,
        version: u8,
    ) -> Value {
        let mut m = self.base("Notification", topic_arn, message);
        if let Some(s) = subject {
            m.insert("Subject".into(), json!(s));
        }
        let sub_arn = format!("{topic_arn}:{}", uuid::Uuid::new_v4());
        m.insert(
            "UnsubscribeURL".into(),
            json!(format!(
                "https://{SNS_HOST}/?Action=Unsubscribe&SubscriptionArn={sub_arn}"
            )),
        );
        m.insert(
            "MessageAttributes".into(),
            json!({ "source": { "Type": "String", "Value": "flowgate-standin" } }),
        );
        self.finish(m, version)
    }

    /// The headers SNS sends with a delivery of `msg` (the body goes as `text/plain`).
    pub fn delivery_headers(msg: &Value) -> Vec<(String, String)> {
        let field = |k: &str| {
            msg.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let mut h = vec![
            (
                "content-type".to_string(),
                "text/plain; charset=UTF-8".to_string(),
            ),
            (
                "user-agent".to_string(),
                "Amazon Simple Notification Service Agent".to_string(),
            ),
            ("x-amz-sns-message-type".to_string(), field("Type")),
            ("x-amz-sns-message-id".to_string(), field("MessageId")),
            ("x-amz-sns-topic-arn".to_string(), field("TopicArn")),
        ];
        if field("Type") != "SubscriptionConfirmation" {
            h.push((
                "x-amz-sns-subscription-arn".to_string(),
                format!("{}:{}", field("TopicArn"), uuid::Uuid::nil()),
            ));
        }
        h
    }
}
