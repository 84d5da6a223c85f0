/// The flags `/migrate/state` shows and sets (v2.4.7's shapes): which circles are migrating, so not read from, and
/// whether a resync runs; and how a POST's parameters change them.
namespace InfluxProxy.Core

/// Immutable: replaced whole on every change, so readers always see a consistent snapshot.
type MigrationFlags =
    { Resyncing: bool
      /// By circle id.
      Migrating: bool list }

/// What a POST asks for: both changes are applied together, or neither.
type MigrationUpdate =
    { Resyncing: bool option
      /// A circle id and whether it migrates.
      Circle: (int * bool) option }

/// Why a POST is refused, in the original's words.
type MigrationUpdateError =
    | MissingParameter
    | IllegalResyncing
    | InvalidCircleId
    | IllegalMigrating

module MigrationUpdateError =
    let text =
        function
        | MissingParameter -> "missing query parameter"
        | IllegalResyncing -> "illegal resyncing"
        | InvalidCircleId -> "invalid circle_id"
        | IllegalMigrating -> "illegal migrating"

module MigrationFlags =
    let none (circles: int) : MigrationFlags = { Resyncing = false; Migrating = List.replicate circles false }

    /// A circle that may serve reads: one not migrating.
    let readable (flags: MigrationFlags) (circle: int) = List.tryItem circle flags.Migrating <> Some true

    /// Go's strconv.ParseBool, which the original reads the flags with.
    let private goBool =
        function
        | "1" | "t" | "T" | "TRUE" | "true" | "True" -> Some true
        | "0" | "f" | "F" | "FALSE" | "false" | "False" -> Some false
        | _ -> None

    /// The update a POST's `resyncing`, `circle_id` and `migrating` ask for ("" when absent), all validated first
    /// (the original applied `resyncing` even when the rest failed).
    let parseUpdate (circles: int) (resyncing: string) (circleId: string) (migrating: string) : Result<MigrationUpdate, MigrationUpdateError> =
        let resync =
            if resyncing = "" then Ok None
            else goBool resyncing |> Option.map (Some >> Ok) |> Option.defaultValue (Error IllegalResyncing)
        let circle =
            if circleId = "" && migrating = "" then Ok None
            else
                match System.Int32.TryParse circleId, goBool migrating with
                | (true, id), _ when id < 0 || id >= circles -> Error InvalidCircleId
                | (false, _), _ -> Error InvalidCircleId
                | (true, id), Some value -> Ok(Some(id, value))
                | _, None -> Error IllegalMigrating
        if resyncing = "" && circleId = "" && migrating = "" then Error MissingParameter
        else
            match resync, circle with
            | Ok resync, Ok circle -> Ok { Resyncing = resync; Circle = circle }
            | Error e, _
            | _, Error e -> Error e

    let apply (update: MigrationUpdate) (flags: MigrationFlags) : MigrationFlags =
        { Resyncing = update.Resyncing |> Option.defaultValue flags.Resyncing
          Migrating =
            match update.Circle with
            | Some(id, value) -> flags.Migrating |> List.mapi (fun i m -> if i = id then value else m)
            | None -> flags.Migrating }
