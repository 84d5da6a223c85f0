/// Why InfluxDB refuses a line of a /write body, as its parser (models/points.go) and its storage (tsdb/shard.go)
/// say it: the proxy answers with exactly these texts.
namespace InfluxProxy.Core

type LineError =
    | MissingMeasurement
    | MissingFields
    | MissingTagKey
    | MissingTagValue
    | InvalidTagFormat
    | MissingFieldKey
    | MissingFieldValue
    | InvalidNumber
    | InvalidBoolean
    | UnbalancedQuotes
    | InvalidFieldFormat
    | BadTimestamp
    | TimeOutOfRange
    | InvalidPoint
    | IntegerOutOfRange
    | InvalidFloat
    | DuplicateTags
    /// A series key, or a series key with a field key, of this many bytes (InfluxDB's limit is 65535).
    | KeyTooLong of size: int
    /// The second reading of the field set (walkFields) finds no value after this key: InfluxDB's own refusal.
    | FieldWithoutValue of key: string
    /// The second reading of the field set finds a value the first never accepted: InfluxDB would answer 500 at every
    /// try, store text nobody wrote, or die.
    | AmbiguousFieldSet of key: string * value: string
    /// Storage: a tag key `time`.
    | TimeTagKey of measurement: string
    /// Storage: no field but `time`.
    | OnlyTimeField of measurement: string

module LineError =
    /// InfluxDB's MaxKeyLength.
    let maxKeyLength = 65535

    let text =
        function
        | MissingMeasurement -> "missing measurement"
        | MissingFields -> "missing fields"
        | MissingTagKey -> "missing tag key"
        | MissingTagValue -> "missing tag value"
        | InvalidTagFormat -> "invalid tag format"
        | MissingFieldKey -> "missing field key"
        | MissingFieldValue -> "missing field value"
        | InvalidNumber -> "invalid number"
        | InvalidBoolean -> "invalid boolean"
        | UnbalancedQuotes -> "unbalanced quotes"
        | InvalidFieldFormat -> "invalid field format"
        | BadTimestamp -> "bad timestamp"
        | TimeOutOfRange -> sprintf "time outside range %d - %d" Precision.minNanoTime Precision.maxNanoTime
        | InvalidPoint -> "point is invalid"
        | IntegerOutOfRange -> "unable to parse integer: value out of range"
        | InvalidFloat -> "invalid float"
        | DuplicateTags -> "duplicate tags"
        | KeyTooLong size -> $"max key length exceeded: {size} > {maxKeyLength}"
        | FieldWithoutValue key -> "invalid value: field-key=" + key
        | AmbiguousFieldSet(key, value) -> $"ambiguous field set: InfluxDB reads key {key} with value {value}, which is not a valid field value"
        | TimeTagKey measurement -> $"invalid tag key: input tag \"time\" on measurement \"{measurement}\" is invalid"
        | OnlyTimeField measurement -> $"invalid field name: input field \"time\" on measurement \"{measurement}\" is invalid"
