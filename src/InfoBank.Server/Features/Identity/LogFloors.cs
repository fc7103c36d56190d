using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Identity;

/// <summary>
/// Log categories that write credentials, tokens, authorization codes or personal data below some
/// level, and the lowest level they may ever log at, whatever the configuration says:
/// <list type="bullet">
/// <item>OpenIddict dumps every request at Information (its redaction misses parameters it does
/// not know, such as a password posted to /connect/authorize under another name, or
/// code_verifier) and tokens and claims at Debug and Trace;</item>
/// <item>hosting diagnostics log each request's full URL, query string included (authorization
/// codes, <c>state</c>, anything a client put there), at Information;</item>
/// <item>redirect results log their destination, which carries the authorization request;</item>
/// <item>EF Core (OpenIddict's stores) logs commands, and with sensitive-data logging their values;</item>
/// <item>Kestrel quotes a malformed request line, query string included, at Debug.</item>
/// </list>
/// Clamping was chosen over redaction: these lines are diagnostics whose useful part (which
/// request, which error) our own log lines and the audit log already give, and redacting free
/// text from libraries we do not control would be a guess that fails open. Warnings and errors
/// from these categories still pass: none of them carries request data.
/// </summary>
public static class LogFloors
{
    private static readonly (string Category, LogLevel Floor)[] Floors =
    [
        ("OpenIddict", LogLevel.Warning),
        ("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.Warning),
        ("Microsoft.AspNetCore.Http.Result.RedirectResult", LogLevel.Warning),
        ("Microsoft.AspNetCore.Http.Result.LocalRedirectResult", LogLevel.Warning),
        ("Microsoft.AspNetCore.Mvc.Infrastructure.RedirectResultExecutor", LogLevel.Warning),
        ("Microsoft.AspNetCore.Mvc.Infrastructure.LocalRedirectResultExecutor", LogLevel.Warning),
        ("Microsoft.EntityFrameworkCore", LogLevel.Warning),
        ("Microsoft.AspNetCore.Server.Kestrel.BadRequests", LogLevel.Warning),
    ];

    private static readonly ConcurrentDictionary<string, LogLevel> FloorByCategory = new(StringComparer.Ordinal);

    /// <summary>
    /// Rewrites the logging rules after everything else has configured them (configuration files,
    /// environment variables, code): every rule, and a catch-all rule for loggers no other rule
    /// matches, gets a filter that drops what a floor forbids. A filter travels with whichever rule
    /// wins for a category and provider, so no more specific or provider-specific setting can lower
    /// a floor; a reloaded configuration is rewritten the same way.
    /// </summary>
    public static IServiceCollection AddLogFloors(this IServiceCollection services) =>
        services.AddSingleton<IPostConfigureOptions<LoggerFilterOptions>, Clamp>();

    /// <summary>Whether a message of <paramref name="level"/> in <paramref name="category"/> may be written at all.</summary>
    public static bool Allows(string? category, LogLevel level) => level >= FloorOf(category ?? "");

    private static LogLevel FloorOf(string category) => FloorByCategory.GetOrAdd(category, static c =>
    {
        foreach (var (prefix, floor) in Floors)
        {
            if (c.Length >= prefix.Length && c.StartsWith(prefix, StringComparison.Ordinal) && (c.Length == prefix.Length || c[prefix.Length] == '.'))
            {
                return floor;
            }
        }
        return LogLevel.Trace;
    });

    private sealed class Clamp : IPostConfigureOptions<LoggerFilterOptions>
    {
        public void PostConfigure(string? name, LoggerFilterOptions options)
        {
            var rules = options.Rules.ToList();
            options.Rules.Clear();
            // First, so that any rule that matches at all is preferred to it.
            options.Rules.Add(new LoggerFilterRule(null, null, options.MinLevel, Guard(null)));
            foreach (var rule in rules)
            {
                options.Rules.Add(new LoggerFilterRule(rule.ProviderName, rule.CategoryName, rule.LogLevel, Guard(rule.Filter)));
            }
        }

        private static Func<string?, string?, LogLevel, bool> Guard(Func<string?, string?, LogLevel, bool>? inner) =>
            (provider, category, level) => Allows(category, level) && (inner is null || inner(provider, category, level));
    }
}
