/// What the proxy knows of one backend's health, and how each thing it learns changes it: one transition function.
namespace InfluxProxy.Core

type BackendState =
    /// Not probed yet; writes are tried (optimistic, as the original).
    | Unknown
    | Up
    | Down
    /// Answers, but refuses our credentials: data waits in the backlog until the config is fixed.
    | Unauthorized

/// Something learned about a backend.
type HealthEvent =
    /// Its /ping answered 204 (Up), 401/403 (Unauthorized), or not at all (Down).
    | Pinged of BackendState
    /// It answered a write (live or replayed).
    | Wrote of WriteOutcome

module BackendState =
    let next (state: BackendState) (event: HealthEvent) : BackendState =
        match event with
        // InfluxDB answers /ping without checking credentials: only a write it takes clears Unauthorized.
        | Pinged Up when state = Unauthorized -> Unauthorized
        | Pinged pinged -> pinged
        | Wrote(WriteOutcome.Unreachable _ | WriteOutcome.Died _) -> Down
        | Wrote(WriteOutcome.CredentialsRefused _) -> Unauthorized
        | Wrote(WriteOutcome.Written | WriteOutcome.PartialWrite _) when state = Unauthorized -> Up
        | Wrote _ -> state

    /// Writes may be sent directly (not only to the backlog).
    let acceptsWrites =
        function
        | Up | Unknown -> true
        | Down | Unauthorized -> false

    /// The name /health and /debug/vars show.
    let text =
        function
        | Unknown -> "unknown"
        | Up -> "up"
        | Down -> "down"
        | Unauthorized -> "unauthorized"
