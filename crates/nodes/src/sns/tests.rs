//! Tests of SNS parsing, URL checks and signatures against the SNS stand-in.

use flowgate_standins::sns::{sign_with, SnsStandin};
use serde_json::{json, Value};

use super::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:budget-alerts";

fn msg(v: &Value) -> SnsMessage {
    parse(v.to_string().as_bytes()).unwrap()
}

fn with(v: &Value, key: &str, value: Value) -> SnsMessage {
    let mut v = v.clone();
    v[key] = value;
    msg(&v)
}

#[test]
fn string_to_sign_follows_the_spec() {
    let m = msg(&json!({
        "Type": "Notification", "MessageId": "22b8", "TopicArn": "arn:t", "Subject": "My First Message",
        "Message": "Hello\nworld!", "Timestamp": "2012-05-02T00:54:06.655Z", "SignatureVersion": "1",
        "Signature": "x", "SigningCertURL": "https://sns.us-west-2.amazonaws.com/a.pem",
        "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe", "MessageAttributes": {"a": {"Type": "String", "Value": "b"}}
    }));
    assert_eq!(string_to_sign(&m).unwrap(), "Message\nHello\nworld!\nMessageId\n22b8\nSubject\nMy First Message\nTimestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:t\nType\nNotification\n");
    let mut no_subject = m.clone();
    no_subject.subject = None;
    assert!(!string_to_sign(&no_subject).unwrap().contains("Subject"));
    let c = msg(&json!({
        "Type": "SubscriptionConfirmation", "MessageId": "1", "Token": "tok", "TopicArn": "arn:t", "Message": "m",
        "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription", "Timestamp": "t",
        "SignatureVersion": "1", "Signature": "x", "SigningCertURL": "https://sns.us-west-2.amazonaws.com/a.pem"
    }));
    assert_eq!(string_to_sign(&c).unwrap(), "Message\nm\nMessageId\n1\nSubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription\nTimestamp\nt\nToken\ntok\nTopicArn\narn:t\nType\nSubscriptionConfirmation\n");
}

#[test]
fn malformed_bodies_are_refused() {
    assert!(matches!(parse(b"not json"), Err(SnsError::Malformed(_))));
    assert!(matches!(
        parse(br#"{"Type": "Notification"}"#),
        Err(SnsError::Malformed(_))
    ));
    let v = json!({ "Type": "Other", "MessageId": "1", "TopicArn": "t", "Message": "m", "Timestamp": "t", "SignatureVersion": "1", "Signature": "s", "SigningCertURL": "u" });
    assert!(
        matches!(parse(v.to_string().as_bytes()), Err(SnsError::Malformed(m)) if m.contains("unknown Type"))
    );
    let v = json!({ "Type": "SubscriptionConfirmation", "MessageId": "1", "TopicArn": "t", "Message": "m", "Timestamp": "t", "SignatureVersion": "1", "Signature": "s", "SigningCertURL": "u" });
    assert!(matches!(
        parse(v.to_string().as_bytes()),
        Err(SnsError::Malformed(_))
    ));
    assert!(looks_like_sns(
        &json!({"Type": "Notification", "SigningCertURL": "https://x"})
    ));
    assert!(!looks_like_sns(
        &json!({"Type": "Notification", "MTD_Spend": "3.8"})
    ));
}

#[test]
fn cert_urls_are_checked_before_any_fetch() {
    for ok in [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
        "https://sns.us-gov-west-1.amazonaws.com/x.pem",
    ] {
        assert_eq!(check_cert_url(ok, None).unwrap().as_str(), ok);
    }
    for bad in [
        "https://evil.example.com/x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.txt",
        "https://sns.us-east-1.amazonaws.com/x.pem.txt",
        "https://s3.amazonaws.com/sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "https://user@sns.us-east-1.amazonaws.com/x.pem",
        "https://54.239.0.1/x.pem",
        "not a url",
    ] {
        assert!(
            matches!(check_cert_url(bad, None), Err(SnsError::UntrustedUrl(_))),
            "{bad} passed"
        );
        // The override does not make a foreign URL acceptable.
        assert!(
            check_cert_url(bad, Some("http://127.0.0.1:9")).is_err(),
            "{bad} passed with an override"
        );
    }
}

#[test]
fn the_override_replaces_scheme_and_host_only() {
    let sub = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:1:t&Token=ab";
    assert_eq!(check_url(sub, Some("http://127.0.0.1:4567")).unwrap().as_str(), "http://127.0.0.1:4567/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:1:t&Token=ab");
    let cert = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem";
    assert_eq!(
        check_cert_url(cert, Some("https://mirror.internal/sns/"))
            .unwrap()
            .as_str(),
        "https://mirror.internal/sns/SimpleNotificationService-1.pem"
    );
}

#[tokio::test]
async fn signatures_v1_and_v2_verify_and_tampering_is_caught() {
    let standin = SnsStandin::start().await;
    let pem = standin.cert_pem().as_bytes();
    for version in [1, 2] {
        let n = standin.notification(
            TOPIC,
            Some("Budget"),
            r#"{"MTD_Spend": "3.8", "Budget": "4.0"}"#,
            version,
        );
        verify(&msg(&n), pem).unwrap_or_else(|e| panic!("v{version}: {e}"));
        verify(
            &msg(&standin.notification(TOPIC, None, "plain text", version)),
            pem,
        )
        .unwrap();
        let c = standin.subscription_confirmation(TOPIC, version);
        verify(&msg(&c), pem).unwrap();
        verify(
            &msg(&standin.unsubscribe_confirmation(TOPIC, &format!("{TOPIC}:abc"), version)),
            pem,
        )
        .unwrap();
        // The unsigned fields may change; the signed ones may not.
        verify(
            &with(
                &n,
                "UnsubscribeURL",
                json!("https://sns.us-east-1.amazonaws.com/?other"),
            ),
            pem,
        )
        .unwrap();
        for (key, value) in [
            ("Message", json!(r#"{"MTD_Spend": "9.9", "Budget": "4.0"}"#)),
            ("Subject", json!("Other")),
            ("TopicArn", json!("arn:aws:sns:us-east-1:1:other")),
            ("Timestamp", json!("2030-01-01T00:00:00.000Z")),
        ] {
            assert!(
                matches!(
                    verify(&with(&n, key, value), pem),
                    Err(SnsError::BadSignature(_))
                ),
                "v{version}: changed {key} verified"
            );
        }
        let mut unsubject = n.clone();
        unsubject.as_object_mut().unwrap().remove("Subject");
        assert!(verify(&msg(&unsubject), pem).is_err());
        assert!(verify(
            &with(
                &c,
                "SubscribeURL",
                json!(
                    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=other"
                )
            ),
            pem
        )
        .is_err());
    }
    // A v1 signature presented as v2 (and an unknown version) fails.
    let n = standin.notification(TOPIC, None, "x", 1);
    assert!(verify(&with(&n, "SignatureVersion", json!("2")), pem).is_err());
    assert!(
        matches!(verify(&with(&n, "SignatureVersion", json!("3")), pem), Err(SnsError::BadSignature(m)) if m.contains("not supported"))
    );
    assert!(verify(&with(&n, "Signature", json!("%%%")), pem).is_err());
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let standin = SnsStandin::start().await;
    let other = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
    let mut forged = standin.notification(TOPIC, None, r#"{"Elastigroup_Id": "sig-evil"}"#, 2);
    sign_with(&other, forged.as_object_mut().unwrap(), 2);
    assert!(matches!(
        verify(&msg(&forged), standin.cert_pem().as_bytes()),
        Err(SnsError::BadSignature(_))
    ));
    assert!(matches!(
        verify(&msg(&forged), b"not a certificate"),
        Err(SnsError::Certificate(_))
    ));
}

#[tokio::test]
async fn the_cache_fetches_each_certificate_once_through_the_override() {
    let standin = SnsStandin::start().await;
    let cache = CertCache::new(reqwest::Client::new(), Some(standin.endpoint()));
    for version in [1, 2, 1] {
        cache
            .verify(&msg(&standin.notification(TOPIC, Some("s"), "m", version)))
            .await
            .unwrap();
    }
    assert_eq!((standin.cert_fetches(), cache.len()), (1, 1));
    let n = standin.notification(TOPIC, None, "m", 1);
    for bad in [
        "https://evil.example.com/x.pem",
        "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
        "http://sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/x",
    ] {
        assert!(
            matches!(
                cache.verify(&with(&n, "SigningCertURL", json!(bad))).await,
                Err(SnsError::UntrustedUrl(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(standin.cert_fetches(), 1, "a refused URL was fetched");
    // A path the stand-in does not serve: a fetch error, not a verified message.
    let missing = standin.cert_url().replace(".pem", "-gone.pem");
    assert!(matches!(
        cache
            .verify(&with(&n, "SigningCertURL", json!(missing)))
            .await,
        Err(SnsError::Fetch(_))
    ));
}

#[tokio::test]
async fn subscriptions_are_confirmed_through_the_checked_url() {
    let standin = SnsStandin::start().await;
    let client = reqwest::Client::new();
    let endpoint = standin.endpoint();
    let c = msg(&standin.subscription_confirmation(TOPIC, 1));
    let xml = confirm_subscription(&client, &c, Some(&endpoint))
        .await
        .unwrap();
    assert!(
        xml.contains("<SubscriptionArn>arn:aws:sns:us-east-1:123456789012:budget-alerts:"),
        "{xml}"
    );
    let confirmed = standin.confirmations();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(
        (
            confirmed[0].topic_arn.as_str(),
            confirmed[0].token.as_deref()
        ),
        (TOPIC, c.token.as_deref())
    );
    let mut evil = c.clone();
    evil.subscribe_url = Some(format!(
        "https://evil.example.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=x"
    ));
    assert!(matches!(
        confirm_subscription(&client, &evil, Some(&endpoint)).await,
        Err(SnsError::UntrustedUrl(_))
    ));
    let n = msg(&standin.notification(TOPIC, None, "m", 1));
    assert!(confirm_subscription(&client, &n, Some(&endpoint))
        .await
        .is_err());
    assert_eq!(standin.confirmations().len(), 1);
}

#[test]
fn the_message_parses_as_json_or_stays_text() {
    let base = json!({ "Type": "Notification", "MessageId": "1", "TopicArn": "t", "Message": "{\"a\": 1}", "Timestamp": "t", "SignatureVersion": "1", "Signature": "s", "SigningCertURL": "u" });
    assert_eq!(msg(&base).parsed_message(), json!({"a": 1}));
    assert_eq!(
        with(&base, "Message", json!("hi")).parsed_message(),
        json!("hi")
    );
}
