/// Consistent-hash placement, byte-compatible with chengshiwen/influx-proxy (stathat.com/c/consistent v1.0.0).
/// See shared/spec/placement.md: vnode label = decimal(r) + member, point = CRC-32/IEEE of its UTF-8 bytes,
/// later member wins on equal points, lookup = first point strictly greater than CRC-32(key), with wrap-around.
namespace InfluxProxy.Core

open System
open System.Globalization
open System.IO.Hashing
open System.Text

/// Which backend attribute names its points on the ring (`hash_key`).
type HashKey =
    | Idx
    | Exi
    | Name
    | Url
    /// Any string containing `%idx`, every occurrence replaced by the backend's index.
    | Template of string

/// The shard-key template (`shard_key`): `%db` and `%mm` replaced in a single pass.
type ShardKey = private ShardKey of string

/// Why a `hash_key` or `shard_key` is refused.
type PlacementError =
    | InvalidHashKey of text: string
    | InvalidShardKey of text: string

module PlacementError =
    let text =
        function
        | InvalidHashKey _ -> "invalid hash_key, require idx, exi, name, url or template containing %idx"
        | InvalidShardKey _ -> "invalid shard_key, require template containing %db or %mm"

/// What the ring needs to know of one backend.
type RingMember = { Name: string; Url: string }

/// One circle's ring: sorted points and, index for index, the backend that owns each.
type Ring = private { Points: uint32[]; Owners: int[] }

/// Who owns a (db, measurement) in every circle: the shard key and one ring per circle, in circle order.
type Placement = { ShardKey: ShardKey; Rings: Ring list }

module HashKey =
    let parse (text: string) : Result<HashKey, PlacementError> =
        match text with
        | "idx" -> Ok Idx
        | "exi" -> Ok Exi
        | "name" -> Ok Name
        | "url" -> Ok Url
        | t when t.Contains "%idx" -> Ok(Template t)
        | other -> Error(InvalidHashKey other)

    let text =
        function
        | Idx -> "idx"
        | Exi -> "exi"
        | Name -> "name"
        | Url -> "url"
        | Template t -> t

    /// The member string a backend at `index` contributes to the ring.
    let memberOf (hashKey: HashKey) (index: int) (m: RingMember) : string =
        let i = index.ToString CultureInfo.InvariantCulture
        match hashKey with
        | Idx -> i
        | Exi -> "|" + i
        | Name -> m.Name
        | Url -> m.Url
        | Template t -> t.Replace("%idx", i)

module ShardKey =
    let defaultTemplate = ShardKey "%db,%mm"

    let create (template: string) : Result<ShardKey, PlacementError> =
        if template.Contains "%db" || template.Contains "%mm" then Ok(ShardKey template)
        else Error(InvalidShardKey template)

    /// Renders the key left to right; a db name containing `%mm` is not expanded again.
    let render (ShardKey template) (db: string) (measurement: string) : string =
        if template = "%db,%mm" then
            String.Concat(db, ",", measurement)
        else
            let sb = StringBuilder(template.Length + db.Length + measurement.Length)
            let mutable i = 0
            while i < template.Length do
                if String.CompareOrdinal(template, i, "%db", 0, 3) = 0 then
                    sb.Append db |> ignore
                    i <- i + 3
                elif String.CompareOrdinal(template, i, "%mm", 0, 3) = 0 then
                    sb.Append measurement |> ignore
                    i <- i + 3
                else
                    sb.Append template[i] |> ignore
                    i <- i + 1
            sb.ToString()

module Ring =
    /// Virtual nodes per backend when `vnode_size` is not set (fixed in v2.5).
    [<Literal>]
    let DefaultVnodes = 256

    let private crc32 (text: string) : uint32 =
        Crc32.HashToUInt32(ReadOnlySpan(Encoding.UTF8.GetBytes text))

    /// Builds the ring of one circle from its members in config order.
    let create (vnodes: int) (members: string seq) : Ring =
        let owners = Collections.Generic.Dictionary<uint32, int>()
        for owner, m in Seq.indexed members do
            for r in 0 .. vnodes - 1 do
                // Equal points: the later member overwrites, as the original's map assignment does.
                owners[crc32 (r.ToString CultureInfo.InvariantCulture + m)] <- owner
        let points = owners.Keys |> Seq.toArray |> Array.sort
        { Points = points; Owners = points |> Array.map (fun p -> owners[p]) }

    let ofBackends (hashKey: HashKey) (vnodes: int) (backends: RingMember seq) : Ring =
        backends |> Seq.mapi (HashKey.memberOf hashKey) |> create vnodes

    /// The number of distinct points; fewer than members × vnodes when labels or hashes collide.
    let pointCount (ring: Ring) = ring.Points.Length

    /// The owner of a key hash: the first point strictly greater than it, wrapping to the smallest.
    let locateHash (hash: uint32) (ring: Ring) : int =
        let points = ring.Points
        let mutable lo = 0
        let mutable hi = points.Length
        while lo < hi do
            let mid = (lo + hi) >>> 1
            if points[mid] <= hash then lo <- mid + 1 else hi <- mid
        ring.Owners[if lo = points.Length then 0 else lo]

    /// The index, in its circle, of the backend that owns `key`.
    let locate (key: string) (ring: Ring) : int = locateHash (crc32 key) ring

module Placement =
    /// The owning backend's index in each circle, in circle order.
    let owners (db: string) (measurement: string) (placement: Placement) : int list =
        let key = ShardKey.render placement.ShardKey db measurement
        placement.Rings |> List.map (Ring.locate key)
