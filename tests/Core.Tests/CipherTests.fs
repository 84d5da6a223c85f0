module InfluxProxy.Core.Tests.CipherTests

open Expecto
open InfluxProxy.Core

let private examples =
    testList "examples" [
        test "encrypts the worked examples of the original byte for byte" {
            for plain, expected in
                [ "admin", "YgvEyuPZlDYAH8sGDkC!Ag"
                  "password", "7vnwDnX!xzLY_jqHoFX41w"
                  "root", "HNuE5KxI!nNofosmqZR!mw"
                  "a", "!_3e4!w59RjD4_1KY2APNw"
                  "0123456789abcdef", "CADsguKx8D5nVxhjWH4NTw"
                  "0123456789abcdef0", "CADsguKx8D5nVxhjWH4NT!ZLolgbisgBlWsaBcQOQXI"
                  "my-secret-password-2024!", "ItZUDEaHwdYUTTFX5wxUIBhDQurv1QvGmzOS!dp5G68"
                  "", "" ] do
                Expect.equal (Cipher.encrypt plain) expected plain
        }

        test "decrypt answers the original's texts, errors included" {
            for input, expected in
                [ "YgvEyuPZlDYAH8sGDkC!Ag", "admin"
                  "Ygv\nEyuPZlDYAH8sGDkC!Ag", "admin"
                  "YgvEyuPZlDYAH8sGDkC!Ah", "admin"
                  "YgvEyuPZlDYAH8sGDkC+Ag", "illegal base64 data at input byte 19"
                  "YgvEyuPZlDYAH8sGDkC!Ag==", "illegal base64 data at input byte 22"
                  "YgvEY", "illegal base64 data at input byte 4"
                  "A", "illegal base64 data at input byte 0"
                  "abc", "crypto/cipher: input not full blocks"
                  "YgvE", "crypto/cipher: input not full blocks"
                  "", "" ] do
                Expect.equal (Cipher.decrypt input) expected input
        }
    ]

let private laws =
    testList "laws" [
        testProperty "decrypt after encrypt gives the text back (valid UTF-8 without NUL at its ends)" (fun (text: string) ->
            let utf8 = System.Text.Encoding.UTF8
            let text = if isNull text then "" else utf8.GetString(utf8.GetBytes text).Trim('\000')
            Cipher.decrypt (Cipher.encrypt text) = text)
    ]

let tests = testList "Cipher" [ examples; laws ]
