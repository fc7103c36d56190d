using Microsoft.Net.Http.Headers;
using Scalar.AspNetCore;

namespace InfoBank.Server.Infrastructure.Web;

/// <summary>
/// The Content-Security-Policy of each kind of answer. The sign-in pages and the jobs dashboard
/// load nothing from elsewhere and run no inline script; the API reference runs one inline module
/// that Scalar stamps with a fresh nonce per request; everything else is data, which a browser
/// must never render as a document or frame.
/// </summary>
public static class ContentSecurityPolicies
{
    /// <summary>JSON, problem details, JWKS, redirects: nothing may load, nothing may frame it.</summary>
    public const string Api = "default-src 'none'; frame-ancestors 'none'";

    /// <summary>
    /// The inline <c>&lt;style&gt;</c> blocks the pages carry, by SHA-256 of their exact text
    /// (<c>SecurityHeadersTests</c> recomputes those of our pages from what is served and names any
    /// that is missing: a changed style needs its new hash here, or better, a stylesheet).
    /// </summary>
    internal static readonly string[] PageStyleHashes =
    [
        "sha256-zgqXAkeZTwwFVzjhbYhsm9wuG+p+Me9iIqOYKTWOuKI=", // Pages/SignIn.cshtml
        "sha256-SjkOyT+Fw7zFvkamqtP/6lV6xge2UBH33zQBakYlMoo=", // Pages/SignInCallback.cshtml
        // Chart.js in the Hangfire dashboard injects its own small stylesheet (Hangfire 1.8.25).
        "sha256-z7zcnw/4WalZqx+PrNaRnoeLz/G9WXuFqV1WCJ129sg=",
    ];

    /// <summary>
    /// Server-rendered pages (sign-in, the authorization result, the Hangfire dashboard): scripts,
    /// styles, images and fonts from this origin only; no inline script at all. form-action is left
    /// open on purpose: browsers apply it to the redirects after the sign-in form, and those end at
    /// the registered redirect URI of the app the person signs in to, which may be another origin.
    /// </summary>
    public static readonly string Page =
        "default-src 'self'; script-src 'self'; " +
        $"style-src 'self' {string.Join(' ', PageStyleHashes.Select(h => $"'{h}'"))}; " +
        "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

    /// <summary>
    /// Scalar's API reference. Its script is served from this origin (<c>/reference/scalar.js</c>,
    /// bundled in the package, no CDN); its one inline module carries the per-request nonce. Scalar
    /// builds its styles at run time, so inline styles are allowed on this page only. Its default
    /// fonts, telemetry and AI agent (third-party hosts) are switched off where it is mapped, and
    /// connect-src 'self' keeps "try it" requests, tokens included, on this origin.
    /// </summary>
    public static string ApiReference(string? nonce) =>
        "default-src 'self'; " +
        (nonce is null ? "script-src 'self'; " : $"script-src 'self' 'nonce-{nonce}'; ") +
        "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; " +
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
}

/// <summary>
/// Sets the security headers on every response, errors and framework answers included: they are
/// written when the response starts, after any handler (the exception handler clears headers, not
/// callbacks), from what the response turned out to be.
/// </summary>
public sealed class SecurityHeadersMiddleware(RequestDelegate next, IHostEnvironment environment)
{
    /// <summary>A year; subdomains are not included, since they are the deployment's, not ours.</summary>
    public const string StrictTransportSecurity = "max-age=31536000";

    public const string PermissionsPolicy =
        "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), fullscreen=(), " +
        "geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), " +
        "picture-in-picture=(), screen-wake-lock=(), usb=(), xr-spatial-tracking=()";

    private readonly bool _hsts = !environment.IsDevelopment();

    public Task InvokeAsync(HttpContext context)
    {
        // Decided before anything reads or rewrites the request: did the caller send credentials?
        var credentialed = context.Request.Headers.ContainsKey(HeaderNames.Authorization)
            || context.Request.Headers.ContainsKey(HeaderNames.Cookie);
        context.Response.OnStarting(() =>
        {
            Apply(context, credentialed, _hsts);
            return Task.CompletedTask;
        });
        return next(context);
    }

    private static void Apply(HttpContext context, bool credentialed, bool hsts)
    {
        var response = context.Response;
        var headers = response.Headers;
        var html = response.ContentType?.StartsWith("text/html", StringComparison.OrdinalIgnoreCase) == true;
        // Scalar leaves its nonce in Items: that is how its page is told apart from ours.
        var reference = context.Items.TryGetValue(ScalarOptions.NonceHttpContextItemKey, out var nonce);

        headers.ContentSecurityPolicy = !html ? ContentSecurityPolicies.Api
            : reference ? ContentSecurityPolicies.ApiReference(nonce as string)
            : ContentSecurityPolicies.Page;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Permissions-Policy"] = PermissionsPolicy;
        if (hsts && context.Request.IsHttps)
        {
            headers.StrictTransportSecurity = StrictTransportSecurity;
        }

        // The sign-in page carries an anti-forgery token and its result page an authorization code:
        // never stored, whatever else was set. Any other answer to a caller who sent a token or a
        // cookie is private to them unless the endpoint chose its own caching (the public JWKS).
        if (context.Request.Path.StartsWithSegments("/signin", StringComparison.OrdinalIgnoreCase))
        {
            headers.CacheControl = "no-store";
        }
        else if (credentialed && !headers.ContainsKey(HeaderNames.CacheControl))
        {
            headers.CacheControl = "no-store";
        }
    }
}

public static class SecurityHeadersExtensions
{
    public static IApplicationBuilder UseInfoBankSecurityHeaders(this IApplicationBuilder app) =>
        app.UseMiddleware<SecurityHeadersMiddleware>();
}
