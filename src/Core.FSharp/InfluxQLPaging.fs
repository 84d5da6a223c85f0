/// The clauses of a statement the proxy reads from its tokens (LIMIT, OFFSET, INTO), and the rewrite that lets it
/// page an answer merged from several backends itself.
namespace InfluxProxy.Core

open System

/// A scanned token: bare words upper-cased, numbers as written, parentheses, "" for anything else; with its span.
type QueryToken = { Word: string; Start: int64; End: int64 }

module InfluxQLPaging =
    /// A top-level `LIMIT n` or `OFFSET n` clause: its value and where it stands.
    type Paging = { Value: int; Start: int64; End: int64 }

    /// The first top-level LIMIT and OFFSET (not SLIMIT / SOFFSET), whether either is a bound parameter (`$n`), and
    /// whether INTO appears anywhere.
    let clauses (text: string) (start: int64) (tokens: QueryToken list) =
        let paging (word: QueryToken) (number: QueryToken) =
            match Int32.TryParse number.Word with
            | true, n -> Some { Value = n; Start = word.Start; End = number.End }
            | _ -> None
        let bound (number: QueryToken) = text[int (number.Start - start)] = '$'
        let rec scan depth limit offset boundPaging into (tokens: QueryToken list) =
            match tokens with
            | [] -> limit, offset, boundPaging, into
            | t :: rest when t.Word = "(" -> scan (depth + 1) limit offset boundPaging into rest
            | t :: rest when t.Word = ")" -> scan (depth - 1) limit offset boundPaging into rest
            | t :: rest when t.Word = "INTO" -> scan depth limit offset boundPaging true rest
            | t :: n :: rest when t.Word = "LIMIT" && depth = 0 && Option.isNone limit ->
                scan depth (paging t n) offset (boundPaging || bound n) into (n :: rest)
            | t :: n :: rest when t.Word = "OFFSET" && depth = 0 && Option.isNone offset ->
                scan depth limit (paging t n) (boundPaging || bound n) into (n :: rest)
            | _ :: rest -> scan depth limit offset boundPaging into rest
        scan 0 None None false false tokens

    /// The statement as each backend of a fan-out must run it so that paging can be applied once after the merge:
    /// `LIMIT n OFFSET m` becomes `LIMIT n+m`.
    let unpaged (text: string) (start: int64) (limit: Paging option) (offset: Paging option) =
        let cut (from: int64) (until: int64) replacement (text: string) =
            text.Substring(0, int (from - start)) + replacement + text.Substring(int (until - start))
        let spans =
            [ match limit with
              | Some l -> l.Start, l.End, sprintf "LIMIT %d" (int64 l.Value + (offset |> Option.map (fun o -> int64 o.Value) |> Option.defaultValue 0L))
              | None -> ()
              match offset with
              | Some o -> o.Start, o.End, ""
              | None -> () ]
        // From the last span back, so the earlier offsets stay valid.
        spans |> List.sortByDescending (fun (from, _, _) -> from) |> List.fold (fun t (from, until, r) -> cut from until r t) text
