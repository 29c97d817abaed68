//! The AS's metrics (Prometheus text format at `GET /metrics`, as the `conclave-as` binary
//! serves them): requests by matched route, method and status, and the enrolments, renewals
//! and revocations, after real requests through the router in process.

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use conclave_api::authentication::{ENROLMENT_MEDIA_TYPE, RENEWAL_MEDIA_TYPE};
use conclave_as::http::{AsHttpState, router};
use conclave_as::sqlite::SqliteAsStore;
use conclave_as::{AuthenticationService, EnrolmentRequest, RenewalRequest};
use conclave_codec::{Decode, Encode};
use conclave_core::messages::{Credential, SignaturePublicKey};
use conclave_crypto::{CipherSuite, CipherSuiteProvider, CryptoProvider};
use conclave_crypto_rustcrypto::RustCryptoProvider;
use conclave_service::OsRandom;
use tower::ServiceExt as _;

const ADMIN: &str = "admin-secret-for-metrics-tests";

fn cs() -> Box<dyn CipherSuiteProvider> {
    RustCryptoProvider
        .cipher_suite_provider(CipherSuite(1))
        .unwrap()
}

async fn call(
    app: &Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let mut request = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, body)
}

async fn admin(app: &Router, path: &str, name: &str) -> (StatusCode, Vec<u8>) {
    call(
        app,
        Method::POST,
        path,
        &[
            ("content-type", "application/json"),
            ("authorization", &format!("Bearer {ADMIN}")),
        ],
        format!(r#"{{"name":"{name}"}}"#).into_bytes(),
    )
    .await
}

#[tokio::test]
async fn the_metrics_count_requests_by_route_and_status_and_the_credentials_issued() {
    let now = conclave_service::now_seconds();
    let service = AuthenticationService::open_or_create(
        SqliteAsStore::in_memory().unwrap(),
        cs(),
        now,
        &mut OsRandom,
    )
    .unwrap();
    let state = AsHttpState::new(service, ADMIN.as_bytes());
    let metrics = state.metrics().clone();
    let app = router(state).merge(metrics.router());

    // An enrolment with a token from the admin.
    let (status, body) = admin(&app, "/v1/as/tokens", "alice").await;
    assert_eq!(status, StatusCode::OK);
    let token: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let (secret, public) = cs().signature_generate(&mut OsRandom).unwrap();
    let key = SignaturePublicKey(public);
    let request = EnrolmentRequest::sign(
        cs().as_ref(),
        "alice",
        key.clone(),
        &secret,
        token.into_bytes(),
    )
    .unwrap();
    let enrol = |request: &EnrolmentRequest| {
        let body = request.to_bytes().unwrap();
        let app = app.clone();
        async move {
            call(
                &app,
                Method::POST,
                "/v1/as/enrol",
                &[("content-type", ENROLMENT_MEDIA_TYPE)],
                body,
            )
            .await
        }
    };
    let (status, body) = enrol(&request).await;
    assert_eq!(status, StatusCode::OK);
    let credential = Credential::from_bytes(&body).unwrap();
    // The token is used up: a second enrolment with it is refused.
    assert_eq!(enrol(&request).await.0, StatusCode::FORBIDDEN);

    // A renewal keeping the key.
    let renewal =
        RenewalRequest::sign(cs().as_ref(), credential, &key, &secret, None, now).unwrap();
    let (status, _) = call(
        &app,
        Method::POST,
        "/v1/as/renew",
        &[("content-type", RENEWAL_MEDIA_TYPE)],
        renewal.to_bytes().unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // A revocation, and a read.
    assert_eq!(
        admin(&app, "/v1/as/revoke", "alice").await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&app, Method::GET, "/v1/as/root", &[], Vec::new())
            .await
            .0,
        StatusCode::OK
    );

    let (status, body) = call(&app, Method::GET, "/metrics", &[], Vec::new()).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    for line in [
        r#"conclave_as_http_requests_total{route="/v1/as/tokens",method="POST",status="200"} 1"#,
        r#"conclave_as_http_requests_total{route="/v1/as/enrol",method="POST",status="200"} 1"#,
        r#"conclave_as_http_requests_total{route="/v1/as/enrol",method="POST",status="403"} 1"#,
        r#"conclave_as_http_requests_total{route="/v1/as/renew",method="POST",status="200"} 1"#,
        r#"conclave_as_http_requests_total{route="/v1/as/revoke",method="POST",status="204"} 1"#,
        r#"conclave_as_http_requests_total{route="/v1/as/root",method="GET",status="200"} 1"#,
        r#"conclave_as_http_request_duration_seconds_count{route="/v1/as/enrol",method="POST"} 2"#,
        "\nconclave_as_enrolments_total 1\n",
        "\nconclave_as_renewals_total 1\n",
        "\nconclave_as_revocations_total 1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}
