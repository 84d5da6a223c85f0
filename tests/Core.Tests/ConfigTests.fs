module InfluxProxy.Core.Tests.ConfigTests

open System
open Expecto
open InfluxProxy.Core

/// The sample proxy.json shipped with v2.4.7: every key, every default.
let private v247Sample =
    """{
    "circles": [
        {"name": "circle-1", "backends": [
            {"name": "influxdb-1-1", "url": "http://127.0.0.1:8086", "username": "", "password": ""},
            {"name": "influxdb-1-2", "url": "http://127.0.0.1:8087", "username": "", "password": ""}]},
        {"name": "circle-2", "backends": [
            {"name": "influxdb-2-1", "url": "http://127.0.0.1:8088", "username": "", "password": ""},
            {"name": "influxdb-2-2", "url": "http://127.0.0.1:8089", "username": "", "password": ""}]}
    ],
    "listen_addr": ":7076", "db_list": [], "data_dir": "data", "mlog_dir": "log",
    "hash_key": "idx", "vnode_size": 256, "flush_size": 10000, "flush_time": 1,
    "check_interval": 1, "rewrite_interval": 10, "write_timeout": 10, "idle_timeout": 10,
    "log_enabled": false, "username": "", "password": "", "auth_secure": false,
    "https_enabled": false, "https_cert": "", "https_key": ""
}"""

/// The sample proxy.json shipped with v2.5.12: every key of its with its default.
let private v2512Sample =
    """{
    "circles": [
        {"name": "circle-1", "backends": [
            {"name": "influxdb-1-1", "url": "http://127.0.0.1:8086", "username": "", "password": ""},
            {"name": "influxdb-1-2", "url": "http://127.0.0.1:8087", "username": "", "password": ""}]}
    ],
    "listen_addr": ":7076", "db_list": [], "data_dir": "data", "tlog_dir": "log",
    "hash_key": "idx", "shard_key": "%db,%mm", "flush_size": 10000, "flush_time": 1,
    "check_interval": 1, "rewrite_interval": 10, "rewrite_threads": 5, "conn_pool_size": 20,
    "write_timeout": 10, "idle_timeout": 10, "username": "", "password": "", "auth_encrypt": false,
    "ping_auth_enabled": false, "write_tracing": false, "query_tracing": false, "pprof_enabled": false,
    "https_enabled": false, "https_cert": "", "https_key": "",
    "tls": {"ciphers": [], "min_version": "", "max_version": ""}
}"""

let private errorsOf json =
    match ProxyConfig.parse json with
    | Ok _ -> []
    | Error errors -> errors |> List.map ConfigError.format

let private expectError json (expected: string) =
    let errors = errorsOf json
    Expect.contains errors expected (sprintf "errors were %A" errors)

let private oneCircle backends =
    sprintf """{"circles":[{"name":"c","backends":[%s]}]}""" backends

let tests =
    testList "Config" [
        test "the v2.4.7 sample loads unchanged" {
            let config = ProxyConfig.parse v247Sample |> Result.defaultWith (failwithf "%A")
            Expect.equal config.Circles.Length 2 "circles"
            Expect.equal config.Circles[1].Backends[0].Url "http://127.0.0.1:8088" "url"
            Expect.equal config.FlushTime (TimeSpan.FromSeconds 1.0) "flush_time"
        }

        test "the v2.5.12 sample loads unchanged, and names the keys that have no effect here" {
            match ProxyConfig.parse v2512Sample with
            | Ok config ->
                Expect.equal config.MlogDir "log" "tlog_dir"
                Expect.equal config.Inert [ "rewrite_threads"; "conn_pool_size" ] "said at start"
                Expect.equal config.Tls { Ciphers = []; MinVersion = None; MaxVersion = None } "the empty tls block"
            | Error errors -> failtestf "%A" errors
        }

        test "v2.5.12's keys mean here what they mean there" {
            let parsed (json: string) = ProxyConfig.parse json |> Result.defaultWith (failwithf "%A")
            let withTop (members: string) =
                (oneCircle """{"name":"a","url":"http://h:1","username":"x","password":"y","auth_encrypt":true,"write_only":true},{"name":"b","url":"http://h:2"}""").TrimEnd('}') + "," + members + "}"
            let config = parsed (withTop "\"tlog_dir\":\"tl\",\"auth_encrypt\":true,\"write_tracing\":true,\"ping_auth_enabled\":true,\"tls\":{\"min_version\":\"tls1.2\",\"max_version\":\"1.3\",\"ciphers\":[\"TLS_AES_128_GCM_SHA256\"]}")
            let a, b = config.Circles[0].Backends[0], config.Circles[0].Backends[1]
            Expect.equal config.MlogDir "tl" "tlog_dir is mlog_dir"
            Expect.isTrue (ProxyConfig.proxyCredentialsEncrypted config) "auth_encrypt: the proxy's own credentials"
            Expect.isTrue (ProxyConfig.backendCredentialsEncrypted config a) "a backend's auth_encrypt: its credentials"
            Expect.isFalse (ProxyConfig.backendCredentialsEncrypted config b) "not another backend's"
            Expect.isTrue (ProxyConfig.backendCredentialsEncrypted (parsed (withTop "\"auth_secure\":true")) b) "auth_secure: every backend's, as in v2.4.7"
            Expect.isTrue (a.WriteOnly && not b.WriteOnly) "write_only"
            Expect.isTrue config.LogEnabled "write_tracing logs requests"
            Expect.isTrue config.PingAuthEnabled "ping_auth_enabled"
            Expect.equal config.Tls { Ciphers = [ "TLS_AES_128_GCM_SHA256" ]; MinVersion = Some Tls12; MaxVersion = Some Tls13 } "tls"
            expectError (withTop "\"tls\":{\"min_version\":\"tls9\"}") "tls.min_version: expected SSL3.0, TLS1.0, TLS1.1, TLS1.2 or TLS1.3, got \"tls9\""
            expectError (withTop "\"tls\":{\"ciphers\":[\"TLS_NOPE\"]}") "tls.ciphers: unknown cipher suite: \"TLS_NOPE\""
            expectError (withTop "\"tls\":{\"ciphers\":[\"4865\"]}") "tls.ciphers: unknown cipher suite: \"4865\""
            expectError (withTop "\"tls\":{\"min_version\":\"1.3\",\"max_version\":\"1.2\"}") "tls.min_version: above tls.max_version: no TLS version is left to offer"
            expectError (withTop "\"mlog_dir\":\"m\",\"tlog_dir\":\"t\"") "tlog_dir: set only one of this and mlog_dir"
            expectError (withTop "\"vnode\":1") "vnode: unknown key"
        }

        test "omitted keys take the original's defaults" {
            let config =
                ProxyConfig.parse (oneCircle """{"name":"a","url":"http://h:8086"}""")
                |> Result.defaultWith (failwithf "%A")
            Expect.equal
                (config.ListenAddr, config.DataDir, config.MlogDir, config.HashKey, config.VnodeSize, config.FlushSize)
                ({ Host = ""; Port = 7076 }, "data", "log", Idx, 256, 10000)
                "defaults"
            Expect.equal
                (config.CheckInterval, config.RewriteInterval, config.WriteTimeout, config.IdleTimeout)
                (TimeSpan.FromSeconds 1.0, TimeSpan.FromSeconds 10.0, TimeSpan.FromSeconds 10.0, TimeSpan.FromSeconds 10.0)
                "intervals"
            Expect.equal config.MigrateBatch 25000 "migrate_batch"
            Expect.equal config.MigrateWorkersWhileWriting 1 "migrate_workers_while_writing"
            Expect.equal config.MaxConcurrentWriteBytes (4 * 1024 * 1024) "max_concurrent_write_bytes"
        }

        test "keys match case-insensitively, as Go's decoder does" {
            let config =
                ProxyConfig.parse """{"CIRCLES":[{"name":"c","backends":[{"name":"a","url":"http://h:1"}]}],"Listen_Addr":":9"}"""
                |> Result.defaultWith (failwithf "%A")
            Expect.equal config.ListenAddr { Host = ""; Port = 9 } "listen_addr"
        }

        test "invalid JSON is one clear error" {
            Expect.stringStarts (errorsOf "{" |> List.head) "invalid JSON: " "message"
        }

        test "unknown keys are reported with their path" {
            expectError """{"circles":[{"name":"c","backends":[{"name":"a","url":"http://h:1","weight":2}]}],"flush_sise":1}""" "flush_sise: unknown key"
            expectError """{"circles":[{"name":"c","backends":[{"name":"a","url":"http://h:1","weight":2}]}]}""" "circles[0].backends[0].weight: unknown key"
        }

        test "empty circles and empty backends are refused" {
            expectError """{"circles":[]}""" "circles: circles cannot be empty"
            expectError """{}""" "circles: circles cannot be empty"
            expectError """{"circles":[{"name":"c","backends":[]}]}""" "circles[0].backends: backends cannot be empty"
        }

        test "bad URLs are refused with their path" {
            expectError (oneCircle """{"name":"a","url":"127.0.0.1:8086"}""") "circles[0].backends[0].url: not an absolute http(s) URL: \"127.0.0.1:8086\""
            expectError (oneCircle """{"name":"a","url":"ftp://h/"}""") "circles[0].backends[0].url: not an absolute http(s) URL: \"ftp://h/\""
        }

        test "duplicate backend names and URLs are refused, across circles" {
            let json =
                """{"circles":[{"name":"c1","backends":[{"name":"a","url":"http://h:1"}]},
                               {"name":"c2","backends":[{"name":"a","url":"http://h:1/"}]}]}"""
            expectError json "circles[1].backends[0].name: duplicate backend name \"a\" (also at circles[0].backends[0])"
            expectError json "circles[1].backends[0].url: duplicate backend url \"http://h:1\" (also at circles[0].backends[0])"
        }

        test "an empty backend name is refused" {
            expectError (oneCircle """{"name":"","url":"http://h:1"}""") "circles[0].backends[0].name: backend name cannot be empty"
        }

        test "a bad hash_key is refused" {
            expectError (oneCircle """{"name":"a","url":"http://h:1"}""" |> fun j -> j.TrimEnd('}') + ""","hash_key":"crc"}""")
                "hash_key: invalid hash_key, require idx, exi, name, url or template containing %idx"
        }

        test "non-positive sizes and intervals are refused" {
            let withKey key value = (oneCircle """{"name":"a","url":"http://h:1"}""").TrimEnd('}') + sprintf ",\"%s\":%s}" key value
            expectError (withKey "flush_size" "0") "flush_size: must be a positive integer"
            expectError (withKey "check_interval" "-1") "check_interval: must be a positive integer"
            expectError (withKey "flush_time" "1.5") "flush_time: expected an integer"
            expectError (withKey "write_timeout" "\"10\"") "write_timeout: expected an integer"
        }

        test "write_ack is journaled unless set to stored; anything else is refused" {
            let withAck value = (oneCircle """{"name":"a","url":"http://h:1"}""").TrimEnd('}') + sprintf ",\"write_ack\":\"%s\"}" value
            let ackOf json = (ProxyConfig.parse json |> Result.defaultWith (failwithf "%A")).WriteAck
            Expect.equal (ackOf (oneCircle """{"name":"a","url":"http://h:1"}""")) Journaled "default"
            Expect.equal (ackOf (withAck "stored")) Stored "stored"
            expectError (withAck "delivered") "write_ack: expected journaled or stored, got \"delivered\""
        }

        test "write_compression auto (the default) compresses only when a backend is across the network; a level set is kept" {
            let parsed json = ProxyConfig.parse json |> Result.defaultWith (failwithf "%A")
            let compressionOf backends = ProxyConfig.compression (parsed (oneCircle backends))
            let local = """{"name":"a","url":"http://127.0.0.1:8086"},{"name":"b","url":"http://localhost:8087"},{"name":"c","url":"https://[::1]:8088"}"""
            Expect.equal (parsed (oneCircle local)).WriteCompression Auto "the default"
            Expect.equal (compressionOf local) NoCompression "every backend on this machine"
            Expect.equal (compressionOf (local + """,{"name":"d","url":"http://10.0.0.4:8086"}""")) Fastest "one across the network"
            Expect.equal (compressionOf """{"name":"a","url":"http://influx-1:8086"}""") Fastest "a host name other than localhost"
            let set level = (oneCircle local).TrimEnd('}') + sprintf ",\"write_compression\":\"%s\"}" level
            Expect.equal (ProxyConfig.compression (parsed (set "optimal"))) Optimal "a level set is used on loopback too"
            expectError (set "max") "write_compression: expected auto, none, fastest, optimal or smallest, got \"max\""
        }

        test "every error is reported at once" {
            let json = """{"circles":[{"name":"c","backends":[{"name":"","url":"x"}]}],"hash_key":"no","flush_size":-5}"""
            Expect.equal (errorsOf json).Length 4 (sprintf "%A" (errorsOf json))
        }

        test "listen_addr is [host]:port" {
            let withAddr a = (oneCircle """{"name":"a","url":"http://h:1"}""").TrimEnd('}') + sprintf ",\"listen_addr\":\"%s\"}" a
            expectError (withAddr "7076") "listen_addr: expected [host]:port, got \"7076\""
            expectError (withAddr ":99999") "listen_addr: expected [host]:port, got \":99999\""
            expectError (withAddr ":123456789012345678901") "listen_addr: expected [host]:port, got \":123456789012345678901\"" // no overflow
            let config = ProxyConfig.parse (withAddr "[::1]:8000") |> Result.defaultWith (failwithf "%A")
            Expect.equal config.ListenAddr { Host = "::1"; Port = 8000 } "IPv6 host"
        }

        test "https needs a certificate and a key" {
            let json = (oneCircle """{"name":"a","url":"http://h:1"}""").TrimEnd('}') + ""","https_enabled":true}"""
            expectError json "https_cert: required when https_enabled is true"
            expectError json "https_key: required when https_enabled is true"
        }

        test "backend certificates are checked against the system store unless a key says otherwise" {
            let config = ProxyConfig.parse (oneCircle """{"name":"a","url":"https://h:1"}""") |> Result.defaultWith (failwithf "%A")
            Expect.equal
                (config.BackendTlsCaFile, config.BackendTlsInsecureSkipVerify, config.Circles[0].Backends[0].TlsInsecureSkipVerify)
                ("", false, false)
                "defaults"
        }

        test "the backend TLS keys are read, case-insensitively, globally and per backend" {
            let json =
                """{"circles":[{"name":"c","backends":[{"name":"a","url":"https://h:1","TLS_Insecure_Skip_Verify":true},
                                                       {"name":"b","url":"https://h:2"}]}],
                    "Backend_TLS_CA_File":"/etc/ca.pem","backend_tls_insecure_skip_verify":true}"""
            let config = ProxyConfig.parse json |> Result.defaultWith (failwithf "%A")
            Expect.equal (config.BackendTlsCaFile, config.BackendTlsInsecureSkipVerify) ("/etc/ca.pem", true) "global"
            Expect.equal (config.Circles[0].Backends |> List.map (fun b -> b.TlsInsecureSkipVerify)) [ true; false ] "per backend"
        }

        test "backend TLS keys of the wrong type are refused with their path" {
            let json =
                """{"circles":[{"name":"c","backends":[{"name":"a","url":"https://h:1","tls_insecure_skip_verify":"yes"}]}],
                    "backend_tls_ca_file":true,"backend_tls_insecure_skip_verify":1}"""
            expectError json "circles[0].backends[0].tls_insecure_skip_verify: expected true or false"
            expectError json "backend_tls_ca_file: expected a string"
            expectError json "backend_tls_insecure_skip_verify: expected true or false"
        }

        test "rings are built per circle in order" {
            let config = ProxyConfig.parse v247Sample |> Result.defaultWith (failwithf "%A")
            Expect.equal (ProxyConfig.placement config |> Placement.owners "db1" "cpu1") [ 1; 1 ] "idx/2 owner of db1,cpu1 in both circles"
        }
    ]
