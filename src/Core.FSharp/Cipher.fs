/// The original's credential cipher (shared/spec/cipher.md), byte-compatible so existing `auth_secure` configs keep
/// working: AES-128-CBC with the public key `consistentcipher` as key and IV, zero padding, base64 with `_` and `!`.
/// It is obfuscation, not secrecy: anyone can decrypt it offline.
module InfluxProxy.Core.Cipher

open System
open System.Security.Cryptography
open System.Text

/// The fixed key; /decrypt demands it as its `key` parameter, as the original does.
[<Literal>]
let Key = "consistentcipher"

let private alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_!"

let private aes () =
    let aes = Aes.Create()
    aes.Key <- Encoding.ASCII.GetBytes Key
    aes

let private iv = Encoding.ASCII.GetBytes Key

let encrypt (plain: string) : string =
    if plain = "" then ""
    else
        let bytes = Encoding.UTF8.GetBytes plain
        let padded = Array.zeroCreate ((bytes.Length + 15) / 16 * 16)
        bytes.CopyTo(padded, 0)
        use aes = aes ()
        Convert.ToBase64String(aes.EncryptCbc(padded, iv, PaddingMode.None)).TrimEnd('=').Replace('+', '_').Replace('/', '!')

/// Go's base64 decoding without padding, with its error text; CR and LF are skipped anywhere.
let private decodeBase64 (text: string) : Result<byte[], string> =
    let clean = text.Replace("\r", "").Replace("\n", "")
    match clean |> Seq.tryFindIndex (fun c -> not (alphabet.Contains c)) with
    | Some i -> Error(sprintf "illegal base64 data at input byte %d" i)
    | None when clean.Length % 4 = 1 -> Error(sprintf "illegal base64 data at input byte %d" (clean.Length - 1))
    | None ->
        let standard = clean.Replace('_', '+').Replace('!', '/')
        let padded = standard + String('=', (4 - standard.Length % 4) % 4)
        // Go accepts non-zero unused trailing bits; .NET does too.
        Ok(Convert.FromBase64String padded)

/// The plaintext, or the original's error text as the result (it never fails otherwise).
let decrypt (cipherText: string) : string =
    if cipherText = "" then ""
    else
        match decodeBase64 cipherText with
        | Error message -> message
        | Ok bytes when bytes.Length % 16 <> 0 -> "crypto/cipher: input not full blocks"
        | Ok bytes ->
            use aes = aes ()
            Encoding.UTF8.GetString(aes.DecryptCbc(bytes, iv, PaddingMode.None)).Trim('\000')
