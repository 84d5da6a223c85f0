/// The write journal on its own (no backend): commit order, what a reopen finds, and replay.
module InfluxProxy.Testing.JournalTests

open System
open System.IO
open System.IO.Compression
open System.Text
open System.Threading
open System.Threading.Tasks
open Expecto
open Microsoft.Extensions.Logging.Abstractions
open InfluxProxy.Host.Backends

let private openIn (dir: string) =
    WriteJournal.OpenAsync(dir, TimeProvider.System, NullLoggerFactory.Instance, CancellationToken.None)

let private plain (text: string) = Array.append [| WriteJournal.Plain |] (Encoding.UTF8.GetBytes text)

let private gzipped (text: string) =
    use buffer = new MemoryStream()
    (use zip = new GZipStream(buffer, CompressionLevel.Fastest)
     zip.Write(Encoding.UTF8.GetBytes text))
    Array.append [| WriteJournal.Gzipped |] (buffer.ToArray())

let private written (journal: WriteJournal) (payload: byte[]) =
    let ticket = journal.Append("db", "rp", payload)
    Expect.isNotNull ticket.Written.Result "fsynced"
    ticket

/// Replays what the previous run left and returns the lines handed over, in order.
let private replayAll (journal: WriteJournal) (take: int -> bool) =
    let seen = Collections.Generic.List<string>()
    let redeliver (_: string) (_: string) (lines: ReadOnlyMemory<byte>) =
        let text = Encoding.UTF8.GetString lines.Span
        seen.Add text
        Task.FromResult(take (seen.Count))
    journal.ReplayAsync(Func<_, _, _, _>(redeliver), TimeSpan.FromMilliseconds 10.0, TimeProvider.System, CancellationToken.None).Wait()
    List.ofSeq seen

let private withDir (body: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), sprintf "influx-proxy-journal-%s" (Guid.NewGuid().ToString "N"))
    try body dir finally Directory.Delete(dir, true)

let tests =
    testList "write journal" [
        test "records are committed in append order once settled: a later one settled first waits for the earlier" {
            withDir (fun dir ->
                let journal = (openIn dir).Result
                Expect.isFalse journal.Replaying "nothing to replay in a new journal"
                let first = written journal (plain "a v=1 1\n")
                let second = written journal (plain "b v=1 1\n")
                journal.Settle second
                Thread.Sleep 100
                Expect.equal journal.PendingRecords 2L "the second waits behind the first"
                journal.Settle first
                Expect.isTrue (Influxd.waitUntil (TimeSpan.FromSeconds 5.0) (fun () -> journal.PendingRecords = 0L)) "both committed"
                journal.DisposeAsync().AsTask().Wait())
        }

        test "a reopened journal replays exactly the records not settled, in order, plain and gzip, then takes new ones" {
            withDir (fun dir ->
                let journal = (openIn dir).Result
                journal.Settle(written journal (plain "done v=1 1\n"))
                written journal (plain "left v=1 1\n") |> ignore
                journal.Settle(written journal (gzipped "zipped v=1 1\nzipped v=2 2\n"))
                journal.DisposeAsync().AsTask().Wait()
                let reopened = (openIn dir).Result
                Expect.isTrue reopened.Replaying "records of the previous run wait"
                Expect.equal (replayAll reopened (fun _ -> true)) [ "left v=1 1\n"; "zipped v=1 1\nzipped v=2 2\n" ] "the unsettled record and everything after it"
                Expect.isFalse reopened.Replaying "replay is over"
                Expect.equal reopened.PendingRecords 0L "committed"
                reopened.DisposeAsync().AsTask().Wait()
                let third = (openIn dir).Result
                Expect.isFalse third.Replaying "nothing is replayed twice"
                third.DisposeAsync().AsTask().Wait())
        }

        test "a record not taken on replay is offered again until it is" {
            withDir (fun dir ->
                let journal = (openIn dir).Result
                written journal (plain "retry v=1 1\n") |> ignore
                journal.DisposeAsync().AsTask().Wait()
                let reopened = (openIn dir).Result
                Expect.equal (replayAll reopened (fun attempt -> attempt >= 3)) (List.replicate 3 "retry v=1 1\n") "three offers"
                Expect.equal reopened.PendingRecords 0L "committed once taken"
                reopened.DisposeAsync().AsTask().Wait())
        }
    ]
