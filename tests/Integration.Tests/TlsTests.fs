/// The proxy toward backends that serve https: certificates are checked unless a key says otherwise.
module InfluxProxy.Testing.TlsTests

open System
open System.IO
open System.Net
open System.Security.Cryptography
open System.Security.Cryptography.X509Certificates
open System.Text.Json
open Expecto
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

/// PEM files of a test CA and of a server certificate it signed, with the server's key.
type private Pki = { CaPath: string; CertPath: string; KeyPath: string }

let private ecKey () = ECDsa.Create ECCurve.NamedCurves.nistP256

/// A CA, and a server certificate it signed for `names` (the subject alternative names), written into `dir`.
let private makePki (dir: string) (names: SubjectAlternativeNameBuilder -> unit) =
    let notBefore, notAfter = DateTimeOffset.UtcNow.AddDays -1.0, DateTimeOffset.UtcNow.AddDays 1.0
    use caKey = ecKey ()
    let caRequest = CertificateRequest("CN=influx-proxy test CA", caKey, HashAlgorithmName.SHA256)
    caRequest.CertificateExtensions.Add(X509BasicConstraintsExtension(true, false, 0, true))
    caRequest.CertificateExtensions.Add(X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign ||| X509KeyUsageFlags.CrlSign, true))
    use ca = caRequest.CreateSelfSigned(notBefore, notAfter)
    use key = ecKey ()
    let request = CertificateRequest("CN=influxd", key, HashAlgorithmName.SHA256)
    let san = SubjectAlternativeNameBuilder()
    names san
    request.CertificateExtensions.Add(san.Build())
    let serverAuth = OidCollection()
    serverAuth.Add(Oid "1.3.6.1.5.5.7.3.1") |> ignore
    request.CertificateExtensions.Add(X509EnhancedKeyUsageExtension(serverAuth, false))
    use cert = request.Create(ca, notBefore, notAfter, Guid.NewGuid().ToByteArray())
    let pki = { CaPath = Path.Combine(dir, "ca.pem"); CertPath = Path.Combine(dir, "cert.pem"); KeyPath = Path.Combine(dir, "key.pem") }
    File.WriteAllText(pki.CaPath, ca.ExportCertificatePem())
    File.WriteAllText(pki.CertPath, cert.ExportCertificatePem())
    File.WriteAllText(pki.KeyPath, key.ExportPkcs8PrivateKeyPem())
    pki

let private loopbackNames (san: SubjectAlternativeNameBuilder) =
    san.AddIpAddress IPAddress.Loopback
    san.AddDnsName "localhost"

/// One influxd serving https with a certificate for `names` from a new CA, and a database on it.
let private withHttpsBackend (names: SubjectAlternativeNameBuilder -> unit) (body: Pki -> Server -> string -> unit) =
    let dir = ProxyProcess.newDir "tlsd"
    let pki = makePki dir names
    let server = startHttpsOnFreePort pki.CertPath pki.KeyPath "tls-1" (Path.Combine(dir, "tls-1"))
    try
        let db = uniqueDb "tls"
        Influx.createDatabase server.Url db
        body pki server db
    finally
        dispose server
        Directory.Delete(dir, true)

/// A proxy in front of the one backend, with `backendKeys` added to its entry and `extra` top-level members.
let private usingProxy (server: Server) (backendKeys: string list) (extra: string list) (body: ProxyProcess.Proxy -> unit) =
    let port = freePort ()
    let backend = String.concat "," ([ sprintf "\"name\":\"%s\"" server.Name; sprintf "\"url\":\"%s\"" server.Url ] @ backendKeys)
    let members =
        [ sprintf "\"circles\":[{\"name\":\"c\",\"backends\":[{%s}]}]" backend
          sprintf "\"listen_addr\":\"127.0.0.1:%d\"" port
          "\"check_interval\":1" ]
        @ extra
    let proxy = ProxyProcess.startIn (ProxyProcess.newDir "tlsproxy") port ("{" + String.concat "," members + "}")
    try body proxy finally ProxyProcess.dispose proxy

let private healthOf (proxy: ProxyProcess.Proxy) =
    (JsonDocument.Parse((get (proxy.Url + "/health?stats=false")).Body)).RootElement[0].GetProperty("backends")[0]

let private pointsOn (server: Server) db = Influx.countsByMeasurement server.Url db "v" |> Map.tryFind "cpu"

/// A point written through the proxy reaches the backend, and a query through the proxy reads it back.
let private expectServed (proxy: ProxyProcess.Proxy) (server: Server) db =
    Expect.equal (post (sprintf "%s/write?db=%s" proxy.Url db) "cpu v=1 1").Status 204 "write"
    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> pointsOn server db = Some 1L)) proxy.Log
    let answer = get (sprintf "%s/query?db=%s&q=%s" proxy.Url db (escape "SELECT count(v) FROM cpu"))
    Expect.equal answer.Status 200 answer.Body
    Expect.stringContains answer.Body "[[\"1970-01-01T00:00:00Z\",1]]" "queried through the proxy"
    let health = healthOf proxy
    Expect.equal (health.GetProperty("state").GetString(), health.GetProperty("problem").GetString()) ("up", "") "health"

/// The backend shows down for `reason`, and a write is answered but kept in the backlog.
let private expectRefused (proxy: ProxyProcess.Proxy) (server: Server) db (reason: string) =
    Expect.equal (post (sprintf "%s/write?db=%s" proxy.Url db) "cpu v=1 1").Status 204 "answered: backlogged"
    let refused () =
        let health = healthOf proxy
        health.GetProperty("state").GetString() = "down"
        && health.GetProperty("problem").GetString().Contains reason
        && health.GetProperty("backlog").GetBoolean()
    Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) refused) (string (healthOf proxy))
    Expect.stringContains ((healthOf proxy).GetProperty("problem").GetString()) "certificate" "the problem names the certificate"
    Expect.equal (pointsOn server db) None "nothing landed"

let tests =
    testList "Tls" [
        test "a backend whose certificate is not trusted is down, says why, and keeps writes in its backlog" {
            withHttpsBackend loopbackNames (fun _ server db ->
                usingProxy server [] [] (fun proxy -> expectRefused proxy server db "errors in the certificate chain"))
        }

        test "backend_tls_ca_file trusts the backend's CA: writes land and queries answer" {
            withHttpsBackend loopbackNames (fun pki server db ->
                usingProxy server [] [ sprintf "\"backend_tls_ca_file\":\"%s\"" pki.CaPath ] (fun proxy ->
                    expectServed proxy server db
                    Expect.isFalse (proxy.Log.Contains "certificate not verified") "no warning"))
        }

        test "with a trusted CA the host name is still checked" {
            withHttpsBackend (fun san -> san.AddDnsName "elsewhere.invalid") (fun pki server db ->
                usingProxy server [] [ sprintf "\"backend_tls_ca_file\":\"%s\"" pki.CaPath ] (fun proxy ->
                    expectRefused proxy server db "RemoteCertificateNameMismatch"))
        }

        test "a backend's tls_insecure_skip_verify skips its checks, with a warning at start" {
            withHttpsBackend loopbackNames (fun _ server db ->
                usingProxy server [ "\"tls_insecure_skip_verify\":true" ] [] (fun proxy ->
                    expectServed proxy server db
                    Expect.stringContains proxy.Log
                        "backend tls-1: certificate not verified (circles[0].backends[0].tls_insecure_skip_verify is true)" "warned"))
        }

        test "backend_tls_insecure_skip_verify skips every backend's checks, with a warning at start" {
            withHttpsBackend loopbackNames (fun _ server db ->
                usingProxy server [] [ "\"backend_tls_insecure_skip_verify\":true" ] (fun proxy ->
                    expectServed proxy server db
                    Expect.stringContains proxy.Log "backend tls-1: certificate not verified (backend_tls_insecure_skip_verify is true)" "warned"))
        }

        test "a CA file that cannot be read or holds no certificate stops the proxy with one clear line" {
            let dir = ProxyProcess.newDir "badca"
            let garbage = Path.Combine(dir, "garbage.pem")
            File.WriteAllText(garbage, "not a certificate")
            try
                for path, expected in [ Path.Combine(dir, "missing.pem"), "missing.pem"; garbage, "no PEM certificate in it" ] do
                    let config = ProxyProcess.configFor shared.Value (freePort ()) [ sprintf "\"backend_tls_ca_file\":\"%s\"" path ]
                    File.WriteAllText(Path.Combine(dir, "proxy.json"), config)
                    let code, output = ProxyProcess.run dir "-config proxy.json"
                    Expect.equal code 1 output
                    Expect.stringContains output "cannot start: backend_tls_ca_file" output
                    Expect.stringContains output expected output
                    Expect.isFalse (output.Contains "   at ") "no stack trace"
            finally Directory.Delete(dir, true)
        }
    ]
