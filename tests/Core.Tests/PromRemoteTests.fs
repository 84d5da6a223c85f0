module InfluxProxy.Core.Tests.PromRemoteTests

open System
open System.Text
open Expecto
open InfluxProxy.Core

let private lines labels samples =
    let text = StringBuilder()
    PromWrite.append labels samples text |> Result.map (fun () -> text.ToString())

let tests =
    testList "Prometheus remote storage" [
        test "a series is written as InfluxDB stores it: the name as measurement and tag, labels as tags, value, ms as ns" {
            Expect.equal (lines [ "__name__", "up"; "job", "a b"; "empty", "" ] [ 1.5, 1000L; 2e21, 2000L ])
                (Ok "up,__name__=up,job=a\\ b value=1.5 1000000000\nup,__name__=up,job=a\\ b value=2e+21 2000000000\n") "lines"
            Expect.equal (lines [ "a", "b" ] [ 3.0, 7000L ]) (Ok "prom_metric_not_specified,a=b value=3 7000000000\n") "no name"
        }

        test "NaN samples and stale markers are left out; an infinite one refuses the request, as InfluxDB does" {
            Expect.equal (lines [ "__name__", "m" ] [ nan, 1L; BitConverter.Int64BitsToDouble 0x7ff0000000000002L, 2L ]) (Ok "") "left out"
            Expect.equal (lines [ "__name__", "m" ] [ 1.0, 1L; -infinity, 2L ]) (Error PromWrite.InfinityRefused) "refused"
        }

        test "a read names its measurement only by an exact name matcher" {
            Expect.equal (PromRead.measurement [ NotEqual("job", "x"); Equal("__name__", "up") ]) (Some "up") "exact"
            Expect.equal (PromRead.measurement [ Matches("__name__", "up|down") ]) None "a regex: every backend of a circle"
            Expect.equal (PromRead.measurement [ Equal("job", "x") ]) None "no name"
        }
    ]
