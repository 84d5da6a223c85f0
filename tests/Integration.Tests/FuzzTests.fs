/// A seeded fuzz run against the real proxy process in front of a private 2×2 cluster: a few thousand hostile
/// requests (junk line protocol, bogus gzip, random InfluxQL, odd methods, paths and headers, malformed HTTP framing on
/// raw sockets), then the proxy must still be alive and still deliver. Every request is drawn from one seed up front,
/// so a run replays: FUZZ_SEED overrides the seed, FUZZ_COUNT the number of requests.
module InfluxProxy.Testing.FuzzTests

open System
open System.IO
open System.IO.Compression
open System.Net.Http
open System.Net.Sockets
open System.Text
open System.Text.Json
open System.Threading
open Expecto
open InfluxProxy.Core
open InfluxProxy.Testing.Influxd
open InfluxProxy.Testing.Fixtures

/// A request body with the headers that describe it.
type private Body =
    { Bytes: byte[]
      ContentType: string option
      ContentEncoding: string option }

/// What a raw-socket client does once its bytes are sent.
type private Ending =
    /// Reads until the proxy closes (the requests say `Connection: close`): a whole request, however malformed.
    | ReadAnswer
    /// Half-closes, then reads: a client that stopped mid-request but still listens (Kestrel then drops it).
    | HalfCloseThenRead
    /// Closes without reading: a client gone mid-request; the proxy must just survive it.
    | CloseAtOnce

type private Request =
    /// Through HttpClient: method, target (path and query string), extra headers, body.
    | Http of verb: string * target: string * headers: (string * string) list * body: Body option
    /// Bytes written on a fresh socket: the framing HttpClient will not produce.
    | Raw of bytes: byte[] * ending: Ending

/// One request of the run and the family it was drawn from (findings are grouped by it).
type private Case = { Kind: string; Request: Request }

type private Outcome =
    | Answered of status: int * body: string
    /// The connection was closed or reset without an answer: fine for malformed framing.
    | Dropped of error: string
    /// Nothing within the timeout: always a finding.
    | Hung of error: string
    /// HttpClient would not send it (a header or URI it refuses): the fuzzer's problem, not the proxy's.
    | Unsent of error: string

/// A request the proxy answered with a 5xx or not at all in time.
type private Finding =
    { Kind: string
      Verb: string
      Target: string
      Excerpt: string
      Status: string
      Error: string
      /// The whole request, for a reproducer (the report file).
      Full: string }

let private defaultSeed = 20_240_611
let private defaultCount = 3000
let private timeout = TimeSpan.FromSeconds 10.0

let private envInt (name: string) (fallback: int) =
    match Environment.GetEnvironmentVariable name with
    | null | "" -> fallback
    | text -> match Int32.TryParse text with | true, n -> n | _ -> failwithf "%s=%s is not an integer" name text

let private utf8 (text: string) = Encoding.UTF8.GetBytes text

/// Printable, one line, at most `length` characters: control characters and non-ASCII shown as escapes.
let private excerpt (length: int) (text: string) =
    let shown =
        text
        |> Seq.truncate length
        |> Seq.map (fun c -> if c >= ' ' && c <= '~' then string c else sprintf "\\u%04x" (int c))
        |> String.concat ""
    if text.Length > length then shown + "…" else shown

let private bytesExcerpt (length: int) (bytes: byte[]) =
    Encoding.UTF8.GetString(bytes, 0, min bytes.Length length) |> excerpt length

/// Random draws; every one takes the run's `Random`, so the whole run follows from the seed.
module private Draw =
    let pick (r: Random) (xs: 'a[]) = xs[r.Next xs.Length]
    let chance (r: Random) (p: float) = r.NextDouble() < p
    let bytes (r: Random) (n: int) =
        let b = Array.zeroCreate n
        r.NextBytes b
        b
    /// Picks by weight: `(weight, value)` pairs.
    let weighted (r: Random) (xs: (int * 'a) list) =
        let total = xs |> List.sumBy fst
        let rec go n = function
            | (w, x) :: rest -> if n < w then x else go (n - w) rest
            | [] -> failwith "no choices"
        go (r.Next total) xs

    /// Characters that line protocol and InfluxQL escape, quote or split on, non-ASCII and control characters;
    /// no digits, so a mutated timestamp never opens a shard in another week.
    let nasty =
        [| "\\"; "\""; "'"; "="; ","; " "; "\t"; "\r"; "\n"; "\u0000"; "\u0001"; "\u001b"; "\u007f"; "é"; "日本"; "🙂"
           "\u00a0"; "\u200b"; "\ufeff"; "#"; "/"; ";"; "("; ")"; "%"; "\\ "; "\\,"; "\\="; "\\\""; "\ud800" |]
    let plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"

    let word (r: Random) (length: int) = System.String(Array.init length (fun _ -> plain[r.Next plain.Length]))

    /// A name that is mostly plain, sometimes laced with nasty characters.
    let name (r: Random) =
        if chance r 0.7 then word r (1 + r.Next 8)
        else [ for _ in 0 .. r.Next 6 -> if chance r 0.5 then pick r nasty else word r (1 + r.Next 3) ] |> String.concat ""

    /// Inserts, deletes or duplicates a few pieces of `text`.
    let mutate (r: Random) (text: string) =
        let mutable s = text
        for _ in 0 .. r.Next 5 do
            let at = if s.Length = 0 then 0 else r.Next(s.Length + 1)
            s <-
                match r.Next 4 with
                | 0 | 1 -> s.Insert(at, pick r nasty)
                | 2 when at < s.Length -> s.Remove(at, min (1 + r.Next 3) (s.Length - at))
                | _ when at < s.Length -> s.Insert(at, s.Substring(at, min (1 + r.Next 10) (s.Length - at)))
                | _ -> s + pick r nasty
        s

/// Line-protocol-ish /write bodies and the gzip variants of them.
module private WriteBodies =
    let private fieldValue (r: Random) =
        Draw.pick r [| sprintf "%d" (r.Next 1000); sprintf "%di" (r.Next 1000); sprintf "%du" (r.Next 1000)
                       sprintf "%f" (r.NextDouble()); "t"; "FALSE"; "true"; "1e400"; "-"; ""; "NaN"; "+Inf"
                       "9223372036854775808i"; "-9223372036854775809i"; "18446744073709551616u"; "-1u"; "1.2.3"
                       sprintf "\"%s\"" (Draw.name r); "\"unterminated"; "\"esc\\\"aped\\\\\""; "\"\\\""; "\"é\"" |]

    /// Timestamps in few weeks only (1970, 2020, now): random ones would open thousands of shards on the backends.
    let private timestamp (r: Random) =
        Draw.pick r [| ""; ""; ""; " 1600000000000000000"; " 1600000000000000001"; " 1600000000"; " -1"; " 0"
                       " 99999999999999999999"; " 9223372036854775807"; " -9223372036854775808"; " abc"; " 1.5"; " "
                       " 1600000000000000000 extra" |]

    let line (r: Random) =
        let tags = [ for _ in 1 .. Draw.pick r [| 0; 0; 1; 2; 3 |] -> sprintf ",%s=%s" (Draw.name r) (Draw.name r) ] |> String.concat ""
        let fields = [ for _ in 1 .. Draw.pick r [| 0; 1; 1; 2; 3 |] -> sprintf "%s=%s" (Draw.name r) (fieldValue r) ] |> String.concat ","
        let text = sprintf "fz_%s%s %s%s" (Draw.name r) tags fields (timestamp r)
        if Draw.chance r 0.4 then Draw.mutate r text else text

    let lines (r: Random) =
        let separator = Draw.pick r [| "\n"; "\n"; "\r\n"; "\n\n"; "\n# a comment\n"; "\n   \n" |]
        [ for _ in 0 .. r.Next 20 -> line r ] |> String.concat separator
        |> fun body -> body + Draw.pick r [| ""; "\n"; "\r\n"; " "; "\\" |]

    let gzip (bytes: byte[]) =
        use buffer = new MemoryStream()
        (use zip = new GZipStream(buffer, CompressionLevel.Fastest)
         zip.Write bytes)
        buffer.ToArray()

/// InfluxQL-ish text: real statements, their tokens recombined, and the shapes parsers choke on.
module private Queries =
    /// No DROP DATABASE of the run's database, no retention policy changes: the checks after the run write to it.
    let statements =
        [| "SELECT * FROM fz_a"; "SELECT mean(value), max(\"count\") FROM fz_a WHERE time > now() - 1h GROUP BY time(1m), host fill(none)"
           "SELECT count(*) FROM /.*/"; "SELECT * FROM /fz_.*/ WHERE host =~ /h[0-9]+/ LIMIT 5 OFFSET 2"
           "SELECT last(value) FROM fz_a WHERE host = 'h1' AND time >= '2020-09-13T12:26:40Z' ORDER BY time DESC"
           "SELECT value INTO fz_copy FROM fz_a"; "SELECT percentile(value, 95) FROM fz_a SLIMIT 1 SOFFSET 1"
           "SELECT derivative(mean(value), 1s) FROM fz_a WHERE time > 0 GROUP BY time(1h)"
           "SELECT * FROM \"autogen\".\"fz_a\""; "SELECT top(value, host, 3) FROM fz_a"
           "SELECT * FROM (SELECT mean(value) AS m FROM fz_a GROUP BY host) WHERE m > 0"
           "SELECT value FROM fz_a, fz_b WHERE $x = 'y'"; "SELECT * FROM fz_a WHERE time > $t"
           "SHOW MEASUREMENTS"; "SHOW MEASUREMENTS WITH MEASUREMENT =~ /fz/ LIMIT 2"; "SHOW DATABASES"
           "SHOW TAG KEYS FROM fz_a"; "SHOW TAG VALUES WITH KEY = host"; "SHOW TAG VALUES WITH KEY IN (\"host\", \"dc\")"
           "SHOW FIELD KEYS"; "SHOW SERIES"; "SHOW SERIES CARDINALITY"; "SHOW RETENTION POLICIES"
           "SHOW MEASUREMENT EXACT CARDINALITY"; "SHOW STATS"; "SHOW DIAGNOSTICS"; "SHOW QUERIES"; "SHOW SHARDS"
           "SHOW USERS"; "SHOW GRANTS FOR fz"; "SHOW CONTINUOUS QUERIES"; "SHOW SUBSCRIPTIONS"
           "CREATE DATABASE fz_other"; "DROP DATABASE fz_nonexistent"; "DROP MEASUREMENT fz_b"
           "DELETE FROM fz_c WHERE time < 0"; "DROP SERIES FROM fz_c WHERE host = 'h9'"; "KILL QUERY 999999"
           "EXPLAIN SELECT * FROM fz_a"; "EXPLAIN ANALYZE SELECT count(value) FROM fz_a"
           "SELECT * FROM fz_a; SHOW MEASUREMENTS; SELECT count(value) FROM fz_b"
           "SELECT * FROM \"_internal\".\"monitor\".\"shard\" LIMIT 1"; "SELECT * FROM \"fz_other\"..fz_a"; "SELECT * FROM \"é\"..\"日本\""
           "SHOW MEASUREMENTS ON \"fz_other\""; "SHOW TAG KEYS ON \"é\""; "SHOW FIELD KEY CARDINALITY ON fz_nope"
           "SHOW TAG VALUES EXACT CARDINALITY WITH KEY = host"; "SELECT * INTO \"fz_other\"..\"fz_into\" FROM fz_a GROUP BY *"
           "SHOW DATABASES; CREATE DATABASE fz_other; SELECT * FROM fz_a"; "SELECT * FROM fz_a WHERE time > now() - 1h; SHOW SERIES ON fz_other"
           String.replicate 100 "SELECT * FROM fz_a; " |]

    let tokens =
        Array.append
            (statements |> Array.collect (fun s -> s.Split(' ', StringSplitOptions.RemoveEmptyEntries)))
            [| "("; ")"; ","; ";"; "'"; "\""; "/"; "=~"; "!~"; "<>"; "::"; "::field"; "::tag"; "*"; "-"; "+"; "%"; "@"
               "$"; "$x"; "1e309"; "99999999999999999999"; "-0"; "0x10"; "10s"; "10µs"; "ménage"; "'é'"; "\"日本\"" |]

    let recombined (r: Random) = [ for _ in 0 .. r.Next 30 -> Draw.pick r tokens ] |> String.concat (Draw.pick r [| " "; " "; ""; "\t"; "\n" |])

    let deepParentheses (r: Random) =
        let depth = Draw.pick r [| 50; 500; 2000; 5000; 20000 |]
        let o, c = System.String('(', depth), System.String(')', depth)
        match r.Next 5 with
        | 0 -> sprintf "SELECT * FROM fz_a WHERE %svalue > 1%s" o c
        | 1 -> sprintf "SELECT %svalue%s FROM fz_a" o c
        | 2 -> sprintf "SELECT * FROM fz_a WHERE %svalue > 1" o
        | 3 -> sprintf "SELECT * FROM %s" (String.replicate depth "(SELECT * FROM ") + "fz_a" + c
        | _ -> sprintf "SELECT mean(%svalue%s) FROM fz_a" (String.replicate depth "abs(") c

    let huge (r: Random) =
        let n = Draw.pick r [| 1000; 70_000; 300_000 |]
        let big = System.String('x', n)
        Draw.pick r [| sprintf "SELECT * FROM %s" big; sprintf "SELECT * FROM \"%s\"" big; sprintf "SELECT %s FROM fz_a" big
                       sprintf "SELECT * FROM fz_a WHERE host = '%s'" big; sprintf "SHOW TAG VALUES WITH KEY = \"%s\"" big
                       // a regex of many groups costs influxd seconds per thousand groups (Go's regexp): kept small, or the
                       // run measures the backends' CPU rather than the proxy
                       sprintf "SELECT * FROM fz_a WHERE host =~ /%s/" (String.replicate (min 2000 (n / 4)) "(a|b)*") |]

    let broken (r: Random) =
        Draw.pick r [| "SELECT * FROM fz_a WHERE host = 'unterminated"; "SELECT * FROM fz_a WHERE host =~ /unterminated"
                       "SELECT * FROM \"unterminated"; "SELECT * FROM fz_a WHERE host =~ /[/"; "SELECT * FROM fz_a WHERE host =~ /(?P<x/"
                       "SELECT * FROM ménage"; "SELECT ü FROM fz_a"; "SHOW TAG VALUES WITH KEY = \"日本\""; "SELECT * FROM fz_a WHERE é = 1"
                       "SELECT * FROM fz_a WHERE host = '\\"; "SELECT * FROM fz_a\u0000"; "\u0000"; ""; " "; ";"; ";;;"
                       "SELECT"; "SELECT FROM"; "SELECT * FROM"; "SHOW"; "select * from fz_a where time > now() - 99999999999999999999h"
                       "SELECT * FROM fz_a GROUP BY time(0s)"; "SELECT * FROM fz_a LIMIT -1"; "SELECT * FROM fz_a LIMIT 99999999999999999999"
                       "SELECT * FROM fz_a WHERE time > '2262-04-12'"; "SELECT mean(value) FROM fz_a GROUP BY time(1ns)" |]

    let text (r: Random) =
        Draw.weighted r
            [ 6, (fun () -> Draw.pick r statements)
              6, (fun () -> Draw.mutate r (Draw.pick r statements))
              8, (fun () -> recombined r)
              3, (fun () -> deepParentheses r)
              2, (fun () -> huge r)
              5, (fun () -> broken r) ] ()

    let parameters (r: Random) =
        Draw.pick r [| """{"x":"y"}"""; """{"t":0}"""; """{"x":1e999}"""; "{"; "["; "null"; "\"s\""; """{"é":"é"}"""
                       """{"x":{"y":[1,2]}}"""; """{"x":"\u0000"}"""; "not json"; "" |]

/// The requests of the run, drawn from one `Random`.
module private Cases =
    let private escape (text: string) =
        // EscapeDataString refuses lone surrogates and very long strings; they go encoded as UTF-8 bytes instead.
        try Uri.EscapeDataString text
        with :? UriFormatException | :? ArgumentException -> Encoding.UTF8.GetBytes text |> Array.map (sprintf "%%%02X") |> String.concat ""

    /// A query-string value: usually escaped, sometimes percent-junk.
    let private value (r: Random) (text: string) =
        if Draw.chance r 0.9 then escape text else Draw.pick r [| "%"; "%zz"; "%C3"; "%C3%A9"; "%00"; "%FF%FE"; "%E6%97%A5" |]

    /// Database and retention policy names that need quoting or escaping wherever the proxy builds a statement from them.
    let private oddNames = [| "é"; "a\"b"; "a\\b"; "a'b"; "a b"; "a;b"; "a\nb"; "a\u0000b"; "\\"; "\""; System.String('d', 300) |]

    let private query (pairs: (string * string) list) = pairs |> List.map (fun (k, v) -> k + "=" + v) |> String.concat "&"

    let private body (contentType: string option) (encoding: string option) (bytes: byte[]) =
        Some { Bytes = bytes; ContentType = contentType; ContentEncoding = encoding }

    let private writeTarget (r: Random) (db: string) =
        let dbParam = Draw.weighted r [ 12, [ "db", escape db ]; 1, []; 1, [ "db", "" ]; 1, [ "db", value r "fz_nope" ]; 1, [ "db", value r (Draw.pick r oddNames) ] ]
        let extra =
            [ if Draw.chance r 0.3 then "precision", value r (Draw.pick r [| "ns"; "n"; "u"; "µ"; "ms"; "s"; "m"; "h"; "bogus"; "" |])
              if Draw.chance r 0.15 then "rp", value r (Draw.pick r (Array.append oddNames [| "autogen"; "nope"; "" |]))
              if Draw.chance r 0.1 then "consistency", value r (Draw.pick r [| "any"; "one"; "quorum"; "all"; "x" |])
              if Draw.chance r 0.05 then "u", value r "x"
              if Draw.chance r 0.05 then "p", value r "y" ]
        "/write?" + query (dbParam @ extra)

    let private write (r: Random) (db: string) =
        let text = "text/plain; charset=utf-8"
        Draw.weighted r
            [ 40, ("write/lines", fun () -> body (Some text) None (utf8 (WriteBodies.lines r)))
              6, ("write/random-bytes", fun () -> body (Some text) None (Draw.bytes r (r.Next 4000)))
              4, ("write/gzip-random-bytes", fun () -> body None (Some "gzip") (Draw.bytes r (r.Next 2000)))
              4, ("write/gzip-truncated", fun () ->
                    let full = WriteBodies.gzip (utf8 (WriteBodies.lines r + "\nfz_ok value=1"))
                    body None (Some "gzip") full[.. r.Next(1, full.Length) - 1])
              3, ("write/gzip-of-garbage", fun () -> body None (Some "gzip") (WriteBodies.gzip (Draw.bytes r (r.Next 4000))))
              3, ("write/gzip-of-lines", fun () -> body None (Some "gzip") (WriteBodies.gzip (utf8 (WriteBodies.lines r))))
              2, ("write/gzip-trailing-garbage", fun () ->
                    body None (Some "gzip") (Array.append (WriteBodies.gzip (utf8 "fz_g value=1")) (Draw.bytes r (1 + r.Next 50))))
              2, ("write/odd-encoding", fun () ->
                    body None (Some (Draw.pick r [| "deflate"; "br"; "GZIP"; "gzip, identity"; "gzip, gzip"; "x-gzip"; "identity"; "" |]))
                        (utf8 (WriteBodies.lines r)))
              1, ("write/gzip-bomb", fun () -> body None (Some "gzip") (WriteBodies.gzip (Array.create (30_000_000 + r.Next 1000) (byte '\n')))) ]
        |> fun (kind, make) -> { Kind = kind; Request = Http("POST", writeTarget r db, [], make ()) }

    let private queryParams (r: Random) (db: string) (q: string) =
        [ if Draw.chance r 0.95 then "q", value r q
          if Draw.chance r 0.85 then "db", value r (if Draw.chance r 0.9 then db else Draw.pick r (Array.append oddNames [| "fz_nope"; ""; "_internal" |]))
          if Draw.chance r 0.2 then "epoch", value r (Draw.pick r [| "ns"; "u"; "µ"; "ms"; "s"; "m"; "h"; "bogus"; "" |])
          if Draw.chance r 0.15 then "chunked", value r (Draw.pick r [| "true"; "false"; "1"; "yes"; "" |])
          if Draw.chance r 0.15 then "chunk_size", value r (Draw.pick r [| "1"; "0"; "-1"; "10000"; "99999999999999999999"; "abc" |])
          if Draw.chance r 0.15 then "params", value r (Queries.parameters r)
          if Draw.chance r 0.05 then "rp", value r (Draw.pick r (Array.append oddNames [| "autogen"; "nope" |]))
          if Draw.chance r 0.05 then "pretty", value r "true" ]
        |> List.sortBy (fun _ -> r.Next())

    let private queryCase (r: Random) (db: string) =
        let q = Queries.text r
        let pairs = queryParams r db q
        // GET for what fits in a request line (the rest is a 414 we need not hear 3000 times)
        if Draw.chance r 0.55 && q.Length < 6000 then
            { Kind = "query/get"; Request = Http("GET", "/query?" + query pairs, [], None) }
        else
            Draw.weighted r
                [ 8, ("query/post-form", fun () -> "/query", Some "application/x-www-form-urlencoded", query pairs)
                  2, ("query/post-url-and-form", fun () -> "/query?" + query (pairs |> List.filter (fun (k, _) -> k <> "q")), Some "application/x-www-form-urlencoded", query [ "q", value r q ])
                  1, ("query/post-odd-type", fun () ->
                        "/query?" + query pairs,
                        Some (Draw.pick r [| "multipart/form-data"; "multipart/form-data; boundary=zz"; "application/json"; "text/plain; charset=bogus"; "application/x-www-form-urlencoded; charset=utf-99"; "" |]),
                        Draw.pick r [| "--zz\r\nContent-Disposition: form-data; name=\"q\"\r\n\r\nSHOW DATABASES\r\n--zz--\r\n"; "--zz\r\ngarbage"; "{\"q\":1}"; q |]) ]
            |> fun (kind, make) ->
                let target, contentType, form = make ()
                { Kind = kind; Request = Http("POST", target, [], body contentType None (utf8 form)) }

    let private paths =
        [| "/write"; "/write/"; "//write"; "/query"; "/query/"; "//query"; "/query%00"; "/write%00"; "/ping"; "/health"; "/metrics"
           "/debug/vars"; "/debug/pprof/"; "/debug/pprof/heap"; "/debug/requests"; "/encrypt"; "/decrypt"; "/replica"
           "/migrate/state"; "/transfer/state"; "/migrate/stats"; "/transfer/stats"; "/migrate/jobs"; "/migrate/job"
           "/rebalance"; "/recovery"; "/resync"; "/clear"; "/cleanup"; "/"; "/nope"; "/WRITE"; "/Query"; "/write;x"
           "/%2e%2e/%2e%2e/etc/passwd"; "/write%2fx"; "/é"; "/" + System.String('a', 2000); "/" + System.String('a', 9000) |]

    /// Methods that change nothing on any path: POST only where it cannot start a job or flip a migration flag.
    let private oddMethod (r: Random) (db: string) =
        let path = Draw.pick r paths
        let verb = Draw.pick r [| "PUT"; "DELETE"; "PATCH"; "OPTIONS"; "HEAD"; "TRACE"; "GET"; "GET"; "PROPFIND"; "FOO" |]
        let queryString =
            Draw.pick r [| ""; "?db=" + escape db; "?q=SHOW%20DATABASES&db=" + escape db; "?key=x&text=é"; "?msg=" + value r "abc"
                           "?db=" + escape db + "&meas=fz_a"; "?verbose=true"; "?" + System.String('q', 3000) |]
        let withBody = verb <> "GET" && verb <> "HEAD" && verb <> "TRACE" && Draw.chance r 0.5
        { Kind = "method/" + verb
          Request = Http(verb, path + queryString, [], (if withBody then body (Some "text/plain") None (utf8 "fz_m value=1") else None)) }

    let private oddHeaders (r: Random) (db: string) =
        let header =
            Draw.pick r [| "Authorization", "Basic !!!"; "Authorization", "Token x"; "Authorization", "Token "; "Authorization", "Bearer x"
                           "Authorization", "Basic " + Convert.ToBase64String(utf8 "nocolon"); "Authorization", "Basic " + Convert.ToBase64String(utf8 "é:é")
                           "Authorization", "Basic"; "Authorization", System.String('A', 20_000)
                           "Accept-Encoding", "gzip;q=abc"; "Accept-Encoding", "*"; "Accept-Encoding", "br, deflate, gzip"; "Accept", "application/csv"
                           "Accept", "application/x-msgpack"; "X-Forwarded-For", "not-an-ip"; "X-Request-Id", System.String('r', 5000)
                           "X-Big", System.String('b', 20_000); "X-Bigger", System.String('b', 40_000)
                           "Expect", "100-continue"; "Expect", "teapot"; "Connection", "close"; "Connection", "upgrade"; "Upgrade", "h2c"
                           "Range", "bytes=0-1"; "If-None-Match", "*"; "X-Proxy-Migration-Lease", "-5" |]
        let isQuery = Draw.chance r 0.5
        let target, verb, content =
            if isQuery then "/query?q=SHOW%20MEASUREMENTS&db=" + escape db, Draw.pick r [| "GET"; "POST" |], None
            else writeTarget r db, "POST", body (Some (Draw.pick r [| "text/plain"; "application/json"; "bogus"; "a/b; c=d" |])) None (utf8 (WriteBodies.lines r))
        { Kind = "header/" + fst header; Request = Http(verb, target, [ header ], content) }

    let private http11 (verb: string) (target: string) (headers: string list) =
        let lines = "Host: 127.0.0.1" :: "Connection: close" :: headers |> List.map (fun h -> h + "\r\n") |> String.concat ""
        sprintf "%s %s HTTP/1.1\r\n%s\r\n" verb target lines

    let private raw (r: Random) (db: string) =
        let target = Draw.pick r [| "/write?db=" + escape db; "/query?db=" + escape db; "/query?q=SHOW%20DATABASES" |]
        let formType = if target.StartsWith "/query" then [ "Content-Type: application/x-www-form-urlencoded" ] else []
        let payload = if target.StartsWith "/query" then "q=SHOW+MEASUREMENTS" else "fz_raw value=1"
        let chunked = "Transfer-Encoding: chunked" :: formType
        let post headers = http11 "POST" target headers
        let gone () = if Draw.chance r 0.5 then HalfCloseThenRead else CloseAtOnce
        let kind, text, ending =
            Draw.weighted r
                [ 3, ("raw/chunk-size-overflow", post chunked + "FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n", ReadAnswer)
                  3, ("raw/chunk-size-garbage", post chunked + Draw.pick r [| "zz"; "-1"; " "; "0x5"; "5 5"; "é" |] + "\r\n" + payload + "\r\n0\r\n\r\n", ReadAnswer)
                  2, ("raw/chunk-ext-garbage", post chunked + sprintf "%x;ext=\"x\r\n%s\r\n0\r\n\r\n" payload.Length payload, ReadAnswer)
                  2, ("raw/chunk-data-overrun", post chunked + sprintf "2\r\n%s\r\n0\r\n\r\n" payload, ReadAnswer)
                  3, ("raw/chunked-ends-early", post chunked + sprintf "%x\r\n%s" (payload.Length + 10) payload, gone ())
                  2, ("raw/chunked-no-terminator", post chunked + sprintf "%x\r\n%s\r\n" payload.Length payload, gone ())
                  3, ("raw/content-length-short", post (sprintf "Content-Length: %d" (payload.Length + 1000) :: formType) + payload, gone ())
                  2, ("raw/content-length-bogus", post (sprintf "Content-Length: %s" (Draw.pick r [| "-1"; "abc"; "99999999999999999999"; "1, 2"; " " |]) :: formType) + payload, ReadAnswer)
                  1, ("raw/content-length-duplicate", post ([ sprintf "Content-Length: %d" payload.Length; "Content-Length: 3" ] @ formType) + payload, ReadAnswer)
                  2, ("raw/te-and-cl", post ([ "Transfer-Encoding: chunked"; sprintf "Content-Length: %d" payload.Length ] @ formType) + sprintf "%x\r\n%s\r\n0\r\n\r\n" payload.Length payload, ReadAnswer)
                  2, ("raw/te-odd", post (sprintf "Transfer-Encoding: %s" (Draw.pick r [| "gzip, chunked"; "identity"; "chunked, gzip"; "xchunked"; "chunked;x" |]) :: formType) + payload, gone ())
                  2, ("raw/header-non-ascii", http11 "GET" target [ "X-Name: é日本🙂" ], ReadAnswer)
                  1, ("raw/header-control", http11 "GET" target [ "X-Name: a\u0001b\u007f" ], ReadAnswer)
                  1, ("raw/header-no-colon", http11 "GET" target [ "NoColonHere" ], ReadAnswer)
                  1, ("raw/header-obs-fold", http11 "GET" target [ "X-Folded: a"; " b" ], ReadAnswer)
                  1, ("raw/host-missing", sprintf "GET %s HTTP/1.1\r\nConnection: close\r\n\r\n" target, ReadAnswer)
                  1, ("raw/host-odd", sprintf "GET %s HTTP/1.1\r\nHost: é:99999\r\nConnection: close\r\n\r\n" target, ReadAnswer)
                  1, ("raw/http10", "GET /query?q=SHOW%20DATABASES HTTP/1.0\r\n\r\n", ReadAnswer)
                  1, ("raw/absolute-form", http11 "GET" "http://example.com/query?q=SHOW%20DATABASES" [], ReadAnswer)
                  1, ("raw/asterisk-form", http11 "OPTIONS" "*" [], ReadAnswer)
                  1, ("raw/connect", http11 "CONNECT" "127.0.0.1:1" [], ReadAnswer)
                  1, ("raw/bad-version", Draw.pick r [| "GET / HTTP/9.9\r\n\r\n"; "GET /\r\n\r\n"; "GET\r\n\r\n"; "GÉT / HTTP/1.1\r\nHost: x\r\n\r\n" |], ReadAnswer)
                  1, ("raw/target-control", http11 "GET" "/query?q=SHOW\u0000DATABASES" [], ReadAnswer)
                  1, ("raw/target-non-ascii", http11 "GET" "/query?q=SELECT * FROM é&db=x" [], ReadAnswer)
                  2, ("raw/random-bytes", Encoding.Latin1.GetString(Draw.bytes r (1 + r.Next 600)), (if Draw.chance r 0.3 then CloseAtOnce else HalfCloseThenRead))
                  1, ("raw/pipelined", String.replicate 3 (sprintf "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n") + post chunked + "zz\r\n", ReadAnswer) ]
        // random bytes go as drawn (Latin-1); everything else as UTF-8
        let bytes = if kind = "raw/random-bytes" then Encoding.Latin1.GetBytes text else utf8 text
        { Kind = kind; Request = Raw(bytes, ending) }

    let draw (r: Random) (db: string) =
        Draw.weighted r
            [ 36, write
              38, queryCase
              10, oddMethod
              6, oddHeaders
              10, raw ] r db

/// Sends the cases and tells what came back.
module private Send =
    let client =
        let handler =
            new SocketsHttpHandler(
                AllowAutoRedirect = false,
                AutomaticDecompression = Net.DecompressionMethods.None,
                MaxConnectionsPerServer = 16,
                ConnectTimeout = TimeSpan.FromSeconds 5.0)
        new HttpClient(handler, Timeout = Threading.Timeout.InfiniteTimeSpan)

    let http (baseUrl: string) (verb: string) (target: string) (headers: (string * string) list) (body: Body option) =
        use request = new HttpRequestMessage(HttpMethod verb, Uri(baseUrl + target))
        for name, value in headers do
            if not (request.Headers.TryAddWithoutValidation(name, value)) then invalidOp (sprintf "header %s refused by HttpClient" name)
        match body with
        | Some b ->
            let content = new ByteArrayContent(b.Bytes)
            b.ContentType |> Option.iter (fun t -> content.Headers.TryAddWithoutValidation("Content-Type", t) |> ignore)
            b.ContentEncoding |> Option.iter (fun e -> content.Headers.TryAddWithoutValidation("Content-Encoding", e) |> ignore)
            request.Content <- content
        | None -> ()
        use cancel = new CancellationTokenSource(timeout)
        try
            use response = client.Send(request, HttpCompletionOption.ResponseContentRead, cancel.Token)
            let text = response.Content.ReadAsStringAsync(cancel.Token).GetAwaiter().GetResult()
            Answered(int response.StatusCode, text)
        with
        | :? OperationCanceledException when cancel.IsCancellationRequested -> Hung(sprintf "no answer within %O" timeout)
        | :? HttpRequestException as e -> Dropped(e.Message + (if isNull e.InnerException then "" else " / " + e.InnerException.Message))

    /// Every final status in what the server sent (pipelined requests get several answers).
    let private allStatuses (received: string) =
        received.Split("\r\n")
        |> Array.choose (fun l ->
            if l.StartsWith "HTTP/1." && l.Length >= 12 then
                match Int32.TryParse(l.Substring(9, 3)) with | true, s when s >= 200 -> Some s | _ -> None
            else None)

    /// Reads until the proxy closes the connection or the timeout passes.
    let private readToEnd (socket: Socket) =
        use received = new MemoryStream()
        let buffer: byte[] = Array.zeroCreate 65536
        let rec read () =
            let n = socket.Receive buffer
            if n > 0 then
                received.Write(buffer, 0, n)
                read ()
        try read (); Ok(received.ToArray())
        with :? SocketException as e when e.SocketErrorCode = SocketError.TimedOut || e.SocketErrorCode = SocketError.WouldBlock ->
            Error(received.ToArray())

    let raw (port: int) (bytes: byte[]) (ending: Ending) =
        use socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
        socket.ReceiveTimeout <- int timeout.TotalMilliseconds
        socket.SendTimeout <- int timeout.TotalMilliseconds
        try
            socket.Connect(Net.IPAddress.Loopback, port)
            socket.Send bytes |> ignore
            match ending with
            | CloseAtOnce ->
                socket.Close()
                Dropped "closed by the client"
            | HalfCloseThenRead | ReadAnswer ->
                if ending = HalfCloseThenRead then socket.Shutdown SocketShutdown.Send
                match readToEnd socket with
                | Error partial -> Hung(sprintf "connection still open after %O, %d bytes received" timeout partial.Length)
                | Ok received ->
                    let text = Encoding.UTF8.GetString received
                    let statuses = allStatuses text
                    match statuses |> Array.tryFind (fun s -> s >= 500), Array.tryHead statuses with
                    | Some bad, _ -> Answered(bad, text)
                    | None, Some status -> Answered(status, text)
                    | None, None -> Dropped(sprintf "closed after %d bytes" text.Length)
        with :? SocketException as e -> Dropped(string e.SocketErrorCode)

    let run (baseUrl: string) (port: int) (case: Case) =
        try
            match case.Request with
            | Http(verb, target, headers, body) -> http baseUrl verb target headers body
            | Raw(bytes, ending) -> raw port bytes ending
        with e -> Unsent(sprintf "%s: %s" (e.GetType().Name) e.Message)

/// The `error` of an InfluxDB-shaped answer, or its start.
/// (A raw answer's body may be chunked: the JSON object inside it is looked for.)
let private errorText (body: string) =
    let start, finish = body.IndexOf '{', body.LastIndexOf '}'
    try
        if start < 0 || finish < start then raise (JsonException "no object")
        use doc = JsonDocument.Parse(body.Substring(start, finish - start + 1))
        match doc.RootElement.TryGetProperty "error" with
        | true, e -> e.ToString()
        | _ -> excerpt 100 body
    with :? JsonException -> excerpt 100 body

/// One line telling what a case sent.
let private shortly (case: Case) =
    match case.Request with
    | Http(verb, target, _, body) -> verb + " " + excerpt 100 target + (body |> Option.map (fun b -> " | " + bytesExcerpt 100 b.Bytes) |> Option.defaultValue "")
    | Raw(bytes, _) -> bytesExcerpt 100 bytes

/// Bodies sent as gzip that are not a whole gzip stream: InfluxDB answers 400 ("unexpected EOF").
let private notGzip = set [ "write/gzip-truncated"; "write/gzip-random-bytes"; "write/gzip-trailing-garbage" ]

/// A 5xx, a hang, or a success for a body that is not a whole gzip stream.
let private finding (case: Case) (outcome: Outcome) =
    let verb, target, sent =
        match case.Request with
        | Http(verb, target, headers, body) ->
            let headerText = headers |> List.map (fun (n, v) -> sprintf "%s: %s" n (excerpt 40 v)) |> String.concat "; "
            verb, excerpt 160 target, headerText + (body |> Option.map (fun b -> " body " + bytesExcerpt 80 b.Bytes) |> Option.defaultValue "")
        | Raw(bytes, _) -> "RAW", "", bytesExcerpt 200 bytes
    let full =
        match case.Request with
        | Http(verb, target, headers, body) ->
            let headerLines = headers |> List.map (fun (n, v) -> sprintf "\n  header %s: %s" n (excerpt 200 v)) |> String.concat ""
            let bodyLines =
                body |> Option.map (fun b ->
                    sprintf "\n  content-type %A, content-encoding %A, %d bytes, base64: %s"
                        b.ContentType b.ContentEncoding b.Bytes.Length (Convert.ToBase64String b.Bytes[.. min b.Bytes.Length 4096 - 1]))
            sprintf "%s %s%s%s" verb target headerLines (Option.defaultValue "" bodyLines)
        | Raw(bytes, ending) -> sprintf "RAW %A, %d bytes, base64: %s" ending bytes.Length (Convert.ToBase64String bytes)
    let found status error = Some { Kind = case.Kind; Verb = verb; Target = target; Excerpt = sent; Status = status; Error = error; Full = full }
    match outcome with
    // Kestrel's answer to "HTTP/9.9": 505 HTTP Version Not Supported is the status RFC 9110 asks for.
    | Answered(505, _) when case.Kind = "raw/bad-version" -> None
    // InfluxDB's own answer to a write naming a policy that does not exist: clients keep the points and retry.
    | Answered(500, body) when body.Contains "retention policy not found" -> None
    | Answered(status, body) when status >= 500 ->
        let error = if body.StartsWith "HTTP/" then errorText (body.Substring(max 0 (body.IndexOf "\r\n\r\n"))) else errorText body
        found (string status) (excerpt 160 error)
    | Answered(status, _) when status < 300 && notGzip.Contains case.Kind -> found (string status) "accepted a body that is not a whole gzip stream"
    | Hung error -> found "hang" error
    | _ -> None

/// What a failure is, without the request's own text: an error up to its first `: ` (two for "internal error: …"),
/// and up to its first quote.
let private cause (f: Finding) =
    let parts = f.Error.Split(": ")
    let head = if parts[0] = "internal error" && parts.Length > 1 then parts[0] + ": " + parts[1] else parts[0]
    f.Status, head.Split([| '\''; '"' |]).[0]

/// The distinct causes, each with the families that hit it, how often, and its first example.
let private distinct (findings: Finding list) =
    findings
    |> List.groupBy cause
    |> List.map (fun (_, group) -> group.Head, group |> List.map (fun f -> f.Kind) |> List.distinct, group.Length)

let private describe (f: Finding, kinds: string list, count: int) =
    sprintf "  %s %s ×%d [%s]\n      e.g. %s %s%s"
        f.Status f.Error count (String.concat ", " kinds) f.Verb f.Target (if f.Excerpt = "" then "" else " | " + f.Excerpt)

/// Measurements owned, between them, by every backend of every circle.
let private measurementsCoveringEveryBackend (proxy: ProxyProcess.Proxy) (db: string) (circles: Server list list) =
    let config = File.ReadAllText(Path.Combine(proxy.Dir, "proxy.json")) |> ProxyConfig.parse |> Result.defaultWith (failwithf "%A")
    let placement = ProxyConfig.placement config
    let owners m = Placement.owners db m placement |> List.mapi (fun c i -> circles[c][i])
    let names (servers: Server list) = servers |> List.map (fun s -> s.Name) |> Set.ofList
    let wanted = names (List.concat circles)
    Seq.initInfinite (sprintf "after_fuzz_%d")
    |> Seq.scan (fun (covered, chosen) m -> let o = owners m in Set.union covered (names o), (m, o) :: chosen) (Set.empty, [])
    |> Seq.find (fun (covered, _) -> covered = wanted)
    |> snd

/// The points of `measurement` on one server; -1 while the server cannot answer (polled until a deadline).
let private countOn (server: Server) (db: string) (measurement: string) =
    try
        let result = Influx.query server.Url db (sprintf "SELECT count(value) FROM \"%s\"" measurement)
        let first = result.GetProperty("results").[0]
        match first.TryGetProperty "series" with
        | true, s -> s.[0].GetProperty("values").[0].[1].GetInt64()
        | _ -> 0L
    with _ -> -1L // a refused or failed ask only means "not yet"; the deadline decides

/// After the run: the proxy and every backend alive, a point to a measurement owned by each backend lands on its
/// owners (asked directly), and a query through the proxy answers 200.
let private expectStillDelivering (proxy: ProxyProcess.Proxy) (circles: Server list list) (db: string) =
    Expect.isFalse proxy.Process.HasExited (sprintf "the proxy is still alive after the run:\n%s" proxy.Log)
    for server in List.concat circles do Expect.isTrue (ping server.Url) (server.Name + " still up")
    let chosen = measurementsCoveringEveryBackend proxy db circles
    let reply = Web.post (sprintf "%s/write?db=%s" proxy.Url db) (chosen |> List.map (fun (m, _) -> m + " value=1") |> String.concat "\n")
    Expect.equal reply.Status 204 ("a write after the run: " + reply.Body)
    let landed () = chosen |> List.forall (fun (m, owners) -> owners |> List.forall (fun s -> countOn s db m = 1L))
    let landedInTime = waitUntil (TimeSpan.FromSeconds 30.0) landed
    let missing = [ for m, owners in chosen do for s in owners do if countOn s db m <> 1L then yield sprintf "%s on %s" m s.Name ]
    Expect.isTrue landedInTime (sprintf "points written after the run land on every owner; missing: %A" missing)
    let q = sprintf "SELECT count(value) FROM \"%s\"" (fst chosen.Head)
    let answer = Web.get (sprintf "%s/query?db=%s&q=%s" proxy.Url db (Web.escape q))
    Expect.equal answer.Status 200 ("a query after the run: " + answer.Body)

let private label (outcome: Outcome) =
    match outcome with
    | Answered(status, _) -> string status
    | Dropped _ -> "dropped"
    | Hung _ -> "hang"
    | Unsent _ -> "unsent"

let private tally (outcomes: (Case * Outcome)[]) =
    outcomes |> Array.countBy (snd >> label) |> Array.sortBy fst |> Array.map (fun (k, n) -> sprintf "%s×%d" k n) |> String.concat " "

/// What the run did: the slowest requests, the statuses (per family with FUZZ_VERBOSE), what was dropped or not sent.
let private printSummary (elapsed: TimeSpan) (timed: (Case * Outcome * TimeSpan)[]) =
    for case, _, took in timed |> Array.sortByDescending (fun (_, _, t) -> t) |> Array.truncate 5 do
        printfn "fuzz: slow: %.1f s [%s] %s" took.TotalSeconds case.Kind (shortly case)
    let outcomes = timed |> Array.map (fun (c, o, _) -> c, o)
    printfn "fuzz: %d requests in %.1f s: %s" outcomes.Length elapsed.TotalSeconds (tally outcomes)
    if not (String.IsNullOrEmpty(Environment.GetEnvironmentVariable "FUZZ_VERBOSE")) then
        for kind, group in outcomes |> Array.groupBy (fun (c, _) -> c.Kind) |> Array.sortBy fst do
            printfn "fuzz:   %-32s %s" kind (tally group)
    let dropped =
        outcomes |> Array.choose (fun (c, o) -> match c.Request, o with Http _, Dropped e -> Some(c.Kind, shortly c, e) | _ -> None)
    for kind, request, error in dropped |> Array.distinctBy (fun (k, _, e) -> k, e) |> Array.truncate 10 do
        printfn "fuzz: dropped (not a finding) [%s] %s: %s" kind request error
    for kind, error in outcomes |> Array.choose (fun (c, o) -> match o with Unsent e -> Some(c.Kind, e) | _ -> None) |> Array.distinct |> Array.truncate 10 do
        printfn "fuzz: not sent (the fuzzer's problem) [%s]: %s" kind error

/// Every finding, whole, in a file named after the seed; returns its path.
let private writeReport (seed: int) (findings: Finding list) =
    let report = Path.Combine(Path.GetTempPath(), sprintf "influx-proxy-fuzz-%d.txt" seed)
    File.WriteAllLines(report, findings |> List.map (fun f -> sprintf "[%s] %s %s\n  %s\n" f.Kind f.Status f.Error f.Full))
    report

let tests =
    testList "Fuzz" [
        test "a seeded run of hostile requests gets no 5xx and no hang, and the proxy still delivers afterwards" {
            let seed = envInt "FUZZ_SEED" defaultSeed
            let count = envInt "FUZZ_COUNT" defaultCount
            printfn "fuzz seed: %d, %d requests (FUZZ_SEED and FUZZ_COUNT override)" seed count
            withCluster 2 2 (fun circles ->
                let db = uniqueDb "fuzz"
                for server in List.concat circles do Influx.createDatabase server.Url db
                ProxyProcess.using circles [] (fun proxy ->
                    let r = Random seed
                    let cases = Array.init count (fun _ -> Cases.draw r db)
                    let clock = Diagnostics.Stopwatch.StartNew()
                    let timed =
                        cases
                        |> Array.map (fun case -> async {
                            let started = Diagnostics.Stopwatch.GetTimestamp()
                            let outcome = Send.run proxy.Url proxy.Port case
                            return case, outcome, Diagnostics.Stopwatch.GetElapsedTime started })
                        |> fun work -> Async.Parallel(work, 8)
                        |> Async.RunSynchronously
                    printSummary clock.Elapsed timed
                    let findings = timed |> Array.choose (fun (c, o, _) -> finding c o) |> List.ofArray
                    let unhandled = proxy.Log.Split('\n') |> Array.filter (fun l -> l.Contains "unhandled error") |> Array.length
                    printfn "fuzz: %d findings, %d 'unhandled error' lines in the proxy log" findings.Length unhandled
                    if not findings.IsEmpty then printfn "fuzz: every finding, whole, in %s" (writeReport seed findings)

                    expectStillDelivering proxy circles db

                    let groups = distinct findings
                    if not groups.IsEmpty then
                        let shown = groups |> List.truncate 20 |> List.map describe |> String.concat "\n"
                        failtestf "seed %d: %d requests answered 5xx, hung or were wrongly accepted; %d distinct causes (first 20):\n%s"
                            seed findings.Length groups.Length shown))
        }
    ]
