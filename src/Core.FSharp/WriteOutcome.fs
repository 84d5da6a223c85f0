/// What a backend's answer to one batch means for the proxy: a closed set, decided in one place.
namespace InfluxProxy.Core

type WriteOutcome =
    /// 2xx: stored.
    | Written
    /// Worth retrying later from the backlog: 5xx, or 404 (the database is not there yet).
    | Transient of reason: string
    /// No answer: refused connection, timeout. The backend is taken as down until a ping says otherwise.
    | Unreachable of reason: string
    /// The connection closed mid-request without an answer: the backend went away while it had the batch (its
    /// process died or restarted). Down, and the batch is suspected of having killed it.
    | Died of reason: string
    /// 401/403: retried from the backlog, and the backend is reported as refusing our credentials.
    | CredentialsRefused of reason: string
    /// 400: the backend stored the valid points and refused the rest (InfluxDB's text); never retried.
    | PartialWrite of reason: string
    /// 413: the batch must be split.
    | TooLarge of reason: string

module WriteOutcome =
    /// Classifies an HTTP answer; `body` is InfluxDB's error text, if any.
    let ofStatus (status: int) (body: string) : WriteOutcome =
        match status with
        | s when s >= 200 && s < 300 -> Written
        | 400 -> PartialWrite body
        | 401 | 403 -> CredentialsRefused $"status {status}: {body}"
        | 413 -> TooLarge body
        | _ -> Transient $"status {status}: {body}"

    /// The backend took the batch: all of it, or all it could (the rest is refused for good).
    let isTaken =
        function
        | Written | PartialWrite _ -> true
        | _ -> false

    /// The outcome of a batch sent as two halves, the second only once the first was taken (else the whole batch is
    /// retried, and a first half stored twice is stored once): the second's, unless it was written whole.
    let ofHalves (first: WriteOutcome) (second: WriteOutcome) : WriteOutcome =
        match second with
        | Written -> first
        | other -> other

    /// A single line the backend still refuses as too large, after every split: refused for good.
    let lineTooLarge (reason: string) = PartialWrite $"line too large for the backend: {reason}"

    /// What one send says about the record it carried (for the quarantine).
    let sendResult =
        function
        | Written | PartialWrite _ -> Taken
        | Transient reason -> Refused reason
        | Died reason -> WentAway reason
        | Unreachable _ | CredentialsRefused _ | TooLarge _ -> Missed

    /// Its name in logs and in the flush histogram's `outcome` label (kept from the first release, for dashboards).
    let label =
        function
        | Written -> "Delivered"
        | Transient _ -> "Transient"
        | Unreachable _ -> "Unreachable"
        | Died _ -> "Died"
        | CredentialsRefused _ -> "Unauthorized"
        | PartialWrite _ -> "PartialWrite"
        | TooLarge _ -> "TooLarge"

    let reason =
        function
        | Written -> ""
        | Transient r | Unreachable r | Died r | CredentialsRefused r | PartialWrite r | TooLarge r -> r

/// Where a batch a backend finds too large (413) is cut in two.
module Halving =
    open System
    /// After the newline nearest before the middle of `lines`, else the first one after it; ValueNone for one line.
    let cut (lines: ReadOnlySpan<byte>) : int voption =
        let middle = lines.Length / 2
        let before = lines.Slice(0, middle).LastIndexOf '\n'B + 1
        let at =
            if before > 0 then before
            else
                let after = lines.Slice(middle).IndexOf '\n'B
                if after < 0 then lines.Length else middle + after + 1
        if at >= lines.Length then ValueNone else ValueSome at
