module InfluxProxy.Testing.BacklogTests

open System
open System.IO
open System.Text
open System.Threading.Tasks
open Expecto
open Microsoft.Extensions.Logging.Abstractions
open InfluxProxy.Host.Backlog

let private openIn (dir: string) (options: BacklogOptions) =
    FileBacklog.OpenAsync(dir, "influxdb-1-1", options, TimeProvider.System, NullLogger.Instance, Threading.CancellationToken.None).AsTask().Result

let private append (backlog: FileBacklog) (text: string) =
    backlog.AppendAsync("db", "rp", ReadOnlyMemory(Encoding.UTF8.GetBytes text), Threading.CancellationToken.None).AsTask().Result

let private peek (backlog: FileBacklog) = backlog.PeekAsync(Threading.CancellationToken.None).AsTask().Result

let private commit (backlog: FileBacklog) record = backlog.CommitAsync(record, Threading.CancellationToken.None).AsTask().Wait()

let private close (backlog: FileBacklog) = backlog.DisposeAsync().AsTask().Wait()

/// Peeks and commits until empty; returns the payloads in order.
let private drain (backlog: FileBacklog) =
    let rec loop acc =
        match peek backlog with
        | null -> List.rev acc
        | record ->
            commit backlog record
            loop (Encoding.UTF8.GetString(record.Payload.Span) :: acc)
    loop []

let private withDir body =
    let dir = Path.Combine(Path.GetTempPath(), sprintf "backlog-test-%s" (Guid.NewGuid().ToString "N"))
    try body dir finally (try Directory.Delete(dir, true) with _ -> ())

let private lastSegment dir =
    Directory.GetFiles(FileBacklog.FolderFor(dir, "influxdb-1-1"), "*.seg") |> Array.sort |> Array.last

let tests =
    testList "Backlog" [
        test "records come back in order with their db and rp, and commits empty the log" {
            withDir (fun dir ->
                let backlog = openIn dir (BacklogOptions())
                for i in 1..5 do Expect.equal (append backlog (sprintf "m v=%d" i)).Outcome AppendOutcome.Appended "append"
                Expect.equal backlog.PendingRecords 5L "pending records"
                let head = peek backlog
                Expect.equal (head.Db, head.Rp) ("db", "rp") "db and rp"
                Expect.equal (drain backlog) [ for i in 1..5 -> sprintf "m v=%d" i ] "order"
                Expect.isTrue backlog.IsEmpty "empty"
                Expect.equal (backlog.PendingRecords, backlog.PendingBytes) (0L, 0L) "counters"
                Expect.isNone (Option.ofNullable backlog.OldestPendingAt) "no oldest"
                close backlog)
        }

        test "reopening resumes at the exact record after the last commit" {
            withDir (fun dir ->
                let backlog = openIn dir (BacklogOptions())
                for i in 1..6 do append backlog (sprintf "r%d" i) |> ignore
                commit backlog (peek backlog)
                commit backlog (peek backlog)
                let third = peek backlog // read, not committed
                Expect.equal (Encoding.UTF8.GetString third.Payload.Span) "r3" "third"
                close backlog
                let reopened = openIn dir (BacklogOptions())
                Expect.equal reopened.Recovery.RecordsPending 4L "four left"
                Expect.equal (drain reopened) [ "r3"; "r4"; "r5"; "r6" ] "resumed at r3"
                close reopened)
        }

        test "a torn tail is cut and reported; earlier records are intact and new ones follow" {
            withDir (fun dir ->
                let backlog = openIn dir (BacklogOptions())
                for i in 1..3 do append backlog (sprintf "t%d" i) |> ignore
                close backlog
                let segment = lastSegment dir
                let length = FileInfo(segment).Length
                using (new FileStream(segment, FileMode.Open)) (fun f -> f.SetLength(length - 3L))
                let reopened = openIn dir (BacklogOptions())
                Expect.isGreaterThan reopened.Recovery.TornBytesCut 0L "torn bytes reported"
                append reopened "t4" |> ignore
                Expect.equal (drain reopened) [ "t1"; "t2"; "t4" ] "t3 was torn"
                close reopened)
        }

        test "garbage appended after the last record is cut, not replayed" {
            withDir (fun dir ->
                let backlog = openIn dir (BacklogOptions())
                append backlog "g1" |> ignore
                close backlog
                File.AppendAllText(lastSegment dir, "\u0000\u0001garbage that is not a record")
                let reopened = openIn dir (BacklogOptions())
                Expect.isGreaterThan reopened.Recovery.TornBytesCut 0L "garbage cut"
                Expect.equal (drain reopened) [ "g1" ] "only the record"
                close reopened)
        }

        test "a corrupt record in the middle is skipped and counted; the later ones are delivered" {
            withDir (fun dir ->
                let backlog = openIn dir (BacklogOptions())
                for i in 1..3 do append backlog (sprintf "payload-%d" i) |> ignore
                close backlog
                let segment = lastSegment dir
                let bytes = File.ReadAllBytes segment
                let second = Encoding.ASCII.GetString(bytes).IndexOf "payload-2"
                bytes[second] <- byte 'X'
                File.WriteAllBytes(segment, bytes)
                let reopened = openIn dir (BacklogOptions())
                Expect.equal reopened.Recovery.CorruptRecordsSkipped 1 "one corrupt record"
                Expect.equal reopened.Recovery.TornBytesCut 0L "not a torn tail"
                Expect.equal (drain reopened) [ "payload-1"; "payload-3" ] "later records survive"
                close reopened)
        }

        test "records continue across segment files, and consumed segments are deleted" {
            withDir (fun dir ->
                let options = BacklogOptions(SegmentBytes = 200L)
                let backlog = openIn dir options
                for i in 1..20 do append backlog (sprintf "segment-spanning-record-%02d" i) |> ignore
                let folder = FileBacklog.FolderFor(dir, "influxdb-1-1")
                Expect.isGreaterThan (Directory.GetFiles(folder, "*.seg").Length) 3 "several segments"
                close backlog
                let reopened = openIn dir options
                Expect.equal (drain reopened) [ for i in 1..20 -> sprintf "segment-spanning-record-%02d" i ] "all, in order"
                Expect.equal (Directory.GetFiles(folder, "*.seg").Length) 1 "consumed segments deleted"
                close reopened)
        }

        test "a size cap answers Full without writing, and frees up after commits" {
            withDir (fun dir ->
                let backlog = openIn dir (BacklogOptions(MaxBytes = 100L))
                Expect.equal (append backlog (String('x', 50))).Outcome AppendOutcome.Appended "first fits"
                Expect.equal (append backlog (String('y', 50))).Outcome AppendOutcome.Full "second does not"
                Expect.equal backlog.PendingRecords 1L "nothing written"
                commit backlog (peek backlog)
                Expect.equal (append backlog (String('y', 50))).Outcome AppendOutcome.Appended "room again"
                close backlog)
        }

        test "a failed write (disk full) leaves the log consistent; later appends work" {
            withDir (fun dir ->
                let mutable failNext = false
                let injector = Action<Stream, byte[]>(fun stream record ->
                    if failNext then
                        failNext <- false
                        stream.Write(record, 0, record.Length / 2)
                        raise (IOException "No space left on device (simulated)"))
                let backlog = openIn dir (BacklogOptions(FaultInjector = injector))
                append backlog "before" |> ignore
                failNext <- true
                let failed = append backlog "lost-and-reported"
                Expect.equal failed.Outcome AppendOutcome.IoError "reported"
                Expect.stringContains failed.Error "No space left" "reason"
                append backlog "after" |> ignore
                close backlog
                let reopened = openIn dir (BacklogOptions())
                Expect.equal reopened.Recovery.TornBytesCut 0L "partial record was cut back at once"
                Expect.equal (drain reopened) [ "before"; "after" ] "consistent"
                close reopened)
        }

        test "a concurrent producer and consumer lose and duplicate nothing, in order" {
            withDir (fun dir ->
                let backlog = openIn dir (BacklogOptions(SegmentBytes = 64L * 1024L))
                let total = 5000
                let producer = Task.Run(fun () -> for i in 1..total do append backlog (sprintf "c%05d" i) |> ignore)
                let received = Collections.Generic.List<string>()
                let deadline = DateTime.UtcNow.AddSeconds 60.0
                while received.Count < total && DateTime.UtcNow < deadline do
                    match peek backlog with
                    | null -> Threading.Thread.Yield() |> ignore
                    | record ->
                        received.Add(Encoding.UTF8.GetString record.Payload.Span)
                        commit backlog record
                producer.Wait()
                Expect.equal (List.ofSeq received) [ for i in 1..total -> sprintf "c%05d" i ] "exactly once, in order"
                close backlog)
        }

        test "backend names cannot escape data_dir" {
            for name in [ "../x"; "a/b"; "."; ".."; ""; "/etc/passwd" ] do
                let folder = FileBacklog.FolderFor("/data", name)
                Expect.equal (Path.GetDirectoryName folder) "/data" name
                Expect.isFalse ((Path.GetFileName folder).Contains "/") name
        }
    ]
