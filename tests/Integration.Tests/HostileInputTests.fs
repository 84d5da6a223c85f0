/// What a careless or hostile client sends: broken framing, texts outside ASCII, gzip cut short. Each gets InfluxDB's
/// 4xx and its words, never a 500, and nothing of a refused body is stored.
module InfluxProxy.Testing.HostileInputTests

open System
open System.IO
open System.IO.Compression
open System.Net.Http
open System.Net.Sockets
open System.Text
open Expecto
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Web
open InfluxProxy.Testing.Fixtures

/// Sends `request` as bytes on a new connection and reads the answer until the server closes it (Latin-1: a char per byte).
let private exchange (port: int) (request: byte[]) =
    use client = new TcpClient("127.0.0.1", port)
    client.ReceiveTimeout <- 10_000
    let stream = client.GetStream()
    stream.Write request
    use answer = new MemoryStream()
    try stream.CopyTo answer with :? IOException -> ()
    Encoding.Latin1.GetString(answer.ToArray())

let private chunked (path: string) (contentType: string) (chunks: string) =
    Encoding.ASCII.GetBytes(
        $"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: {contentType}\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}")

/// The status line and the X-Influxdb-Error line of a raw answer, byte for byte.
let private statusAndError (answer: string) =
    let lines = answer.Split("\r\n")
    lines[0], lines |> Array.tryFind (fun l -> l.StartsWith("X-Influxdb-Error:", StringComparison.OrdinalIgnoreCase))

let private rawGet (port: int) (pathAndQuery: string) =
    exchange port (Encoding.ASCII.GetBytes $"GET {pathAndQuery} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

let private gzipMember (text: string) =
    use buffer = new MemoryStream()
    (use zip = new GZipStream(buffer, CompressionLevel.Optimal)
     zip.Write(Encoding.UTF8.GetBytes text))
    buffer.ToArray()

let private postGzipBytes (url: string) (bytes: byte[]) =
    let content = new ByteArrayContent(bytes)
    content.Headers.ContentEncoding.Add "gzip"
    send (new HttpRequestMessage(HttpMethod.Post, url, Content = content))

let private onSharedCluster (label: string) (body: Server list list -> string -> ProxyProcess.Proxy -> unit) =
    let circles = shared.Value
    let db = uniqueDb label
    for server in List.concat circles do Influx.createDatabase server.Url db
    ProxyProcess.using circles [] (body circles db)

let private pointsOf (circles: Server list list) db measurement =
    List.concat circles |> List.sumBy (fun s -> Influx.countsByMeasurement s.Url db "v" |> Map.tryFind measurement |> Option.defaultValue 0L)

let tests =
    testList "HostileInput" [
        test "a body with broken chunked framing is the client's fault: a 400 on /write and /query, and the proxy goes on" {
            onSharedCluster "chunks" (fun _ db proxy ->
                let form = "application/x-www-form-urlencoded"
                for path, contentType in [ $"/write?db={db}", "text/plain"; $"/query?db={db}", form ] do
                    for chunks in [ "FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n"; "zz\r\nabc\r\n0\r\n\r\n"; "3\r\nabcdef\r\n0\r\n\r\n" ] do
                        let status, error = statusAndError (exchange proxy.Port (chunked path contentType chunks))
                        let size = chunks.Split('\r')[0]
                        Expect.equal status "HTTP/1.1 400 Bad Request" $"{path} with chunk size {size}"
                        Expect.isSome error "with InfluxDB's error header"
                Expect.equal (post $"{proxy.Url}/write?db={db}" "after v=1").Status 204 "and takes writes after")
        }

        test "an error naming something outside ASCII keeps its text: in the body and, in UTF-8 as influxd sends it, in X-Influxdb-Error" {
            onSharedCluster "utf8" (fun circles db proxy ->
                let direct = circles[0][0]
                // The backend's error, relayed: the same header bytes as influxd's own answer.
                let statement = escape "SELECT v FROM m0 WHERE time > n᳭⧄⧁"
                let query = $"/query?db={db}&q={statement}"
                let relayed, influxd = rawGet proxy.Port query, rawGet direct.Port query
                Expect.equal (statusAndError relayed) (statusAndError influxd) "influxd's status and header, byte for byte"
                Expect.stringContains (snd (statusAndError relayed)).Value (Encoding.Latin1.GetString(Encoding.UTF8.GetBytes "found ᳭")) "in UTF-8"
                let withParam = escape "SELECT v FROM m0 WHERE v = $x"
                let badParams = get $"{proxy.Url}/query?db={db}&q={withParam}&params=%%C3%%A9"
                Expect.equal badParams.Status 400 badParams.Body
                // The proxy's own errors.
                for url, body, status, text in
                    [ $"{proxy.Url}/write?db=données", "m v=1", 404, "database not found: \"données\""
                      $"{proxy.Url}/write?db={db}", "mesuré v=", 400, "unable to parse 'mesuré v=': missing field value" ] do
                    let reply = post url body
                    Expect.equal reply.Status status reply.Body
                    Expect.stringContains reply.Body (text.Replace("\"", "\\\"")) "the whole text in the body"
                    let header = Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(reply.Header("X-Influxdb-Error").Value))
                    Expect.equal header text "and in the header, in UTF-8")
        }

        test "a gzip body cut short is refused whole with InfluxDB's 400, while several members make one body" {
            onSharedCluster "gzip" (fun circles db proxy ->
                let lines prefix = String.concat "" [ for i in 1..500 -> $"{prefix},host=h{i % 7} v={i * 10}i {i}\n" ]
                let whole = gzipMember (lines "cut")
                for cut in [ 1; 4; 8; 9; whole.Length / 2 ] do
                    let reply = postGzipBytes $"{proxy.Url}/write?db={db}" whole[.. whole.Length - 1 - cut]
                    Expect.equal (reply.Status, reply.Body) (400, "{\"error\":\"unexpected EOF\"}\n") $"cut by {cut} bytes"
                let empty = postGzipBytes $"{proxy.Url}/write?db={db}" [||]
                Expect.equal empty.Status 400 "an empty gzip body"
                let members = Array.append (gzipMember (lines "members")) (gzipMember (lines "members2"))
                Expect.equal (postGzipBytes $"{proxy.Url}/write?db={db}" members).Status 204 "two members"
                Expect.equal (postGzipBytes $"{proxy.Url}/write?db={db}" whole).Status 204 "the whole body"
                let large = gzipMember (String.concat "" [ for i in 1..60_000 -> $"large,host=h{i % 7} v={i}i {i}\n" ])
                Expect.equal (postGzipBytes $"{proxy.Url}/write?db={db}" large).Status 204 "a body read in many pieces"
                let landed () = pointsOf circles db "members" = 1000L && pointsOf circles db "members2" = 1000L && pointsOf circles db "cut" = 1000L
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 30.0) landed) "both members and the whole body land in both circles, and nothing of a cut one"
                let metrics = (get (proxy.Url + "/metrics")).Body
                Expect.stringContains metrics "influxproxy_journal_corrupt_records_total 0" "damaged journal records are counted in /metrics")
        }
    
        test "a multipart query body that does not parse leaves the URL's values, as influxd reads it" {
            onSharedCluster "multipart" (fun circles db proxy ->
                let ask (url: string) (contentType: string) =
                    let content = new ByteArrayContent(Encoding.ASCII.GetBytes "q=x")
                    content.Headers.TryAddWithoutValidation("Content-Type", contentType) |> ignore
                    send (new HttpRequestMessage(HttpMethod.Post, $"{url}/query?db={db}&q=SHOW%%20DATABASES", Content = content))
                let direct = circles[0][0]
                for contentType in [ "multipart/form-data; boundary=zz"; "multipart/form-data" ] do
                    let relayed, influxd = ask proxy.Url contentType, ask direct.Url contentType
                    Expect.equal relayed.Status influxd.Status $"{contentType}: {relayed.Body}"
                    Expect.stringContains relayed.Body db "answered from the URL's q")
        }
    ]
