//! TLS with client certificates between Envoy and the sidecar: Envoy's sidecar cluster
//! presents a client certificate (the transport socket of envoy/envoy-mtls.yaml); the
//! sidecar (`--tls-cert/--tls-key/--tls-client-ca`) refuses connections without a valid
//! one during the handshake. Certificates are made by the openssl CLI for each test.
// The e2e crate is test code (and the bench/soak drivers): a failed unwrap, expect or
// panic is a failed run, so the lints the workspace denies in product code are allowed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use meshgate_e2e::http::request;
use meshgate_e2e::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

const SAN: &str = "meshgate-sidecar";

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for `meshgate-sidecar`/127.0.0.1, a client certificate it
/// signed, and a client certificate of another CA.
fn make_certs(dir: &Path) {
    let ext = dir.join("server.ext");
    std::fs::write(
        &ext,
        format!("subjectAltName=DNS:{SAN},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for ca in ["ca", "rogue-ca"] {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "1",
                "-subj",
                &format!("/CN={ca}"),
            ],
        );
    }
    for (name, ca, ext) in [
        ("server", "ca", "server.ext"),
        ("client", "ca", "client.ext"),
        ("rogue", "rogue-ca", "client.ext"),
    ] {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-CAcreateserial",
                "-out",
                &format!("{name}.pem"),
                "-days",
                "1",
                "-extfile",
                ext,
            ],
        );
    }
}

/// The test Envoy bootstrap with the sidecar cluster speaking TLS with a client cert.
fn envoy_mtls_config(
    port: u16,
    admin_port: u16,
    sidecar_port: u16,
    document: &str,
    certs: &Path,
) -> String {
    let plain = envoy_config(port, admin_port, sidecar_port, document);
    // Both clusters to the sidecar (MCP traffic and the reserved control path) speak TLS.
    let clusters = [
        "  - name: meshgate_sidecar\n    type: STATIC\n".to_string(),
        format!("  - name: {CONTROL_CLUSTER}\n    type: STATIC\n"),
    ];
    for cluster in &clusters {
        assert!(plain.contains(cluster.as_str()), "no cluster {cluster}");
    }
    let p = |f: &str| certs.join(f).display().to_string();
    let tls = format!(
        r#"    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: {SAN}
        common_tls_context:
          tls_certificates:
          - certificate_chain: {{filename: "{cert}"}}
            private_key: {{filename: "{key}"}}
          validation_context:
            trusted_ca: {{filename: "{ca}"}}
            match_typed_subject_alt_names:
            - san_type: DNS
              matcher: {{exact: {SAN}}}
"#,
        cert = p("client.pem"),
        key = p("client.key"),
        ca = p("ca.pem"),
    );
    clusters.iter().fold(plain, |doc, cluster| {
        doc.replace(cluster.as_str(), &format!("{cluster}{tls}"))
    })
}

fn start_tls_sidecar(port: u16, dir: &Path, certs: &Path) -> Proc {
    let mut cmd = Command::new(bin("meshgate-sidecar"));
    cmd.args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(dir.join("data"))
        .arg("--tls-cert")
        .arg(certs.join("server.pem"))
        .arg("--tls-key")
        .arg(certs.join("server.key"))
        .arg("--tls-client-ca")
        .arg(certs.join("ca.pem"))
        .env("MESHGATE_SHARED_SECRET", SECRET)
        .env("MESHGATE_MASTER_KEY", MASTER_KEY)
        .env("MESHGATE_LOG", "warn")
        .stdin(Stdio::null());
    Proc::spawn("sidecar", cmd)
}

/// `curl` straight to the sidecar's TLS port: Ok(body) or Err(curl's complaint).
fn curl(port: u16, certs: &Path, client: Option<&str>) -> Result<String, String> {
    let mut cmd = std::process::Command::new("curl");
    cmd.args(["-sS", "--max-time", "10", "--cacert"])
        .arg(certs.join("ca.pem"))
        .args(["--resolve", &format!("{SAN}:{port}:127.0.0.1")]);
    if let Some(name) = client {
        cmd.arg("--cert")
            .arg(certs.join(format!("{name}.pem")))
            .arg("--key")
            .arg(certs.join(format!("{name}.key")));
    }
    let out = cmd
        .arg(format!("https://{SAN}:{port}/healthz"))
        .output()
        .expect("curl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[tokio::test]
async fn envoy_reaches_the_sidecar_over_mtls_and_nobody_else_does() {
    let dir = TempDir::new("mtls");
    let certs: PathBuf = dir.0.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_certs(&certs);
    let (port, admin_port, sidecar_port) = (free_port(), free_port(), free_port());
    let _sidecar = start_tls_sidecar(sidecar_port, &dir.0, &certs);
    wait_for_port(sidecar_port, Duration::from_secs(20)).await;

    // Without a client certificate, with one of another CA, or in plain HTTP: refused.
    let none = curl(sidecar_port, &certs, None);
    assert!(none.is_err(), "no client certificate: {none:?}");
    let rogue = curl(sidecar_port, &certs, Some("rogue"));
    assert!(rogue.is_err(), "a certificate of another CA: {rogue:?}");
    let plain = request(
        "GET",
        &format!("http://127.0.0.1:{sidecar_port}/healthz"),
        &[],
        "",
    )
    .await;
    assert!(
        plain.is_err(),
        "plain HTTP to the TLS port: {:?}",
        plain.map(|r| r.status)
    );
    // The control: the right client certificate gets through.
    let ok = curl(sidecar_port, &certs, Some("client"));
    assert_eq!(ok.as_deref(), Ok("{\"status\":\"ok\"}"), "{ok:?}");

    // Envoy, with the client certificate, syncs and serves.
    let document = gateway_document(&GatewayOptions::new(demo_stdio_yaml("demo", "")));
    let envoy_file = dir.0.join("envoy.yaml");
    std::fs::write(
        &envoy_file,
        envoy_mtls_config(port, admin_port, sidecar_port, &document, &certs),
    )
    .unwrap();
    let log = dir.0.join("envoy.log");
    let _envoy = start_envoy(&envoy_file, 1, &log);
    let auth = format!("Bearer {MASTER_KEY}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    loop {
        let r = request(
            "POST",
            &format!("http://127.0.0.1:{port}/mcp"),
            &[("authorization", &auth)],
            list,
        )
        .await;
        if let Ok(r) = r {
            if r.status == 200 {
                assert!(r.text().contains("demo-"), "{}", r.text());
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no answer over mTLS; envoy log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Admin writes (bodies bound, acknowledged by the filter) work over mTLS too.
    let r = request(
        "POST",
        &format!("http://127.0.0.1:{port}/key/generate"),
        &[("authorization", &auth)],
        r#"{"key_alias":"over-mtls"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}
