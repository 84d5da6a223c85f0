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
open InfluxProxy.Host.Backlog
open InfluxProxy.Host.Hosting
open InfluxProxy.Testing.Influxd

/// Opens the journal in `dir` and starts its committer, as the proxy does.
let private openWith (dir: string) (options: BacklogOptions) =
    task {
        let! journal = WriteJournal.OpenAsync(dir, TimeProvider.System, NullLoggerFactory.Instance, CancellationToken.None, options)
        journal.Start()
        return journal
    }

let private openIn (dir: string) = openWith dir (BacklogOptions())

let private close (journal: WriteJournal) = journal.StopAsync().Wait()

let private plain (text: string) = WriteJournal.Plain, [ ReadOnlyMemory(Encoding.UTF8.GetBytes text) ]

/// Each line its own gzip member, as the pipeline writes one member per chunk.
let private gzipped (lines: string list) =
    let memberOf (line: string) =
        use buffer = new MemoryStream()
        (use zip = new GZipStream(buffer, CompressionLevel.Fastest)
         zip.Write(Encoding.UTF8.GetBytes line))
        ReadOnlyMemory(buffer.ToArray())
    WriteJournal.Gzipped, List.map memberOf lines

let private written (journal: WriteJournal) (encoding: byte, pieces: ReadOnlyMemory<byte> list) =
    let ticket = journal.Append("db", "rp", encoding, ResizeArray pieces)
    Expect.isNotNull ticket.Written.Result "fsynced"
    ticket

/// Replays what the previous run left and returns the lines handed over, in order.
let private replayAll (journal: WriteJournal) (take: int -> bool) =
    let seen = Collections.Generic.List<string>()
    let redeliver (_: string) (_: string) (lines: ReadOnlyMemory<byte>) =
        let text = Encoding.UTF8.GetString lines.Span
        seen.Add text
        Task.FromResult(take (seen.Count))
    journal.ReplayAsync(Func<_, _, _, _>(redeliver), RetryLoop(TimeSpan.FromMilliseconds 10.0, TimeProvider.System), CancellationToken.None).Wait()
    List.ofSeq seen

let private withDir (body: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), sprintf "influx-proxy-journal-%s" (Guid.NewGuid().ToString "N"))
    try body dir finally Directory.Delete(dir, true)

/// Opens the journal in `dir` and replays what it holds; returns it and the lines handed over.
let private reopen dir = 
    let journal = (openIn dir).Result
    let replayed = replayAll journal (fun _ -> true)
    Expect.isTrue journal.Replayed.IsCompleted "replay is over"
    journal, replayed

let tests =
    testList "write journal" [
        test "records are committed in append order once settled: a later one settled first waits for the earlier" {
            withDir (fun dir ->
                let journal, _ = reopen dir
                written journal (plain "a v=1 1\n") |> ignore
                journal.Settle(written journal (plain "b v=1 1\n"))
                close journal // commits what is settled
                let again, replayed = reopen dir
                Expect.equal replayed [ "a v=1 1\n"; "b v=1 1\n" ] "the settled second record waited behind the first"
                close again)
        }

        test "a reopened journal replays exactly the records not settled, in order, plain and gzip, then takes new ones" {
            withDir (fun dir ->
                let journal, _ = reopen dir
                journal.Settle(written journal (plain "done v=1 1\n"))
                written journal (plain "left v=1 1\n") |> ignore
                journal.Settle(written journal (gzipped [ "zipped v=1 1\n"; "zipped v=2 2\n" ]))
                close journal
                let reopened, replayed = reopen dir
                Expect.equal replayed [ "left v=1 1\n"; "zipped v=1 1\nzipped v=2 2\n" ] "the unsettled record and everything after it"
                Expect.equal reopened.PendingRecords 0L "committed"
                let fresh = written reopened (plain "new v=1 1\n")
                Expect.equal (Encoding.UTF8.GetString((reopened.LinesOfAsync fresh).Result.Value.Span)) "new v=1 1\n" "new records are taken and read back"
                reopened.Settle fresh
                close reopened
                let third, again = reopen dir
                Expect.isEmpty again "nothing is replayed twice"
                close third)
        }

        test "a record not taken on replay is offered again until it is" {
            withDir (fun dir ->
                let journal, _ = reopen dir
                written journal (plain "retry v=1 1\n") |> ignore
                close journal
                let reopened = (openIn dir).Result
                Expect.isFalse reopened.Replayed.IsCompleted "not replayed yet"
                Expect.equal (replayAll reopened (fun attempt -> attempt >= 3)) (List.replicate 3 "retry v=1 1\n") "three offers"
                Expect.equal reopened.PendingRecords 0L "committed once taken"
                close reopened)
        }

        test "records a failed commit did not cover are counted until a later commit covers them" {
            withDir (fun dir ->
                let mutable failNextCommit = false
                let faults (step: BacklogIoStep) (_: FileStream) (_: ReadOnlyMemory<byte>) =
                    if step = BacklogIoStep.CommitWrite && failNextCommit then
                        failNextCommit <- false
                        raise (IOException "disk full")
                let journal = (openWith dir (BacklogOptions(FaultInjector = Action<_, _, _>(faults)))).Result
                replayAll journal (fun _ -> true) |> ignore
                failNextCommit <- true
                journal.Settle(written journal (plain "first v=1 1\n"))
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> not failNextCommit)) "the commit was tried and failed"
                Expect.equal journal.PendingRecords 1L "the record is still counted"
                journal.Settle(written journal (plain "second v=1 1\n"))
                Expect.isTrue (waitUntil (TimeSpan.FromSeconds 10.0) (fun () -> journal.PendingRecords = 0L)) "the next commit covers both"
                Expect.equal journal.PendingBytes 0L "and their bytes"
                close journal
                let reopened, replayed = reopen dir
                Expect.isEmpty replayed "both committed"
                close reopened)
        }

        test "a record the disk refused holds up no commit, and commits free the segments behind them" {
            withDir (fun dir ->
                let refuse (step: BacklogIoStep) (_: FileStream) (bytes: ReadOnlyMemory<byte>) =
                    if step = BacklogIoStep.RecordWrite && Encoding.UTF8.GetString(bytes.Span).Contains "refused" then
                        raise (IOException "disk full")
                let options = BacklogOptions(SegmentBytes = 200L, FaultInjector = Action<_, _, _>(refuse))
                let journal = (openWith dir options).Result
                replayAll journal (fun _ -> true) |> ignore
                for i in 1..10 do
                    journal.Settle(written journal (plain (sprintf "kept%d v=1 1\n" i)))
                let refused = journal.Append("db", "rp", WriteJournal.Plain, ResizeArray [ ReadOnlyMemory(Encoding.UTF8.GetBytes "refused v=1 1\n") ])
                Expect.isNull refused.Written.Result "not written"
                journal.Settle(written journal (plain "last v=1 1\n"))
                close journal
                let segments = Directory.GetFiles(dir, "*.seg", SearchOption.AllDirectories)
                Expect.isLessThanOrEqual segments.Length 1 (sprintf "consumed segments are deleted: %A" segments)
                let reopened, replayed = reopen dir
                Expect.isEmpty replayed "every written record was committed"
                close reopened)
        }
    
        test "a damaged record is stepped over and counted; the records around it are replayed" {
            withDir (fun dir ->
                let journal, _ = reopen dir
                for name in [ "before"; "damaged"; "after" ] do
                    written journal (plain (sprintf "%s v=1 1\n" name)) |> ignore
                close journal
                let segment = Directory.GetFiles(dir, "*.seg", SearchOption.AllDirectories) |> Array.max
                let bytes = File.ReadAllBytes segment
                bytes[Encoding.ASCII.GetString(bytes).IndexOf "damaged"] <- byte 'X'
                File.WriteAllBytes(segment, bytes)
                let reopened, replayed = reopen dir
                Expect.equal replayed [ "before v=1 1\n"; "after v=1 1\n" ] "the records around it"
                Expect.equal reopened.CorruptRecords 1L "counted, for /metrics"
                close reopened)
        }
    ]
