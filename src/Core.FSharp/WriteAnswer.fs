/// What a /write is answered, in InfluxDB's status codes and words: decided from what its lines are and from what
/// became of them at their owners.
namespace InfluxProxy.Core

/// What became of one request's lines at one owner.
type Delivery =
    | Delivered
    /// Durably in the owner's on-disk backlog, to be replayed.
    | Backlogged
    /// The owner refused some points (a field type conflict, say); its error text.
    | PartlyRefused of reason: string
    /// Neither delivered nor persisted (backlog full or failing): the client must retry.
    | Failed of reason: string

/// One /write body's lines as the split counts them.
type LineCounts =
    { /// Lines sent on to their owners.
      Points: int
      /// Lines that do not parse.
      Unparsed: int
      /// The first unparsed lines with their reasons, in body order (InfluxDB lists them all).
      Listed: (string * LineError) list
      /// Well-formed lines InfluxDB's storage refuses (a tag key `time`, no field but `time`).
      Refused: int
      FirstTimeTag: LineError option
      FirstOnlyTimeField: LineError option
      /// Well-formed lines older than their retention policy keeps.
      BeyondRetention: int }

/// The answer to one /write.
type WriteAnswer =
    /// 204.
    | Accepted
    /// 400 `partial write: <errors> dropped=N`: some lines do not parse, the others were accepted.
    | PartiallyParsed of errors: string * dropped: int
    /// 400 `<errors>`: no line parses.
    | NothingParsed of errors: string
    /// 400: InfluxDB's storage refuses some points, in its words (or a backend's own); the others were accepted.
    | StorageRefused of error: string
    /// 503: some points are neither delivered nor persisted; the client must retry.
    | NotPersisted of reason: string
    /// 500: the request's consistency level was not met; its points are kept and delivered later.
    | ConsistencyNotMet of error: string

module Delivery =
    let private severity =
        function
        | Failed _ -> 3
        | PartlyRefused _ -> 2
        | Backlogged -> 1
        | Delivered -> 0

    /// The worse of two deliveries (the first on a tie): failed, then partly refused, then backlogged.
    let worse (first: Delivery) (second: Delivery) : Delivery = if severity second > severity first then second else first

module LineCounts =
    /// InfluxDB lists every bad line; the proxy lists this many and counts the rest.
    let listedMost = 10

    let empty: LineCounts =
        { Points = 0; Unparsed = 0; Listed = []; Refused = 0; FirstTimeTag = None; FirstOnlyTimeField = None; BeyondRetention = 0 }

module WriteAnswer =
    /// InfluxDB's text for the lines that do not parse: `unable to parse '…': reason`, one per line.
    let private parseErrors (counts: LineCounts) =
        let listed = counts.Listed |> List.map (fun (line, error) -> $"unable to parse '{line}': {LineError.text error}")
        String.concat "\n" listed
        + (if counts.Unparsed > listed.Length then $"\n(and {counts.Unparsed - listed.Length} more)" else "")

    /// InfluxDB's storage answer for the points it refuses by rule: its first reason, tag keys checked first as it
    /// does, and their count; else the points beyond retention. Lines that do not parse are in neither count, as in
    /// InfluxDB's answer.
    let private storageRefusal (counts: LineCounts) =
        match counts.FirstTimeTag |> Option.orElse counts.FirstOnlyTimeField with
        | Some first when counts.Refused > 0 -> Some $"partial write: {LineError.text first} dropped={counts.Refused}"
        | _ when counts.BeyondRetention > 0 -> Some $"partial write: points beyond retention policy dropped={counts.BeyondRetention}"
        | _ -> None

    /// The answer the lines alone give, once the points are taken: InfluxDB names a storage refusal rather than the
    /// lines that did not parse.
    let ofLines (counts: LineCounts) : WriteAnswer =
        match storageRefusal counts with
        | Some refusal -> StorageRefused refusal
        | None when counts.Unparsed > 0 && counts.Points > 0 -> PartiallyParsed(parseErrors counts, counts.Unparsed)
        | None when counts.Unparsed > 0 -> NothingParsed(parseErrors counts)
        | None -> Accepted

    /// The answer once every owner has answered for the points, given the worst of their deliveries.
    let afterDelivery (worst: Delivery) (counts: LineCounts) : WriteAnswer =
        match worst with
        | Failed reason -> NotPersisted reason
        | PartlyRefused reason -> StorageRefused reason
        | Delivered | Backlogged -> ofLines counts

    /// Whether a request may be answered once journaled: the write journal is on and every owner of its points sends
    /// directly (an owner with a backlog, or down, could still refuse the points, which must then turn into a 503).
    let mayAnswerEarly (ack: WriteAck) (ownersSendDirectly: bool list) : bool =
        ack = Journaled && not ownersSendDirectly.IsEmpty && List.forall id ownersSendDirectly

    let status =
        function
        | Accepted -> 204
        | PartiallyParsed _ | NothingParsed _ | StorageRefused _ -> 400
        | NotPersisted _ -> 503
        | ConsistencyNotMet _ -> 500

    /// The `{"error": …}` text; None for 204.
    let error =
        function
        | Accepted -> None
        | PartiallyParsed(errors, dropped) -> Some $"partial write: {errors} dropped={dropped}"
        | NothingParsed errors -> Some errors
        | StorageRefused error -> Some error
        | NotPersisted reason -> Some reason
        | ConsistencyNotMet error -> Some error
