/// `proxy.json`: every key of the original v2.4.7 with its default (shared/spec/config.md §2), validated
/// loudly: all errors at once, each with its key path. Keys match case-insensitively, as Go's decoder does.
namespace InfluxProxy.Core

open System
open System.Text.Json

/// What is wrong with one value of the config.
type ConfigProblem =
    | InvalidJson of message: string
    | UnknownKey
    | Expected of what: string
    | MustBePositive
    | MustNotBeNegative
    | EmptyCircles
    | EmptyBackends
    | EmptyBackendName
    | NotHttpUrl of text: string
    /// Another backend has this name or URL already, at `firstAt`.
    | DuplicateBackend of attribute: string * value: string * firstAt: string
    | Placement of PlacementError
    | NotListenAddress of text: string
    | NotOneOf of choices: string * text: string
    | RequiredWithHttps
    | UnknownCipher of name: string
    /// `tls.min_version` above `tls.max_version`: no version left to offer.
    | MinAboveMax
    /// A key and its other version's name (`mlog_dir`, `tlog_dir`) both set, to different values.
    | BothSet of other: string

/// One configuration problem, at a key path such as `circles[1].backends[0].url`.
type ConfigError = { Path: string; Problem: ConfigProblem }

type BackendConfig =
    { Name: string
      /// Absolute http(s) base URL without a trailing slash.
      Url: string
      Username: string
      Password: string
      /// Its https certificate is not checked (`tls_insecure_skip_verify`).
      TlsInsecureSkipVerify: bool
      /// Its username and password are ciphertext (v2.5.12's `auth_encrypt` on a backend).
      AuthEncrypt: bool
      /// Takes writes; asked to answer queries only when no other owner can (v2.5.12's `write_only`).
      WriteOnly: bool }

type CircleConfig = { Name: string; Backends: BackendConfig list }

/// How batches are compressed toward the backends (`write_compression`).
type WriteCompression =
    /// None when every backend is on this machine (a loopback URL), else Fastest: the default.
    | Auto
    | NoCompression
    | Fastest
    | Optimal
    | Smallest

/// When a /write is answered 204 (`write_ack`).
type WriteAck =
    /// Once its points are fsynced to the proxy's write journal; delivery follows.
    | Journaled
    /// Once every owner stored its points or fsynced them to its backlog.
    | Stored

/// A TLS version of v2.5.12's `tls.min_version` and `tls.max_version`.
type TlsVersion =
    | Ssl30
    | Tls10
    | Tls11
    | Tls12
    | Tls13

/// v2.5.12's `tls` block: what the HTTPS listener offers clients.
type ListenerTls =
    { /// Cipher suites by their IANA (and Go) names; empty: the system's.
      Ciphers: string list
      MinVersion: TlsVersion option
      MaxVersion: TlsVersion option }

/// `[host]:port` to listen on; an empty host means every interface.
type ListenAddress = { Host: string; Port: int }

type ProxyConfig =
    { Circles: CircleConfig list
      ListenAddr: ListenAddress
      /// Database whitelist; empty allows every database.
      DbList: string list
      DataDir: string
      MlogDir: string
      HashKey: HashKey
      ShardKey: ShardKey
      VnodeSize: int
      FlushSize: int
      FlushTime: TimeSpan
      CheckInterval: TimeSpan
      RewriteInterval: TimeSpan
      WriteTimeout: TimeSpan
      IdleTimeout: TimeSpan
      LogEnabled: bool
      Username: string
      Password: string
      AuthSecure: bool
      HttpsEnabled: bool
      HttpsCert: string
      HttpsKey: string
      Tls: ListenerTls
      /// The proxy's own username and password are ciphertext (v2.5.12's `auth_encrypt`; `auth_secure` covers the
      /// backends' too).
      AuthEncrypt: bool
      /// /ping and /metrics need the proxy's credentials too, when it has some (`ping_auth_enabled`).
      PingAuthEnabled: bool
      /// /debug/pprof serves without credentials on a listener others can reach (`pprof_enabled`).
      PprofEnabled: bool
      /// Keys of v2.5.12 this proxy accepts and does nothing with, as found in the file.
      Inert: string list
      /// PEM bundle of the CAs trusted for backends and HA peers instead of the system store; "" = the system store.
      BackendTlsCaFile: string
      /// No certificate of any backend or HA peer is checked.
      BackendTlsInsecureSkipVerify: bool
      MigrateBatch: int
      /// Steps a migration runs at once while clients write through the proxy (`migrate_workers_while_writing`).
      MigrateWorkersWhileWriting: int
      HaAddrs: string list
      /// Largest /write body accepted, in bytes, after gzip decompression (`max_body_size`).
      MaxBodySize: int
      /// Bytes of the request bodies being written at once; the others wait, read (`max_concurrent_write_bytes`).
      MaxConcurrentWriteBytes: int
      WriteCompression: WriteCompression
      WriteAck: WriteAck
      /// Cap of each backend's on-disk backlog in bytes; 0 = unbounded (`backlog_max_size`).
      BacklogMaxSize: int64 }

module ConfigProblem =
    let text =
        function
        | InvalidJson message -> "invalid JSON: " + message
        | UnknownKey -> "unknown key"
        | Expected what -> "expected " + what
        | MustBePositive -> "must be a positive integer"
        | MustNotBeNegative -> "must not be negative"
        | EmptyCircles -> "circles cannot be empty"
        | EmptyBackends -> "backends cannot be empty"
        | EmptyBackendName -> "backend name cannot be empty"
        | NotHttpUrl text -> sprintf "not an absolute http(s) URL: %A" text
        | DuplicateBackend(attribute, value, firstAt) -> sprintf "duplicate backend %s %A (also at %s)" attribute value firstAt
        | Placement error -> PlacementError.text error
        | NotListenAddress text -> sprintf "expected [host]:port, got %A" text
        | NotOneOf(choices, text) -> sprintf "expected %s, got %A" choices text
        | RequiredWithHttps -> "required when https_enabled is true"
        | UnknownCipher name -> sprintf "unknown cipher suite: %A" name
        | MinAboveMax -> "above tls.max_version: no TLS version is left to offer"
        | BothSet other -> sprintf "set only one of this and %s" other

module ConfigError =
    let format (e: ConfigError) =
        let text = ConfigProblem.text e.Problem
        if String.IsNullOrEmpty e.Path then text else e.Path + ": " + text

module ListenAddress =
    let parse (text: string) : Result<ListenAddress, ConfigProblem> =
        let colon = text.LastIndexOf ':'
        let host = if colon < 0 then "" else text.Substring(0, colon).Trim('[', ']')
        match (if colon < 0 then None else Some(text.Substring(colon + 1))) with
        | Some port when port <> "" && port.Length <= 5 && Seq.forall Char.IsAsciiDigit port && int port <= 65535 ->
            Ok { Host = host; Port = int port }
        | _ -> Error(NotListenAddress text)

module ProxyConfig =

    /// Reads typed values out of JSON objects, collecting every error instead of stopping at the first.
    type private Reader() =
        let errors = ResizeArray<ConfigError>()
        member _.Errors = List.ofSeq errors
        member _.Fail(path, problem) = errors.Add { Path = path; Problem = problem }

        /// The object's members by lower-cased name (the last duplicate wins, as in Go); unknown keys are errors.
        member r.Fields(path: string, el: JsonElement, known: string list) : Map<string, JsonElement> =
            if el.ValueKind <> JsonValueKind.Object then
                r.Fail(path, Expected "an object")
                Map.empty
            else
                let child name = if path = "" then name else path + "." + name
                el.EnumerateObject()
                |> Seq.fold
                    (fun fields p ->
                        let key = p.Name.ToLowerInvariant()
                        if List.contains key known then Map.add key p.Value fields
                        else r.Fail(child p.Name, UnknownKey); fields)
                    Map.empty

        member private r.Value(path, fields: Map<string, JsonElement>, key, fallback, read) =
            match Map.tryFind key fields with
            | None -> fallback
            | Some el when el.ValueKind = JsonValueKind.Null -> fallback
            | Some el ->
                match read el with
                | Ok v -> v
                | Error problem -> r.Fail(path key, problem); fallback

        member r.String(path, fields, key, fallback) =
            r.Value(path, fields, key, fallback, fun el ->
                if el.ValueKind = JsonValueKind.String then Ok(el.GetString()) else Error(Expected "a string"))

        member r.Bool(path, fields, key, fallback) =
            r.Value(path, fields, key, fallback, fun el ->
                match el.ValueKind with
                | JsonValueKind.True -> Ok true
                | JsonValueKind.False -> Ok false
                | _ -> Error(Expected "true or false"))

        member r.PositiveInt(path, fields, key, fallback) =
            r.Value(path, fields, key, fallback, fun el ->
                match el.ValueKind with
                | JsonValueKind.Number ->
                    match el.TryGetInt32() with
                    | true, v when v > 0 -> Ok v
                    | true, _ -> Error MustBePositive
                    | false, _ -> Error(Expected "an integer")
                | _ -> Error(Expected "an integer"))

        member r.NonNegativeInt64(path, fields, key, fallback) =
            r.Value(path, fields, key, fallback, fun el ->
                match el.ValueKind with
                | JsonValueKind.Number ->
                    match el.TryGetInt64() with
                    | true, v when v >= 0L -> Ok v
                    | true, _ -> Error MustNotBeNegative
                    | false, _ -> Error(Expected "an integer")
                | _ -> Error(Expected "an integer"))

        member r.StringList(path, fields, key) =
            r.Value(path, fields, key, [], fun el ->
                if el.ValueKind = JsonValueKind.Array
                   && el.EnumerateArray() |> Seq.forall (fun x -> x.ValueKind = JsonValueKind.String) then
                    Ok [ for x in el.EnumerateArray() -> x.GetString() ]
                else Error(Expected "an array of strings"))

        member r.Array(path, fields, key) : (string * JsonElement) list =
            r.Value(path, fields, key, [], fun el ->
                if el.ValueKind = JsonValueKind.Array then
                    Ok(el.EnumerateArray() |> Seq.mapi (fun i x -> sprintf "%s[%d]" (path key) i, x) |> List.ofSeq)
                else Error(Expected "an array"))

    let private topKeys =
        [ "circles"; "listen_addr"; "db_list"; "data_dir"; "mlog_dir"; "hash_key"; "shard_key"; "vnode_size"
          "flush_size"; "flush_time"; "check_interval"; "rewrite_interval"; "write_timeout"; "idle_timeout"
          "log_enabled"; "username"; "password"; "auth_secure"; "https_enabled"; "https_cert"; "https_key"
          "backend_tls_ca_file"; "backend_tls_insecure_skip_verify"; "migrate_batch"; "migrate_workers_while_writing"; "ha_addrs"; "max_body_size"; "max_concurrent_write_bytes"; "write_compression"; "write_ack"; "backlog_max_size"
          // v2.5.12's
          "tlog_dir"; "auth_encrypt"; "ping_auth_enabled"; "write_tracing"; "query_tracing"; "tls"; "rewrite_threads"
          "conn_pool_size"; "pprof_enabled" ]

    /// v2.5.12's keys that have no effect here: the proxy says so at start.
    let private inertKeys = [ "rewrite_threads"; "conn_pool_size" ]

    let private isHttpUrl (text: string) =
        match Uri.TryCreate(text, UriKind.Absolute) with
        | true, uri ->
            (uri.Scheme = Uri.UriSchemeHttp || uri.Scheme = Uri.UriSchemeHttps)
            && uri.Host <> ""
            && String.IsNullOrEmpty uri.Query
            && String.IsNullOrEmpty uri.Fragment
        | _ -> false

    let private readBackend (r: Reader) (path: string, el: JsonElement) : BackendConfig =
        let at key = path + "." + key
        let f = r.Fields(path, el, [ "name"; "url"; "username"; "password"; "tls_insecure_skip_verify"; "auth_encrypt"; "write_only" ])
        let name = r.String(at, f, "name", "")
        let url = r.String(at, f, "url", "")
        if name = "" then r.Fail(at "name", EmptyBackendName)
        if not (isHttpUrl url) then r.Fail(at "url", NotHttpUrl url)
        { Name = name
          Url = url.TrimEnd '/'
          Username = r.String(at, f, "username", "")
          Password = r.String(at, f, "password", "")
          TlsInsecureSkipVerify = r.Bool(at, f, "tls_insecure_skip_verify", false)
          AuthEncrypt = r.Bool(at, f, "auth_encrypt", false)
          WriteOnly = r.Bool(at, f, "write_only", false) }

    let private readCircle (r: Reader) (path: string, el: JsonElement) : CircleConfig =
        let at key = path + "." + key
        let f = r.Fields(path, el, [ "name"; "backends" ])
        let backends = r.Array(at, f, "backends") |> List.map (readBackend r)
        if backends.IsEmpty then r.Fail(at "backends", EmptyBackends)
        { Name = r.String(at, f, "name", ""); Backends = backends }

    /// Reports every value of `attribute` that more than one backend shares, at its later occurrences.
    let private checkUnique (r: Reader) (attribute: string) (key: BackendConfig -> string) (circles: CircleConfig list) =
        circles
        |> List.mapi (fun c circle ->
            circle.Backends |> List.mapi (fun b backend -> sprintf "circles[%d].backends[%d]" c b, key backend))
        |> List.concat
        |> List.filter (fun (_, value) -> value <> "")
        |> List.groupBy snd
        |> List.iter (fun (value, places) ->
            match places with
            | (first, _) :: later ->
                for path, _ in later do
                    r.Fail(path + "." + attribute, DuplicateBackend(attribute, value, first))
            | [] -> ())

    let private readHashKey (r: Reader) f =
        match HashKey.parse (r.String(id, f, "hash_key", "idx")) with
        | Ok k -> k
        | Error error -> r.Fail("hash_key", Placement error); Idx

    let private readShardKey (r: Reader) f =
        match ShardKey.create (r.String(id, f, "shard_key", "%db,%mm")) with
        | Ok k -> k
        | Error error -> r.Fail("shard_key", Placement error); ShardKey.defaultTemplate

    let private readListenAddr (r: Reader) f =
        match ListenAddress.parse (r.String(id, f, "listen_addr", ":7076")) with
        | Ok a -> a
        | Error problem -> r.Fail("listen_addr", problem); { Host = ""; Port = 7076 }

    let private readAck (r: Reader) f =
        match r.String(id, f, "write_ack", "journaled") with
        | "journaled" -> Journaled
        | "stored" -> Stored
        | other -> r.Fail("write_ack", NotOneOf("journaled or stored", other)); Journaled

    let private readCompression (r: Reader) f =
        match r.String(id, f, "write_compression", "auto") with
        | "auto" -> Auto
        | "none" -> NoCompression
        | "fastest" -> Fastest
        | "optimal" -> Optimal
        | "smallest" -> Smallest
        | other -> r.Fail("write_compression", NotOneOf("auto, none, fastest, optimal or smallest", other)); Auto

    let private readTlsVersion (r: Reader) (f: Map<string, JsonElement>) (key: string) =
        let text = r.String((fun k -> "tls." + k), f, key, "")
        match text.ToUpperInvariant() with
        | "" -> None
        | "SSL3.0" -> Some Ssl30
        | "TLS1.0" | "1.0" -> Some Tls10
        | "TLS1.1" | "1.1" -> Some Tls11
        | "TLS1.2" | "1.2" -> Some Tls12
        | "TLS1.3" | "1.3" -> Some Tls13
        | _ -> r.Fail("tls." + key, NotOneOf("SSL3.0, TLS1.0, TLS1.1, TLS1.2 or TLS1.3", text)); None

    /// v2.5.12's `tls` block, checked even when https is off, as v2.5.12 checks it.
    let private readTls (r: Reader) (f: Map<string, JsonElement>) : ListenerTls =
        match Map.tryFind "tls" f with
        | Some el when el.ValueKind <> JsonValueKind.Null ->
            let t = r.Fields("tls", el, [ "ciphers"; "min_version"; "max_version" ])
            let ciphers = r.StringList((fun k -> "tls." + k), t, "ciphers")
            let known = Enum.GetNames<Net.Security.TlsCipherSuite>()
            for name in ciphers do
                if not (known |> Array.exists (fun k -> String.Equals(k, name, StringComparison.OrdinalIgnoreCase))) then
                    r.Fail("tls.ciphers", UnknownCipher name)
            let tls = { Ciphers = ciphers; MinVersion = readTlsVersion r t "min_version"; MaxVersion = readTlsVersion r t "max_version" }
            match tls.MinVersion, tls.MaxVersion with
            | Some low, Some high when low > high -> r.Fail("tls.min_version", MinAboveMax)
            | _ -> ()
            tls
        | _ -> { Ciphers = []; MinVersion = None; MaxVersion = None }

    /// `mlog_dir`, or v2.5.12's name for it, `tlog_dir`.
    let private readLogDir (r: Reader) (f: Map<string, JsonElement>) =
        let mlog, tlog = r.String(id, f, "mlog_dir", ""), r.String(id, f, "tlog_dir", "")
        if mlog <> "" && tlog <> "" && mlog <> tlog then r.Fail("tlog_dir", BothSet "mlog_dir")
        [ mlog; tlog; "log" ] |> List.find ((<>) "")

    let private read (r: Reader) (root: JsonElement) : ProxyConfig =
        let f = r.Fields("", root, topKeys)
        let seconds key fallback = TimeSpan.FromSeconds(float (r.PositiveInt(id, f, key, fallback)))
        let circles = r.Array(id, f, "circles") |> List.map (readCircle r)
        if circles.IsEmpty then r.Fail("circles", EmptyCircles)
        checkUnique r "name" (fun b -> b.Name) circles
        checkUnique r "url" (fun b -> b.Url) circles
        { Circles = circles
          ListenAddr = readListenAddr r f
          DbList = r.StringList(id, f, "db_list")
          DataDir = r.String(id, f, "data_dir", "data")
          MlogDir = readLogDir r f
          HashKey = readHashKey r f
          ShardKey = readShardKey r f
          VnodeSize = r.PositiveInt(id, f, "vnode_size", Ring.DefaultVnodes)
          FlushSize = r.PositiveInt(id, f, "flush_size", 10000)
          FlushTime = seconds "flush_time" 1
          CheckInterval = seconds "check_interval" 1
          RewriteInterval = seconds "rewrite_interval" 10
          WriteTimeout = seconds "write_timeout" 10
          IdleTimeout = seconds "idle_timeout" 10
          LogEnabled = r.Bool(id, f, "log_enabled", false) || r.Bool(id, f, "write_tracing", false) || r.Bool(id, f, "query_tracing", false)
          Username = r.String(id, f, "username", "")
          Password = r.String(id, f, "password", "")
          AuthSecure = r.Bool(id, f, "auth_secure", false)
          HttpsEnabled = r.Bool(id, f, "https_enabled", false)
          HttpsCert = r.String(id, f, "https_cert", "")
          HttpsKey = r.String(id, f, "https_key", "")
          Tls = readTls r f
          AuthEncrypt = r.Bool(id, f, "auth_encrypt", false)
          PingAuthEnabled = r.Bool(id, f, "ping_auth_enabled", false)
          PprofEnabled = r.Bool(id, f, "pprof_enabled", false)
          Inert = inertKeys |> List.filter f.ContainsKey
          BackendTlsCaFile = r.String(id, f, "backend_tls_ca_file", "")
          BackendTlsInsecureSkipVerify = r.Bool(id, f, "backend_tls_insecure_skip_verify", false)
          MigrateBatch = r.PositiveInt(id, f, "migrate_batch", 25000)
          MigrateWorkersWhileWriting = r.PositiveInt(id, f, "migrate_workers_while_writing", 1)
          HaAddrs = r.StringList(id, f, "ha_addrs")
          MaxBodySize = r.PositiveInt(id, f, "max_body_size", 25_000_000)
          MaxConcurrentWriteBytes = r.PositiveInt(id, f, "max_concurrent_write_bytes", 4 * 1024 * 1024)
          WriteCompression = readCompression r f
          WriteAck = readAck r f
          BacklogMaxSize = r.NonNegativeInt64(id, f, "backlog_max_size", 0L) }

    let private checkHttps (r: Reader) (config: ProxyConfig) =
        if config.HttpsEnabled then
            if config.HttpsCert = "" then r.Fail("https_cert", RequiredWithHttps)
            if config.HttpsKey = "" then r.Fail("https_key", RequiredWithHttps)

    /// Parses and validates the text of a config file; every problem is reported, none is thrown.
    let parse (json: string) : Result<ProxyConfig, ConfigError list> =
        let options = JsonDocumentOptions(CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true)
        match (try Ok(JsonDocument.Parse(json, options)) with :? JsonException as e -> Error e.Message) with
        | Error message -> Error [ { Path = ""; Problem = InvalidJson message } ]
        | Ok doc ->
            use doc = doc
            let r = Reader()
            let config = read r doc.RootElement
            checkHttps r config
            match r.Errors with
            | [] -> Ok config
            | errors -> Error errors

    /// Whether /debug/pprof serves: behind the proxy's credentials when it has some; without, only on a loopback
    /// listener or when `pprof_enabled` says so (a profile shows what the process does, to anyone who can ask).
    let profilingOpen (config: ProxyConfig) : bool =
        let authOn = config.Username <> "" || config.Password <> ""
        let loopback =
            match Net.IPAddress.TryParse config.ListenAddr.Host with
            | true, ip -> Net.IPAddress.IsLoopback ip
            | _ -> config.ListenAddr.Host = "localhost"
        authOn || loopback || config.PprofEnabled

    /// Whether the proxy's own username and password are ciphertext.
    let proxyCredentialsEncrypted (config: ProxyConfig) : bool = config.AuthSecure || config.AuthEncrypt

    /// Whether a backend's username and password are ciphertext.
    let backendCredentialsEncrypted (config: ProxyConfig) (backend: BackendConfig) : bool = config.AuthSecure || backend.AuthEncrypt

    /// `write_compression` as the proxy applies it; `auto` is none when every backend is on this machine (a loopback
    /// URL), where compressing only costs the proxy and the backends CPU (a copy's destination spends 0.6 CPU-s per
    /// million points undoing it), and the fastest level otherwise.
    let compression (config: ProxyConfig) : WriteCompression =
        let onLoopback (b: BackendConfig) = Uri(b.Url).IsLoopback
        match config.WriteCompression with
        | Auto when config.Circles |> List.forall (fun c -> List.forall onLoopback c.Backends) -> NoCompression
        | Auto -> Fastest
        | configured -> configured

    /// The shard key and the ring of every circle, in circle order.
    let placement (config: ProxyConfig) : Placement =
        { ShardKey = config.ShardKey
          Rings =
            config.Circles
            |> List.map (fun c ->
                c.Backends
                |> List.map (fun b -> { Name = b.Name; Url = b.Url })
                |> Ring.ofBackends config.HashKey config.VnodeSize) }
