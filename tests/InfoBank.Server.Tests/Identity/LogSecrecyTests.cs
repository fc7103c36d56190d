using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using InfoBank.Server.Features.Identity;
using InfoBank.Server.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InfoBank.Server.Tests.Identity;

/// <summary>
/// No credential, token or authorization code in any log line at any level, whatever the
/// configuration asks for: the whole OAuth flow runs with every category at Trace (in
/// configuration, specific categories included, and as rules for the capturing provider itself),
/// and the captured text, state and scopes included, must contain none of the secrets used.
/// </summary>
public sealed class LogSecrecyTests
{
    private sealed class CapturingFactory : InfoBankFactory
    {
        public CapturingProvider Capture { get; } = new();

        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            base.ConfigureWebHost(builder);
            foreach (var category in new[]
            {
                "Default", "OpenIddict", "OpenIddict.Server.OpenIddictServerDispatcher", "OpenIddict.Validation.OpenIddictValidationDispatcher",
                "Microsoft", "Microsoft.AspNetCore", "Microsoft.AspNetCore.Hosting.Diagnostics", "Microsoft.EntityFrameworkCore",
                "Microsoft.EntityFrameworkCore.Database.Command",
            })
            {
                builder.UseSetting($"Logging:LogLevel:{category}", "Trace");
            }
            builder.ConfigureLogging(logging =>
            {
                logging.SetMinimumLevel(LogLevel.Trace);
                logging.AddProvider(Capture);
                logging.AddFilter<CapturingProvider>(null, LogLevel.Trace);
                logging.AddFilter<CapturingProvider>("OpenIddict", LogLevel.Trace);
                logging.AddFilter<CapturingProvider>("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Trace);
            });
        }
    }

    [Fact]
    public async Task A_whole_OAuth_flow_at_Trace_logs_no_password_secret_token_or_code()
    {
        using var factory = new CapturingFactory();
        var secrets = new List<(string What, string Value)>();
        void Secret(string what, string? value)
        {
            Assert.False(string.IsNullOrEmpty(value), what);
            secrets.Add((what, value!));
        }

        // A person: sign-in with a password, code + PKCE, refresh, userinfo, a few API calls, logout.
        var password = "pw-" + Guid.NewGuid().ToString("N");
        Secret("password", password);
        var account = await factory.CreateAccountAsync(AccountKind.Resident, password: password);
        var (verifier, challenge) = TestTokens.NewPkce();
        Secret("code_verifier", verifier);
        var code = await factory.GetAuthorizationCodeAsync(account.Account.Username, password, "resident", challenge);
        Secret("authorization code", code);
        var tokens = await TestTokens.PersonTokensOf(await factory.RequestTokenAsync(TestTokens.CodeExchange(code, verifier)));
        Secret("access token", tokens.AccessToken);
        Secret("refresh token", tokens.RefreshToken);
        Secret("identity token", tokens.IdentityToken);
        var refreshed = await TestTokens.PersonTokensOf(await factory.RequestTokenAsync(TestTokens.Refresh(tokens.RefreshToken!)));
        Secret("refreshed access token", refreshed.AccessToken);
        Secret("refreshed refresh token", refreshed.RefreshToken);
        Secret("refreshed identity token", refreshed.IdentityToken);
        using (var resident = factory.CreateClientWithToken(refreshed.AccessToken))
        {
            await resident.GetAsync("/api/v1/me");
            await resident.GetAsync("/api/v1/me/consents");
            await resident.GetAsync("/connect/userinfo");
            await resident.GetAsync("/api/v1/admin/accounts");
            await resident.GetAsync($"/api/v1/me?access_token={refreshed.AccessToken}");
        }
        using var anonymous = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        await anonymous.GetAsync("/connect/endsession?id_token_hint=" + refreshed.IdentityToken);

        // A business: client credentials, introspection, revocation, a wrong secret.
        var client = await factory.RegisterClientAsync(ClientKind.Business);
        Secret("client secret", client.ClientSecret);
        var machine = await factory.ClientCredentialsTokenAsync(client.ClientId, client.ClientSecret);
        Secret("machine access token", machine);
        var wrongSecret = "wrong-" + Guid.NewGuid().ToString("N");
        Secret("wrong client secret", wrongSecret);
        await factory.RequestTokenAsync(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = client.ClientId,
            ["client_secret"] = wrongSecret,
        });
        foreach (var endpoint in new[] { "/connect/introspect", "/connect/revoke" })
        {
            Assert.Equal(HttpStatusCode.OK, (await anonymous.PostAsync(endpoint, new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["client_id"] = client.ClientId,
                ["client_secret"] = client.ClientSecret,
                ["token"] = machine,
            }))).StatusCode);
        }
        using (var business = factory.CreateClientWithToken(machine))
        {
            await business.GetAsync("/api/v1/applications");
        }
        using (var garbage = factory.CreateClient())
        {
            garbage.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "garbage-" + wrongSecret);
            await garbage.GetAsync("/api/v1/me");
        }

        // A failed sign-in, and passwords sent where they do not belong: posted to /connect/authorize
        // under the sign-in form's field names, and in a query string.
        var wrongPassword = "wrong-pw-" + Guid.NewGuid().ToString("N");
        Secret("wrong password", wrongPassword);
        var logoutState = "logout-state-" + Guid.NewGuid().ToString("N");
        Secret("end-session state", logoutState);
        using (var browser = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true }))
        {
            var failed = await browser.PostAsync("/signin", await TestTokens.SignInFormAsync(browser, "/signin", account.Account.Username, wrongPassword));
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
            // Signed in, then a logout link without a hint: redirected to the confirmation page, state and all.
            Assert.Equal(HttpStatusCode.OK, (await browser.PostAsync("/signin", await TestTokens.SignInFormAsync(browser, "/signin", account.Account.Username, password))).StatusCode);
            var confirm = await browser.GetAsync($"/connect/endsession?client_id={TestTokens.TestAppClientId}&state={logoutState}");
            Assert.Contains(logoutState, confirm.Headers.Location!.ToString());
        }
        var postedPassword = "posted-pw-" + Guid.NewGuid().ToString("N");
        Secret("password posted to /connect/authorize", postedPassword);
        var queryPassword = "query-pw-" + Guid.NewGuid().ToString("N");
        Secret("password in a query string", queryPassword);
        var state = "state-" + Guid.NewGuid().ToString("N");
        Secret("state", state);
        var authorize = TestTokens.AuthorizeUrl(TestTokens.NewPkce().Challenge, "resident", state);
        await anonymous.PostAsync("/connect/authorize", new FormUrlEncodedContent(
            QueryHelpers.ParseQuery(new Uri(new Uri("http://localhost"), authorize).Query).ToDictionary(p => p.Key, p => p.Value.ToString())
                .Append(new("Username", account.Account.Username)).Append(new("Password", postedPassword))));
        await anonymous.GetAsync(authorize + "&password=" + queryPassword);

        var text = factory.Capture.Text();
        // The capture saw the flow at the lowest levels, so the check below is not vacuous.
        Assert.True(factory.Capture.Count > 200, $"only {factory.Capture.Count} lines captured");
        Assert.Contains("[Trace]", text);
        Assert.Contains("[Debug] Microsoft.AspNetCore.Routing", text);
        Assert.Contains("OAuth token request refused: invalid_client", text);
        var leaks = new List<string>();
        foreach (var (what, value) in secrets)
        {
            // Tokens are long: a part of one is as bad (logs truncate).
            var needle = value.Length > 100 ? value.Substring(value.Length / 2, 40) : value;
            if (text.Contains(needle, StringComparison.Ordinal))
            {
                leaks.Add($"{what}: {Around(text, needle)}");
            }
        }
        Assert.True(leaks.Count == 0, "the log contains\n" + string.Join("\n", leaks));
    }

    [Fact]
    public void Floors_hold_against_wildcard_specific_and_provider_rules_and_let_warnings_through()
    {
        var services = new ServiceCollection();
        services.AddLogging(logging =>
        {
            logging.SetMinimumLevel(LogLevel.Trace);
            logging.AddProvider(new CapturingProvider());
            logging.AddFilter("Open*", LogLevel.Trace);
            logging.AddFilter("OpenIddict.Server.OpenIddictServerDispatcher", LogLevel.Trace);
            logging.AddFilter<CapturingProvider>("OpenIddict", LogLevel.Trace);
            logging.AddFilter<CapturingProvider>("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Trace);
        });
        services.AddLogFloors();
        using var provider = services.BuildServiceProvider();
        var loggers = provider.GetRequiredService<ILoggerFactory>();

        var dispatcher = loggers.CreateLogger("OpenIddict.Server.OpenIddictServerDispatcher");
        Assert.False(dispatcher.IsEnabled(LogLevel.Information));
        Assert.True(dispatcher.IsEnabled(LogLevel.Warning));
        Assert.False(loggers.CreateLogger("Microsoft.AspNetCore.Hosting.Diagnostics").IsEnabled(LogLevel.Information));
        Assert.False(loggers.CreateLogger("Microsoft.EntityFrameworkCore.Database.Command").IsEnabled(LogLevel.Debug));
        // Only whole category segments are clamped, and everything else keeps its configured level.
        Assert.True(loggers.CreateLogger("OpenIddictish").IsEnabled(LogLevel.Trace));
        Assert.True(loggers.CreateLogger("InfoBank.Server.Features.Identity.AccountService").IsEnabled(LogLevel.Trace));
    }

    private static string Around(string text, string value)
    {
        var at = text.IndexOf(value, StringComparison.Ordinal);
        if (at < 0)
        {
            return "";
        }
        var start = text.LastIndexOf('\n', at) + 1;
        var end = text.IndexOf('\n', at);
        return text[start..(end < 0 ? text.Length : end)];
    }

    /// <summary>Keeps every line with its category, level, message, structured values, exception and scopes.</summary>
    private sealed class CapturingProvider : ILoggerProvider, ISupportExternalScope
    {
        private readonly ConcurrentQueue<string> _lines = new();
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public int Count => _lines.Count;

        public string Text() => string.Join('\n', _lines);

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class Logger(CapturingProvider provider, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => provider._scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var line = new StringBuilder().Append('[').Append(logLevel).Append("] ").Append(category).Append(": ").Append(formatter(state, exception));
                if (state is IEnumerable<KeyValuePair<string, object?>> values)
                {
                    foreach (var (key, value) in values)
                    {
                        line.Append(" | ").Append(key).Append('=').Append(value);
                    }
                }
                provider._scopes.ForEachScope((scope, builder) => builder.Append(" | scope ").Append(scope), line);
                if (exception is not null)
                {
                    line.Append(" | ").Append(exception);
                }
                provider._lines.Enqueue(line.Replace('\n', ' ').ToString());
            }
        }
    }
}
