module InfluxProxy.Testing.BacklogTests

open System
open System.Buffers.Binary
open System.Collections.Generic
open System.IO
open System.Text
open System.Threading
open System.Threading.Tasks
open Expecto
open FsCheck.FSharp
open Microsoft.Extensions.Logging.Abstractions
open InfluxProxy.Host.Backlog

let private backend = "influxdb-1-1"
let private none = CancellationToken.None

/// A clock the test moves by hand.
type private ManualClock(start: DateTimeOffset) =
    inherit TimeProvider()
    member val Now = start with get, set
    override this.GetUtcNow() = this.Now

let private openWith (dir: string) (options: BacklogOptions) (time: TimeProvider) =
    FileBacklog.OpenAsync(dir, backend, options, time, NullLogger.Instance, none).AsTask()

let private openIn dir options = openWith dir options TimeProvider.System

let private appendTo (backlog: FileBacklog) (text: string) =
    backlog.AppendAsync("db", "rp", ReadOnlyMemory(Encoding.UTF8.GetBytes text), none).AsTask()

let private append backlog text =
    task {
        let! result = appendTo backlog text
        Expect.equal result.Outcome AppendOutcome.Appended (sprintf "append %s: %A" text result.Error)
    }

let private peek (backlog: FileBacklog) = backlog.Reader.PeekAsync(none).AsTask()
let private commit (backlog: FileBacklog) record = backlog.Reader.CommitAsync(record, none).AsTask()
let private close (backlog: FileBacklog) = backlog.DisposeAsync().AsTask()
let private text (record: BacklogRecord) = Encoding.UTF8.GetString record.Payload.Span

/// Peeks and commits until nothing is left; the payloads in order.
let private drain (backlog: FileBacklog) =
    task {
        let received = List<string>()
        let mutable go = true
        while go do
            match! peek backlog with
            | null -> go <- false
            | record ->
                received.Add(text record)
                do! commit backlog record
        return List.ofSeq received
    }

/// Size on disk of a record appended by `append` (header, two name lengths, time, db "db", rp "rp", payload).
let private recordBytes (payload: string) = int64 (12 + 2 + 2 + 8 + 2 + 2 + Encoding.UTF8.GetByteCount payload)

let private withDir (body: string -> Task) =
    task {
        let dir = Path.Combine(Path.GetTempPath(), sprintf "backlog-test-%s" (Guid.NewGuid().ToString "N"))
        try do! body dir
        finally (try Directory.Delete(dir, true) with :? IOException -> ())
    }

let private folder dir = FileBacklog.FolderFor(dir, backend)
let private segments dir = Directory.GetFiles(folder dir, "*.seg") |> Array.sort
let private lastSegment dir = segments dir |> Array.last

/// Appends `payloads` to a new backlog, closes it, lets `damage` edit the last segment's bytes, and reopens it.
let private reopenDamaged dir (payloads: string list) (damage: byte[] -> unit) =
    task {
        let! backlog = openIn dir (BacklogOptions())
        for payload in payloads do
            do! append backlog payload
        do! close backlog
        let segment = lastSegment dir
        let bytes = File.ReadAllBytes segment
        damage bytes
        File.WriteAllBytes(segment, bytes)
        return! openIn dir (BacklogOptions())
    }

/// A fault injector failing the next `step` (after writing half of its bytes) while `armed` is set.
type private Faults() =
    member val Armed: BacklogIoStep option = None with get, set
    member val Fired = 0 with get, set
    member this.Injector =
        Action<BacklogIoStep, FileStream, ReadOnlyMemory<byte>>(fun step file bytes ->
            if this.Armed = Some step then
                this.Armed <- None
                this.Fired <- this.Fired + 1
                file.Write(bytes.Span.Slice(0, bytes.Length / 2))
                raise (IOException "No space left on device (simulated)"))


/// One step of the model-based property.
type private Op =
    | Append of string
    | Commit
    | Reopen
    /// Close, then leave the first n bytes of a record at the end of the last segment, as a crash inside a write does.
    | CrashMidAppend of int
    /// Make the next write of this kind fail (after writing half of its bytes).
    | FailNext of BacklogIoStep

let private opGen =
    let payload = Gen.choose (0, 90) |> Gen.map (fun n -> String('p', n))
    Gen.frequency [
        6, payload |> Gen.map Append
        4, Gen.constant Commit
        1, Gen.constant Reopen
        1, Gen.choose (1, 40) |> Gen.map CrashMidAppend
        1, Gen.elements [ BacklogIoStep.RecordWrite; BacklogIoStep.RecordFsync; BacklogIoStep.SegmentCreate; BacklogIoStep.CommitWrite ] |> Gen.map FailNext ]

let private scenario =
    Gen.zip (Gen.choose (40, 400)) (Gen.listOf opGen) |> Arb.fromGen

/// Runs the ops against the backlog and against a queue; they must agree after every step and after a final reopen.
let private agreesWithQueue (segmentBytes: int, ops: Op list) =
    let dir = Path.Combine(Path.GetTempPath(), sprintf "backlog-prop-%s" (Guid.NewGuid().ToString "N"))
    try
        let faults = Faults()
        let options = BacklogOptions(SegmentBytes = int64 segmentBytes, FaultInjector = faults.Injector)
        let reopen () = (openIn dir options).Result
        let mutable backlog = reopen ()
        let model = Queue<string>()
        let mutable counter = 0
        for op in ops do
            match op with
            | Append payload ->
                counter <- counter + 1
                let item = sprintf "%06d%s" counter payload
                let fired = faults.Fired
                let result = (appendTo backlog item).Result
                if faults.Fired > fired then
                    Expect.equal result.Outcome AppendOutcome.IoError "an injected failure is reported"
                else
                    Expect.equal result.Outcome AppendOutcome.Appended "appended"
                    model.Enqueue item
            | Commit ->
                match (peek backlog).Result with
                | null -> Expect.equal model.Count 0 "nothing to commit only when the model is empty"
                | record ->
                    Expect.equal (text record) (model.Peek()) "the head"
                    let fired = faults.Fired
                    let committed = try (commit backlog record).Wait(); true with :? AggregateException -> false
                    if faults.Fired > fired then Expect.isFalse committed "an injected commit failure surfaces"
                    else
                        Expect.isTrue committed "committed"
                        model.Dequeue() |> ignore
            | Reopen ->
                (close backlog).Wait()
                backlog <- reopen ()
                Expect.equal backlog.Recovery.TornBytesCut 0L "a clean close leaves no torn tail"
            | CrashMidAppend n ->
                (close backlog).Wait()
                File.AppendAllBytes(lastSegment dir, Array.init n (fun i -> if i < 4 then [| 0x1Buy; 0x0Cuy; 0x5Euy; 0xEDuy |][i] else byte i))
                backlog <- reopen ()
                Expect.equal backlog.Recovery.TornBytesCut (int64 n) "the partial record is cut"
            | FailNext step -> faults.Armed <- Some step
            Expect.equal backlog.Reader.PendingRecords (int64 model.Count) (sprintf "pending records after %A" op)
        faults.Armed <- None
        (close backlog).Wait()
        let final = reopen ()
        Expect.equal final.Reader.PendingRecords (int64 model.Count) "pending after the final reopen"
        Expect.equal (drain final).Result (List.ofSeq model) "the same records, in the same order"
        (close final).Wait()
    finally
        try Directory.Delete(dir, true) with :? IOException -> ()


/// Size of segments in the crash test: small, so the crash also lands near rolls and deletions.
let private crashSegmentBytes = 4096L

/// Run in a child process by the kill -9 test: appends numbered records while a consumer commits them, printing
/// "a n" after each acknowledged append, "w n" before and "c n" after each commit, until it is killed.
let crashChild (dir: string) : int =
    let backlog = (openIn dir (BacklogOptions(SegmentBytes = crashSegmentBytes))).Result
    let out = Console.Out
    let say (line: string) = lock out (fun () -> out.WriteLine line; out.Flush())
    let number (record: BacklogRecord) = int ((text record).Substring 6)
    let consumer =
        Task.Run(fun () ->
            task {
                while true do
                    match! peek backlog with
                    | null -> do! Task.Delay 1 // pacing only: the child runs until killed, nothing waits on this
                    | record ->
                        say (sprintf "w %d" (number record))
                        do! commit backlog record
                        say (sprintf "c %d" (number record))
            } :> Task)
    let mutable i = 0
    while not consumer.IsFaulted do
        i <- i + 1
        let result = (appendTo backlog (sprintf "crash-%08d" i)).Result
        if result.Outcome = AppendOutcome.Appended then say (sprintf "a %d" i) else say (sprintf "e %d %A" i result.Error)
    eprintfn "%O" consumer.Exception
    1

let tests =
    testList "Backlog" [
        testList "read back and commit through (the write journal's use)" [
            testTask "a payload appended in pieces is read back at the position its append reports, across segments" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions(SegmentBytes = 200L))
                    let pieces (i: int) = [ ReadOnlyMemory(Encoding.UTF8.GetBytes(sprintf "head%d|" i)); ReadOnlyMemory(Encoding.UTF8.GetBytes(sprintf "tail %d" i)) ]
                    let! results = Task.WhenAll [| for i in 1..10 -> backlog.AppendAsync("db", "rp", ResizeArray(pieces i), none).AsTask() |]
                    Expect.isGreaterThan (segments dir).Length 2 "the records span several segments"
                    for i, result in Array.indexed results do
                        let whole = Encoding.UTF8.GetString(backlog.ReadAsync(result.Payload, (sprintf "head%d|tail %d" (i + 1) (i + 1)).Length, none).AsTask().Result)
                        Expect.equal whole (sprintf "head%d|tail %d" (i + 1) (i + 1)) "read where the append said"
                    let! head = peek backlog
                    Expect.equal (text head) "head1|tail 1" "the record holds the pieces one after the other"
                    do! close backlog })
            }

            testTask "commit through a record's end consumes exactly the records before it, across segments, durably" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions(SegmentBytes = 200L))
                    let! results = Task.WhenAll [| for i in 1..10 -> appendTo backlog (sprintf "record %02d" i) |]
                    do! backlog.Reader.CommitThroughAsync(results[6].End, 7L, results[..6] |> Array.sumBy (fun r -> int64 r.RecordBytes), none).AsTask()
                    Expect.equal backlog.Reader.PendingRecords 3L "three left"
                    Expect.equal backlog.Reader.PendingBytes (3L * recordBytes "record 01") "their bytes"
                    do! close backlog
                    let! reopened = openIn dir (BacklogOptions(SegmentBytes = 200L))
                    let! left = drain reopened
                    Expect.equal left [ "record 08"; "record 09"; "record 10" ] "the commit survived the reopen"
                    do! close reopened })
            }
            testTask "payload reads keep no consumed segment open: once committed through, its file is deleted and closed" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions(SegmentBytes = 200L))
                    let! results = Task.WhenAll [| for i in 1..10 -> appendTo backlog (sprintf "record %02d" i) |]
                    for result in results do
                        let! _ = backlog.ReadAsync(result.Payload, "record 01".Length, none)
                        ()
                    let openUnder () =
                        [ for fd in Directory.GetFiles "/proc/self/fd" do
                            match (try FileInfo(fd).LinkTarget with _ -> null) with
                            | null -> ()
                            | target when target.StartsWith dir -> yield target
                            | _ -> () ]
                    let first = Directory.GetFiles(dir, "*.seg", SearchOption.AllDirectories) |> Array.min
                    Expect.contains (openUnder ()) first "the reads keep the first segment open"
                    do! backlog.Reader.CommitThroughAsync(results[results.Length - 1].End, 10L, results |> Array.sumBy (fun r -> int64 r.RecordBytes), none)
                    Expect.isEmpty (openUnder () |> List.filter (fun f -> f.Contains ".seg (deleted)")) "no consumed segment stays open"
                    do! close backlog
                    Expect.isEmpty (openUnder () |> List.filter (fun f -> f.EndsWith ".seg")) "closing the backlog closes its readers" })
            }
        ]

        testList "order and counters" [
            testTask "records come back in order with their db and rp, and commits empty the log" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    for i in 1..5 do do! append backlog (sprintf "m v=%d" i)
                    let! head = peek backlog
                    Expect.equal (head.Db, head.Rp) ("db", "rp") "db and rp"
                    let! again = peek backlog
                    Expect.equal again.Position head.Position "peek does not consume"
                    let! all = drain backlog
                    Expect.equal all [ for i in 1..5 -> sprintf "m v=%d" i ] "order"
                    Expect.isTrue backlog.Reader.IsEmpty "empty"
                    do! close backlog })
            }

            testTask "pending bytes, records and oldest age follow appends and commits" {
                do! withDir (fun dir -> task {
                    let clock = ManualClock(DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero))
                    let! backlog = openWith dir (BacklogOptions()) clock
                    Expect.equal (backlog.Reader.PendingRecords, backlog.Reader.PendingBytes) (0L, 0L) "empty at start"
                    Expect.isFalse backlog.Reader.OldestPendingAt.HasValue "no oldest when empty"
                    let t0 = clock.Now
                    do! append backlog "first"
                    clock.Now <- t0.AddSeconds 10.0
                    do! append backlog "second-one"
                    clock.Now <- t0.AddSeconds 20.0
                    do! append backlog "third"
                    Expect.equal backlog.Reader.PendingRecords 3L "records"
                    Expect.equal backlog.Reader.PendingBytes (recordBytes "first" + recordBytes "second-one" + recordBytes "third") "bytes"
                    Expect.equal backlog.Reader.OldestPendingAt (Nullable t0) "oldest is the first append"
                    let! head = peek backlog
                    do! commit backlog head
                    Expect.equal backlog.Reader.PendingRecords 2L "records after a commit"
                    Expect.equal backlog.Reader.PendingBytes (recordBytes "second-one" + recordBytes "third") "bytes after a commit"
                    Expect.equal backlog.Reader.OldestPendingAt (Nullable(t0.AddSeconds 10.0)) "oldest moves to the second append"
                    do! close backlog
                    let! reopened = openWith dir (BacklogOptions()) clock
                    Expect.equal (reopened.Reader.PendingRecords, reopened.Reader.PendingBytes) (2L, recordBytes "second-one" + recordBytes "third") "counted again at open"
                    Expect.equal reopened.Reader.OldestPendingAt (Nullable(t0.AddSeconds 10.0)) "oldest survives a restart"
                    let! _ = drain reopened
                    Expect.equal (reopened.Reader.PendingRecords, reopened.Reader.PendingBytes) (0L, 0L) "drained"
                    Expect.isFalse reopened.Reader.OldestPendingAt.HasValue "no oldest after draining"
                    do! close reopened })
            }

            testTask "committing a record twice does nothing; committing one that is not the head is refused" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    for i in 1..3 do do! append backlog (sprintf "r%d" i)
                    let! first = peek backlog
                    do! commit backlog first
                    do! commit backlog first
                    Expect.equal backlog.Reader.PendingRecords 2L "counted once"
                    let! second = peek backlog
                    let third = BacklogRecord(second.Next, second.Db, second.Rp, second.Payload, second.AppendedAt, second.Next, second.RecordBytes)
                    Expect.throws (fun () -> (commit backlog third).Wait()) "not the head"
                    let! rest = drain backlog
                    Expect.equal rest [ "r2"; "r3" ] "nothing lost"
                    do! close backlog })
            }

            testTask "oversized db names are refused as TooLarge and nothing is written" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    let! result = backlog.AppendAsync(String('d', 70000), "rp", ReadOnlyMemory(Encoding.UTF8.GetBytes "x"), none).AsTask()
                    Expect.equal result.Outcome AppendOutcome.TooLarge "too large"
                    Expect.isTrue backlog.Reader.IsEmpty "nothing written"
                    do! close backlog })
            }
        ]

        testList "named readers" [
            testTask "each reader reads every record in order and resumes at its own commit after a reopen" {
                do! withDir (fun dir -> task {
                    let options = BacklogOptions(Readers = [| "replay"; "copy" |])
                    let! backlog = openIn dir options
                    for i in 1..4 do do! append backlog (sprintf "n%d" i)
                    let replay, copy = backlog.ReaderNamed "replay", backlog.ReaderNamed "copy"
                    for _ in 1..3 do
                        let! record = replay.PeekAsync(none)
                        do! replay.CommitAsync(record, none)
                    let! first = copy.PeekAsync(none)
                    Expect.equal (text first) "n1" "the second reader starts at the first record"
                    do! copy.CommitAsync(first, none)
                    Expect.equal (replay.PendingRecords, copy.PendingRecords) (1L, 3L) "counted per reader"
                    do! close backlog
                    Expect.isTrue (File.Exists(Path.Combine(folder dir, "commit.copy"))) "its own commit file"
                    let! reopened = openIn dir options
                    let! replayNext = (reopened.ReaderNamed "replay").PeekAsync(none)
                    let! copyNext = (reopened.ReaderNamed "copy").PeekAsync(none)
                    Expect.equal (text replayNext, text copyNext) ("n4", "n2") "each resumes at its own record"
                    Expect.equal ((reopened.ReaderNamed "copy").PendingRecords) 3L "counted again at open"
                    do! close reopened })
            }

            testTask "a segment is deleted only once every reader has passed it" {
                do! withDir (fun dir -> task {
                    let options = BacklogOptions(SegmentBytes = 200L, Readers = [| "replay"; "copy" |])
                    let! backlog = openIn dir options
                    for i in 1..10 do do! append backlog (sprintf "segment-record-%02d" i)
                    let before = (segments dir).Length
                    Expect.isGreaterThan before 2 "several segments"
                    let drainReader (reader: LogReader) =
                        task {
                            let mutable go = true
                            while go do
                                match! reader.PeekAsync(none) with
                                | null -> go <- false
                                | record -> do! reader.CommitAsync(record, none)
                        }
                    do! drainReader (backlog.ReaderNamed "replay")
                    Expect.equal (segments dir).Length before "kept: the other reader has not read them"
                    do! drainReader (backlog.ReaderNamed "copy")
                    Expect.equal (segments dir).Length 1 "deleted once both passed"
                    do! close backlog })
            }

            testTask "the size cap counts what the slowest reader has not read" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions(MaxBytes = 100L, Readers = [| "replay"; "copy" |]))
                    do! append backlog (String('x', 50))
                    let replay = backlog.ReaderNamed "replay"
                    let! head = replay.PeekAsync(none)
                    do! replay.CommitAsync(head, none)
                    let! full = appendTo backlog (String('y', 50))
                    Expect.equal full.Outcome AppendOutcome.Full "the other reader still holds the first record"
                    do! close backlog })
            }
        ]

        testList "restart" [
            testTask "reopening resumes at the exact record after the last commit" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    for i in 1..6 do do! append backlog (sprintf "r%d" i)
                    let! r1 = peek backlog
                    do! commit backlog r1
                    let! r2 = peek backlog
                    do! commit backlog r2
                    let! r3 = peek backlog // read, not committed
                    Expect.equal (text r3) "r3" "third"
                    do! close backlog
                    let! reopened = openIn dir (BacklogOptions())
                    Expect.equal reopened.Recovery (RecoveryReport(0L, 0, false)) "clean recovery"
                    Expect.equal (reopened.Reader.PendingRecords, reopened.Reader.PendingBytes) (4L, [ for i in 3..6 -> recordBytes (sprintf "r%d" i) ] |> List.sum) "four wait"
                    let! rest = drain reopened
                    Expect.equal rest [ "r3"; "r4"; "r5"; "r6" ] "resumed at r3"
                    do! close reopened
                    let! third = openIn dir (BacklogOptions())
                    Expect.isTrue third.Reader.IsEmpty "still empty after another restart"
                    do! append third "r7"
                    let! last = drain third
                    Expect.equal last [ "r7" ] "new records after the restart"
                    do! close third })
            }

            testTask "records continue across segment files, reopened in the middle, and consumed segments are deleted" {
                do! withDir (fun dir -> task {
                    let options = BacklogOptions(SegmentBytes = 200L)
                    let! backlog = openIn dir options
                    let payload i = sprintf "segment-spanning-record-%02d" i
                    for i in 1..20 do do! append backlog (payload i)
                    Expect.isGreaterThan (segments dir).Length 3 "several segments"
                    for _ in 1..7 do
                        let! record = peek backlog
                        do! commit backlog record
                    do! close backlog
                    let! reopened = openIn dir options
                    Expect.equal reopened.Reader.PendingRecords 13L "13 left"
                    let! rest = drain reopened
                    Expect.equal rest [ for i in 8..20 -> payload i ] "the rest, in order"
                    Expect.equal (segments dir).Length 1 "consumed segments deleted"
                    do! close reopened })
            }
        ]

        testList "damage at recovery" [
            testTask "a torn tail is cut and reported; earlier records are intact and new ones follow" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    for i in 1..3 do do! append backlog (sprintf "t%d" i)
                    do! close backlog
                    let segment = lastSegment dir
                    let length = FileInfo(segment).Length
                    using (new FileStream(segment, FileMode.Open)) (fun f -> f.SetLength(length - 3L))
                    let! reopened = openIn dir (BacklogOptions())
                    Expect.equal reopened.Recovery.TornBytesCut (recordBytes "t3" - 3L) "the partial record's bytes are reported"
                    Expect.equal reopened.Reader.PendingRecords 2L "two whole records"
                    do! append reopened "t4"
                    let! all = drain reopened
                    Expect.equal all [ "t1"; "t2"; "t4" ] "t3 was torn"
                    do! close reopened })
            }

            testTask "garbage after the last record is cut, not replayed" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    do! append backlog "g1"
                    do! close backlog
                    let garbage = "\u0000\u0001garbage that is not a record"
                    File.AppendAllText(lastSegment dir, garbage)
                    let! reopened = openIn dir (BacklogOptions())
                    Expect.equal reopened.Recovery.TornBytesCut (int64 garbage.Length) "garbage cut"
                    let! all = drain reopened
                    Expect.equal all [ "g1" ] "only the record"
                    do! close reopened })
            }

            testTask "a header-less segment left by a crash while rolling is repaired" {
                do! withDir (fun dir -> task {
                    let options = BacklogOptions(SegmentBytes = 100L)
                    let! backlog = openIn dir options
                    for i in 1..3 do do! append backlog (sprintf "roll-%02d-with-some-length" i)
                    do! close backlog
                    let last = lastSegment dir
                    let next = Path.Combine(Path.GetDirectoryName last, sprintf "%020d.seg" (Int64.Parse(Path.GetFileNameWithoutExtension last) + 1L))
                    File.WriteAllBytes(next, [| byte 'I'; byte 'P' |])
                    let! reopened = openIn dir options
                    Expect.equal reopened.Recovery.TornBytesCut 2L "two bytes of header cut"
                    do! append reopened "after"
                    let! all = drain reopened
                    Expect.equal all ([ for i in 1..3 -> sprintf "roll-%02d-with-some-length" i ] @ [ "after" ]) "all, in order"
                    do! close reopened })
            }

            testTask "a corrupt record in the middle is skipped and counted; the later ones are delivered" {
                do! withDir (fun dir -> task {
                    let! reopened =
                        reopenDamaged dir [ for i in 1..3 -> sprintf "payload-%d" i ] (fun bytes ->
                            bytes[Encoding.ASCII.GetString(bytes).IndexOf "payload-2"] <- byte 'X')
                    Expect.equal reopened.Recovery.CorruptRecordsSkipped 1 "one corrupt record"
                    Expect.equal reopened.Recovery.TornBytesCut 0L "not a torn tail"
                    Expect.equal reopened.Reader.PendingRecords 2L "two valid records wait"
                    let! all = drain reopened
                    Expect.equal all [ "payload-1"; "payload-3" ] "later records survive"
                    Expect.equal reopened.Reader.CorruptRecordsSkipped 0L "counted once, in the recovery report"
                    do! close reopened })
            }

            testTask "a garbage length in the middle is never allocated; the next record is found again" {
                do! withDir (fun dir -> task {
                    let! reopened =
                        reopenDamaged dir [ for i in 1..3 -> sprintf "len-%d" i ] (fun bytes ->
                            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8 + int (recordBytes "len-1") + 4), 0xFFFFFFF0u))
                    Expect.equal reopened.Recovery.CorruptRecordsSkipped 1 "one corrupt record"
                    let! all = drain reopened
                    Expect.equal all [ "len-1"; "len-3" ] "resynchronised"
                    do! close reopened })
            }

            testTask "damage found while replaying (after open) is skipped; counters settle once drained" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    for i in 1..3 do do! append backlog (sprintf "live-%d" i)
                    let segment = lastSegment dir
                    using (new FileStream(segment, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite)) (fun f ->
                        f.Position <- 8L + recordBytes "live-1" + 30L
                        f.WriteByte(byte '!'))
                    let! all = drain backlog
                    Expect.equal all [ "live-1"; "live-3" ] "the damaged record is skipped"
                    Expect.equal backlog.Reader.CorruptRecordsSkipped 1L "counted"
                    Expect.equal (backlog.Reader.PendingRecords, backlog.Reader.PendingBytes) (0L, 0L) "counters settle"
                    Expect.isTrue backlog.Reader.IsEmpty "empty"
                    do! close backlog })
            }

            testTask "a segment deleted by hand while running is passed over, not a stuck replay" {
                do! withDir (fun dir -> task {
                    let options = BacklogOptions(SegmentBytes = 100L)
                    let payload i = sprintf "hand-%02d-padding-padding" i
                    let! backlog = openIn dir options
                    for i in 1..4 do do! append backlog (payload i)
                    File.Delete((segments dir).[1])
                    let! all = drain backlog
                    Expect.equal all [ payload 1; payload 3; payload 4 ] "the others, in order"
                    Expect.isTrue backlog.Reader.IsEmpty "counters settle"
                    do! close backlog })
            }

            testTask "a commit past the data (segment truncated by hand) is clamped; new records are delivered" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    for i in 1..3 do do! append backlog (sprintf "old-%d" i)
                    let! _ = drain backlog
                    do! close backlog
                    using (new FileStream(lastSegment dir, FileMode.Open)) (fun f -> f.SetLength 8L)
                    let! reopened = openIn dir (BacklogOptions())
                    Expect.isTrue reopened.Recovery.CommitRepaired "commit repaired"
                    Expect.isTrue reopened.Reader.IsEmpty "nothing waits"
                    for i in 1..2 do do! append reopened (sprintf "new-%d" i)
                    let! all = drain reopened
                    Expect.equal all [ "new-1"; "new-2" ] "new records are not read from the stale offset"
                    do! close reopened })
            }

            testTask "a commit into a deleted segment starts at the next segment" {
                do! withDir (fun dir -> task {
                    let options = BacklogOptions(SegmentBytes = 100L)
                    let payload i = sprintf "gone-%02d-padding-padding" i
                    let! backlog = openIn dir options
                    for i in 1..6 do do! append backlog (payload i)
                    let! first = peek backlog
                    do! commit backlog first
                    do! close backlog
                    let files = segments dir
                    Expect.isGreaterThan files.Length 2 "several segments"
                    File.Delete files[0]
                    let! reopened = openIn dir options
                    Expect.isTrue reopened.Recovery.CommitRepaired "commit repaired"
                    let! all = drain reopened
                    Expect.equal all [ for i in 2..6 -> payload i ] "from the segment after the missing one, in order"
                    do! close reopened })
            }

            testTask "an unreadable commit file replays everything (duplicates, never loss)" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    for i in 1..3 do do! append backlog (sprintf "c%d" i)
                    let! first = peek backlog
                    do! commit backlog first
                    do! close backlog
                    File.WriteAllBytes(Path.Combine(folder dir, "commit"), Array.create 1024 (byte 0x5A))
                    let! reopened = openIn dir (BacklogOptions())
                    Expect.isTrue reopened.Recovery.CommitRepaired "reported"
                    let! all = drain reopened
                    Expect.equal all [ "c1"; "c2"; "c3" ] "from the oldest record"
                    do! close reopened })
            }

            testTask "a log folder removed by hand while running takes nothing down: commits and appends go on" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    for i in 1..3 do do! append backlog (sprintf "gone-%d" i)
                    let! head = peek backlog
                    Directory.Delete(folder dir, true)
                    do! commit backlog head // the commit file is still open; truncation finds no folder
                    do! append backlog "after"
                    let! next = peek backlog
                    Expect.equal (text next) "gone-2" "the open segment is still read"
                    do! close backlog })
            }

            testTask "a second open of the same backlog fails while the first holds it" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    Expect.throws (fun () -> (openIn dir (BacklogOptions())).Wait()) "in use"
                    do! append backlog "still-works"
                    do! close backlog
                    let! again = openIn dir (BacklogOptions())
                    let! all = drain again
                    Expect.equal all [ "still-works" ] "open again once closed"
                    do! close again })
            }

            testTask "a segment of a newer format version is refused and left untouched" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions())
                    do! append backlog "v1"
                    do! close backlog
                    let segment = lastSegment dir
                    let bytes = File.ReadAllBytes segment
                    bytes[7] <- 2uy
                    File.WriteAllBytes(segment, bytes)
                    let failed =
                        try (openIn dir (BacklogOptions())).Wait(); None
                        with
                        | :? AggregateException as e -> Some e.InnerException
                        | e -> Some e
                    Expect.isTrue (match failed with Some (:? NotSupportedException) -> true | _ -> false) "refused"
                    Expect.equal (File.ReadAllBytes segment) bytes "untouched" })
            }
        ]

        testList "limits and I/O errors" [
            testTask "a size cap answers Full without writing, and frees up after commits" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions(MaxBytes = 100L))
                    do! append backlog (String('x', 50))
                    let size = FileInfo(lastSegment dir).Length
                    let! full = appendTo backlog (String('y', 50))
                    Expect.equal full.Outcome AppendOutcome.Full "second does not fit"
                    Expect.equal (FileInfo(lastSegment dir).Length) size "nothing written"
                    Expect.equal backlog.Reader.PendingRecords 1L "one record"
                    let! head = peek backlog
                    do! commit backlog head
                    do! append backlog (String('y', 50))
                    do! close backlog })
            }

            testTask "a failed record write (disk full) is cut back; the log stays consistent and later appends work" {
                do! withDir (fun dir -> task {
                    let faults = Faults()
                    let! backlog = openIn dir (BacklogOptions(FaultInjector = faults.Injector))
                    do! append backlog "before"
                    faults.Armed <- Some BacklogIoStep.RecordWrite
                    let! failed = appendTo backlog "lost-and-reported"
                    Expect.equal failed.Outcome AppendOutcome.IoError "reported"
                    Expect.stringContains failed.Error "No space left" "reason"
                    Expect.equal backlog.Reader.PendingRecords 1L "not counted"
                    do! append backlog "after"
                    let! live = drain backlog
                    Expect.equal live [ "before"; "after" ] "consistent while running"
                    do! append backlog "last"
                    do! close backlog
                    let! reopened = openIn dir (BacklogOptions())
                    Expect.equal reopened.Recovery.TornBytesCut 0L "the partial record was cut back at once"
                    let! rest = drain reopened
                    Expect.equal rest [ "last" ] "consistent after a restart"
                    do! close reopened })
            }

            testTask "a failed fsync reports the group as not stored and cuts it back" {
                do! withDir (fun dir -> task {
                    let faults = Faults()
                    let! backlog = openIn dir (BacklogOptions(FaultInjector = faults.Injector))
                    do! append backlog "kept"
                    let length = FileInfo(lastSegment dir).Length
                    faults.Armed <- Some BacklogIoStep.RecordFsync
                    let! failed = appendTo backlog "not-durable"
                    Expect.equal failed.Outcome AppendOutcome.IoError "reported"
                    Expect.equal (FileInfo(lastSegment dir).Length) length "cut back"
                    do! append backlog "next"
                    let! all = drain backlog
                    Expect.equal all [ "kept"; "next" ] "consistent"
                    do! close backlog })
            }

            testTask "a failed segment roll fails that append only; the next one rolls and nothing is out of order" {
                do! withDir (fun dir -> task {
                    let faults = Faults()
                    let options = BacklogOptions(SegmentBytes = 100L, FaultInjector = faults.Injector)
                    let! backlog = openIn dir options
                    do! append backlog "roll-01-with-some-padding"
                    do! append backlog "roll-02-with-some-padding"
                    faults.Armed <- Some BacklogIoStep.SegmentCreate
                    let! failed = appendTo backlog "roll-03-with-some-padding"
                    Expect.equal failed.Outcome AppendOutcome.IoError "reported"
                    Expect.equal faults.Fired 1 "the roll was attempted"
                    do! append backlog "roll-04-with-some-padding"
                    do! append backlog "roll-05-with-some-padding"
                    do! close backlog
                    let! reopened = openIn dir (BacklogOptions(SegmentBytes = 100L))
                    Expect.equal reopened.Recovery.TornBytesCut 0L "nothing torn"
                    let! all = drain reopened
                    Expect.equal all [ "roll-01-with-some-padding"; "roll-02-with-some-padding"; "roll-04-with-some-padding"; "roll-05-with-some-padding" ] "in order"
                    do! close reopened })
            }

            testTask "a failed commit leaves the record at the head; a torn commit slot falls back to the previous commit" {
                do! withDir (fun dir -> task {
                    let faults = Faults()
                    let! backlog = openIn dir (BacklogOptions(FaultInjector = faults.Injector))
                    for i in 1..4 do do! append backlog (sprintf "k%d" i)
                    let! k1 = peek backlog
                    do! commit backlog k1
                    let! k2 = peek backlog
                    faults.Armed <- Some BacklogIoStep.CommitWrite
                    Expect.throws (fun () -> (commit backlog k2).Wait()) "the commit error reaches the replayer"
                    let! head = peek backlog
                    Expect.equal (text head) "k2" "k2 is still the head"
                    Expect.equal backlog.Reader.PendingRecords 3L "still pending"
                    do! close backlog
                    // The failed write tore its slot; the other slot still holds the commit after k1.
                    let! reopened = openIn dir (BacklogOptions())
                    Expect.isFalse reopened.Recovery.CommitRepaired "the previous slot is valid"
                    let! rest = drain reopened
                    Expect.equal rest [ "k2"; "k3"; "k4" ] "resumes after the last durable commit"
                    do! close reopened })
            }
        ]

        testList "concurrency" [
            testTask "a concurrent producer and consumer lose and duplicate nothing, in order" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions(SegmentBytes = 64L * 1024L))
                    let total = 10000
                    let producer = Task.Run(fun () -> task { for i in 1..total do do! append backlog (sprintf "c%05d" i) } :> Task)
                    let received = List<string>()
                    let deadline = DateTime.UtcNow.AddSeconds 120.0
                    while received.Count < total && DateTime.UtcNow < deadline do
                        match! peek backlog with
                        | null -> do! Task.Yield()
                        | record ->
                            received.Add(text record)
                            do! commit backlog record
                    do! producer
                    Expect.equal (List.ofSeq received) [ for i in 1..total -> sprintf "c%05d" i ] "exactly once, in order"
                    Expect.isTrue backlog.Reader.IsEmpty "empty"
                    Expect.equal (segments dir).Length 1 "consumed segments deleted"
                    do! close backlog })
            }

            testTask "concurrent appenders are grouped; each one's records stay in its order and none is lost" {
                do! withDir (fun dir -> task {
                    let! backlog = openIn dir (BacklogOptions(SegmentBytes = 16L * 1024L))
                    let producers = 8
                    let each = 500
                    let run p = Task.Run(fun () -> task { for i in 1..each do do! append backlog (sprintf "p%d-%04d" p i) } :> Task)
                    do! Task.WhenAll [| for p in 1..producers -> run p |]
                    Expect.equal backlog.Reader.PendingRecords (int64 (producers * each)) "all counted"
                    do! close backlog
                    let! reopened = openIn dir (BacklogOptions(SegmentBytes = 16L * 1024L))
                    let! all = drain reopened
                    Expect.equal all.Length (producers * each) "all present"
                    for p in 1..producers do
                        let mine = all |> List.filter (fun s -> s.StartsWith(sprintf "p%d-" p))
                        Expect.equal mine [ for i in 1..each -> sprintf "p%d-%04d" p i ] (sprintf "producer %d in order" p)
                    do! close reopened })
            }
        ]

        testList "properties" [
            testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 60 } "appends, commits, reopens, crashes and I/O errors agree with a queue" (Prop.forAll scenario agreesWithQueue)
        ]

        testList "process crash" [
            testTask "kill -9 while appending and committing loses no acknowledged record and re-delivers no committed one" {
                do! withDir (fun dir -> task {
                    Directory.CreateDirectory dir |> ignore
                    let testDll = Reflection.Assembly.GetEntryAssembly().Location
                    let info = Diagnostics.ProcessStartInfo(Environment.ProcessPath, sprintf "\"%s\" --backlog-crash-child \"%s\"" testDll dir)
                    info.RedirectStandardOutput <- true
                    info.UseShellExecute <- false
                    use child = Diagnostics.Process.Start info
                    let mutable acked, committed, willCommit = 0, 0, 0
                    let record (line: string) =
                        match line.Split ' ' with
                        | [| "a"; n |] -> acked <- max acked (int n)
                        | [| "c"; n |] -> committed <- max committed (int n)
                        | [| "w"; n |] -> willCommit <- max willCommit (int n)
                        | _ -> failwithf "child: %s" line
                    use timeout = new CancellationTokenSource(TimeSpan.FromSeconds 90.0)
                    while acked < 3000 || committed < 1000 do
                        match! child.StandardOutput.ReadLineAsync(timeout.Token) with
                        | null -> failwith "the child exited on its own"
                        | line -> record line
                    child.Kill() // SIGKILL: no disposal, no flush
                    do! child.WaitForExitAsync()
                    // Lines already in the pipe were printed before the kill; a last line without its newline is ignored.
                    let! rest = child.StandardOutput.ReadToEndAsync()
                    let lines = rest.Split '\n'
                    for line in lines[.. lines.Length - 2] do record line
                    let! backlog = openIn dir (BacklogOptions(SegmentBytes = crashSegmentBytes))
                    let! all = drain backlog
                    let numbers = all |> List.map (fun s -> int (s.Substring 6))
                    Expect.equal numbers [ for n in List.head (numbers @ [ 0 ]) .. List.head (numbers @ [ 0 ]) + numbers.Length - 1 -> n ] "contiguous, in order, no duplicates"
                    match numbers with
                    | [] -> Expect.isGreaterThanOrEqual willCommit acked "nothing left: every acknowledged record was committed"
                    | first :: _ ->
                        Expect.isGreaterThan first committed "no committed record comes back"
                        Expect.isLessThanOrEqual first (willCommit + 1) "nothing between the last commit and the first record is lost"
                        Expect.isGreaterThanOrEqual (List.last numbers) acked "every acknowledged record is there"
                    do! close backlog })
            }
        ]

        testList "backend names" [
            testTask "names that look like paths map to distinct folders inside data_dir" {
                do! withDir (fun dir -> task {
                    Directory.CreateDirectory dir |> ignore
                    let names = [ "../x"; "a/b"; "."; ".."; ""; "/etc/passwd"; "a%2Fb"; "C:\\x"; String('n', 300) ]
                    for name in names do
                        let! backlog = FileBacklog.OpenAsync(dir, name, BacklogOptions(), TimeProvider.System, NullLogger.Instance, none).AsTask()
                        do! backlog.AppendAsync("db", "rp", ReadOnlyMemory(Encoding.UTF8.GetBytes name), none).AsTask() :> Task
                        do! close backlog
                        let folder = FileBacklog.FolderFor(dir, name)
                        Expect.equal (Path.GetDirectoryName folder) dir (sprintf "%A is inside data_dir" name)
                        Expect.isTrue (Directory.Exists folder) "created"
                    Expect.equal (Directory.GetDirectories dir).Length names.Length "one folder each, nothing outside"
                    Expect.isFalse (File.Exists(Path.Combine(Path.GetDirectoryName dir, "x.backlog"))) "no escape" })
            }
        ]
    ]
