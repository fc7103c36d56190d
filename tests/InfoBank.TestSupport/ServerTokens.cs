using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using InfoBank.Core.Crypto;
using Microsoft.AspNetCore.WebUtilities;

namespace InfoBank.TestSupport;

/// <summary>
/// Real tokens from a running server (a Kestrel child process, say) over real HTTP, the way a browser
/// and a machine client get them. <see cref="SignInAsync"/> is the people's flow: GET
/// /connect/authorize with a PKCE S256 challenge, follow to the sign-in page, POST its form with the
/// anti-forgery token, follow back to /connect/authorize, take the code from the redirect to the
/// app's redirect URI (never followed: it need not be served), and exchange it with the verifier at
/// /connect/token. <see cref="ClientCredentialsAsync"/> is the machines' flow. Failures throw with
/// the step and the status; no password, secret or token goes into a message.
/// </summary>
public sealed partial class ServerTokens(Uri server)
{
    /// <summary>Signs a person in through the public app <paramref name="clientId"/>; returns the access token.</summary>
    public async Task<string> SignInAsync(string clientId, Uri redirectUri, string username, string password, string scope, CancellationToken cancellationToken = default)
    {
        using var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true, CookieContainer = new CookieContainer() };
        using var browser = new HttpClient(handler) { BaseAddress = server, Timeout = TimeSpan.FromSeconds(60) };
        var verifier = Base64Url.Encode(RandomNumberGenerator.GetBytes(32));
        var challenge = Base64Url.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));
        var state = Guid.NewGuid().ToString("N");
        var authorize = QueryHelpers.AddQueryString("/connect/authorize", new Dictionary<string, string?>
        {
            ["client_id"] = clientId,
            ["redirect_uri"] = redirectUri.ToString(),
            ["response_type"] = "code",
            ["scope"] = $"openid {scope}",
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
            ["state"] = state,
        });

        var signInUrl = await RedirectAsync(browser, await browser.GetAsync(authorize, cancellationToken), "the authorization request", cancellationToken);
        using var page = await browser.GetAsync(signInUrl, cancellationToken);
        var html = await page.Content.ReadAsStringAsync(cancellationToken);
        if (page.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"The sign-in page answered {(int)page.StatusCode}.");
        }
        using var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["Username"] = username,
            ["Password"] = password,
            ["ReturnUrl"] = HiddenInput(html, "ReturnUrl") ?? "",
            ["__RequestVerificationToken"] = HiddenInput(html, "__RequestVerificationToken")
                ?? throw new InvalidOperationException("The sign-in page has no anti-forgery token."),
        });
        var back = await RedirectAsync(browser, await browser.PostAsync(signInUrl, form, cancellationToken), $"signing in as {username}", cancellationToken);
        var callback = await RedirectAsync(browser, await browser.GetAsync(back, cancellationToken), "the authorization request after sign-in", cancellationToken);
        if (!callback.ToString().StartsWith(redirectUri.ToString(), StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The authorization endpoint redirected to {callback.GetLeftPart(UriPartial.Path)}, not the app.");
        }
        var query = QueryHelpers.ParseQuery(callback.Query);
        if (query["state"].ToString() != state || !query.TryGetValue("code", out var code))
        {
            throw new InvalidOperationException($"The redirect to the app carries no code for this request (error: {query["error"]}).");
        }
        return await TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = clientId,
            ["redirect_uri"] = redirectUri.ToString(),
            ["code"] = code.ToString(),
            ["code_verifier"] = verifier,
        }, cancellationToken);
    }

    /// <summary>A machine client's access token (client credentials).</summary>
    public Task<string> ClientCredentialsAsync(string clientId, string clientSecret, CancellationToken cancellationToken = default) =>
        TokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = clientId,
            ["client_secret"] = clientSecret,
        }, cancellationToken);

    private async Task<string> TokenAsync(Dictionary<string, string> form, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(60) };
        using var content = new FormUrlEncodedContent(form);
        using var response = await http.PostAsync("/connect/token", content, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        using var json = JsonDocument.Parse(body);
        if (response.StatusCode != HttpStatusCode.OK || !json.RootElement.TryGetProperty("access_token", out var token))
        {
            var error = json.RootElement.TryGetProperty("error", out var e) ? e.GetString() : null;
            throw new InvalidOperationException($"The {form["grant_type"]} token request for {form["client_id"]} answered {(int)response.StatusCode} ({error}).");
        }
        return token.GetString()!;
    }

    private async Task<Uri> RedirectAsync(HttpClient browser, HttpResponseMessage response, string step, CancellationToken cancellationToken)
    {
        using (response)
        {
            if (response.StatusCode != HttpStatusCode.Redirect || response.Headers.Location is not { } location)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken);
                throw new InvalidOperationException($"{step} answered {(int)response.StatusCode} instead of a redirect: {body[..Math.Min(body.Length, 300)]}");
            }
            return location.IsAbsoluteUri ? location : new Uri(browser.BaseAddress ?? server, location);
        }
    }

    private static string? HiddenInput(string html, string name)
    {
        foreach (Match input in InputTag().Matches(html))
        {
            if (input.Value.Contains($"name=\"{name}\"", StringComparison.Ordinal))
            {
                var value = ValueAttribute().Match(input.Value);
                return value.Success ? WebUtility.HtmlDecode(value.Groups[1].Value) : "";
            }
        }
        return null;
    }

    [GeneratedRegex("<input[^>]*>")]
    private static partial Regex InputTag();

    [GeneratedRegex("value=\"([^\"]*)\"")]
    private static partial Regex ValueAttribute();
}
