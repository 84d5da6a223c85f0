using System.Security.Cryptography;
using System.Text;
using InfluxProxy.Core;

namespace InfluxProxy.Host.Http;

/// <summary>
/// The proxy's own credentials, when <c>username</c> or <c>password</c> is set: from <c>u</c>/<c>p</c> in the URL,
/// <c>Authorization: Basic</c>, or <c>Authorization: Token user:pass</c>, compared in constant time. With
/// <c>auth_secure</c> the config holds ciphertext, so the presented plaintext is encrypted before comparing.
/// </summary>
public sealed class Authentication
{
    private readonly byte[] _user;
    private readonly byte[] _password;
    private readonly bool _secure;

    /// <param name="secure"><c>auth_secure</c>: <paramref name="user"/> and <paramref name="password"/> are ciphertext.</param>
    public Authentication(string user, string password, bool secure)
    {
        Enabled = user.Length > 0 || password.Length > 0;
        _user = Encoding.UTF8.GetBytes(user);
        _password = Encoding.UTF8.GetBytes(password);
        _secure = secure;
    }

    public bool Enabled { get; }

    public bool Accepts(HttpRequest request) =>
        !Enabled || Presented(request) is var (user, password) && Matches(user, password);

    /// <summary>An endpoint filter: 401 as InfluxDB answers it unless the request carries the credentials.</summary>
    public async ValueTask<object?> Filter(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (Accepts(context.HttpContext.Request))
            return await next(context);
        await Refuse(context.HttpContext);
        return Results.Empty;
    }

    /// <summary>
    /// A middleware: the endpoints routed from <paramref name="patterns"/>, open otherwise, need the credentials too
    /// (<c>ping_auth_enabled</c>). Judged by the endpoint routing chose, so <c>/PING</c> or <c>/metrics/</c> are too.
    /// </summary>
    public Func<HttpContext, Func<Task>, Task> Guarding(string[] patterns) => (context, next) =>
        context.GetEndpoint() is RouteEndpoint endpoint && patterns.Contains(endpoint.RoutePattern.RawText) && !Accepts(context.Request)
            ? Refuse(context)
            : next();

    private static Task Refuse(HttpContext context)
    {
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"InfluxDB\"";
        return Errors.Write(context, StatusCodes.Status401Unauthorized, "authorization failed");
    }

    private bool Matches(string user, string password)
    {
        var u = Encoding.UTF8.GetBytes(_secure ? Cipher.encrypt(user) : user);
        var p = Encoding.UTF8.GetBytes(_secure ? Cipher.encrypt(password) : password);
        // Both compared every time, so timing tells nothing about which one was wrong.
        return CryptographicOperations.FixedTimeEquals(u, _user) & CryptographicOperations.FixedTimeEquals(p, _password);
    }

    private static (string User, string Password)? Presented(HttpRequest request)
    {
        if (request.Query.ContainsKey("u") || request.Query.ContainsKey("p"))
            return (request.Query["u"].ToString(), request.Query["p"].ToString());
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Basic ", StringComparison.Ordinal))
        {
            try
            {
                return Split(Encoding.UTF8.GetString(Convert.FromBase64String(header[6..].Trim())));
            }
            catch (FormatException)
            {
                return null;
            }
        }
        return header.StartsWith("Token ", StringComparison.Ordinal) ? Split(header[6..]) : null;
    }

    private static (string, string)? Split(string userColonPassword) =>
        userColonPassword.IndexOf(':') is var colon and >= 0 ? (userColonPassword[..colon], userColonPassword[(colon + 1)..]) : null;
}
