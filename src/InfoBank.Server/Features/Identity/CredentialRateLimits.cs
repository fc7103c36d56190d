using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace InfoBank.Server.Features.Identity;

/// <summary>Bound from <c>Identity:RateLimits</c>: how often one network address may present credentials.</summary>
public sealed class CredentialRateLimitOptions
{
    public const string Section = "Identity:RateLimits";

    /// <summary>
    /// Password sign-ins (POST /signin) per address per minute. Account lockout already stops
    /// guessing one account's password; this stops one address spraying a few guesses at many
    /// accounts. Shared addresses (carrier NAT) are why it is not lower.
    /// </summary>
    [Range(1, 1_000_000)]
    public int SignInsPerMinute { get; set; } = 20;

    /// <summary>
    /// Client-authenticated requests (POST /connect/token, /connect/introspect and /connect/revoke,
    /// one budget for the three) per address per minute. Every request with a client secret costs a
    /// deliberately slow hash, so an unthrottled endpoint is a CPU lever.
    /// </summary>
    [Range(1, 1_000_000)]
    public int TokenRequestsPerMinute { get; set; } = 300;

    /// <summary>
    /// Refused API requests (a 403, or a 401 for a token of ours that expired or was revoked) that go
    /// into the append-only audit log per address per minute; beyond that they are only logged, so
    /// one caller cannot grow the log at will.
    /// </summary>
    [Range(1, 1_000_000)]
    public int AuditedRefusalsPerMinute { get; set; } = 60;

    /// <summary>
    /// Addresses of reverse proxies whose X-Forwarded-For is believed. Without them every request
    /// behind a proxy would share the proxy's address, and so one budget.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];
}

/// <summary>
/// Per-address limits on the places credentials are checked (the sign-in form; the token,
/// introspection and revocation endpoints). The limiter runs after routing and before
/// authentication, so a refused request never reaches OpenIddict's secret hashing or the password
/// check; the answer is a 429 problem with Retry-After. <see cref="RefusalAuditBudget"/> uses the
/// same per-address windows for what may be audited.
/// </summary>
public static class CredentialRateLimits
{
    public const string SignInPolicy = "credentials-signin";
    public const string TokenPolicy = "credentials-token";

    public static IServiceCollection AddCredentialRateLimits(this IServiceCollection services)
    {
        services.AddOptions<CredentialRateLimitOptions>().BindConfiguration(CredentialRateLimitOptions.Section)
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<CredentialRateLimitOptions>>((forwarded, limits) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in limits.Value.TrustedProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }
        });
        services.AddSingleton<RefusalAuditBudget>();
        services.AddRateLimiter(options =>
        {
            options.AddPolicy(SignInPolicy, context => PerAddress(context, o => o.SignInsPerMinute));
            options.AddPolicy(TokenPolicy, context => PerAddress(context, o => o.TokenRequestsPerMinute));
            options.OnRejected = RejectAsync;
        });
        return services;
    }

    /// <summary>Forwarded addresses (from trusted proxies only), then the limiter; call between routing and authentication.</summary>
    public static WebApplication UseCredentialRateLimits(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<CredentialRateLimitOptions>>().Value.TrustedProxies.Count > 0)
        {
            app.UseForwardedHeaders();
        }
        app.UseRateLimiter();
        return app;
    }

    private static RateLimitPartition<string> PerAddress(HttpContext context, Func<CredentialRateLimitOptions, int> permits)
    {
        // Only presenting credentials counts: showing the sign-in form (GET) is free.
        if (!HttpMethods.IsPost(context.Request.Method))
        {
            return RateLimitPartition.GetNoLimiter("not-a-credential-check");
        }
        var limit = permits(context.RequestServices.GetRequiredService<IOptions<CredentialRateLimitOptions>>().Value);
        return RateLimitPartition.GetSlidingWindowLimiter(PartitionKey(context.Connection.RemoteIpAddress), _ => PerMinute(limit));
    }

    /// <summary>The window every per-address budget uses: a sliding minute in six steps, no queue.</summary>
    internal static SlidingWindowRateLimiterOptions PerMinute(int permits) => new()
    {
        PermitLimit = permits,
        Window = TimeSpan.FromMinutes(1),
        SegmentsPerWindow = 6,
        QueueLimit = 0,
    };

    /// <summary>
    /// Whose budget a request spends. An IPv6 client normally holds a whole /64 and could take a fresh
    /// address for every attempt, so IPv6 addresses share their /64's budget; IPv4-mapped addresses
    /// count as the IPv4 address they carry. In-process callers and Unix sockets have no address;
    /// they share one budget rather than none.
    /// </summary>
    internal static string PartitionKey(IPAddress? address)
    {
        if (address is null)
        {
            return "no-address";
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes) + "/64";
    }

    private static async ValueTask RejectAsync(OnRejectedContext rejected, CancellationToken cancellationToken)
    {
        var context = rejected.HttpContext;
        var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(10);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many attempts",
                Detail = $"Too many credential checks from your network address; try again in {seconds} s.",
            },
        });
    }
}

/// <summary>
/// How many refused API requests one network address may have audited per minute
/// (<see cref="CredentialRateLimitOptions.AuditedRefusalsPerMinute"/>). The address is the one the
/// credential limits see (forwarded only from trusted proxies, IPv6 by /64). Idle partitions are
/// dropped by the limiter itself.
/// </summary>
public sealed class RefusalAuditBudget : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter;

    public RefusalAuditBudget(IOptions<CredentialRateLimitOptions> options)
    {
        var permits = options.Value.AuditedRefusalsPerMinute;
        _limiter = PartitionedRateLimiter.Create<string, string>(key =>
            RateLimitPartition.GetSlidingWindowLimiter(key, _ => CredentialRateLimits.PerMinute(permits)));
    }

    /// <summary>Whether this request's address may still have a refusal audited this minute (spends one if so).</summary>
    public bool TryTake(HttpContext context)
    {
        using var lease = _limiter.AttemptAcquire(CredentialRateLimits.PartitionKey(context.Connection.RemoteIpAddress));
        return lease.IsAcquired;
    }

    public void Dispose() => _limiter.Dispose();
}
