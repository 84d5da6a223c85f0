/// The migration jobs on disk (the host's JobStore), without a server.
module InfluxProxy.Testing.JobStoreTests

open System.IO
open Expecto
open InfluxProxy.Core
open InfluxProxy.Host.Migration

let tests =
    testList "JobStore" [
        test "a step log torn by a crash keeps the records written after it" {
            let dir = ProxyProcess.newDir "jobs"
            try
                let store = JobStore dir
                let job = { Id = "j1"; Endpoint = "clear"; Parameters = [ "circle_id", "0" ]; Body = ""; AcceptedNs = 1L }
                store.Create job
                store.Record("j1", StepDone(0, 10L))
                File.AppendAllText(Path.Combine(dir, "migrate", "jobs", "j1", "steps.log"), "1 do")
                store.Record("j1", StepDone(2, 30L))
                store.End("j1", Abandoned " spaced reason ")
                let stored = store.Load() |> Seq.exactlyOne
                Expect.equal stored.Job job "the request"
                Expect.equal (List.ofSeq stored.Records) [ StepDone(0, 10L); StepDone(2, 30L) ] "the torn line left out, the next record kept"
                Expect.equal stored.End (Abandoned " spaced reason ") "the end as written"
            finally Directory.Delete(dir, true)
        }
    ]
