using InfluxProxy.Core;

namespace InfluxProxy.Host.Http;

/// <summary>
/// <c>/encrypt?msg=</c> and <c>/decrypt?key=consistentcipher&amp;msg=</c> (v2.5's <c>text=</c> too), byte-compatible
/// with the original. Unlike the original, /decrypt requires the proxy's credentials when auth is on: it is a
/// decryption oracle for the config's secrets.
/// </summary>
public static class CipherEndpoints
{
    public static Task Encrypt(HttpContext context) => PlainText(context, Cipher.encrypt(Message(context.Request)));

    public static Task Decrypt(HttpContext context) =>
        context.Request.Query["key"] == Cipher.Key
            ? PlainText(context, Cipher.decrypt(Message(context.Request)))
            : Errors.BadRequest(context, "invalid key");

    private static string Message(HttpRequest request) =>
        request.Query["msg"] is { Count: > 0 } msg ? msg.ToString() : request.Query["text"].ToString();

    private static Task PlainText(HttpContext context, string text)
    {
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(text + "\n", context.RequestAborted);
    }
}
