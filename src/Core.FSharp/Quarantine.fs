/// When a record at the head of a backend's backlog is set aside (quarantined) instead of being sent again: a record
/// after which the backend dies, or that it keeps refusing while it takes the records behind it. Without this, one
/// such record holds up every later write to that backend (the backlog replays in order) or takes it down at every
/// restart.
namespace InfluxProxy.Core

/// What one send of a record says about the record itself.
type SendResult =
    /// Stored, or partly stored and partly refused for good: the record is done.
    | Taken
    /// The backend answered and would not take it (5xx, 404): worth retrying, unless only this record meets it.
    | Refused of reason: string
    /// The connection closed mid-request without an answer: the backend went away while it had the record.
    | WentAway of reason: string
    /// Nothing was learned about the record (refused connection, timeout, credentials refused).
    | Missed

/// The sends of one record so far.
type RecordHistory =
    { Deaths: int
      Refusals: int
      /// Unix ms of the first refusal.
      FirstRefusalMs: int64 option
      LastReason: string
      /// The backend took the record behind this one while this one was refused.
      BehindTaken: bool
      /// Refused again after the record behind it was taken: only this record meets the refusal.
      RefusedAfterBehindTaken: bool }

/// How many deaths or refusals, over how long, set a record aside.
type QuarantinePolicy =
    { Deaths: int
      Refusals: int
      RefusingForMs: int64 }

type Verdict =
    | Send
    /// Send the record behind it first: does the backend take other writes?
    | SendBehindFirst
    | Quarantine of reason: string

module QuarantinePolicy =
    /// Two deaths; five refusals over at least five replay intervals.
    let ofRewriteInterval (rewriteIntervalMs: int64) : QuarantinePolicy =
        { Deaths = 2; Refusals = 5; RefusingForMs = 5L * rewriteIntervalMs }

module RecordHistory =
    let fresh: RecordHistory =
        { Deaths = 0; Refusals = 0; FirstRefusalMs = None; LastReason = ""; BehindTaken = false; RefusedAfterBehindTaken = false }

    let observe (nowMs: int64) (result: SendResult) (history: RecordHistory) : RecordHistory =
        match result with
        | Taken | Missed -> history
        | WentAway reason -> { history with Deaths = history.Deaths + 1; LastReason = reason }
        | Refused reason ->
            { history with
                Refusals = history.Refusals + 1
                FirstRefusalMs = history.FirstRefusalMs |> Option.orElse (Some nowMs)
                LastReason = reason
                RefusedAfterBehindTaken = history.BehindTaken }

    let behindTaken (history: RecordHistory) : RecordHistory = { history with BehindTaken = true }

    /// What to do next with the record; `hasBehind` when another record waits behind it.
    let verdict (policy: QuarantinePolicy) (nowMs: int64) (hasBehind: bool) (history: RecordHistory) : Verdict =
        let refusingMs = history.FirstRefusalMs |> Option.map (fun first -> nowMs - first) |> Option.defaultValue 0L
        if history.Deaths >= policy.Deaths then
            Quarantine $"the backend went away while taking it, {history.Deaths} times ({history.LastReason})"
        elif history.RefusedAfterBehindTaken then
            Quarantine
                $"refused {history.Refusals} times over {refusingMs / 1000L} s while the backend took the record behind it: {history.LastReason}"
        elif hasBehind && not history.BehindTaken && history.Refusals >= policy.Refusals && refusingMs >= policy.RefusingForMs then
            SendBehindFirst
        else Send
