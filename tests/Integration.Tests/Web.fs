/// Small HTTP helpers for the tests: every call returns status, body and headers, never throws on a status.
module InfluxProxy.Testing.Web

open System
open System.Net.Http
open System.Text

type Reply =
    { Status: int
      Body: string
      Headers: Map<string, string> }
    member r.Header(name: string) = r.Headers |> Map.tryFind (name.ToLowerInvariant())

/// Checks no certificate: the servers are the tests' own, some with certificates made up for them.
let client =
    new HttpClient(new HttpClientHandler(ServerCertificateCustomValidationCallback = (fun _ _ _ _ -> true)), Timeout = TimeSpan.FromSeconds 60.0)

let private toReply (response: HttpResponseMessage) =
    let headers =
        Seq.append response.Headers response.Content.Headers
        |> Seq.map (fun h -> h.Key.ToLowerInvariant(), String.Join(",", h.Value))
        |> Map.ofSeq
    { Status = int response.StatusCode
      Body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
      Headers = headers }

let send (request: HttpRequestMessage) =
    use response = client.Send request
    toReply response

let get (url: string) = send (new HttpRequestMessage(HttpMethod.Get, url))

let post (url: string) (body: string) =
    send (new HttpRequestMessage(HttpMethod.Post, url, Content = new StringContent(body, Encoding.UTF8, "text/plain")))

let methodTo (verb: string) (url: string) = send (new HttpRequestMessage(HttpMethod verb, url))

let escape (text: string) = Uri.EscapeDataString text
